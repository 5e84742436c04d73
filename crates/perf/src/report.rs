//! `perf report`: histogram entries keyed by sort keys (comm, pid, dso, sym,
//! cpu), perf's `--stdio` layout (column widths, ordering, tie-breaking),
//! `--children`, and call graphs (`graph,0.5,callee` by default, as perf
//! prints them under each entry).

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::{DsoId, Location, Machine, ResolvedSample, Session};

/// A sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Command name.
    Comm,
    /// Process id (with comm).
    Pid,
    /// Shared object.
    Dso,
    /// Symbol.
    Sym,
    /// CPU.
    Cpu,
    /// Source line (`file:line`, `??:0` without debug info).
    Srcline,
}

impl SortKey {
    /// Parses `comm,dso,sym`.
    pub fn parse_list(s: &str) -> Result<Vec<SortKey>> {
        s.split(',')
            .filter(|k| !k.is_empty())
            .map(|k| match k.trim() {
                "comm" => Ok(SortKey::Comm),
                "pid" => Ok(SortKey::Pid),
                "dso" => Ok(SortKey::Dso),
                "sym" | "symbol" => Ok(SortKey::Sym),
                "cpu" => Ok(SortKey::Cpu),
                "srcline" => Ok(SortKey::Srcline),
                other => Err(Error::BadArg {
                    what: "sort key",
                    value: other.into(),
                    why: "expected comm, pid, dso, sym, cpu or srcline".into(),
                }),
            })
            .collect()
    }

    fn header(self) -> &'static str {
        match self {
            SortKey::Comm => "Command",
            SortKey::Pid => "    Pid:Command",
            SortKey::Dso => "Shared Object",
            SortKey::Sym => "Symbol",
            SortKey::Cpu => "CPU",
            SortKey::Srcline => "Source:Line",
        }
    }
}

/// Call-graph display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphMode {
    /// Tree with absolute percentages (perf's default `graph`).
    Graph,
    /// One line per chain.
    Flat,
    /// No call graphs.
    None,
}

/// Report options.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Sort keys.
    pub sort: Vec<SortKey>,
    /// `--children`.
    pub children: bool,
    /// Graph mode (only used when the file has call chains).
    pub graph: GraphMode,
    /// Caller-first order (`-g caller`).
    pub caller: bool,
    /// Minimum percentage for call-graph nodes.
    pub graph_min_percent: f64,
    /// `-S`.
    pub symbols: Option<Vec<String>>,
    /// `-C`.
    pub cpus: Option<Vec<u32>>,
    /// `-g` was given explicitly (perf then insists on call chains).
    pub graph_requested: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            sort: vec![SortKey::Comm, SortKey::Dso, SortKey::Sym],
            children: false,
            graph: GraphMode::Graph,
            caller: false,
            graph_min_percent: 0.5,
            symbols: None,
            cpus: None,
            graph_requested: false,
        }
    }
}

impl ReportOptions {
    /// Applies perf's `-g` argument (`graph`, `flat`, `none`, `caller`, `callee`, `0.5`, comma-separated).
    pub fn apply_call_graph_arg(&mut self, s: &str) -> Result<()> {
        for p in s.split(',').filter(|p| !p.is_empty()) {
            self.graph_requested = p != "none";
            match p {
                "graph" | "fractal" => self.graph = GraphMode::Graph,
                "flat" => self.graph = GraphMode::Flat,
                "none" => self.graph = GraphMode::None,
                "caller" => self.caller = true,
                "callee" => self.caller = false,
                "function" | "address" | "percent" => {}
                n => {
                    self.graph_min_percent = n.parse().map_err(|_| Error::BadArg {
                        what: "call-graph option",
                        value: n.into(),
                        why: "expected graph|flat|none, caller|callee or a minimum percent".into(),
                    })?
                }
            }
        }
        Ok(())
    }
}

/// Identity of a symbol for grouping: `(dso, start)`; unresolved addresses use the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SymKey {
    Sym {
        dso: Option<DsoId>,
        start: u64,
        name: String,
    },
    Addr {
        dso: Option<DsoId>,
        addr: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EntryKey {
    comm: Option<String>,
    pid: Option<i32>,
    dso: Option<Option<DsoId>>,
    sym: Option<(SymKey, bool)>,
    cpu: Option<u32>,
    srcline: Option<String>,
}

/// A radix node of the call graph (perf's `callchain_node`).
#[derive(Debug, Clone, Default)]
struct CNode {
    val: Vec<(SymKey, String)>,
    hit: u64,
    children_hit: u64,
    children: Vec<CNode>,
}

impl CNode {
    fn cumul(&self) -> u64 {
        // u64 sums wrap as in perf's C (periods come from the file).
        self.hit.wrapping_add(self.children_hit)
    }

    fn append(&mut self, chain: &[(SymKey, String)], period: u64) {
        let Some(first) = chain.first() else {
            self.hit = self.hit.wrapping_add(period);
            return;
        };
        self.children_hit = self.children_hit.wrapping_add(period);
        for c in self.children.iter_mut() {
            if c.val.first().map(|v| &v.0) != Some(&first.0) {
                continue;
            }
            let common = c
                .val
                .iter()
                .zip(chain)
                .take_while(|(a, b)| a.0 == b.0)
                .count();
            if common < c.val.len() {
                let tail = CNode {
                    val: c.val.split_off(common),
                    hit: c.hit,
                    children_hit: c.children_hit,
                    children: std::mem::take(&mut c.children),
                };
                c.hit = 0;
                c.children_hit = tail.cumul();
                c.children.push(tail);
            }
            c.append(chain.get(common..).unwrap_or(&[]), period);
            return;
        }
        self.children.push(CNode {
            val: chain.to_vec(),
            hit: period,
            children_hit: 0,
            children: Vec::new(),
        });
    }

    /// Children above `min_hit`, in perf's order (cumul desc; ties by key desc).
    fn sorted(&self, min_hit: f64) -> Vec<&CNode> {
        let mut v: Vec<&CNode> = self
            .children
            .iter()
            .filter(|c| c.cumul() as f64 >= min_hit)
            .collect();
        // perf's rb_root_in order: match_chain compares DSO pointers (creation
        // order here) then addresses, and walks them descending.
        let k = |n: &CNode| match n.val.first().map(|x| &x.0) {
            Some(SymKey::Sym { dso, start, .. }) => (dso.map(|d| d as i64).unwrap_or(-1), *start),
            Some(SymKey::Addr { dso, addr }) => (dso.map(|d| d as i64).unwrap_or(-1), *addr),
            None => (-1, 0),
        };
        v.sort_by_key(|n| std::cmp::Reverse(k(n)));
        v.sort_by_key(|n| std::cmp::Reverse(n.cumul()));
        v
    }
}

/// One histogram entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Self period.
    pub period: u64,
    /// Period including callees (`--children`).
    pub children_period: u64,
    /// Samples.
    pub samples: u64,
    /// Comm.
    pub comm: String,
    /// Pid.
    pub pid: i32,
    /// DSO short name.
    pub dso: String,
    /// Symbol name (`None` when unresolved).
    pub symbol: Option<String>,
    /// Map-relative address (unresolved symbols).
    pub addr: u64,
    /// Kernel symbol.
    pub kernel: bool,
    /// CPU.
    pub cpu: u32,
    #[serde(skip)]
    dso_id: Option<DsoId>,
    #[serde(skip)]
    graph: CNode,
    #[serde(skip)]
    order: usize,
    #[serde(skip)]
    max_depth: usize,
    /// `file:line` (with `--sort srcline`).
    pub srcline: String,
}

/// The entries of one event.
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    /// Event name.
    pub name: String,
    /// Samples.
    pub samples: u64,
    /// Sum of periods.
    pub total_period: u64,
    /// `PERF_RECORD_LOST_SAMPLES` of this event.
    pub lost_samples: u64,
    /// Entries in output order.
    pub entries: Vec<Entry>,
    #[serde(skip)]
    has_callchain: bool,
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Lost samples: the sum of `PERF_RECORD_LOST_SAMPLES` (perf's `Total Lost Samples`).
    pub lost: u64,
    /// One per event with samples.
    pub events: Vec<EventReport>,
    #[serde(skip)]
    opts_sort: Vec<SortKey>,
    /// Whether the Children column is shown.
    pub children: bool,
}

fn sym_key(l: &Location) -> SymKey {
    match &l.sym {
        Some(s) => SymKey::Sym {
            dso: l.dso,
            start: s.start,
            name: s.name.clone(),
        },
        None => SymKey::Addr {
            dso: l.dso,
            addr: l.addr,
        },
    }
}

fn frame_name(l: &Location) -> String {
    match &l.sym {
        Some(s) => s.name.clone(),
        // C's "%#lx": no 0x prefix for zero.
        None if l.ip == 0 => "0".to_string(),
        None => format!("{:#x}", l.ip),
    }
}

struct Builder {
    entries: Vec<Entry>,
    index: HashMap<EntryKey, usize>,
    samples: u64,
    total: u64,
    has_callchain: bool,
}

fn key_for(
    opts: &ReportOptions,
    srcline: Option<&str>,
    comm: &str,
    pid: i32,
    cpu: u32,
    l: &Location,
) -> EntryKey {
    let has = |k| opts.sort.contains(&k);
    EntryKey {
        comm: has(SortKey::Comm).then(|| comm.to_string()),
        pid: has(SortKey::Pid).then_some(pid),
        dso: (has(SortKey::Dso) || has(SortKey::Sym)).then_some(l.dso),
        sym: has(SortKey::Sym).then(|| (sym_key(l), l.kernel)),
        cpu: has(SortKey::Cpu).then_some(cpu),
        srcline: srcline.map(str::to_string),
    }
}

/// Builds the report by replaying `session`.
pub fn build(session: &mut Session, opts: &ReportOptions) -> Result<Report> {
    // perf ignores --children when nothing has call chains.
    let any_cc = session
        .data
        .attrs
        .iter()
        .any(|a| a.attr.sample_type & crate::attr::sample::CALLCHAIN != 0);
    let adjusted;
    // In pipe mode perf sets up the report before any attr has arrived: no
    // call chains as far as it knows, so no --children (graphs still show).
    let pipe = session.data.is_pipe();
    let opts = if opts.children && (!any_cc || pipe) {
        adjusted = ReportOptions {
            children: false,
            ..opts.clone()
        };
        &adjusted
    } else {
        opts
    };
    let nev = session.data.attrs.len();
    let mut bs: Vec<Builder> = (0..nev)
        .map(|_| Builder {
            entries: Vec::new(),
            index: HashMap::new(),
            samples: 0,
            total: 0,
            has_callchain: false,
        })
        .collect();
    let has_cc: Vec<bool> = session
        .data
        .attrs
        .iter()
        .map(|a| a.attr.sample_type & crate::attr::sample::CALLCHAIN != 0)
        .collect();
    if !pipe && opts.graph_requested && opts.graph != GraphMode::None && !has_cc.iter().any(|c| *c)
    {
        return Err(Error::BadArg {
            what: "option",
            value: "-g".into(),
            why: "selected -g, but no callchain data: record with -g".into(),
        });
    }
    if !pipe
        && opts.cpus.is_some()
        && !session
            .data
            .attrs
            .iter()
            .any(|a| a.attr.sample_type & crate::attr::sample::CPU != 0)
    {
        return Err(Error::BadArg {
            what: "option",
            value: "-C".into(),
            why: "file does not contain CPU events; remove -C to proceed".into(),
        });
    }
    session.for_each_sample(|m, rs: ResolvedSample| {
        let Some(b) = bs.get_mut(rs.event) else {
            return;
        };
        if let Some(c) = &opts.cpus {
            if !c.contains(&rs.sample.cpu) {
                return;
            }
        }
        let period = rs
            .sample
            .period
            .max(if rs.sample.period == 0 { 1 } else { 0 });
        b.samples += 1;
        b.total = b.total.wrapping_add(period);
        b.has_callchain = has_cc.get(rs.event).copied().unwrap_or(false);
        // Returns the entry index (None when filtered out).
        let add = |b: &mut Builder,
                   m: &mut Machine,
                   l: &Location,
                   self_p: u64,
                   child_p: u64,
                   chain: Option<&[(SymKey, String)]>,
                   seen: &mut Vec<usize>|
         -> Option<usize> {
            if let Some(syms) = &opts.symbols {
                let name = l.sym.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                if !syms.iter().any(|s| s == name) {
                    return None;
                }
            }
            let srcline = opts.sort.contains(&SortKey::Srcline).then(|| m.srcline(l));
            let key = key_for(
                opts,
                srcline.as_deref(),
                &rs.comm,
                rs.sample.tid,
                rs.sample.cpu,
                l,
            );
            let n = b.entries.len();
            let i = *b.index.entry(key).or_insert(n);
            if seen.contains(&i) {
                return None;
            }
            seen.push(i);
            if i == n {
                b.entries.push(Entry {
                    period: 0,
                    children_period: 0,
                    samples: 0,
                    comm: rs.comm.clone(),
                    pid: rs.sample.tid,
                    dso: m.dso_short(l.dso).to_string(),
                    symbol: l.sym.as_ref().map(|s| s.name.clone()),
                    addr: l.addr,
                    kernel: l.kernel,
                    cpu: rs.sample.cpu,
                    dso_id: l.dso,
                    graph: CNode::default(),
                    order: n,
                    max_depth: 0,
                    srcline: srcline.clone().unwrap_or_default(),
                });
            }
            if let Some(e) = b.entries.get_mut(i) {
                e.period = e.period.wrapping_add(self_p);
                e.children_period = e.children_period.wrapping_add(child_p);
                if self_p > 0 {
                    e.samples += 1;
                }
                if let Some(ch) = chain {
                    e.graph.append(ch, child_p.max(self_p));
                    e.max_depth = e.max_depth.max(ch.len());
                }
            }
            Some(i)
        };
        let chain: Vec<(SymKey, String)> = rs
            .chain
            .iter()
            .map(|f| (sym_key(&f.loc), frame_name(&f.loc)))
            .collect();
        let chain_ordered: Vec<(SymKey, String)> = if opts.caller {
            chain.iter().rev().cloned().collect()
        } else {
            chain.clone()
        };
        let graphs =
            has_cc.get(rs.event).copied().unwrap_or(false) && opts.graph != GraphMode::None;
        let use_chain = graphs.then_some(&chain_ordered[..]);
        let mut seen = Vec::new();
        add(b, m, &rs.loc, period, period, use_chain, &mut seen);
        if opts.children {
            // perf walks the call-chain cursor in display order; each frame's
            // entry gets the rest of the chain, keyed by the absolute address
            // when unresolved; an entry counts once per sample.
            let n = rs.chain.len();
            for j in 0..n {
                let idx = if opts.caller { n - 1 - j } else { j };
                let Some(f) = rs.chain.get(idx) else { continue };
                let mut l = f.loc.clone();
                if l.sym.is_none() {
                    l.addr = l.ip;
                }
                let rest = graphs.then(|| chain_ordered.get(j..).unwrap_or(&[]));
                add(b, m, &l, 0, period, rest, &mut seen);
            }
        }
    })?;
    if opts.sort.contains(&SortKey::Pid) && !opts.sort.contains(&SortKey::Comm) {
        // perf shows the thread's last comm for the pid key.
        for b in bs.iter_mut() {
            for e in b.entries.iter_mut() {
                e.comm = session.machine.comm(e.pid);
            }
        }
    }
    let lost_per_event = session.data.stats().lost_samples;
    let mut events = Vec::new();
    for (i, b) in bs.into_iter().enumerate() {
        if b.samples == 0 {
            continue;
        }
        let name = session
            .data
            .attrs
            .get(i)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let mut entries = b.entries;
        sort_entries(&mut entries, opts, &session.machine);
        events.push(EventReport {
            name,
            samples: b.samples,
            total_period: b.total,
            lost_samples: lost_per_event.get(i).copied().unwrap_or(0),
            entries,
            has_callchain: b.has_callchain,
        });
    }
    if events.is_empty() {
        return Err(Error::BadData {
            offset: 0,
            why: "the file has no samples".into(),
        });
    }
    Ok(Report {
        lost: session.data.stats().total_lost_samples,
        events,
        opts_sort: opts.sort.clone(),
        children: opts.children,
    })
}

fn sort_entries(entries: &mut [Entry], opts: &ReportOptions, m: &Machine) {
    // Input-tree order (perf's collapse order), which breaks ties of the output sort.
    let dso_name = |e: &Entry| m.dso_short(e.dso_id).to_string();
    entries.sort_by(|a, b| {
        for k in &opts.sort {
            let o = match k {
                SortKey::Comm => a.comm.cmp(&b.comm),
                SortKey::Pid => a.pid.cmp(&b.pid),
                SortKey::Dso => dso_name(a).cmp(&dso_name(b)),
                SortKey::Cpu => a.cpu.cmp(&b.cpu),
                SortKey::Sym => {
                    let k = |e: &Entry| (e.symbol.is_none(), e.addr);
                    k(a).cmp(&k(b))
                }
                SortKey::Srcline => a.srcline.cmp(&b.srcline),
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.order.cmp(&b.order)
    });
    // Output sort: period desc, then each key's sort function (stable).
    // perf inserts into an rb-tree with a comparator that is not a total
    // order ("caller above callee" applies only within a thread), so sort by
    // binary insertion as perf does: deterministic, and it cannot panic on
    // whatever periods a (possibly corrupt) file holds.
    let period = |e: &Entry| {
        if opts.children {
            e.children_period
        } else {
            e.period
        }
    };
    insertion_sort_by(entries, period, |a, b| {
        let (pa, pb) = if opts.children {
            (a.children_period, b.children_period)
        } else {
            (a.period, b.period)
        };
        pb.cmp(&pa)
            .then_with(|| {
                // perf: "put caller above callee when they have equal period".
                if opts.children && a.pid == b.pid && a.max_depth != b.max_depth {
                    return if opts.caller {
                        b.max_depth.cmp(&a.max_depth)
                    } else {
                        a.max_depth.cmp(&b.max_depth)
                    };
                }
                std::cmp::Ordering::Equal
            })
            .then_with(|| {
                for k in &opts.sort {
                    let o = match k {
                        SortKey::Comm => a.comm.cmp(&b.comm),
                        SortKey::Pid => a.pid.cmp(&b.pid),
                        SortKey::Dso => match (a.dso_id, b.dso_id) {
                            (None, None) => std::cmp::Ordering::Equal,
                            (None, Some(_)) => std::cmp::Ordering::Greater,
                            (Some(_), None) => std::cmp::Ordering::Less,
                            _ => dso_name(a).cmp(&dso_name(b)),
                        },
                        SortKey::Cpu => a.cpu.cmp(&b.cpu),
                        SortKey::Srcline => a.srcline.cmp(&b.srcline),
                        SortKey::Sym => match (&a.symbol, &b.symbol) {
                            (Some(x), Some(y)) => x.cmp(y),
                            (Some(_), None) => std::cmp::Ordering::Less,
                            (None, Some(_)) => std::cmp::Ordering::Greater,
                            (None, None) => std::cmp::Ordering::Equal,
                        },
                    };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            })
    });
}

/// Sorts by inserting each element after every element it does not precede
/// (an rb-tree insertion, as perf's output resort), so a comparator that is
/// not a total order gives a deterministic result instead of a panic.
/// The comparator must order by a total key first (the period): runs of equal
/// key are then inserted one by one, so the quadratic part stays small.
fn insertion_sort_by<T: Clone>(
    v: &mut [T],
    key: impl Fn(&T) -> u64,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    v.sort_by_key(|e| std::cmp::Reverse(key(e)));
    for run in v.chunk_by_mut(|a, b| key(a) == key(b)) {
        let mut out: Vec<T> = Vec::with_capacity(run.len());
        for e in run.iter() {
            let at = out.partition_point(|x| cmp(e, x) != std::cmp::Ordering::Less);
            out.insert(at, e.clone());
        }
        run.clone_from_slice(&out);
    }
}

fn convert_unit(mut v: u64) -> (u64, char) {
    let mut u = ' ';
    for c in ['K', 'M', 'G'] {
        if v > 1000 {
            v /= 1000;
            u = c;
        }
    }
    (v, u)
}

impl Entry {
    fn sym_text(&self) -> String {
        let lvl = if self.kernel { 'k' } else { '.' };
        match &self.symbol {
            Some(s) => format!("[{lvl}] {s}"),
            // C's "%-#.*llx": zero gets no 0x prefix.
            None if self.addr == 0 => format!("[{lvl}] {:016x}", 0),
            None => format!("[{lvl}] {:#018x}", self.addr),
        }
    }

    fn col(&self, k: SortKey) -> String {
        match k {
            SortKey::Comm => self.comm.clone(),
            SortKey::Pid => format!("{:>7}:{}", self.pid, self.comm),
            SortKey::Dso => self.dso.clone(),
            SortKey::Sym => self.sym_text(),
            // perf: "%*.*d" with width and precision 3; per-task files have cpu -1.
            SortKey::Cpu if (self.cpu as i32) < 0 => format!("-{:03}", -(self.cpu as i32)),
            SortKey::Cpu => format!("{:03}", self.cpu),
            SortKey::Srcline => self.srcline.clone(),
        }
    }
}

impl Report {
    /// perf's `--stdio` text.
    pub fn to_stdio(&self, opts: &ReportOptions) -> String {
        let mut out = String::new();
        out.push_str("# To display the perf.data header info, please use --header/--header-only options.\n#\n");
        out.push_str(&format!("#\n# Total Lost Samples: {}\n#\n", self.lost));
        for (ei, ev) in self.events.iter().enumerate() {
            if ei > 0 {
                out.push_str("\n\n");
            }
            let (n, u) = convert_unit(ev.samples);
            let _ = writeln!(out, "# Samples: {n}{u} of event '{}'", ev.name);
            let _ = writeln!(out, "# Event count (approx.): {}\n#", ev.total_period);
            self.event_stdio(ev, opts, &mut out);
        }
        out.push_str("\n\n");
        out
    }

    fn event_stdio(&self, ev: &EventReport, opts: &ReportOptions, out: &mut String) {
        let opts = &ReportOptions {
            children: self.children,
            ..opts.clone()
        };
        let keys = &self.opts_sort;
        let mut widths: Vec<usize> = keys.iter().map(|k| k.header().len()).collect();
        let any_unresolved = ev.entries.iter().any(|e| e.symbol.is_none());
        for e in &ev.entries {
            for (i, k) in keys.iter().enumerate() {
                let w = match k {
                    SortKey::Sym if e.symbol.is_none() => 16 + 4 + 2,
                    _ => e.col(*k).len(),
                };
                if let Some(x) = widths.get_mut(i) {
                    *x = (*x).max(w);
                }
            }
        }
        if any_unresolved {
            for (i, k) in keys.iter().enumerate() {
                if *k == SortKey::Dso {
                    if let Some(x) = widths.get_mut(i) {
                        *x = (*x).max(16);
                    }
                }
            }
        }
        let mut h1 = String::from("#");
        let mut h2 = String::from("#");
        if opts.children {
            h1.push_str(" Children      Self");
            h2.push_str(" ........  ........");
        } else {
            h1.push_str(" Overhead");
            h2.push_str(" ........");
        }
        for (i, k) in keys.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            h1.push_str(&format!("  {:<w$}", k.header()));
            h2.push_str(&format!("  {}", ".".repeat(w)));
        }
        let _ = writeln!(out, "{h1}\n{h2}\n#");
        let total = ev.total_period.max(1) as f64;
        let margin = 12;
        for e in &ev.entries {
            let mut line = String::new();
            if opts.children {
                let _ = write!(
                    line,
                    "  {:>7.2}%  {:>7.2}%",
                    100.0 * e.children_period as f64 / total,
                    100.0 * e.period as f64 / total
                );
            } else {
                let _ = write!(line, "  {:>7.2}%", 100.0 * e.period as f64 / total);
            }
            for (i, k) in keys.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                match k {
                    // perf prints symbols with "%.*s" and srclines with "%s": no padding.
                    SortKey::Sym | SortKey::Srcline => {
                        let _ = write!(line, "  {}", e.col(*k));
                    }
                    SortKey::Cpu => {
                        let _ = write!(line, "  {:>w$}", e.col(*k));
                    }
                    _ => {
                        let _ = write!(line, "  {:<w$}", e.col(*k));
                    }
                }
            }
            out.push_str(&line);
            out.push('\n');
            if ev.has_callchain && opts.graph != GraphMode::None {
                let min_hit = total * opts.graph_min_percent / 100.0;
                let parent = if opts.children {
                    e.children_period
                } else {
                    e.period
                };
                match opts.graph {
                    GraphMode::Graph => print_graph(out, &e.graph, total, parent, min_hit, margin),
                    GraphMode::Flat => print_flat(out, &e.graph, total, min_hit, margin),
                    GraphMode::None => {}
                }
            }
        }
    }

    /// JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn pct(v: u64, total: f64) -> String {
    format!("{:.2}%", 100.0 * v as f64 / total)
}

fn print_graph(
    out: &mut String,
    root: &CNode,
    total: f64,
    parent: u64,
    min_hit: f64,
    margin: usize,
) {
    let mut s = String::new();
    let top = root.sorted(min_hit);
    let mut margin = margin;
    let mut base: &CNode = root;
    if let [only] = top.as_slice() {
        if only.cumul() == parent {
            for (i, (_, name)) in only.val.iter().enumerate() {
                if i == 0 {
                    let _ = writeln!(s, "{}|", " ".repeat(margin));
                    let _ = write!(s, "{}---", " ".repeat(margin));
                } else {
                    s.push_str(&" ".repeat(margin + 3));
                }
                let _ = writeln!(s, "{name}");
            }
            margin += 3;
            base = only;
        }
    }
    graph_level(&mut s, base, total, 1, 1, margin, min_hit);
    if !s.is_empty() {
        out.push_str(&s);
        out.push('\n');
    }
}

fn graph_level(
    s: &mut String,
    node: &CNode,
    total: f64,
    depth: usize,
    mask: u64,
    margin: usize,
    min_hit: f64,
) {
    let kids = node.sorted(min_hit);
    let n = kids.len();
    for (ci, child) in kids.into_iter().enumerate() {
        let mut new_mask = mask;
        if ci + 1 == n {
            new_mask &= !(1u64 << (depth - 1));
        }
        // Separator line with the old mask.
        s.push_str(&" ".repeat(margin));
        for i in 0..depth {
            s.push_str(if mask & (1 << i) != 0 {
                "|          "
            } else {
                "           "
            });
        }
        s.push('\n');
        for (vi, (_, name)) in child.val.iter().enumerate() {
            s.push_str(&" ".repeat(margin));
            for i in 0..depth {
                s.push(if new_mask & (1 << i) != 0 { '|' } else { ' ' });
                if vi == 0 && i == depth - 1 {
                    let _ = write!(s, "--{}--", pct(child.cumul(), total));
                } else {
                    s.push_str("          ");
                }
            }
            s.push_str(name);
            s.push('\n');
        }
        if depth < 60 {
            graph_level(
                s,
                child,
                total,
                depth + 1,
                new_mask | (1 << depth),
                margin,
                min_hit,
            );
        }
    }
}

fn print_flat(out: &mut String, root: &CNode, total: f64, min_hit: f64, margin: usize) {
    fn walk(
        n: &CNode,
        path: &mut Vec<String>,
        total: f64,
        min_hit: f64,
        margin: usize,
        out: &mut String,
    ) {
        let base = path.len();
        path.extend(n.val.iter().map(|v| v.1.clone()));
        if n.hit as f64 >= min_hit && n.hit > 0 {
            let _ = writeln!(out, "{}{}", " ".repeat(margin), pct(n.hit, total));
            for p in path.iter() {
                let _ = writeln!(out, "{}{}", " ".repeat(margin + 4), p);
            }
            out.push('\n');
        }
        for c in n.sorted(min_hit) {
            walk(c, path, total, min_hit, margin, out);
        }
        path.truncate(base);
    }
    walk(root, &mut Vec::new(), total, min_hit, margin, out);
}
