//! Per-CPU raw ring-buffer readers (`per_cpu/cpuN/trace_pipe_raw`): whole
//! sub-buffer reads, non-blocking drains, and zero-copy `splice(2)` into a
//! pipe. Reads are *consuming*: only one reader per CPU buffer should exist,
//! which is why tracekit reads from its own instances.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::instance::Instance;

/// Reader of one CPU's `trace_pipe_raw`.
#[derive(Debug)]
pub struct CpuReader {
    cpu: u32,
    path: PathBuf,
    file: File,
    subbuf: usize,
    ring_subbufs: usize,
}

/// CPUs that have a `per_cpu/cpuN` directory in this trace array.
pub fn cpus(inst: &Instance) -> Result<Vec<u32>> {
    let dir = inst.read_path("per_cpu");
    let rd = std::fs::read_dir(&dir).map_err(|e| inst.tracefs().classify(&dir, e, true))?;
    let mut v: Vec<u32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("cpu")?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Sub-buffer size in bytes: `buffer_subbuf_size_kb` (6.8+) or the page size.
pub fn subbuf_size(inst: &Instance) -> usize {
    inst.subbuf_size_kb()
        .ok()
        .flatten()
        .map(|kb| kb as usize * 1024)
        .unwrap_or_else(rustix::param::page_size)
}

impl CpuReader {
    /// Opens `per_cpu/cpuN/trace_pipe_raw`; `nonblock` makes empty reads
    /// return `Ok(None)` instead of waiting.
    pub fn open(inst: &Instance, cpu: u32, nonblock: bool) -> Result<CpuReader> {
        let path = inst.path(&format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
        let mut o = OpenOptions::new();
        o.read(true);
        if nonblock {
            o.custom_flags(libc::O_NONBLOCK);
        }
        let file = o
            .open(&path)
            .map_err(|e| inst.tracefs().classify(&path, e, true))?;
        let subbuf = subbuf_size(inst);
        // The CPU's ring size bounds a final drain (see `drain`).
        let ring_kb = crate::read_text(&inst.path(&format!("per_cpu/cpu{cpu}/buffer_size_kb")))
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<usize>().ok())
            .unwrap_or(1 << 20);
        Ok(CpuReader {
            cpu,
            path,
            file,
            subbuf,
            ring_subbufs: (ring_kb * 1024 / subbuf.max(1)).max(1),
        })
    }

    /// The CPU.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// The sub-buffer size reads return.
    pub fn subbuf_size(&self) -> usize {
        self.subbuf
    }

    /// Sub-buffers in this CPU's ring buffer (from `buffer_size_kb`).
    pub fn ring_subbufs(&self) -> usize {
        self.ring_subbufs
    }

    /// The underlying file (for poll/splice).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Reads one sub-buffer into `buf` (resized to the sub-buffer size).
    /// `Ok(None)` when the buffer is empty in non-blocking mode.
    pub fn read_subbuf(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        buf.resize(self.subbuf, 0);
        loop {
            match self.file.read(buf) {
                Ok(0) => return Ok(None),
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => {
                    return Err(Error::Read {
                        path: self.path.clone(),
                        error: e,
                    })
                }
            }
        }
    }

    /// Reads every sub-buffer currently available (non-blocking reader),
    /// appending whole sub-buffers to `out`. Returns the number read.
    ///
    /// Bounded by the ring's size plus two: while the trace array is still
    /// tracing, each read can add events of its own (a traced `read`
    /// syscall), and a reader that waited for "empty" would never end.
    pub fn drain(&mut self, out: &mut Vec<u8>) -> Result<usize> {
        let mut buf = Vec::new();
        let mut n = 0;
        while n < self.ring_subbufs + 2 {
            let Some(len) = self.read_subbuf(&mut buf)? else {
                break;
            };
            out.extend_from_slice(&buf[..len]);
            if len < self.subbuf {
                out.resize(out.len() + self.subbuf - len, 0);
            }
            n += 1;
        }
        Ok(n)
    }

    /// Moves up to `len` bytes of whole sub-buffers into `pipe_w` with
    /// `splice(2)` (zero-copy). Returns bytes moved; 0 when nothing was
    /// available in non-blocking mode.
    pub fn splice_to<Fd: AsFd>(&self, pipe_w: Fd, len: usize) -> Result<usize> {
        match rustix::pipe::splice(
            &self.file,
            None,
            pipe_w,
            None,
            len,
            rustix::pipe::SpliceFlags::MOVE | rustix::pipe::SpliceFlags::NONBLOCK,
        ) {
            Ok(n) => Ok(n),
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => Ok(0),
            Err(e) => Err(Error::Read {
                path: self.path.clone(),
                error: io::Error::from(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_of_a_fake_tree() {
        let d = tempfile::tempdir().unwrap();
        for c in ["cpu0", "cpu1", "cpu10", "other"] {
            std::fs::create_dir_all(d.path().join("per_cpu").join(c)).unwrap();
        }
        std::fs::write(d.path().join("tracing_on"), "1").unwrap();
        let t = crate::Tracefs::at(d.path()).unwrap();
        assert_eq!(cpus(&Instance::top(&t)).unwrap(), vec![0, 1, 10]);
        assert_eq!(subbuf_size(&Instance::top(&t)), rustix::param::page_size());
    }
}
