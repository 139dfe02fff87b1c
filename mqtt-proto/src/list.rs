//! [`List`]: a sequence of wire items that is either a validated view of received
//! bytes (zero-copy) or a slice the caller built for sending.
//!
//! Decoding validates every item once and keeps only the byte range; iterating
//! re-reads items lazily from it. Equality compares items, so a decoded list
//! equals the slice it was encoded from.

use core::fmt;

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::topic::TopicFilter;
use crate::version::ProtocolVersion;

pub(crate) mod sealed {
    use crate::codec::{Reader, Sink};
    use crate::error::{DecodeError, EncodeError};
    use crate::version::ProtocolVersion;

    /// How one item of a [`super::List`] is read, measured, checked and written.
    pub trait ItemImpl<'a>: Copy + Sized {
        /// Items are mostly text: a received list is checked for UTF-8 in one call
        /// before its items are read (see `Reader::new_text`).
        const TEXT: bool = false;
        /// A received list of these can exist in this build. `false` lets a build
        /// compile the reading of received lists away (properties without 5.0).
        const RECEIVED: bool = true;
        fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError>;
        /// Checks one item and moves past it without building it (a received list's
        /// validation): the same outcome as `read`. Items override it with a quick
        /// acceptance of the common case that falls back to `read` for anything else.
        #[cfg_attr(not(target_os = "none"), inline(always))]
        #[cfg_attr(target_os = "none", inline)]
        fn skip(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<(), DecodeError> {
            Self::read(r, v).map(drop)
        }
        fn wire_len(&self, v: ProtocolVersion) -> usize;
        fn check(&self, v: ProtocolVersion) -> Result<(), EncodeError>;
        /// `check`, then `wire_len`; items override it with one pass doing both.
        #[inline]
        fn checked_wire_len(&self, v: ProtocolVersion) -> Result<usize, EncodeError> {
            self.check(v)?;
            Ok(self.wire_len(v))
        }
        fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion);
    }
}

/// A type that can stand in a [`List`]; sealed.
pub trait Item<'a>: sealed::ItemImpl<'a> {}
impl<'a, T: sealed::ItemImpl<'a>> Item<'a> for T {}

#[derive(Clone, Copy)]
enum Repr<'a, T> {
    Wire {
        bytes: &'a [u8],
        version: ProtocolVersion,
    },
    Slice(&'a [T]),
}

/// A list of items: received bytes viewed lazily, or a caller's slice.
#[derive(Clone, Copy)]
pub struct List<'a, T> {
    repr: Repr<'a, T>,
}

impl<'a, T: Item<'a>> List<'a, T> {
    /// A list to send, borrowing the caller's items.
    pub const fn new(items: &'a [T]) -> Self {
        List {
            repr: Repr::Slice(items),
        }
    }

    /// The empty list.
    pub const fn empty() -> Self {
        List {
            repr: Repr::Slice(&[]),
        }
    }

    /// Reads every item of `bytes` to validate them, then keeps the bytes as a view.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn from_wire(
        bytes: &'a [u8],
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        Self::validate_wire(bytes, version)?;
        Ok(Self::wire_unchecked(bytes, version))
    }

    /// [`List::from_wire`]'s walk over the items. Out of line and returning only the
    /// verdict (in registers): the list itself is built by the caller, in place, not
    /// returned through memory and copied on (a store-forwarding stall per level).
    #[inline(never)]
    fn validate_wire(bytes: &'a [u8], version: ProtocolVersion) -> Result<(), DecodeError> {
        let mut r = if T::TEXT {
            Reader::new_text(bytes)
        } else {
            Reader::new(bytes)
        };
        while !r.is_empty() {
            T::skip(&mut r, version)?;
        }
        Ok(())
    }

    /// A view of bytes that were validated already.
    pub(crate) const fn wire_unchecked(bytes: &'a [u8], version: ProtocolVersion) -> Self {
        List {
            repr: Repr::Wire { bytes, version },
        }
    }

    /// The items in order.
    pub fn iter(&self) -> Iter<'a, T> {
        match self.repr {
            Repr::Wire { bytes, version } => Iter::Wire(Reader::new(bytes), version),
            Repr::Slice(items) => Iter::Slice(items.iter()),
        }
    }

    /// True when the list holds no item.
    pub fn is_empty(&self) -> bool {
        match self.repr {
            Repr::Wire { bytes, .. } => bytes.is_empty(),
            Repr::Slice(items) => items.is_empty(),
        }
    }

    /// The number of items (counts by walking a received list).
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Wire { .. } => self.iter().count(),
            Repr::Slice(items) => items.len(),
        }
    }

    /// Bytes the items take on the wire.
    pub(crate) fn wire_len(&self, v: ProtocolVersion) -> usize {
        match self.repr {
            Repr::Wire { bytes, version } if version == v => bytes.len(),
            _ => self.iter().map(|i| i.wire_len(v)).sum(),
        }
    }

    /// Checks every item for sending under `v`.
    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), EncodeError> {
        match self.repr {
            Repr::Wire { version, .. } if version == v => Ok(()),
            _ => self.iter().try_for_each(|i| i.check(v)),
        }
    }

    /// [`List::check`] and [`List::wire_len`] in one walk: the first failing item's error,
    /// or the bytes the items take.
    #[inline]
    pub(crate) fn checked_len(&self, v: ProtocolVersion) -> Result<usize, EncodeError> {
        match self.repr {
            Repr::Wire { bytes, version } if version == v => Ok(bytes.len()),
            Repr::Slice(items) => {
                let mut len = 0;
                for i in items {
                    len += i.checked_wire_len(v)?;
                }
                Ok(len)
            }
            Repr::Wire { .. } => {
                self.check(v)?;
                Ok(self.wire_len(v))
            }
        }
    }

    /// The caller's items, when the list is a slice.
    #[inline]
    pub(crate) const fn as_slice(&self) -> Option<&'a [T]> {
        match self.repr {
            Repr::Slice(items) => Some(items),
            Repr::Wire { .. } => None,
        }
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion) {
        match self.repr {
            Repr::Wire { bytes, version } if version == v => s.put_slice(bytes),
            // A plain loop: `for_each` was outlined with the writer behind a pointer.
            Repr::Slice(items) => {
                for i in items {
                    i.write(s, v);
                }
            }
            Repr::Wire { .. } => self.iter().for_each(|i| i.write(s, v)),
        }
    }
}

impl<'a, T: Item<'a>> Default for List<'a, T> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'a, T: Item<'a>> IntoIterator for List<'a, T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T: Item<'a> + PartialEq> PartialEq for List<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<'a, T: Item<'a> + Eq> Eq for List<'a, T> {}

impl<'a, T: Item<'a> + fmt::Debug> fmt::Debug for List<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl<'a, T: Item<'a> + defmt::Format> defmt::Format for List<'a, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.iter().format(f)
    }
}

/// Iterator over the items of a [`List`].
#[derive(Clone)]
pub enum Iter<'a, T> {
    #[doc(hidden)]
    Wire(Reader<'a>, ProtocolVersion),
    #[doc(hidden)]
    Slice(core::slice::Iter<'a, T>),
}

/// The items not yet taken, as a list (the iterator itself is left where it is).
#[cfg(feature = "defmt")]
impl<'a, T: Item<'a> + defmt::Format> defmt::Format for Iter<'a, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "[");
        for (i, item) in self.clone().enumerate() {
            if i > 0 {
                defmt::write!(f, ", ");
            }
            defmt::write!(f, "{}", item);
        }
        defmt::write!(f, "]");
    }
}

impl<'a, T: Item<'a>> Iterator for Iter<'a, T> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        match self {
            // Validated at decode time; an error here cannot happen and ends the walk.
            Iter::Wire(r, v) if T::RECEIVED => {
                (!r.is_empty()).then(|| T::read(r, *v).ok()).flatten()
            }
            Iter::Wire(..) => None,
            Iter::Slice(it) => it.next().copied(),
        }
    }
}

/// Topic filters of an UNSUBSCRIBE are plain strings.
/// UNSUBSCRIBE's filters, checked where they were made.
impl<'a> sealed::ItemImpl<'a> for TopicFilter<'a> {
    const TEXT: bool = true;
    fn read(r: &mut Reader<'a>, _: ProtocolVersion) -> Result<Self, DecodeError> {
        crate::topic::read_filter(r).map(TopicFilter::new_unchecked)
    }
    fn wire_len(&self, _: ProtocolVersion) -> usize {
        2 + self.len()
    }
    fn check(&self, _: ProtocolVersion) -> Result<(), EncodeError> {
        Ok(())
    }
    #[inline]
    fn checked_wire_len(&self, _: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(2 + self.len())
    }
    fn write<S: Sink>(&self, s: &mut S, _: ProtocolVersion) {
        s.put_binary(self.as_bytes());
    }
}
