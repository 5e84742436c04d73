//! Feature sections (`HEADER_*`): numbering, perf's string encoding
//! (`u32 len` + NUL-padded text), build ids and event descriptions.

use super::{u32_at, PerfData};
use crate::attr::Attr;

/// Feature numbers (bit positions in `adds_features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum Feature {
    TracingData = 1,
    BuildId = 2,
    Hostname = 3,
    OsRelease = 4,
    Version = 5,
    Arch = 6,
    NrCpus = 7,
    CpuDesc = 8,
    CpuId = 9,
    TotalMem = 10,
    Cmdline = 11,
    EventDesc = 12,
    CpuTopology = 13,
    NumaTopology = 14,
    BranchStack = 15,
    PmuMappings = 16,
    GroupDesc = 17,
    AuxTrace = 18,
    Stat = 19,
    Cache = 20,
    SampleTime = 21,
    MemTopology = 22,
    ClockId = 23,
    DirFormat = 24,
    BpfProgInfo = 25,
    BpfBtf = 26,
    Compressed = 27,
    CpuPmuCaps = 28,
    ClockData = 29,
    HybridTopology = 30,
    PmuCaps = 31,
}

/// The `HEADER_COMPRESSED` feature (`perf record -z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Format version.
    pub version: u32,
    /// Compressor (`1` = zstd).
    pub type_: u32,
    /// Compression level.
    pub level: u32,
    /// Ratio perf measured (rounded).
    pub ratio: u32,
    /// Size of one decompression buffer (the mmap length).
    pub mmap_len: u32,
}

/// One `perf_record_header_build_id` of the BUILD_ID feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildIdEntry {
    /// `header.misc` (cpumode).
    pub misc: u16,
    /// Pid (-1 = host kernel).
    pub pid: i32,
    /// Build id bytes.
    pub build_id: Vec<u8>,
    /// File name (`[kernel.kallsyms]`, `/usr/bin/dash`).
    pub filename: String,
}

impl BuildIdEntry {
    /// Lower-case hex.
    pub fn hex(&self) -> String {
        self.build_id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

pub(crate) fn read_string(b: &[u8], o: &mut usize) -> Option<String> {
    let len = u32_at(b, *o)? as usize;
    let s = b.get(*o + 4..(*o + 4).checked_add(len)?)?;
    *o += 4 + len;
    let end = s.iter().position(|c| *c == 0).unwrap_or(s.len());
    Some(String::from_utf8_lossy(&s[..end]).into_owned())
}

impl PerfData {
    /// A string feature (hostname, osrelease, version, arch, cpudesc, cpuid).
    pub fn string_feature(&self, f: Feature) -> Option<String> {
        let b = self.feature(f)?;
        read_string(b, &mut 0)
    }

    /// The `HEADER_COMPRESSED` feature.
    pub fn compression(&self) -> Option<Compression> {
        let b = self.feature(Feature::Compressed)?;
        Some(Compression {
            version: u32_at(b, 0)?,
            type_: u32_at(b, 4)?,
            level: u32_at(b, 8)?,
            ratio: u32_at(b, 12)?,
            mmap_len: u32_at(b, 16)?,
        })
    }

    /// `(available, online)` CPUs.
    pub fn nr_cpus(&self) -> Option<(u32, u32)> {
        let b = self.feature(Feature::NrCpus)?;
        Some((u32_at(b, 0)?, u32_at(b, 4)?))
    }

    /// The recorded command line.
    pub fn cmdline(&self) -> Vec<String> {
        let Some(b) = self.feature(Feature::Cmdline) else {
            return Vec::new();
        };
        let n = u32_at(b, 0).unwrap_or(0).min(4096);
        let mut o = 4;
        (0..n).map_while(|_| read_string(b, &mut o)).collect()
    }

    /// Event names in attr order (`EVENT_DESC`).
    pub fn event_desc(&self) -> Option<Vec<String>> {
        let b = self.feature(Feature::EventDesc)?;
        let n = u32_at(b, 0)?.min(65536);
        let sz = u32_at(b, 4)? as usize;
        let mut o: usize = 8;
        let mut out = Vec::new();
        for _ in 0..n {
            let _attr = Attr::from_bytes(b.get(o..o.checked_add(sz)?)?);
            o += sz;
            let nr_ids = u32_at(b, o)? as usize;
            o += 4;
            out.push(read_string(b, &mut o)?);
            o = o.checked_add(nr_ids.checked_mul(8)?)?;
        }
        Some(out)
    }

    /// Build ids recorded for the DSOs that had samples.
    pub fn build_ids(&self) -> Vec<BuildIdEntry> {
        let Some(b) = self.feature(Feature::BuildId) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut o = 0usize;
        for _ in 0..100_000 {
            let (Some(_ty), Some(size)) = (u32_at(b, o), super::u16_at(b, o + 6)) else {
                break;
            };
            let misc = super::u16_at(b, o + 4).unwrap_or(0);
            let size = size as usize;
            if size < 36 || o + size > b.len() {
                break;
            }
            let pid = u32_at(b, o + 8).unwrap_or(0) as i32;
            let id = &b[o + 12..o + 32];
            let len = if misc & super::misc::BUILD_ID_SIZE != 0 {
                (b[o + 32] as usize).min(20)
            } else {
                20
            };
            let name = &b[o + 36..o + size];
            let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
            out.push(BuildIdEntry {
                misc: misc & super::misc::CPUMODE_MASK,
                pid,
                build_id: id[..len].to_vec(),
                filename: String::from_utf8_lossy(&name[..end]).into_owned(),
            });
            o += size;
        }
        out
    }
}
