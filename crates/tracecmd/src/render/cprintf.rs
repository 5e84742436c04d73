//! The subset of C `printf` that libtraceevent feeds with print-fmt
//! conversions: integers (`%d %i %u %x %X %o` with flags, width, precision,
//! `h`/`hh`/`l`/`ll` casts) and strings (`%s` with width and precision),
//! `*` taken from a length argument.

use std::io::Write as _;

/// Width or precision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpecCount {
    /// Not given.
    #[default]
    None,
    /// A number.
    Fixed(usize),
    /// `*`: from the length argument.
    Star,
}

/// A parsed conversion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: SpecCount,
    prec: SpecCount,
    /// libtraceevent's length class: -2 char, -1 short, 0 int, 1 long, 2 long long.
    ls: i32,
    conv: u8,
}

impl Spec {
    /// Parses `%…c` text; `ls` is libtraceevent's length class.
    pub fn parse(text: &[u8], ls: i32) -> Spec {
        let mut s = Spec {
            ls,
            ..Default::default()
        };
        let mut i = 1;
        while let Some(&c) = text.get(i) {
            match c {
                b'-' => s.left = true,
                b'+' => s.plus = true,
                b' ' => s.space = true,
                b'#' => s.alt = true,
                b'0' => s.zero = true,
                _ => break,
            }
            i += 1;
        }
        let num = |i: &mut usize| -> SpecCount {
            if text.get(*i) == Some(&b'*') {
                *i += 1;
                return SpecCount::Star;
            }
            let st = *i;
            while text.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            match std::str::from_utf8(&text[st..*i])
                .ok()
                .and_then(|t| t.parse().ok())
            {
                Some(n) => SpecCount::Fixed(n),
                None => SpecCount::None,
            }
        };
        s.width = num(&mut i);
        if text.get(i) == Some(&b'.') {
            i += 1;
            s.prec = match num(&mut i) {
                SpecCount::None => SpecCount::Fixed(0),
                other => other,
            };
        }
        s.conv = text.last().copied().unwrap_or(b'd');
        s
    }

    fn resolve(&self, len_arg: Option<i64>) -> (Option<usize>, Option<usize>, bool) {
        let mut left = self.left;
        let width = match self.width {
            SpecCount::None => None,
            SpecCount::Fixed(n) => Some(n),
            SpecCount::Star => {
                let w = len_arg.unwrap_or(0);
                if w < 0 {
                    left = true;
                }
                Some(w.unsigned_abs() as usize)
            }
        };
        let prec = match self.prec {
            SpecCount::None => None,
            SpecCount::Fixed(n) => Some(n),
            SpecCount::Star if self.width == SpecCount::Star => None,
            SpecCount::Star => {
                let p = len_arg.unwrap_or(0);
                if p < 0 {
                    None
                } else {
                    Some(p as usize)
                }
            }
        };
        (
            width.map(|w| w.min(1 << 16)),
            prec.map(|p| p.min(1 << 16)),
            left,
        )
    }

    /// Formats an integer argument (after libtraceevent's cast to `ls`).
    pub fn fmt_int(&self, out: &mut Vec<u8>, val: u64, len_arg: Option<i64>) {
        let bytes = match self.ls {
            i32::MIN..=-2 => 1,
            -1 => 2,
            0 => 4,
            _ => 8,
        };
        let signed = matches!(self.conv, b'd' | b'i');
        let (neg, mag) = if signed {
            let v: i64 = match bytes {
                1 => val as u8 as i8 as i64,
                2 => val as u16 as i16 as i64,
                4 => val as u32 as i32 as i64,
                _ => val as i64,
            };
            (v < 0, v.unsigned_abs())
        } else {
            let v = match bytes {
                1 => val & 0xff,
                2 => val & 0xffff,
                4 => val & 0xffff_ffff,
                _ => val,
            };
            (false, v)
        };
        // digits into a stack buffer (no allocation per conversion)
        let mut buf = [0u8; 24];
        let mut ib = itoa::Buffer::new();
        let start = match self.conv {
            b'x' | b'X' | b'o' => {
                let (shift, mask) = if self.conv == b'o' { (3, 7) } else { (4, 15) };
                let hex: &[u8; 16] = if self.conv == b'X' {
                    b"0123456789ABCDEF"
                } else {
                    b"0123456789abcdef"
                };
                let mut start = buf.len();
                let mut m = mag;
                while start > 0 {
                    start -= 1;
                    if let (Some(slot), Some(&c)) =
                        (buf.get_mut(start), hex.get((m & mask) as usize))
                    {
                        *slot = c;
                    }
                    m >>= shift;
                    if m == 0 {
                        break;
                    }
                }
                start
            }
            _ => {
                let t = ib.format(mag).as_bytes();
                let start = buf.len() - t.len().min(buf.len());
                if let Some(dst) = buf.get_mut(start..) {
                    dst.copy_from_slice(t.get(..dst.len()).unwrap_or(t));
                }
                start
            }
        };
        let mut digits: &[u8] = buf.get(start..).unwrap_or(&[]);
        let (width, prec, left) = self.resolve(len_arg);
        let mut zeros = 0usize;
        if let Some(p) = prec {
            if p == 0 && mag == 0 {
                digits = &[];
            }
            zeros = p.saturating_sub(digits.len());
        }
        let mut prefix = [0u8; 2];
        let mut plen = 0usize;
        let mut push = |c: u8| {
            if let Some(slot) = prefix.get_mut(plen) {
                *slot = c;
                plen += 1;
            }
        };
        if signed {
            if neg {
                push(b'-');
            } else if self.plus {
                push(b'+');
            } else if self.space {
                push(b' ');
            }
        }
        if self.alt && mag != 0 {
            match self.conv {
                b'x' => {
                    push(b'0');
                    push(b'x');
                }
                b'X' => {
                    push(b'0');
                    push(b'X');
                }
                b'o' if zeros == 0 => push(b'0'),
                _ => {}
            }
        }
        let prefix = prefix.get(..plen).unwrap_or(&[]);
        let len = plen + zeros + digits.len();
        let pad = width.unwrap_or(0).saturating_sub(len);
        if left {
            out.extend_from_slice(prefix);
            out.resize(out.len() + zeros, b'0');
            out.extend_from_slice(digits);
            out.resize(out.len() + pad, b' ');
        } else if self.zero && prec.is_none() {
            out.extend_from_slice(prefix);
            out.resize(out.len() + pad + zeros, b'0');
            out.extend_from_slice(digits);
        } else {
            out.resize(out.len() + pad, b' ');
            out.extend_from_slice(prefix);
            out.resize(out.len() + zeros, b'0');
            out.extend_from_slice(digits);
        }
    }

    /// Formats a string argument (bytes up to NUL already cut).
    pub fn fmt_str(&self, out: &mut Vec<u8>, s: &[u8], len_arg: Option<i64>) {
        let (width, prec, left) = self.resolve(len_arg);
        let s = match prec {
            Some(p) if p < s.len() => &s[..p],
            _ => s,
        };
        let pad = width.unwrap_or(0).saturating_sub(s.len());
        if left {
            out.extend_from_slice(s);
            out.resize(out.len() + pad, b' ');
        } else {
            out.resize(out.len() + pad, b' ');
            out.extend_from_slice(s);
        }
    }
}

/// `printf("%*s", w, s)`-style right alignment helper.
pub fn pad_left(out: &mut Vec<u8>, s: &[u8], w: usize) {
    out.resize(out.len() + w.saturating_sub(s.len()), b' ');
    out.extend_from_slice(s);
}

/// `printf("%-*s", w, s)`-style left alignment helper.
pub fn pad_right(out: &mut Vec<u8>, s: &[u8], w: usize) {
    out.extend_from_slice(s);
    out.resize(out.len() + w.saturating_sub(s.len()), b' ');
}

/// Writes an unsigned number.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Writes `v` zero-padded to `w` digits (`%0*llu`).
pub fn put_zpad(out: &mut Vec<u8>, v: u64, w: usize) {
    let mut b = itoa::Buffer::new();
    let t = b.format(v).as_bytes();
    out.resize(out.len() + w.saturating_sub(t.len()), b'0');
    out.extend_from_slice(t);
}

/// Writes `args` (for the rare formatted pieces).
pub fn put_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(f: &str, ls: i32, v: u64) -> String {
        let mut o = Vec::new();
        Spec::parse(f.as_bytes(), ls).fmt_int(&mut o, v, None);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn ints() {
        assert_eq!(i("%d", 0, 0xffff_ffff), "-1");
        assert_eq!(i("%u", 0, 0xffff_ffff_ffff), "4294967295");
        assert_eq!(i("%08x", 0, 0x72), "00000072");
        assert_eq!(i("%03d", 0, 1), "001");
        assert_eq!(i("%-5d", 0, 42), "42   ");
        assert_eq!(i("%#lx", 1, 255), "0xff");
        assert_eq!(i("%llu", 2, u64::MAX), "18446744073709551615");
        assert_eq!(i("%.0d", 0, 0), "");
        assert_eq!(i("%5.3d", 0, 7), "  007");
        assert_eq!(i("%-6.3x", 0, 0xa), "00a   ");
        assert_eq!(i("%#o", 0, 8), "010");
        assert_eq!(i("%#.3o", 0, 8), "010");
        assert_eq!(i("%+d", 0, 5), "+5");
        assert_eq!(i("% 4d", 0, 5), "   5");
        assert_eq!(i("%#X", 0, 0xab), "0XAB");
        assert_eq!(i("%lo", 1, u64::MAX), "1777777777777777777777");
    }

    #[test]
    fn strs() {
        let mut o = Vec::new();
        Spec::parse(b"%-4s", 0).fmt_str(&mut o, b"ab", None);
        Spec::parse(b"%.*s", 0).fmt_str(&mut o, b"abcdef", Some(3));
        assert_eq!(o, b"ab  abc");
    }
}
