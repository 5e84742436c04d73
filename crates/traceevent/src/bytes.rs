//! Byte-order and word-size primitives shared by the page decoder, the field
//! reader and the print-fmt evaluator. All reads are bounds-checked.

use serde::Serialize;

/// Byte order of the traced kernel (from the trace.dat header or the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Endian {
    /// Little endian (x86, most arm64).
    Little,
    /// Big endian (s390, some ppc/mips).
    Big,
}

impl Endian {
    /// Byte order of the machine running this code.
    pub const fn native() -> Self {
        if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    /// Reads an unsigned integer of `size` bytes (1, 2, 4 or 8) at `off`.
    #[inline]
    pub fn read_uint(self, bytes: &[u8], off: usize, size: usize) -> Option<u64> {
        let end = off.checked_add(size)?;
        let b = bytes.get(off..end)?;
        Some(match (size, self) {
            (1, _) => u64::from(b[0]),
            (2, Endian::Little) => u64::from(u16::from_le_bytes([b[0], b[1]])),
            (2, Endian::Big) => u64::from(u16::from_be_bytes([b[0], b[1]])),
            (4, Endian::Little) => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            (4, Endian::Big) => u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            (8, Endian::Little) => {
                u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            (8, Endian::Big) => {
                u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            _ => return None,
        })
    }

    /// Reads an unsigned integer of `size` bytes (1, 2, 4 or 8) at `off`,
    /// like [`Endian::read_uint`] but with one 8-byte load when the record
    /// has 8 bytes there (the common case for event fields).
    #[inline]
    pub(crate) fn read_field(self, bytes: &[u8], off: usize, size: usize) -> Option<u64> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return None;
        }
        let word = off
            .checked_add(8)
            .and_then(|end| bytes.get(off..end))
            .and_then(|b| <[u8; 8]>::try_from(b).ok());
        if let Some(w) = word {
            return Some(match self {
                Endian::Little => truncate(u64::from_le_bytes(w), size),
                Endian::Big => u64::from_be_bytes(w) >> (64 - 8 * size as u32),
            });
        }
        // A field near the end of the record: the 8 bytes ending with it.
        let end = off.checked_add(size)?;
        let tail = end
            .checked_sub(8)
            .and_then(|start| bytes.get(start..end))
            .and_then(|b| <[u8; 8]>::try_from(b).ok());
        match tail {
            Some(w) => Some(match self {
                Endian::Little => u64::from_le_bytes(w) >> (64 - 8 * size as u32),
                Endian::Big => truncate(u64::from_be_bytes(w), size),
            }),
            None => self.read_uint(bytes, off, size),
        }
    }

    /// [`Endian::read_field`] for a size known to be 1, 2, 4 or 8 with its
    /// [`size_shift`] `sh` precomputed (compiled print fmts).
    #[inline]
    pub(crate) fn read_sized(self, bytes: &[u8], off: usize, size: u8, sh: u32) -> Option<u64> {
        let word = off
            .checked_add(8)
            .and_then(|end| bytes.get(off..end))
            .and_then(|b| <[u8; 8]>::try_from(b).ok());
        if let Some(w) = word {
            return Some(match self {
                Endian::Little => trunc_shift(u64::from_le_bytes(w), sh),
                Endian::Big => u64::from_be_bytes(w) >> sh,
            });
        }
        self.read_field(bytes, off, usize::from(size))
    }

    /// Reads a `u32` at `off`.
    #[inline]
    pub fn read_u32(self, bytes: &[u8], off: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }

    /// Reads a `u64` at `off`.
    #[inline]
    pub fn read_u64(self, bytes: &[u8], off: usize) -> Option<u64> {
        let b: [u8; 8] = bytes.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        })
    }
}

/// Size of the traced kernel's `long` (and of pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LongSize {
    /// 32-bit kernel.
    Four,
    /// 64-bit kernel.
    Eight,
}

impl LongSize {
    /// Size in bytes (4 or 8).
    pub const fn bytes(self) -> usize {
        match self {
            LongSize::Four => 4,
            LongSize::Eight => 8,
        }
    }

    /// Maps 4 or 8 to a `LongSize`; anything else is `None`.
    pub const fn from_bytes(n: usize) -> Option<Self> {
        match n {
            4 => Some(LongSize::Four),
            8 => Some(LongSize::Eight),
            _ => None,
        }
    }
}

/// The shift that makes [`truncate`]/[`sign_extend`] of `size` bytes a
/// pair of shifts (0 for sizes those treat as 8 bytes).
#[inline]
pub(crate) const fn size_shift(size: usize) -> u32 {
    match size {
        1 => 56,
        2 => 48,
        4 => 32,
        _ => 0,
    }
}

/// [`truncate`] with a precomputed [`size_shift`].
#[inline]
pub(crate) const fn trunc_shift(v: u64, sh: u32) -> u64 {
    (v << sh) >> sh
}

/// [`sign_extend`] (as bits) with a precomputed [`size_shift`].
#[inline]
pub(crate) const fn sext_shift(v: u64, sh: u32) -> u64 {
    (((v << sh) as i64) >> sh) as u64
}

/// Sign-extends the low `size` bytes of `v`.
#[inline]
pub(crate) fn sign_extend(v: u64, size: usize) -> i64 {
    match size {
        1 => v as u8 as i8 as i64,
        2 => v as u16 as i16 as i64,
        4 => v as u32 as i32 as i64,
        _ => v as i64,
    }
}

/// Truncates `v` to `size` bytes (zero-extending).
#[inline]
pub(crate) fn truncate(v: u64, size: usize) -> u64 {
    match size {
        1 => v & 0xff,
        2 => v & 0xffff,
        4 => v & 0xffff_ffff,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_field_matches_read_uint() {
        let buf: Vec<u8> = (0..24u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(0x81))
            .collect();
        for len in 0..=buf.len() {
            let b = &buf[..len];
            for off in 0..len + 2 {
                for size in 0..10 {
                    for e in [Endian::Little, Endian::Big] {
                        assert_eq!(
                            e.read_field(b, off, size),
                            e.read_uint(b, off, size),
                            "{len} {off} {size} {e:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(Endian::Little.read_field(&[], usize::MAX, 8), None);
        for len in 0..=buf.len() {
            let b = &buf[..len];
            for off in 0..len + 2 {
                for size in [1u8, 2, 4, 8] {
                    let sh = size_shift(usize::from(size));
                    for e in [Endian::Little, Endian::Big] {
                        assert_eq!(
                            e.read_sized(b, off, size, sh),
                            e.read_uint(b, off, usize::from(size))
                        );
                    }
                }
            }
        }
        for v in [0u64, 1, 0x80, 0xff, 0x8000, 0x1234_5678_9abc_def0, u64::MAX] {
            for size in 0..10 {
                let sh = size_shift(size);
                assert_eq!(trunc_shift(v, sh), truncate(v, size));
                assert_eq!(sext_shift(v, sh), sign_extend(v, size) as u64);
            }
        }
    }
}
