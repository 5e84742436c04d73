//! perf.data writer. Layout: header (104 bytes) | data records | feature
//! section table | feature contents | attr ids | attrs. The feature table must
//! follow the data section directly (perf finds it at `data.offset + data.size`);
//! attrs and ids are found through their offsets, so they may come last.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::features::{BuildIdEntry, Feature};
use super::{misc, FileAttr, TracingData, MAGIC};
use crate::attr::ATTR_SIZE;
use crate::error::{io_err, Result};

const HEADER_SIZE: u64 = 104;

/// What goes into the feature sections.
#[derive(Debug, Clone, Default)]
pub struct WriterInfo {
    /// `uname -n`.
    pub hostname: String,
    /// `uname -r`.
    pub osrelease: String,
    /// `uname -m`.
    pub arch: String,
    /// Tool version.
    pub version: String,
    /// `(available, online)` CPUs.
    pub nr_cpus: (u32, u32),
    /// Total memory in kB.
    pub total_mem_kb: u64,
    /// CPU description.
    pub cpudesc: String,
    /// The command line that recorded.
    pub cmdline: Vec<String>,
    /// Tracepoint formats (for tracepoint events).
    pub tracing: Option<TracingData>,
    /// Build ids of the DSOs hit.
    pub build_ids: Vec<BuildIdEntry>,
    /// First and last sample time.
    pub sample_time: Option<(u64, u64)>,
}

impl WriterInfo {
    /// Fills host facts from uname and /proc.
    pub fn from_host() -> WriterInfo {
        // SAFETY: utsname is plain data; uname fills it.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a local.
        unsafe { libc::uname(&mut u) };
        let f = |c: &[libc::c_char]| {
            let b: Vec<u8> = c
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as u8)
                .collect();
            String::from_utf8_lossy(&b).into_owned()
        };
        let online = crate::sys::nr_cpus() as u32;
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0);
        let cpudesc = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default();
        WriterInfo {
            hostname: f(&u.nodename),
            osrelease: f(&u.release),
            arch: f(&u.machine),
            version: format!("tracekit-{}", env!("CARGO_PKG_VERSION")),
            nr_cpus: (online, online),
            total_mem_kb: mem,
            cpudesc,
            ..Default::default()
        }
    }
}

/// Streams records into a perf.data file, then writes attrs and features.
#[derive(Debug)]
pub struct Writer {
    out: BufWriter<File>,
    path: PathBuf,
    data_len: u64,
    /// The temporary file until `finish` renames it (removed on drop).
    tmp: Option<PathBuf>,
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "perf.data".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = std::fs::remove_file(t);
        }
    }
}

fn string(v: &mut Vec<u8>, s: &str) {
    let len = (s.len() + 1).div_ceil(64) * 64;
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v.resize(v.len() + len - s.len(), 0);
}

fn build_id_section(entries: &[BuildIdEntry]) -> Vec<u8> {
    let mut v = Vec::new();
    for e in entries {
        let name_len = (e.filename.len() + 1).div_ceil(64) * 64;
        let size = 8 + 4 + 24 + name_len;
        v.extend_from_slice(&67u32.to_le_bytes());
        v.extend_from_slice(&(e.misc | misc::BUILD_ID_SIZE).to_le_bytes());
        v.extend_from_slice(&(size as u16).to_le_bytes());
        v.extend_from_slice(&e.pid.to_le_bytes());
        let mut id = [0u8; 24];
        let n = e.build_id.len().min(20);
        id[..n].copy_from_slice(&e.build_id[..n]);
        id[20] = n as u8;
        v.extend_from_slice(&id);
        v.extend_from_slice(e.filename.as_bytes());
        v.resize(v.len() + name_len - e.filename.len(), 0);
    }
    v
}

impl Writer {
    /// Starts writing `path`: the data goes to a temporary file beside it
    /// (`.NAME.PID.tmp`) that [`Writer::finish`] renames onto `path`, so a
    /// failed or killed recording leaves an existing `path` untouched.
    pub fn create(path: &Path) -> Result<Writer> {
        let tmp = temp_path(path);
        let f = File::create(&tmp).map_err(|e| match e.kind() {
            // Name the file the user asked for, not the temporary one.
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => io_err(path)(e),
            _ => io_err(&tmp)(e),
        })?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        out.write_all(&[0u8; HEADER_SIZE as usize])
            .map_err(io_err(path))?;
        Ok(Writer {
            out,
            path: path.to_path_buf(),
            data_len: 0,
            tmp: Some(tmp),
        })
    }

    /// Appends complete records (headers included).
    pub fn write_records(&mut self, raw: &[u8]) -> Result<()> {
        self.out.write_all(raw).map_err(io_err(&self.path))?;
        self.data_len += raw.len() as u64;
        Ok(())
    }

    /// Appends a `FINISHED_ROUND` marker.
    pub fn finished_round(&mut self) -> Result<()> {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&68u32.to_le_bytes());
        h[6..8].copy_from_slice(&8u16.to_le_bytes());
        self.write_records(&h)
    }

    /// Bytes of records written.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// Writes features, ids, attrs and the header; closes the file.
    pub fn finish(mut self, attrs: &[FileAttr], info: &WriterInfo) -> Result<()> {
        let p = self.path.clone();
        let data_end = HEADER_SIZE + self.data_len;
        let mut feats: Vec<(Feature, Vec<u8>)> = Vec::new();
        if let Some(t) = &info.tracing {
            feats.push((Feature::TracingData, t.to_bytes()));
        }
        feats.push((Feature::BuildId, build_id_section(&info.build_ids)));
        let s = |t: &str| {
            let mut v = Vec::new();
            string(&mut v, t);
            v
        };
        feats.push((Feature::Hostname, s(&info.hostname)));
        feats.push((Feature::OsRelease, s(&info.osrelease)));
        feats.push((Feature::Version, s(&info.version)));
        feats.push((Feature::Arch, s(&info.arch)));
        let mut nr = Vec::new();
        nr.extend_from_slice(&info.nr_cpus.0.to_le_bytes());
        nr.extend_from_slice(&info.nr_cpus.1.to_le_bytes());
        feats.push((Feature::NrCpus, nr));
        if !info.cpudesc.is_empty() {
            feats.push((Feature::CpuDesc, s(&info.cpudesc)));
        }
        feats.push((Feature::TotalMem, info.total_mem_kb.to_le_bytes().to_vec()));
        let mut cl = (info.cmdline.len() as u32).to_le_bytes().to_vec();
        for a in &info.cmdline {
            string(&mut cl, a);
        }
        feats.push((Feature::Cmdline, cl));
        let mut ed = Vec::new();
        ed.extend_from_slice(&(attrs.len() as u32).to_le_bytes());
        ed.extend_from_slice(&(ATTR_SIZE as u32).to_le_bytes());
        for a in attrs {
            ed.extend_from_slice(&a.attr.to_bytes());
            ed.extend_from_slice(&(a.ids.len() as u32).to_le_bytes());
            string(&mut ed, &a.name);
            for id in &a.ids {
                ed.extend_from_slice(&id.to_le_bytes());
            }
        }
        feats.push((Feature::EventDesc, ed));
        if let Some((a, b)) = info.sample_time {
            let mut v = a.to_le_bytes().to_vec();
            v.extend_from_slice(&b.to_le_bytes());
            feats.push((Feature::SampleTime, v));
        }
        feats.sort_by_key(|(f, _)| *f as u32);
        // Feature table, then contents.
        let mut pos = data_end + 16 * feats.len() as u64;
        let mut table = Vec::new();
        let mut bits = [0u64; 4];
        for (f, body) in &feats {
            let bit = *f as u32;
            bits[(bit / 64) as usize] |= 1 << (bit % 64);
            table.extend_from_slice(&pos.to_le_bytes());
            table.extend_from_slice(&(body.len() as u64).to_le_bytes());
            pos += body.len() as u64;
        }
        self.out.write_all(&table).map_err(io_err(&p))?;
        for (_, body) in &feats {
            self.out.write_all(body).map_err(io_err(&p))?;
        }
        // Ids, then attrs.
        let mut id_offs = Vec::new();
        for a in attrs {
            id_offs.push(pos);
            for id in &a.ids {
                self.out.write_all(&id.to_le_bytes()).map_err(io_err(&p))?;
            }
            pos += 8 * a.ids.len() as u64;
        }
        let attrs_off = pos;
        for (a, off) in attrs.iter().zip(&id_offs) {
            self.out.write_all(&a.attr.to_bytes()).map_err(io_err(&p))?;
            self.out.write_all(&off.to_le_bytes()).map_err(io_err(&p))?;
            self.out
                .write_all(&(8 * a.ids.len() as u64).to_le_bytes())
                .map_err(io_err(&p))?;
        }
        let attr_sz = (ATTR_SIZE + 16) as u64;
        let mut h = Vec::with_capacity(HEADER_SIZE as usize);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&HEADER_SIZE.to_le_bytes());
        h.extend_from_slice(&attr_sz.to_le_bytes());
        h.extend_from_slice(&attrs_off.to_le_bytes());
        h.extend_from_slice(&(attr_sz * attrs.len() as u64).to_le_bytes());
        h.extend_from_slice(&HEADER_SIZE.to_le_bytes());
        h.extend_from_slice(&self.data_len.to_le_bytes());
        h.extend_from_slice(&[0u8; 16]);
        for b in bits {
            h.extend_from_slice(&b.to_le_bytes());
        }
        self.out.seek(SeekFrom::Start(0)).map_err(io_err(&p))?;
        self.out.write_all(&h).map_err(io_err(&p))?;
        self.out.flush().map_err(io_err(&p))?;
        if let Some(tmp) = self.tmp.take() {
            // perf keeps the previous recording as NAME.old.
            if p.exists() {
                let mut old = p.clone().into_os_string();
                old.push(".old");
                let _ = std::fs::rename(&p, old);
            }
            if let Err(e) = std::fs::rename(&tmp, &p) {
                let _ = std::fs::remove_file(&tmp);
                return Err(io_err(&p)(e));
            }
        }
        Ok(())
    }
}
