//! DWARF unwinding of user stacks for `--call-graph dwarf` samples: the
//! sampled registers and stack copy are walked with `.eh_frame` (framehop),
//! one unwinder per process built from its executable mappings.

use std::collections::HashMap;
use std::path::PathBuf;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};
use object::{Object, ObjectSection, ObjectSegment};

/// x86_64 `perf_regs` indices of the registers the unwinder needs.
const BP: u32 = 6;
const SP: u32 = 7;
const IP: u32 = 8;

/// An executable file mapping of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// Start address.
    pub start: u64,
    /// End address.
    pub end: u64,
    /// File offset.
    pub pgoff: u64,
    /// File to read unwind tables from.
    pub path: PathBuf,
}

#[derive(Default)]
struct Proc {
    unwinder: UnwinderX86_64<Vec<u8>>,
    maps: Vec<MapInfo>,
}

/// Per-process unwinders.
#[derive(Default)]
pub struct Unwinders {
    procs: HashMap<i32, Proc>,
    cache: Option<CacheX86_64>,
}

impl std::fmt::Debug for Unwinders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Unwinders({} processes)", self.procs.len())
    }
}

fn module(m: &MapInfo) -> Option<Module<Vec<u8>>> {
    let data = std::fs::read(&m.path).ok()?;
    let f = object::File::parse(&data[..]).ok()?;
    // The load segment holding this mapping's file offset gives the bias.
    let seg = f.segments().find(|s| {
        let (off, size) = s.file_range();
        m.pgoff >= off && m.pgoff < off + size.max(1)
    })?;
    let (seg_off, _) = seg.file_range();
    let bias = m
        .start
        .wrapping_sub(m.pgoff)
        .wrapping_sub(seg.address().wrapping_sub(seg_off));
    let sect = |name: &str| {
        f.section_by_name(name).and_then(|s| {
            let d = s.uncompressed_data().ok()?.into_owned();
            Some((s.address()..s.address() + s.size(), d))
        })
    };
    let text = sect(".text");
    let eh = sect(".eh_frame");
    let hdr = sect(".eh_frame_hdr");
    let got = f
        .section_by_name(".got")
        .map(|s| s.address()..s.address() + s.size());
    let info = ExplicitModuleSectionInfo {
        base_svma: 0,
        text_svma: text.as_ref().map(|t| t.0.clone()),
        text: text.map(|t| t.1),
        eh_frame_svma: eh.as_ref().map(|t| t.0.clone()),
        eh_frame: eh.map(|t| t.1),
        eh_frame_hdr_svma: hdr.as_ref().map(|t| t.0.clone()),
        eh_frame_hdr: hdr.map(|t| t.1),
        got_svma: got,
        ..Default::default()
    };
    Some(Module::new(
        m.path.to_string_lossy().into_owned(),
        m.start..m.end,
        bias,
        info,
    ))
}

impl Unwinders {
    /// Unwinds one sample; returns the user frames (leaf first), empty when
    /// the sample has no registers or stack.
    pub fn unwind(
        &mut self,
        pid: i32,
        maps: &[MapInfo],
        regs: &[u64],
        stack: &[u8],
        sp_mask: u64,
    ) -> Vec<u64> {
        let idx = |bit: u32| -> Option<u64> {
            if sp_mask & (1 << bit) == 0 {
                return None;
            }
            let i = (sp_mask & ((1u64 << bit) - 1)).count_ones() as usize;
            regs.get(i).copied()
        };
        let (Some(ip), Some(sp), Some(bp)) = (idx(IP), idx(SP), idx(BP)) else {
            return Vec::new();
        };
        let p = self.procs.entry(pid).or_default();
        if p.maps != maps {
            for m in maps {
                if !p.maps.contains(m) {
                    if let Some(md) = module(m) {
                        p.unwinder.add_module(md);
                    }
                }
            }
            p.maps = maps.to_vec();
        }
        let cache = self.cache.get_or_insert_with(CacheX86_64::new);
        let mut read = |addr: u64| -> Result<u64, ()> {
            let off = addr.checked_sub(sp).ok_or(())? as usize;
            let b = stack.get(off..off + 8).ok_or(())?;
            Ok(u64::from_le_bytes(b.try_into().map_err(|_| ())?))
        };
        let mut it =
            p.unwinder
                .iter_frames(ip, UnwindRegsX86_64::new(ip, sp, bp), cache, &mut read);
        let mut out = Vec::new();
        for _ in 0..127 {
            match it.next() {
                Ok(Some(f)) => out.push(f.address()),
                _ => break,
            }
        }
        out
    }
}
