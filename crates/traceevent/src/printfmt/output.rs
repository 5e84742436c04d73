//! printf output primitives with the kernel's vsprintf semantics: integer
//! `number()`, string widening, and the `%p` extensions (IP addresses, MACs,
//! UUIDs, hex buffers, bitmaps).

use super::{Conv, Flags};
use std::fmt::Write as _;

const HEX_LO: &[u8; 16] = b"0123456789abcdef";
const HEX_UP: &[u8; 16] = b"0123456789ABCDEF";

/// An integer argument after the length modifier was applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntArg {
    /// Magnitude bits (already truncated to the conversion width).
    pub v: u64,
    /// Negative (only for signed conversions).
    pub neg: bool,
}

/// Writes an integer like the kernel's `number()`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_int(
    out: &mut String,
    arg: IntArg,
    base: u32,
    upper: bool,
    signed: bool,
    flags: Flags,
    width: Option<usize>,
    precision: Option<usize>,
) {
    // Fast path: plain %d/%u/%x.
    if width.is_none() && precision.is_none() && !flags.alt && !flags.plus && !flags.space {
        if arg.neg {
            out.push('-');
        }
        if base == 10 {
            out.push_str(itoa::Buffer::new().format(arg.v));
        } else {
            push_radix(out, arg.v, base, upper);
        }
        return;
    }
    let mut tmp = [0u8; 24];
    let mut i = 0usize;
    let mut n = arg.v;
    let table = if upper { HEX_UP } else { HEX_LO };
    loop {
        tmp[i] = table[(n % u64::from(base)) as usize];
        i += 1;
        n /= u64::from(base);
        if n == 0 {
            break;
        }
    }
    let is_zero = arg.v == 0;
    let mut field_width = width.map(|w| w as i64).unwrap_or(-1);
    let mut zeropad = flags.zero;
    if flags.left {
        zeropad = false;
    }
    let sign = if signed {
        if arg.neg {
            Some('-')
        } else if flags.plus {
            Some('+')
        } else if flags.space {
            Some(' ')
        } else {
            None
        }
    } else {
        None
    };
    if sign.is_some() {
        field_width -= 1;
    }
    let need_pfx = flags.alt && base != 10;
    if need_pfx {
        if base == 16 {
            field_width -= 2;
        } else if !is_zero {
            field_width -= 1;
        }
    }
    let mut prec = precision.map(|p| p as i64).unwrap_or(-1);
    if i as i64 > prec {
        prec = i as i64;
    }
    field_width -= prec;
    if !zeropad && !flags.left {
        while field_width > 0 {
            out.push(' ');
            field_width -= 1;
        }
    }
    if let Some(s) = sign {
        out.push(s);
    }
    if need_pfx {
        if base == 16 || !is_zero {
            out.push('0');
        }
        if base == 16 {
            out.push(if upper { 'X' } else { 'x' });
        }
    }
    if !flags.left {
        let c = if zeropad { '0' } else { ' ' };
        while field_width > 0 {
            out.push(c);
            field_width -= 1;
        }
    }
    while (i as i64) < prec {
        out.push('0');
        prec -= 1;
    }
    while i > 0 {
        i -= 1;
        out.push(tmp[i] as char);
    }
    while field_width > 0 {
        out.push(' ');
        field_width -= 1;
    }
}

/// Appends `v` in hexadecimal without prefix to a byte buffer.
#[inline]
pub(crate) fn push_hex_bytes(out: &mut Vec<u8>, v: u64, upper: bool) {
    let table = if upper { HEX_UP } else { HEX_LO };
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = table[(v & 15) as usize];
        v >>= 4;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(tmp.get(i..).unwrap_or(&[]));
}

/// "00" to "99".
const DEC_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The two digits of `v % 100`.
#[inline]
pub(crate) fn pair(v: u32) -> [u8; 2] {
    let i = (v as usize % 100) * 2;
    [
        DEC_PAIRS.get(i).copied().unwrap_or(b'0'),
        DEC_PAIRS.get(i + 1).copied().unwrap_or(b'0'),
    ]
}

/// Appends `v` in decimal to a byte buffer.
#[inline(always)]
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    if v < 10_000 {
        push_small(out, v as u32);
    } else if v < 100_000_000 {
        let v = v as u32;
        push_small(out, v / 10_000);
        push_4(out, v % 10_000);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
}

/// Appends `v` (below 10000) in decimal, without data-dependent branches
/// (priorities and pids vary in length from record to record).
#[inline(always)]
fn push_small(out: &mut Vec<u8>, v: u32) {
    let [a, b] = pair(v / 100);
    let [c, d] = pair(v % 100);
    let n = 1 + usize::from(v >= 10) + usize::from(v >= 100) + usize::from(v >= 1000);
    // the digits, leading zeros shifted out
    let w = u32::from_be_bytes([a, b, c, d]) << (8 * (4 - n) as u32);
    let end = out.len() + n;
    out.extend_from_slice(&w.to_be_bytes());
    out.truncate(end);
}

/// Appends `v` (below 10000) as exactly 4 digits.
#[inline(always)]
pub(crate) fn push_4(out: &mut Vec<u8>, v: u32) {
    let [a, b] = pair(v / 100);
    let [c, d] = pair(v % 100);
    out.extend_from_slice(&[a, b, c, d]);
}

/// Appends `v` (below 1000000) as exactly 6 digits (`%06u`).
#[inline(always)]
pub(crate) fn push_6(out: &mut Vec<u8>, v: u32) {
    let [a, b] = pair(v / 10_000);
    let [c, d] = pair(v / 100 % 100);
    let [e, f] = pair(v % 100);
    out.extend_from_slice(&[a, b, c, d, e, f]);
}

/// Number of decimal digits of `v`.
#[inline]
pub(crate) fn dec_len(v: u64) -> usize {
    let mut n = 1;
    let mut x = v;
    while x >= 10 {
        x /= 10;
        n += 1;
    }
    n
}

/// Appends UTF-8 bytes (lossily, should they not be valid) to a string.
#[inline]
pub(crate) fn push_utf8(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

const LO_BITS: u64 = 0x0101_0101_0101_0101;
const HI_BITS: u64 = 0x8080_8080_8080_8080;

/// Appends the C string in `bytes` (up to the first NUL) to a byte buffer as
/// UTF-8, replacing invalid sequences like [`push_cstr`].
#[inline(always)]
pub(crate) fn push_cstr_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if let Ok(a) = <&[u8; 16]>::try_from(bytes) {
        // `char comm[16]`: find the NUL in one 128-bit word; copy all 16
        // bytes and cut back, when the text before the NUL is ASCII.
        const LO: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
        const HI: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;
        let w = u128::from_le_bytes(*a);
        // The lowest flagged byte is exactly the first NUL.
        let z = w.wrapping_sub(LO) & !w & HI;
        let n = if z == 0 {
            16
        } else {
            (z.trailing_zeros() / 8) as usize
        };
        let high = w & HI;
        if high == 0 || (n < 16 && high & ((1u128 << (8 * n.min(15))) - 1) == 0) {
            let end = out.len() + n;
            out.extend_from_slice(a);
            out.truncate(end);
            return;
        }
    }
    // Word at a time while the text is NUL-free ASCII.
    let mut i = 0usize;
    for c in bytes.chunks_exact(8) {
        let Ok(a) = <[u8; 8]>::try_from(c) else { break };
        let w = u64::from_le_bytes(a);
        if (w.wrapping_sub(LO_BITS) & !w & HI_BITS) != 0 || w & HI_BITS != 0 {
            break;
        }
        i += 8;
    }
    let mut ascii = true;
    while let Some(&c) = bytes.get(i) {
        if c == 0 {
            break;
        }
        ascii &= c.is_ascii();
        i += 1;
    }
    let text = bytes.get(..i).unwrap_or(&[]);
    if ascii || std::str::from_utf8(text).is_ok() {
        out.extend_from_slice(text);
    } else {
        out.extend_from_slice(String::from_utf8_lossy(text).as_bytes());
    }
}

fn push_radix(out: &mut String, mut v: u64, base: u32, upper: bool) {
    let table = if upper { HEX_UP } else { HEX_LO };
    let mut tmp = [0u8; 24];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = table[(v % u64::from(base)) as usize];
        v /= u64::from(base);
        if v == 0 {
            break;
        }
    }
    for &b in &tmp[i..] {
        out.push(b as char);
    }
}

/// Pads the text written since `start` to `width` (right-justified unless `left`).
pub(crate) fn write_padded(out: &mut String, start: usize, width: Option<usize>, left: bool) {
    let Some(w) = width else { return };
    let len = out.get(start..).map(|s| s.chars().count()).unwrap_or(0);
    if len >= w {
        return;
    }
    let pad = w - len;
    if left {
        out.extend(std::iter::repeat_n(' ', pad));
    } else {
        let spaces: String = std::iter::repeat_n(' ', pad).collect();
        out.insert_str(start, &spaces);
    }
}

/// Appends bytes as text: up to the first NUL, at most `max` bytes; invalid
/// UTF-8 is replaced.
pub(crate) fn push_cstr(out: &mut String, bytes: &[u8], max: Option<usize>) {
    let mut b = bytes;
    if let Some(nul) = b.iter().position(|&c| c == 0) {
        b = &b[..nul];
    }
    if let Some(m) = max {
        b = &b[..b.len().min(m)];
    }
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

fn hex_byte(out: &mut String, b: u8, upper: bool) {
    let t = if upper { HEX_UP } else { HEX_LO };
    out.push(t[(b >> 4) as usize] as char);
    out.push(t[(b & 15) as usize] as char);
}

/// `%pI4`: dotted quad.
pub(crate) fn ipv4(out: &mut String, b: &[u8]) {
    for (i, x) in b.iter().take(4).enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(itoa::Buffer::new().format(*x));
    }
}

/// `%pI6` (full, colon separated) and `%pi6` (no colons).
pub(crate) fn ipv6_full(out: &mut String, b: &[u8], colons: bool) {
    for (i, x) in b.iter().take(16).enumerate() {
        if colons && i > 0 && i % 2 == 0 {
            out.push(':');
        }
        hex_byte(out, *x, false);
    }
}

/// `%pI6c`: RFC 5952 compressed form, as the kernel's `ip6_compressed_string`.
pub(crate) fn ipv6_compressed(out: &mut String, b: &[u8]) {
    let mut a = [0u8; 16];
    for (d, s) in a.iter_mut().zip(b.iter()) {
        *d = *s;
    }
    let words: Vec<u16> = (0..8)
        .map(|i| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]))
        .collect();
    let v4mapped = words[..5].iter().all(|&w| w == 0) && words[5] == 0xffff;
    let isatap = (words[4] & 0xfdff) == 0 && words[5] == 0x5efe;
    let use_v4 = v4mapped || isatap;
    let range = if use_v4 { 6 } else { 8 };
    let mut zerolen = [0usize; 8];
    for i in 0..range {
        for &w in &words[i..range] {
            if w != 0 {
                break;
            }
            zerolen[i] += 1;
        }
    }
    let mut longest = 1;
    let mut colonpos: Option<usize> = None;
    for (i, &z) in zerolen.iter().enumerate().take(range) {
        if z > longest {
            longest = z;
            colonpos = Some(i);
        }
    }
    if longest == 1 {
        colonpos = None;
    }
    let mut needcolon = false;
    let mut i = 0;
    while i < range {
        if Some(i) == colonpos {
            if needcolon || i == 0 {
                out.push(':');
            }
            out.push(':');
            needcolon = false;
            i += longest;
            continue;
        }
        if needcolon {
            out.push(':');
        }
        let w = words[i];
        let hi = (w >> 8) as u8;
        let lo = (w & 0xff) as u8;
        if hi != 0 {
            if hi > 0x0f {
                hex_byte(out, hi, false);
            } else {
                out.push(HEX_LO[hi as usize] as char);
            }
            hex_byte(out, lo, false);
        } else if lo > 0x0f {
            hex_byte(out, lo, false);
        } else {
            out.push(HEX_LO[lo as usize] as char);
        }
        needcolon = true;
        i += 1;
    }
    if use_v4 {
        if needcolon {
            out.push(':');
        }
        ipv4(out, &a[12..16]);
    }
}

/// `%pIS[pfsc]`: a `struct sockaddr` (AF_INET / AF_INET6 in host order family).
pub(crate) fn sockaddr(out: &mut String, b: &[u8], ext: &str, little: bool) -> bool {
    let fam = match b.get(0..2) {
        Some(f) if little => u16::from_le_bytes([f[0], f[1]]),
        Some(f) => u16::from_be_bytes([f[0], f[1]]),
        None => return false,
    };
    let have_p = ext.contains('p');
    let have_c = ext.contains('c');
    let have_f = ext.contains('f');
    let have_s = ext.contains('s');
    let port = b
        .get(2..4)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .unwrap_or(0);
    match fam {
        2 => {
            let Some(a) = b.get(4..8) else { return false };
            ipv4(out, a);
            if have_p {
                out.push(':');
                out.push_str(itoa::Buffer::new().format(port));
            }
            true
        }
        10 => {
            let Some(a) = b.get(8..24) else { return false };
            let br = have_p || have_s || have_f;
            if br {
                out.push('[');
            }
            if have_c {
                ipv6_compressed(out, a);
            } else {
                ipv6_full(out, a, true);
            }
            if br {
                out.push(']');
            }
            if have_p {
                out.push(':');
                out.push_str(itoa::Buffer::new().format(port));
            }
            if have_f {
                let fl = b
                    .get(4..8)
                    .map(|f| u32::from_be_bytes([f[0], f[1], f[2], f[3]]) & 0x0fff_ffff)
                    .unwrap_or(0);
                out.push('/');
                out.push_str(itoa::Buffer::new().format(fl));
            }
            if have_s {
                let sc = b
                    .get(24..28)
                    .map(|f| {
                        if little {
                            u32::from_le_bytes([f[0], f[1], f[2], f[3]])
                        } else {
                            u32::from_be_bytes([f[0], f[1], f[2], f[3]])
                        }
                    })
                    .unwrap_or(0);
                out.push('%');
                out.push_str(itoa::Buffer::new().format(sc));
            }
            true
        }
        _ => {
            out.push_str("(invalid address)");
            true
        }
    }
}

/// `%pM` family: `ext` is the text after `p` (`M`, `MR`, `MF`, `m`, `mR`).
pub(crate) fn mac(out: &mut String, b: &[u8], ext: &str) -> bool {
    let Some(m) = b.get(0..6) else { return false };
    let sep = if ext.starts_with('m') {
        None
    } else if ext.contains('F') {
        Some('-')
    } else {
        Some(':')
    };
    let rev = ext.contains('R');
    for i in 0..6 {
        let x = if rev { m[5 - i] } else { m[i] };
        if i > 0 {
            if let Some(s) = sep {
                out.push(s);
            }
        }
        hex_byte(out, x, false);
    }
    true
}

/// `%pU[bBlL]`.
pub(crate) fn uuid(out: &mut String, b: &[u8], ext: &str) -> bool {
    let Some(u) = b.get(0..16) else { return false };
    let variant = ext.as_bytes().get(1).copied().unwrap_or(b'b');
    let upper = matches!(variant, b'B' | b'L');
    let le = matches!(variant, b'l' | b'L');
    const BE: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const LE: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let idx = if le { &LE } else { &BE };
    for (i, &j) in idx.iter().enumerate() {
        hex_byte(out, u[j], upper);
        if matches!(i, 3 | 5 | 7 | 9) {
            out.push('-');
        }
    }
    true
}

/// `%*ph[CDN]`: at most 64 bytes, separated by ' ', ':', '-' or nothing.
pub(crate) fn hex_buf(out: &mut String, b: &[u8], ext: &str, width: Option<usize>) {
    let len = width.unwrap_or(1).min(64).min(b.len());
    let sep = match ext.as_bytes().get(1) {
        Some(b'C') => Some(':'),
        Some(b'D') => Some('-'),
        Some(b'N') => None,
        _ => Some(' '),
    };
    for (i, x) in b.iter().take(len).enumerate() {
        if i > 0 {
            if let Some(s) = sep {
                out.push(s);
            }
        }
        hex_byte(out, *x, false);
    }
}

/// Reads bit `i` of a kernel bitmap stored as `long`s of `long_bytes` in the given order.
fn bit(b: &[u8], i: usize, long_bytes: usize, little: bool) -> bool {
    let word = i / (long_bytes * 8);
    let bitn = i % (long_bytes * 8);
    let byte_in_word = bitn / 8;
    let byte = if little {
        word * long_bytes + byte_in_word
    } else {
        word * long_bytes + (long_bytes - 1 - byte_in_word)
    };
    b.get(byte).is_some_and(|x| x & (1 << (bitn % 8)) != 0)
}

/// `%*pb`: hex in 32-bit chunks, most significant first, comma separated.
pub fn bitmap_string(out: &mut String, b: &[u8], nr_bits: usize, long_bytes: usize, little: bool) {
    let nr_bits = nr_bits.min(b.len().saturating_mul(8)).min(1 << 20);
    let mut chunksz = nr_bits & 31;
    if chunksz == 0 {
        chunksz = 32;
    }
    let mut i = (nr_bits.div_ceil(32) * 32) as i64 - 32;
    let mut first = true;
    while i >= 0 {
        let mut val: u32 = 0;
        for k in 0..chunksz {
            if bit(b, i as usize + k, long_bytes, little) {
                val |= 1 << k;
            }
        }
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{:0w$x}", val, w = chunksz.div_ceil(4));
        chunksz = 32;
        i -= 32;
    }
}

/// `%*pbl`: ranges such as `0,2-5`.
pub fn bitmap_list(out: &mut String, b: &[u8], nr_bits: usize, long_bytes: usize, little: bool) {
    let nr_bits = nr_bits.min(b.len().saturating_mul(8)).min(1 << 20);
    let mut first = true;
    let mut i = 0;
    while i < nr_bits {
        if !bit(b, i, long_bytes, little) {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < nr_bits && bit(b, i + 1, long_bytes, little) {
            i += 1;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(itoa::Buffer::new().format(start));
        if i > start {
            out.push('-');
            out.push_str(itoa::Buffer::new().format(i));
        }
        i += 1;
    }
}

/// Describes a conversion for error messages.
pub(crate) fn conv_name(c: &Conv) -> String {
    format!("%{}{}", c.conv as char, c.pext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64, base: u32, flags: Flags, w: Option<usize>, p: Option<usize>) -> String {
        let mut s = String::new();
        write_int(
            &mut s,
            IntArg {
                v: v.unsigned_abs(),
                neg: v < 0,
            },
            base,
            false,
            true,
            flags,
            w,
            p,
        );
        s
    }

    #[test]
    fn numbers_like_kernel() {
        let z = Flags {
            zero: true,
            ..Flags::default()
        };
        let alt = Flags {
            alt: true,
            ..Flags::default()
        };
        let left = Flags {
            left: true,
            ..Flags::default()
        };
        assert_eq!(int(-5, 10, Flags::default(), None, None), "-5");
        assert_eq!(int(42, 16, z, Some(8), None), "0000002a");
        assert_eq!(int(0, 16, alt, None, None), "0x0");
        assert_eq!(int(0, 8, alt, None, None), "0");
        assert_eq!(int(8, 8, alt, None, None), "010");
        assert_eq!(int(7, 10, left, Some(3), None), "7  ");
        assert_eq!(int(-7, 10, z, Some(4), None), "-007");
        assert_eq!(int(3, 10, Flags::default(), Some(5), Some(3)), "  003");
        assert_eq!(int(100, 10, Flags::default(), Some(2), None), "100");
        assert_eq!(int(0x1b, 16, alt, Some(8), None), "    0x1b");
    }

    #[test]
    fn ipv6_forms() {
        let mut s = String::new();
        let a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        ipv6_compressed(&mut s, &a);
        assert_eq!(s, "2001:db8::1");
        s.clear();
        ipv6_compressed(&mut s, &[0; 16]);
        assert_eq!(s, "::");
        s.clear();
        let m = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1];
        ipv6_compressed(&mut s, &m);
        assert_eq!(s, "::ffff:10.0.0.1");
        s.clear();
        let one0 = [0, 1, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7];
        ipv6_compressed(&mut s, &one0);
        assert_eq!(s, "1:0:2:3:4:5:6:7");
        s.clear();
        ipv6_full(&mut s, &a, true);
        assert_eq!(s, "2001:0db8:0000:0000:0000:0000:0000:0001");
    }

    #[test]
    fn mac_uuid_hex_bitmap() {
        let mut s = String::new();
        mac(&mut s, &[1, 2, 3, 0xa, 0xb, 0xc], "M");
        s.push(' ');
        mac(&mut s, &[1, 2, 3, 0xa, 0xb, 0xc], "MR");
        s.push(' ');
        mac(&mut s, &[1, 2, 3, 0xa, 0xb, 0xc], "MF");
        s.push(' ');
        mac(&mut s, &[1, 2, 3, 0xa, 0xb, 0xc], "m");
        assert_eq!(
            s,
            "01:02:03:0a:0b:0c 0c:0b:0a:03:02:01 01-02-03-0a-0b-0c 0102030a0b0c"
        );
        let u: Vec<u8> = (0..16).collect();
        s.clear();
        uuid(&mut s, &u, "U");
        assert_eq!(s, "00010203-0405-0607-0809-0a0b0c0d0e0f");
        s.clear();
        uuid(&mut s, &u, "UL");
        assert_eq!(s, "03020100-0504-0706-0809-0A0B0C0D0E0F");
        s.clear();
        hex_buf(&mut s, &[0xde, 0xad, 0xbe, 0xef], "hN", Some(4));
        assert_eq!(s, "deadbeef");
        s.clear();
        hex_buf(&mut s, &[0xde, 0xad], "h", Some(2));
        assert_eq!(s, "de ad");
        s.clear();
        bitmap_string(&mut s, &[3, 0, 0, 0, 0, 0, 0, 0], 64, 8, true);
        assert_eq!(s, "00000000,00000003");
        s.clear();
        bitmap_string(&mut s, &[0xff, 0x3, 0, 0, 0, 0, 0, 0], 10, 8, true);
        assert_eq!(s, "3ff");
        s.clear();
        bitmap_list(&mut s, &[0b0011_1101, 0, 0, 0, 0, 0, 0, 0], 64, 8, true);
        assert_eq!(s, "0,2-5");
    }

    #[test]
    fn sockaddrs() {
        let mut s = String::new();
        let v4 = [2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        sockaddr(&mut s, &v4, "ISpc", true);
        assert_eq!(s, "127.0.0.1:8080");
        s.clear();
        let mut v6 = [0u8; 28];
        v6[0] = 10;
        v6[3] = 80;
        v6[23] = 1;
        sockaddr(&mut s, &v6, "ISpc", true);
        assert_eq!(s, "[::1]:80");
    }
}
