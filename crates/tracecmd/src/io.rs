//! Bounds-checked positional reading: [`Source`] is the file (read with
//! `pread` in windows, never mapped whole, so memory does not grow with the
//! file) or an in-memory buffer (tests, fuzzing); [`Cur`] walks a byte slice
//! or the source, naming the section in every error.

use crate::error::{Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use traceevent::Endian;

/// Where trace.dat bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file read with positional reads.
    File {
        /// Open file.
        file: Arc<File>,
        /// Its path (for messages).
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
    /// Bytes in memory.
    Mem(Arc<[u8]>),
}

impl Source {
    /// Opens a file.
    pub fn open(path: &Path) -> Result<Source> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Source::File {
            file: Arc::new(file),
            path: path.to_path_buf(),
            len,
        })
    }

    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Mem(b) => b.len() as u64,
        }
    }

    /// True for an empty source.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8], section: &str) -> Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len())
            .ok_or_else(|| Error::truncated(section, offset, buf.len() as u64))?;
        let _ = end;
        match self {
            Source::Mem(b) => {
                let s =
                    usize::try_from(offset).map_err(|_| Error::truncated(section, offset, 0))?;
                let src = b
                    .get(s..s + buf.len())
                    .ok_or_else(|| Error::truncated(section, offset, buf.len() as u64))?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Source::File { file, path, .. } => {
                use std::os::unix::fs::FileExt;
                file.read_exact_at(buf, offset).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        Error::truncated(section, offset, buf.len() as u64)
                    } else {
                        Error::Io {
                            path: path.clone(),
                            source: e,
                        }
                    }
                })
            }
        }
    }

    /// Reads `len` bytes at `offset` into a new vector.
    pub fn read_vec(&self, offset: u64, len: u64, section: &str) -> Result<Vec<u8>> {
        if offset.checked_add(len).is_none_or(|e| e > self.len()) {
            return Err(Error::truncated(section, offset, len));
        }
        let n = usize::try_from(len).map_err(|_| Error::truncated(section, offset, len))?;
        let mut v = vec![0u8; n];
        self.read_exact_at(offset, &mut v, section)?;
        Ok(v)
    }
}

/// A cursor over the source (for the sequential v6 layout and section headers).
#[derive(Debug)]
pub struct SrcCur<'a> {
    /// The source.
    pub src: &'a Source,
    /// Current offset.
    pub pos: u64,
    /// Byte order.
    pub endian: Endian,
    /// Section name for errors.
    pub section: String,
}

impl<'a> SrcCur<'a> {
    /// A cursor at `pos`.
    pub fn new(src: &'a Source, pos: u64, endian: Endian, section: &str) -> Self {
        SrcCur {
            src,
            pos,
            endian,
            section: section.to_string(),
        }
    }

    /// Switches the section name used in errors.
    pub fn section(&mut self, s: &str) {
        self.section.clear();
        self.section.push_str(s);
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.src.read_exact_at(self.pos, &mut b, &self.section)?;
        self.pos += N as u64;
        Ok(b)
    }

    /// Reads a u8.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.arr::<1>()?[0])
    }

    /// Reads a u16.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.arr::<2>()?;
        Ok(match self.endian {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        })
    }

    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.arr::<4>()?;
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }

    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.arr::<8>()?;
        Ok(match self.endian {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        })
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        let v = self.src.read_vec(self.pos, n, &self.section)?;
        self.pos += n;
        Ok(v)
    }

    /// Reads a NUL-terminated string (at most `max` bytes).
    pub fn cstr(&mut self, max: usize) -> Result<String> {
        let mut out = Vec::new();
        loop {
            let c = self.u8()?;
            if c == 0 {
                break;
            }
            if out.len() >= max {
                return Err(Error::corrupt(
                    &self.section,
                    self.pos,
                    "unterminated string",
                ));
            }
            out.push(c);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// A cursor over an in-memory byte slice (decompressed sections, option bodies).
#[derive(Debug, Clone)]
pub struct Cur<'a> {
    /// The bytes.
    pub data: &'a [u8],
    /// Current position.
    pub pos: usize,
    /// Byte order.
    pub endian: Endian,
    /// Section name for errors.
    pub section: &'a str,
    /// Offset of `data[0]` in the file (for messages; 0 for decompressed data).
    pub base: u64,
}

impl<'a> Cur<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8], endian: Endian, section: &'a str, base: u64) -> Self {
        Cur {
            data,
            pos: 0,
            endian,
            section,
            base,
        }
    }

    fn off(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| Error::truncated(self.section, self.off(), n as u64))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a u16.
    pub fn u16(&mut self) -> Result<u16> {
        let off = self.off();
        let v = self.endian.read_uint(self.data, self.pos, 2);
        let v = v.ok_or_else(|| Error::truncated(self.section, off, 2))?;
        self.pos += 2;
        Ok(v as u16)
    }

    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32> {
        let off = self.off();
        let v = self.endian.read_u32(self.data, self.pos);
        let v = v.ok_or_else(|| Error::truncated(self.section, off, 4))?;
        self.pos += 4;
        Ok(v)
    }

    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64> {
        let off = self.off();
        let v = self.endian.read_u64(self.data, self.pos);
        let v = v.ok_or_else(|| Error::truncated(self.section, off, 8))?;
        self.pos += 8;
        Ok(v)
    }

    /// Reads a NUL-terminated string.
    pub fn cstr(&mut self) -> Result<String> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| Error::corrupt(self.section, self.off(), "unterminated string"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
}

/// Text of a byte block up to its first NUL (lossy UTF-8).
pub fn text(b: &[u8]) -> String {
    let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(b).into_owned()
}
