//! Decompression of v7 compressed sections and CPU-data chunks
//! (`zstd`, `zlib`, or `none`), with the output size bounded by the size the
//! file declares so a corrupt header cannot make us allocate without limit.

use crate::error::{Error, Result};
use std::io::Read;

/// Largest decompressed block accepted (sections and chunks).
pub const MAX_BLOCK: usize = 1 << 30;

/// Compression algorithm of a v7 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Not compressed.
    None,
    /// Zstandard frames.
    Zstd,
    /// zlib streams (`compress2`).
    Zlib,
}

impl Algorithm {
    /// Maps the name stored in the file header.
    pub fn from_name(name: &str) -> Result<Algorithm> {
        match name {
            "none" | "" => Ok(Algorithm::None),
            "zstd" => Ok(Algorithm::Zstd),
            "zlib" => Ok(Algorithm::Zlib),
            other => Err(Error::Unsupported(format!(
                "compression algorithm '{other}'"
            ))),
        }
    }

    /// Name as stored in the file.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::None => "none",
            Algorithm::Zstd => "zstd",
            Algorithm::Zlib => "zlib",
        }
    }

    /// Decompresses `data` (declared to expand to `usize` bytes) into `out`
    /// (cleared first). `section`/`offset` name the block in errors.
    pub fn decompress_into(
        self,
        data: &[u8],
        usize_: u32,
        out: &mut Vec<u8>,
        section: &str,
        offset: u64,
    ) -> Result<()> {
        let want = usize_ as usize;
        let err = |reason: String| Error::Decompress {
            section: section.to_string(),
            offset,
            algorithm: self.name().to_string(),
            reason,
        };
        if want > MAX_BLOCK {
            return Err(err(format!("declared size {want} is too large")));
        }
        out.clear();
        match self {
            Algorithm::None => out.extend_from_slice(data),
            Algorithm::Zstd => {
                // One decompression context per thread, reused for every
                // block (creating one costs more than a 40 KB chunk).
                thread_local! {
                    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                        const { std::cell::RefCell::new(None) };
                }
                out.reserve(want);
                DCTX.with(|c| -> Result<()> {
                    let mut c = c.borrow_mut();
                    if c.is_none() {
                        *c = Some(zstd::bulk::Decompressor::new().map_err(|e| err(e.to_string()))?);
                    }
                    let d = c.as_mut().ok_or_else(|| err("no zstd context".into()))?;
                    d.decompress_to_buffer(data, out)
                        .map_err(|e| err(e.to_string()))?;
                    Ok(())
                })?;
            }
            Algorithm::Zlib => {
                out.reserve(want);
                flate2::read::ZlibDecoder::new(data)
                    .take(want as u64 + 1)
                    .read_to_end(out)
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        if out.len() != want {
            return Err(err(format!("got {} bytes, expected {want}", out.len())));
        }
        Ok(())
    }

    /// Decompresses one block whose output may be at most `cap` bytes (as
    /// trace-cmd's `tracecmd_uncompress_block`: the result may be shorter
    /// than declared). Memory grows with the real output, not with `cap`.
    pub fn decompress_upto(
        self,
        data: &[u8],
        cap: usize,
        section: &str,
        offset: u64,
    ) -> Result<Vec<u8>> {
        let err = |reason: String| Error::Decompress {
            section: section.to_string(),
            offset,
            algorithm: self.name().to_string(),
            reason,
        };
        let cap = cap.min(MAX_BLOCK);
        let mut out = Vec::new();
        match self {
            Algorithm::None => {
                out.extend_from_slice(data.get(..cap.min(data.len())).unwrap_or(data))
            }
            Algorithm::Zstd => {
                let mut dec = zstd::stream::read::Decoder::with_buffer(data)
                    .map_err(|e| err(e.to_string()))?;
                (&mut dec)
                    .take(cap as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| err(e.to_string()))?;
            }
            Algorithm::Zlib => {
                flate2::read::ZlibDecoder::new(data)
                    .take(cap as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        if out.len() > cap {
            return Err(err(format!("more than the declared {cap} bytes")));
        }
        Ok(out)
    }
}
