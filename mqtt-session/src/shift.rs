//! Moving bytes and entries toward the front of a buffer, as `copy_within` and
//! `Vec::remove` do, without `memmove` on bare metal.
//!
//! Every move the session makes goes toward the front (a receive or transmit buffer after a
//! packet left it, the store's records after one was removed). On a microcontroller
//! `core`'s overlapping copy links compiler_builtins' `memmove`, 1.5 KB of flash for these
//! few calls, so there the bytes go in pieces no longer than the distance moved, each a
//! plain non-overlapping copy (`memcpy`, which the firmware has anyway). Hosts keep
//! `copy_within`: one call however small the distance.

/// Copies `buf[from..from + len]` to `buf[to..to + len]`, with `to <= from`; nothing if the
/// ranges are not inside `buf` or `to > from`.
pub(crate) fn move_front(buf: &mut [u8], from: usize, len: usize, to: usize) {
    if to >= from || from.checked_add(len).is_none_or(|end| end > buf.len()) {
        return;
    }
    if cfg!(target_os = "none") {
        move_front_in_pieces(buf, from, len, to);
    } else {
        buf.copy_within(from..from + len, to);
    }
}

/// [`move_front`] as non-overlapping copies of at most `from - to` bytes each.
fn move_front_in_pieces(buf: &mut [u8], mut from: usize, len: usize, mut to: usize) {
    let end = from + len;
    let gap = from.saturating_sub(to);
    while gap > 0 && from < end {
        let n = gap.min(end - from);
        let (head, tail) = buf.split_at_mut(from);
        if let (Some(dst), Some(src)) = (head.get_mut(to..to + n), tail.get(..n)) {
            dst.copy_from_slice(src);
        }
        from += n;
        to += n;
    }
}

/// Removes entry `i` of `v` and returns it, keeping the order of the others (as
/// `Vec::remove`, whose shift is a `memmove`).
pub(crate) fn remove<T: Copy, const N: usize>(v: &mut heapless::Vec<T, N>, i: usize) -> Option<T> {
    let removed = *v.get(i)?;
    for j in i + 1..v.len() {
        if let Some(&next) = v.get(j)
            && let Some(slot) = v.get_mut(j - 1)
        {
            *slot = next;
        }
    }
    v.pop();
    Some(removed)
}

/// `*slot = *value`, kept out of line: inlined, LLVM forwards the copy of an entry read
/// from the same table into one `memmove` (it cannot tell the two places apart); here the
/// two references cannot alias and the copy is a `memcpy`.
#[inline(never)]
pub(crate) fn put<T: Copy>(slot: &mut T, value: &T) {
    *slot = *value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_in_pieces_as_copy_within_does() {
        for size in 0..24 {
            for from in 0..=size {
                for to in 0..=from {
                    for len in 0..=size - from {
                        let start: [u8; 24] = core::array::from_fn(|i| i as u8 + 1);
                        let (mut a, mut b) = (start, start);
                        a[..size].copy_within(from..from + len, to);
                        move_front_in_pieces(&mut b[..size], from, len, to);
                        assert_eq!(a, b, "size {size} from {from} len {len} to {to}");
                        let mut c = start;
                        move_front(&mut c[..size], from, len, to);
                        assert_eq!(a, c, "size {size} from {from} len {len} to {to}");
                    }
                }
            }
        }
    }

    #[test]
    fn out_of_range_moves_nothing() {
        let mut buf = [1u8, 2, 3, 4];
        move_front(&mut buf, 3, 2, 0);
        move_front(&mut buf, usize::MAX, 2, 0);
        move_front(&mut buf, 1, 1, 2);
        assert_eq!(buf, [1, 2, 3, 4]);
    }

    #[test]
    fn remove_keeps_the_order() {
        let mut v: heapless::Vec<u32, 5> = heapless::Vec::from_slice(&[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(remove(&mut v, 1), Some(2));
        assert_eq!(v, [1, 3, 4, 5]);
        assert_eq!(remove(&mut v, 3), Some(5));
        assert_eq!(remove(&mut v, 3), None);
        assert_eq!(remove(&mut v, 0), Some(1));
        assert_eq!(v, [3, 4]);
    }
}
