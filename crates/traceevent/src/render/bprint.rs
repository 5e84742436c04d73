//! Decoding of `bprint` binary arguments (the kernel's `vbin_printf` layout):
//! integers aligned to their size (8-byte values to 4), strings inline and
//! NUL-terminated, `%p` extensions other than `S s F f x K e` pre-rendered as
//! strings.

use crate::bytes::{sign_extend, Endian, LongSize};
use crate::printfmt::{write_int, write_padded, Count, IntArg, Length, Piece};

/// Formats `pieces` with arguments read from `buf`; returns false when the
/// buffer ran out (output is then partial).
pub(crate) fn bprint(
    out: &mut String,
    pieces: &[Piece],
    buf: &[u8],
    endian: Endian,
    long_size: LongSize,
    sym: &dyn Fn(&mut String, u64, bool),
) -> bool {
    let mut pos = 0usize;
    let read = |pos: &mut usize, size: usize| -> Option<u64> {
        let align = size.min(4);
        *pos = pos.checked_add(align - 1)? / align * align;
        let v = endian.read_uint(buf, *pos, size)?;
        *pos += size;
        Some(v)
    };
    let read_str = |pos: &mut usize| -> Option<&[u8]> {
        let rest = buf.get(*pos..)?;
        let n = rest.iter().position(|&c| c == 0)?;
        *pos += n + 1;
        rest.get(..n)
    };
    for p in pieces {
        let c = match p {
            Piece::Lit(s) => {
                out.push_str(s);
                continue;
            }
            Piece::Conv(c) => c,
        };
        let width = match c.width {
            Count::None => None,
            Count::Fixed(n) => Some(n),
            Count::Star => match read(&mut pos, 4) {
                Some(v) => Some((v as u32 as i32).clamp(0, 4096) as usize),
                None => return false,
            },
        };
        let precision = match c.precision {
            Count::None => None,
            Count::Fixed(n) => Some(n),
            Count::Star => match read(&mut pos, 4) {
                Some(v) => {
                    let v = v as u32 as i32;
                    (v >= 0).then_some(v as usize)
                }
                None => return false,
            },
        };
        let start = out.len();
        match c.conv {
            b's' => {
                let Some(s) = read_str(&mut pos) else {
                    return false;
                };
                let s = match precision {
                    Some(p) => &s[..s.len().min(p)],
                    None => s,
                };
                out.push_str(&String::from_utf8_lossy(s));
                write_padded(out, start, width, c.flags.left);
            }
            b'p' => {
                let first = c.pext.as_bytes().first().copied();
                match first {
                    None | Some(b'S' | b's' | b'F' | b'f' | b'x' | b'K' | b'e' | b'B') => {
                        let Some(v) = read(&mut pos, long_size.bytes()) else {
                            return false;
                        };
                        match first {
                            Some(b'S' | b's' | b'F' | b'f' | b'B') => {
                                sym(out, v, matches!(first, Some(b'S' | b'F' | b'B')))
                            }
                            _ => {
                                let w = long_size.bytes() * 2;
                                out.push_str(&format!("{v:0w$x}"));
                            }
                        }
                    }
                    _ => {
                        let Some(s) = read_str(&mut pos) else {
                            return false;
                        };
                        out.push_str(&String::from_utf8_lossy(s));
                    }
                }
                write_padded(out, start, width, c.flags.left);
            }
            b'c' => {
                let Some(v) = read(&mut pos, 1) else {
                    return false;
                };
                out.push(v as u8 as char);
                write_padded(out, start, width, c.flags.left);
            }
            _ => {
                let size = match c.length {
                    Length::Char => 1,
                    Length::Short => 2,
                    Length::Int => 4,
                    Length::Long | Length::Size => long_size.bytes(),
                    Length::LongLong => 8,
                };
                let Some(v) = read(&mut pos, size) else {
                    return false;
                };
                let signed = matches!(c.conv, b'd' | b'i');
                let arg = if signed {
                    let s = sign_extend(v, size);
                    IntArg {
                        v: s.unsigned_abs(),
                        neg: s < 0,
                    }
                } else {
                    IntArg { v, neg: false }
                };
                let base = match c.conv {
                    b'x' | b'X' => 16,
                    b'o' => 8,
                    _ => 10,
                };
                write_int(
                    out,
                    arg,
                    base,
                    c.conv == b'X',
                    signed,
                    c.flags,
                    width,
                    precision,
                );
            }
        }
    }
    true
}
