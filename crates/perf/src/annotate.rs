//! `perf annotate`: disassembly (iced-x86, AT&T syntax like objdump) of a
//! sampled function with the share of its samples on each instruction.
//! Code comes from the DSO file at the symbol's file offset, or from
//! `/proc/kcore` for kernel symbols.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction};

use crate::error::{io_err, Error, Result};
use crate::session::{DsoKind, ResolvedSample, Session};

/// The annotated function.
#[derive(Debug, Clone)]
pub struct Annotation {
    /// Symbol name.
    pub symbol: String,
    /// DSO long name.
    pub dso: String,
    /// Event name.
    pub event: String,
    /// Samples inside the symbol.
    pub samples: u64,
    /// Instructions: (address, period, text).
    pub lines: Vec<(u64, u64, String)>,
    /// Source location per instruction (DWARF), when the DSO has debug info.
    pub sources: Vec<Option<(String, u32)>>,
    /// Total period inside the symbol.
    pub total: u64,
}

/// (dso, symbol start, kernel, event): one sampled symbol.
type SymId = (usize, u64, bool, usize);

struct Hit {
    dso: usize,
    start: u64,
    end: u64,
    name: String,
    kernel: bool,
    event: usize,
}

/// Reads `len` bytes at virtual address `addr` from `/proc/kcore`.
fn read_kcore(addr: u64, len: usize) -> Result<Vec<u8>> {
    let p = Path::new("/proc/kcore");
    let mut f = std::fs::File::open(p).map_err(io_err(p))?;
    let mut hdr = vec![0u8; 64];
    f.read_exact(&mut hdr).map_err(io_err(p))?;
    let rd64 = |b: &[u8], o: usize| {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
            .unwrap_or(0)
    };
    let rd16 = |b: &[u8], o: usize| {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .unwrap_or(0)
    };
    let phoff = rd64(&hdr, 32);
    let phentsize = rd16(&hdr, 54) as usize;
    let phnum = rd16(&hdr, 56) as usize;
    if phentsize < 56 || phnum > 4096 {
        return Err(Error::BadData {
            offset: 0,
            why: "/proc/kcore: unexpected program headers".into(),
        });
    }
    let mut ph = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff)).map_err(io_err(p))?;
    f.read_exact(&mut ph).map_err(io_err(p))?;
    for i in 0..phnum {
        let b = &ph[i * phentsize..(i + 1) * phentsize];
        let (off, vaddr, filesz) = (rd64(b, 8), rd64(b, 16), rd64(b, 32));
        if addr >= vaddr && addr.saturating_add(len as u64) <= vaddr.saturating_add(filesz) {
            let mut buf = vec![0u8; len];
            f.seek(SeekFrom::Start(off + (addr - vaddr)))
                .map_err(io_err(p))?;
            f.read_exact(&mut buf).map_err(io_err(p))?;
            return Ok(buf);
        }
    }
    Err(Error::BadData {
        offset: addr,
        why: "address not covered by /proc/kcore".into(),
    })
}

fn read_file_at(path: &Path, off: u64, len: usize) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    f.seek(SeekFrom::Start(off)).map_err(io_err(path))?;
    let mut buf = vec![0u8; len];
    let n = f.read(&mut buf).map_err(io_err(path))?;
    buf.truncate(n);
    Ok(buf)
}

/// Annotates `symbol` (or the hottest resolved symbol) of `session`.
pub fn annotate(session: &mut Session, symbol: Option<&str>) -> Result<Annotation> {
    let mut per_sym: BTreeMap<SymId, (String, u64, u64)> = BTreeMap::new();
    let mut addrs: BTreeMap<SymId, BTreeMap<u64, (u64, u64)>> = BTreeMap::new();
    session.for_each_sample(|_, rs: ResolvedSample| {
        let (Some(d), Some(s)) = (rs.loc.dso, rs.loc.sym.as_ref()) else {
            return;
        };
        let key = (d, s.start, rs.loc.kernel, rs.event);
        let p = rs.sample.period.max(1);
        let e = per_sym
            .entry(key)
            .or_insert_with(|| (s.name.clone(), s.end, 0));
        e.2 += p;
        let a = addrs
            .entry(key)
            .or_default()
            .entry(rs.loc.addr)
            .or_insert((0, 0));
        a.0 += p;
        a.1 += 1;
    })?;
    let mut cands: Vec<Hit> = per_sym
        .iter()
        .filter(|(_, (n, _, _))| symbol.is_none_or(|s| s == n))
        .map(|(k, (n, end, _))| Hit {
            dso: k.0,
            start: k.1,
            end: *end,
            name: n.clone(),
            kernel: k.2,
            event: k.3,
        })
        .collect();
    // Hottest first.
    cands.sort_by_key(|h| {
        std::cmp::Reverse(
            per_sym
                .get(&(h.dso, h.start, h.kernel, h.event))
                .map(|v| v.2)
                .unwrap_or(0),
        )
    });
    if cands.is_empty() {
        return Err(Error::BadArg {
            what: "symbol",
            value: symbol.unwrap_or("").into(),
            why: "no samples in a resolved symbol of that name".into(),
        });
    }
    let mut last_err = None;
    let mut chosen = None;
    for h in cands {
        let len = (h.end.saturating_sub(h.start)).min(1 << 20) as usize;
        let Some(dso) = session.machine.dsos.get(h.dso) else {
            continue;
        };
        let code = match dso.kind {
            DsoKind::Kernel => read_kcore(h.start, len).map_err(|e| Error::BadArg {
                what: "kernel symbol",
                value: h.name.clone(),
                why: format!(
                    "kernel code is not readable ({e}); perf needs /proc/kcore or a vmlinux too"
                ),
            }),
            // Only the file with the recorded build id: another version's bytes would lie.
            _ => match &dso.host_path {
                Some(p) => read_file_at(p, h.start, len),
                None => Err(Error::BadArg {
                    what: "object",
                    value: dso.long_name.clone(),
                    why: "no file with the recorded build id on this host (see --symfs, --buildid-dir)".into(),
                }),
            },
        };
        match code {
            Ok(c) => {
                chosen = Some((h, c));
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some((pick, code)) = chosen else {
        return Err(last_err.unwrap_or(Error::BadArg {
            what: "symbol",
            value: String::new(),
            why: "nothing to annotate".into(),
        }));
    };
    let key = (pick.dso, pick.start, pick.kernel, pick.event);
    let hits = addrs.remove(&key).unwrap_or_default();
    let len = code.len();
    let dso = session
        .machine
        .dsos
        .get(pick.dso)
        .ok_or_else(|| Error::BadArg {
            what: "dso",
            value: String::new(),
            why: "unknown".into(),
        })?;
    let mut dec = Decoder::with_ip(64, &code, pick.start, DecoderOptions::NONE);
    let mut fmt = GasFormatter::new();
    fmt.options_mut().set_first_operand_char_index(7);
    fmt.options_mut().set_uppercase_hex(false);
    fmt.options_mut().set_branch_leading_zeros(false);
    let mut lines = Vec::new();
    let mut ins = Instruction::default();
    let mut text = String::new();
    let mut samples = 0;
    for _ in 0..len {
        if !dec.can_decode() {
            break;
        }
        dec.decode_out(&mut ins);
        text.clear();
        fmt.format(&ins, &mut text);
        let (p, n) = hits.get(&ins.ip()).copied().unwrap_or((0, 0));
        samples += n;
        lines.push((ins.ip(), p, text.clone()));
    }
    let total = hits.values().map(|v| v.0).sum();
    let sources: Vec<Option<(String, u32)>> = match (dso.kind, &dso.host_path) {
        (DsoKind::File, Some(p)) => {
            let addrs: Vec<u64> = lines.iter().map(|l| l.0).collect();
            symbols::srcline::SourceLines::new()
                .lookup(p, &addrs)
                .into_iter()
                .map(|o| o.map(|s| (s.file.to_string_lossy().into_owned(), s.line)))
                .collect()
        }
        _ => vec![None; lines.len()],
    };
    Ok(Annotation {
        sources,
        symbol: pick.name,
        dso: dso.long_name.clone(),
        event: session
            .data
            .attrs
            .get(pick.event)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        samples: samples.max(hits.values().map(|v| v.1).sum()),
        lines,
        total,
    })
}

impl Annotation {
    /// perf-annotate-like text.
    pub fn to_stdio(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            " Percent |\tSource code & Disassembly of {} for {} ({} samples, percent: local period)",
            Path::new(&self.dso).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| self.dso.clone()),
            self.event,
            self.samples
        );
        let _ = writeln!(s, "{}", "-".repeat(100));
        let _ = writeln!(
            s,
            "         :\n         :            {:016x} <{}>:",
            self.lines.first().map(|l| l.0).unwrap_or(0),
            self.symbol
        );
        let total = self.total.max(1) as f64;
        let mut last: Option<&(String, u32)> = None;
        for (i, (addr, p, text)) in self.lines.iter().enumerate() {
            if let Some(Some(src)) = self.sources.get(i) {
                if last != Some(src) {
                    let code = std::fs::read_to_string(&src.0).ok().and_then(|t| {
                        t.lines()
                            .nth(src.1.saturating_sub(1) as usize)
                            .map(|l| l.trim().to_string())
                    });
                    let _ = writeln!(
                        s,
                        "         :            {}:{}{}",
                        src.0,
                        src.1,
                        code.map(|c| format!("    {c}")).unwrap_or_default()
                    );
                    last = Some(src);
                }
            }
            let pct = 100.0 * *p as f64 / total;
            let _ = writeln!(s, "{pct:8.2} :   {addr:x}:       {text}");
        }
        s
    }
}
