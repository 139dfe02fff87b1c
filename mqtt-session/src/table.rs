//! Where the in-flight tables live: inline arrays sized at compile time ([`Inline`], the
//! default and the only choice without `alloc`), or heap rings (`Heap`) that hold the
//! same bound but take memory only while operations are in flight.
//!
//! The bound is the session's `OUT` / `IN` either way, so capacity, flow control and every
//! "table full" outcome are identical; only where the entries sit differs. An idle host
//! connection with `Heap` tables keeps none of them: the rings give their memory back
//! when the session pings an idle connection (and when the transport goes down), not at
//! every empty moment, so a steady stream does not allocate per message.

/// Chooses the storage of the session's in-flight tables (the outbox of our operations,
/// the inbox of the server's unacknowledged messages). Sealed: [`Inline`] or `Heap`.
pub trait Tables: sealed::Sealed {
    #[doc(hidden)]
    type Ring<T: Copy + 'static, const N: usize>: Ring<T>;
}

/// Tables as inline arrays of `OUT` and `IN` entries: no allocation, the size of the
/// session fixed at compile time (microcontrollers).
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Inline {}

/// Tables on the heap, grown on demand up to `OUT` and `IN` entries and released when the
/// connection idles: a host with many mostly idle connections pays only for what is in
/// flight (feature `alloc`).
#[cfg(feature = "alloc")]
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Heap {}

impl Tables for Inline {
    type Ring<T: Copy + 'static, const N: usize> = heapless::Deque<T, N>;
}

#[cfg(feature = "alloc")]
impl Tables for Heap {
    type Ring<T: Copy + 'static, const N: usize> = HeapRing<T, N>;
}

pub(crate) use sealed::Ring;

mod sealed {
    /// Seals [`super::Tables`].
    pub trait Sealed {}
    impl Sealed for super::Inline {}
    #[cfg(feature = "alloc")]
    impl Sealed for super::Heap {}

    /// A double-ended queue of at most `N` entries: what the session needs of a table.
    pub trait Ring<T: Copy + 'static> {
        /// Empty, allocating nothing.
        fn new() -> Self;
        fn len(&self) -> usize;
        fn is_full(&self) -> bool;
        /// `Err(value)` when full.
        fn push_back(&mut self, value: T) -> Result<(), T>;
        fn pop_front(&mut self) -> Option<T>;
        fn front(&self) -> Option<&T>;
        fn get(&self, i: usize) -> Option<&T>;
        fn get_mut(&mut self, i: usize) -> Option<&mut T>;
        fn iter(&self) -> impl Iterator<Item = &T>;
        fn iter_mut(&mut self) -> impl Iterator<Item = &mut T>;
        fn retain(&mut self, keep: impl FnMut(&T) -> bool);
        fn clear(&mut self);
        /// Removes entry `i`, keeping the order of the others.
        fn remove(&mut self, i: usize) -> Option<T>;
        /// Gives the memory back if the table is empty (heap tables only).
        fn release(&mut self);
        /// Bytes held on the heap (0 for inline tables).
        fn heap_bytes(&self) -> usize;

        fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }
}

impl<T: Copy + 'static, const N: usize> Ring<T> for heapless::Deque<T, N> {
    fn new() -> Self {
        heapless::Deque::new()
    }
    #[inline]
    fn len(&self) -> usize {
        heapless::Deque::len(self)
    }
    #[inline]
    fn is_full(&self) -> bool {
        heapless::Deque::is_full(self)
    }
    #[inline]
    fn push_back(&mut self, value: T) -> Result<(), T> {
        heapless::Deque::push_back(self, value)
    }
    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        heapless::Deque::pop_front(self)
    }
    #[inline]
    fn front(&self) -> Option<&T> {
        heapless::Deque::front(self)
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        heapless::Deque::get(self, i)
    }
    #[inline]
    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        heapless::Deque::get_mut(self, i)
    }
    #[inline]
    fn iter(&self) -> impl Iterator<Item = &T> {
        heapless::Deque::iter(self)
    }
    #[inline]
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        heapless::Deque::iter_mut(self)
    }
    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        // By index, as `remove` does: `Deque::retain` moves with `memmove` (crate::shift).
        let mut kept = 0;
        for i in 0..heapless::Deque::len(self) {
            let Some(&entry) = heapless::Deque::get(self, i) else {
                break;
            };
            if keep(&entry) {
                if kept != i
                    && let Some(slot) = heapless::Deque::get_mut(self, kept)
                {
                    crate::shift::put(slot, &entry);
                }
                kept += 1;
            }
        }
        while heapless::Deque::len(self) > kept {
            heapless::Deque::pop_back(self);
        }
    }
    fn clear(&mut self) {
        heapless::Deque::clear(self);
    }
    fn remove(&mut self, i: usize) -> Option<T> {
        let removed = heapless::Deque::get(self, i).copied()?;
        // Shift the entries after `i` down by one, then drop the last.
        for j in i + 1..heapless::Deque::len(self) {
            let next = heapless::Deque::get(self, j).copied();
            if let (Some(next), Some(slot)) = (next, heapless::Deque::get_mut(self, j - 1)) {
                *slot = next;
            }
        }
        heapless::Deque::pop_back(self);
        Some(removed)
    }
    fn release(&mut self) {}
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// A heap table: a `VecDeque` bounded at `N` entries.
#[cfg(feature = "alloc")]
#[doc(hidden)]
#[derive(Debug)]
pub struct HeapRing<T, const N: usize>(alloc::collections::VecDeque<T>);

#[cfg(feature = "alloc")]
impl<T: Copy + 'static, const N: usize> Ring<T> for HeapRing<T, N> {
    fn new() -> Self {
        HeapRing(alloc::collections::VecDeque::new())
    }
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn is_full(&self) -> bool {
        self.0.len() >= N
    }
    #[inline]
    fn push_back(&mut self, value: T) -> Result<(), T> {
        if self.is_full() {
            return Err(value);
        }
        self.0.push_back(value);
        Ok(())
    }
    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    #[inline]
    fn front(&self) -> Option<&T> {
        self.0.front()
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&T> {
        self.0.get(i)
    }
    #[inline]
    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.0.get_mut(i)
    }
    #[inline]
    fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
    #[inline]
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.0.iter_mut()
    }
    fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }
    fn clear(&mut self) {
        self.0.clear();
    }
    fn remove(&mut self, i: usize) -> Option<T> {
        self.0.remove(i)
    }
    fn release(&mut self) {
        if self.0.is_empty() && self.0.capacity() > 0 {
            self.0 = alloc::collections::VecDeque::new();
        }
    }
    fn heap_bytes(&self) -> usize {
        self.0.capacity() * core::mem::size_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    fn exercise<R: Ring<u16>>(r: &mut R, cap: usize) {
        for i in 0..cap as u16 {
            assert_eq!(r.push_back(i), Ok(()));
        }
        assert!(r.is_full());
        assert_eq!(r.push_back(99), Err(99), "a full table refuses");
        assert_eq!(r.remove(1), Some(1));
        assert_eq!(
            r.iter().copied().collect::<heapless::Vec<u16, 8>>(),
            [0, 2, 3]
        );
        r.retain(|&v| v != 2);
        assert_eq!(r.iter().copied().collect::<heapless::Vec<u16, 8>>(), [0, 3]);
        for v in r.iter_mut() {
            *v += 10;
        }
        assert_eq!(r.pop_front(), Some(10));
        assert_eq!(r.front(), Some(&13));
        assert_eq!(r.get(0), Some(&13));
        assert_eq!(r.remove(5), None);
        r.clear();
        assert!(r.is_empty());
    }

    #[test]
    fn inline_ring_keeps_order_and_bound() {
        let mut r = <heapless::Deque<u16, 4> as Ring<u16>>::new();
        exercise(&mut r, 4);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn heap_ring_keeps_order_and_bound_and_releases_when_empty() {
        let mut r = <super::HeapRing<u16, 4> as Ring<u16>>::new();
        assert_eq!(r.0.capacity(), 0, "an unused table takes no memory");
        exercise(&mut r, 4);
        assert!(r.0.capacity() >= 4);
        r.release();
        assert_eq!(r.0.capacity(), 0, "an empty table gives its memory back");
        r.push_back(1).unwrap();
        r.release();
        assert!(r.0.capacity() > 0, "a table in use keeps its memory");
    }
}
