//! The trace-cmd renderer: `trace-cmd report` 3.1.6 lines as libtraceevent
//! 1.7.1 prints them ([`TepRenderer`]), with its print-fmt semantics
//! ([`fmt`]), its function map ([`funcs`]) and the plugins trace-cmd loads
//! (sched_switch/wakeup, kmem call sites, hrtimer, function/kernel_stack/raw_data,
//! trace-cmd's own function/funcgraph overrides). Output is bytes.

pub mod comm;
pub mod cprintf;
pub mod fmt;
pub mod funcs;

use crate::dat::TraceDat;
use crate::stream::Event;
use cprintf::{pad_left, pad_right, put_fmt, put_u64, put_zpad};
use fmt::{read_num, Compiled, Data, Env};
use funcs::{FuncMap, LazyFuncs};
use std::collections::HashMap;
use std::io::Write as _;
use traceevent::{Endian, EventFormat};

/// Options of the trace-cmd renderer (the `report` flags that change a line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TepOptions {
    /// `-R`: raw fields instead of the print fmt.
    pub raw: bool,
    /// `-N`: no plugins.
    pub no_plugins: bool,
    /// `-l`: latency columns.
    pub latency: bool,
    /// `-t`: nanosecond timestamps.
    pub nsec: bool,
    /// Timestamps are ns printed as seconds (trace-cmd's IN_USECS).
    pub in_usecs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plugin {
    None,
    SchedSwitch,
    SchedWakeup,
    Kmem,
    HrtimerStart,
    HrtimerExpire,
    Function,
    KernelStack,
    RawData,
    FuncgraphEntry,
    FuncgraphExit,
    Futex,
}

#[derive(Debug, Clone)]
struct Ev {
    name: String,
    c: Compiled,
    plugin: Plugin,
    bprint: bool,
}

/// What [`TepRenderer`] is built from: the event formats and the kallsyms,
/// printk and saved_cmdlines texts, as a trace.dat or tracefs holds them.
#[derive(Debug, Clone, Copy)]
pub struct TepTables<'a> {
    /// Event formats.
    pub registry: &'a traceevent::EventRegistry,
    /// Byte order of the records.
    pub endian: Endian,
    /// `/proc/kallsyms` text.
    pub kallsyms: &'a [u8],
    /// `printk_formats` text.
    pub printk: &'a [u8],
    /// `saved_cmdlines` text.
    pub cmdlines: &'a [u8],
}

/// Renders records as `trace-cmd report` does.
#[derive(Debug)]
pub struct TepRenderer {
    opts: TepOptions,
    events: Vec<Option<Ev>>,
    funcs: LazyFuncs,
    printk: HashMap<u64, String>,
    comms: comm::CommTable,
    endian: Endian,
    long: usize,
    /// Duration of the funcgraph leaf being printed (set by [`TepRenderer::render_leaf`]).
    leaf: Option<u64>,
}

impl TepRenderer {
    /// Builds the renderer for a file.
    pub fn new(dat: &TraceDat, opts: TepOptions) -> TepRenderer {
        Self::from_parts(
            &TepTables {
                registry: &dat.registry,
                endian: dat.endian,
                kallsyms: &dat.kallsyms_text,
                printk: &dat.printk_text,
                cmdlines: &dat.cmdlines_text,
            },
            opts,
        )
    }

    /// Builds the renderer from the tables a trace.dat holds, wherever they
    /// came from (a file, or a live trace array's tracefs files).
    pub fn from_parts(t: &TepTables<'_>, opts: TepOptions) -> TepRenderer {
        let long = t.registry.long_size().bytes();
        let mut events: Vec<Option<Ev>> = Vec::new();
        for ev in t.registry.iter() {
            let id = usize::from(ev.id);
            if events.len() <= id {
                events.resize(id + 1, None);
            }
            let plugin = if opts.no_plugins {
                Plugin::None
            } else {
                plugin_for(ev)
            };
            if let Some(slot) = events.get_mut(id) {
                *slot = Some(Ev {
                    name: ev.name.clone(),
                    c: Compiled::new(ev, long),
                    plugin,
                    bprint: ev.system == "ftrace" && ev.name == "bprint",
                });
            }
        }
        let mut printk = HashMap::new();
        for line in String::from_utf8_lossy(t.printk).lines() {
            if let Some((a, s)) = line.split_once(" : ") {
                let a = a.trim();
                let a = a.strip_prefix("0x").unwrap_or(a);
                if let Ok(addr) = u64::from_str_radix(a, 16) {
                    let s = s.trim_end();
                    let s = s.strip_prefix('"').unwrap_or(s);
                    let s = s.strip_suffix('"').unwrap_or(s);
                    printk.insert(addr, s.to_string());
                }
            }
        }
        let mut comms = comm::CommTable::default();
        comms.parse_saved_cmdlines(t.cmdlines);
        TepRenderer {
            opts,
            events,
            funcs: LazyFuncs::new(t.kallsyms.to_vec()),
            printk,
            comms,
            endian: t.endian,
            long,
            leaf: None,
        }
    }

    /// The function map (kallsyms as libtraceevent resolves it).
    pub fn funcs(&self) -> &FuncMap {
        self.funcs.get()
    }

    /// The options.
    pub fn options(&self) -> TepOptions {
        self.opts
    }

    /// Name of event `id`, if known.
    pub fn event_name(&self, id: u16) -> Option<&str> {
        self.events
            .get(usize::from(id))?
            .as_ref()
            .map(|e| e.name.as_str())
    }

    /// Whether `e` is printed by trace-cmd's funcgraph entry handler.
    pub fn is_funcgraph_entry(&self, e: &Event<'_>) -> bool {
        let id = read_num(self.endian, e.data, 0, 2) as usize;
        self.events
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|ev| ev.plugin == Plugin::FuncgraphEntry)
    }

    /// trace-cmd's leaf look-ahead: when `next` (the next record in merged
    /// order) is the `funcgraph_exit` of the same task and function as the
    /// entry `e`, the call is printed as one leaf line; returns its duration.
    pub fn funcgraph_leaf(&self, e: &Event<'_>, next: &Event<'_>) -> Option<u64> {
        let field = |ev: &Event<'_>, name: &str| -> Option<u64> {
            let id = read_num(self.endian, ev.data, 0, 2) as usize;
            let f = self.events.get(id)?.as_ref()?.c.field(name)?;
            Some(read_num(self.endian, ev.data, f.offset, f.size))
        };
        let nid = read_num(self.endian, next.data, 0, 2) as usize;
        let is_exit = self
            .events
            .get(nid)
            .and_then(Option::as_ref)
            .is_some_and(|ev| ev.plugin == Plugin::FuncgraphExit);
        if !is_exit
            || read_num(self.endian, e.data, 4, 4) != read_num(self.endian, next.data, 4, 4)
            || field(e, "func")? != field(next, "func")?
        {
            return None;
        }
        Some(field(next, "rettime")?.wrapping_sub(field(next, "calltime")?))
    }

    /// Renders a funcgraph entry as a leaf call of `duration` ns.
    pub fn render_leaf(&mut self, e: &Event<'_>, duration: u64, out: &mut Vec<u8>) {
        self.leaf = Some(duration);
        self.render(e, out);
        self.leaf = None;
    }

    /// The comm trace-cmd shows for `pid`.
    /// (A lookup of a non-zero pid freezes libtraceevent's table, see
    /// [`comm::CommTable`], hence `&mut`.)
    pub fn comm(&mut self, pid: i32) -> &[u8] {
        self.comms.lookup(pid)
    }

    /// Replaces the comm table with these (pid, comm) pairs: a live stream
    /// follows the kernel's `saved_cmdlines` as tasks come and go.
    pub fn set_comms<'a>(&mut self, comms: impl IntoIterator<Item = (i32, &'a str)>) {
        let mut t = comm::CommTable::default();
        for (pid, c) in comms {
            t.register(pid, c.as_bytes());
        }
        self.comms = t;
    }

    fn register_comm(&mut self, pid: i32, comm: &[u8]) {
        self.comms.register(pid, comm);
    }

    fn env(&self) -> Env<'_> {
        Env {
            endian: self.endian,
            long: self.long,
            funcs: &self.funcs,
            printk: &self.printk,
        }
    }

    /// Appends one record's line (`trace_show_data`), with its trailing newline.
    pub fn render(&mut self, e: &Event<'_>, out: &mut Vec<u8>) {
        if e.missed > 0 {
            put_fmt(
                out,
                format_args!("CPU:{} [{} EVENTS DROPPED]\n", e.cpu, e.missed),
            );
        } else if e.missed < 0 {
            put_fmt(out, format_args!("CPU:{} [EVENTS DROPPED]\n", e.cpu));
        }
        let start = out.len();
        let id = read_num(self.endian, e.data, 0, 2) as usize;
        let known = self.events.get(id).is_some_and(Option::is_some);
        if !known {
            out.extend_from_slice(b"[UNKNOWN EVENT]");
            if self.opts.latency {
                out.extend_from_slice(b"[UNKNOWN EVENT]");
            }
            out.extend_from_slice(b"[UNKNOWN EVENT] (NULL):               [UNKNOWN EVENT]\n");
            return;
        }
        let pid = read_num(self.endian, e.data, 4, 4) as u32 as i32;
        let flags = e.data.get(2).copied().unwrap_or(0);
        let pc = e.data.get(3).copied().unwrap_or(0);
        let mut ib = itoa::Buffer::new();
        if self.opts.latency {
            let comm = self.comm(pid);
            let c = &comm[..comm.len().min(8)];
            pad_left(out, c, 8);
            out.push(b'-');
            pad_right(out, ib.format(pid).as_bytes(), 5);
            out.push(b' ');
            pad_left(out, ib.format(e.cpu).as_bytes(), 3);
            if self.opts.raw {
                put_fmt(out, format_args!("-0x{flags:x}"));
            } else {
                out.push(if flags & 0x01 != 0 {
                    b'd'
                } else if flags & 0x02 != 0 {
                    b'X'
                } else {
                    b'.'
                });
                out.push(if flags & 0x04 != 0 { b'N' } else { b'.' });
                let hard = flags & 0x08 != 0;
                let soft = flags & 0x10 != 0;
                out.push(match (hard, soft) {
                    (true, true) => b'H',
                    (true, false) => b'h',
                    (false, true) => b's',
                    _ => b'.',
                });
                if pc & 0xf != 0 {
                    put_fmt(out, format_args!("{:x}", pc & 0xf));
                } else {
                    out.push(b'.');
                }
                if pc & 0xf0 != 0 {
                    put_fmt(out, format_args!("{:x}", pc >> 4));
                } else {
                    out.push(b'.');
                }
            }
        } else {
            let comm = self.comm(pid);
            pad_left(out, comm, 16);
            out.push(b'-');
            pad_right(out, ib.format(pid).as_bytes(), 5);
            out.extend_from_slice(b" [");
            let c = ib.format(e.cpu);
            for _ in c.len()..3 {
                out.push(b'0');
            }
            out.extend_from_slice(c.as_bytes());
            out.push(b']');
        }
        // time
        let ts = e.ts;
        if self.opts.in_usecs {
            out.push(b' ');
            if self.opts.nsec {
                pad_left(out, ib.format(ts / 1_000_000_000).as_bytes(), 5);
                out.push(b'.');
                put_zpad(out, ts % 1_000_000_000, 9);
            } else {
                let t = ts.wrapping_add(500) / 1000;
                pad_left(out, ib.format(t / 1_000_000).as_bytes(), 5);
                out.push(b'.');
                put_zpad(out, t % 1_000_000, 6);
            }
        } else {
            // trace-cmd's "%12d:" time format: libtraceevent computes the
            // precision's power of ten in an `int`, 10^12 overflows to a
            // negative value, and it falls back to "%12llu" (raw ticks).
            pad_left(out, ib.format(ts).as_bytes(), 12);
        }
        out.push(b':');
        // event name
        let name_len;
        {
            let ev = self.events.get(id).and_then(Option::as_ref);
            let name = ev.map(|e| e.name.as_bytes()).unwrap_or(b"(NULL)");
            out.push(b' ');
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            name_len = name.len();
        }
        for _ in name_len..20 {
            out.push(b' ');
        }
        self.info(e, id, out);
        if out.len() > start && out.last() == Some(&b'\n') {
            out.pop();
        }
        out.push(b'\n');
    }

    fn info(&mut self, e: &Event<'_>, id: usize, out: &mut Vec<u8>) {
        let Some(ev) = self.events.get(id).and_then(Option::as_ref) else {
            return;
        };
        let d = Data {
            data: e.data,
            tail: e.tail,
        };
        let env = self.env();
        if self.opts.raw {
            ev.c.print_fields(out, &env, d);
            return;
        }
        let plugin = ev.plugin;
        let mut pretty = true;
        let mut new_comms: Vec<(i32, Vec<u8>)> = Vec::new();
        match plugin {
            Plugin::None => {}
            Plugin::SchedSwitch => {
                pretty = false;
                sched_switch(&ev.c, &env, d, out, &mut new_comms);
            }
            Plugin::SchedWakeup => {
                pretty = false;
                sched_wakeup(&ev.c, &env, d, out, &mut new_comms);
            }
            Plugin::Kmem => {
                if let Some(f) = ev.c.field("call_site") {
                    let val = read_num(env.endian, d.data, f.offset, f.size);
                    if let Some(func) = env.funcs.find(val) {
                        put_fmt(
                            out,
                            format_args!(
                                "({}+0x{:x}) ",
                                func.name,
                                val.wrapping_sub(func.addr) as u32
                            ),
                        );
                    }
                }
            }
            Plugin::HrtimerStart | Plugin::HrtimerExpire => {
                pretty = false;
                hrtimer(&ev.c, &env, d, out, plugin == Plugin::HrtimerExpire);
            }
            Plugin::Function => {
                pretty = false;
                let ip = num_field(&ev.c, &env, d, "ip");
                let parent = num_field(&ev.c, &env, d, "parent_ip");
                match (ip, parent) {
                    (Some(ip), Some(parent)) => {
                        match env.funcs.find(ip) {
                            Some(f) => put_fmt(out, format_args!("{} <-- ", f.name)),
                            None => put_fmt(out, format_args!("0x{ip:x}")),
                        }
                        match env.funcs.find(parent) {
                            Some(f) => out.extend_from_slice(f.name.as_bytes()),
                            None => put_fmt(out, format_args!("0x{parent:x}")),
                        }
                    }
                    _ => out.push(b'!'),
                }
            }
            Plugin::KernelStack => {
                pretty = false;
                match ev.c.field("caller") {
                    None => out.extend_from_slice(b"<CANT FIND FIELD caller>"),
                    Some(f) => {
                        out.extend_from_slice(b"<stack trace >\n");
                        let long = env.long;
                        let mut p = f.offset;
                        while p < d.data.len() {
                            let addr = read_num(env.endian, d.tail, p, long);
                            if (long == 8 && addr == u64::MAX) || addr as u32 == u32::MAX {
                                break;
                            }
                            match env.funcs.find(addr) {
                                Some(func) => {
                                    put_fmt(out, format_args!("=> {} ({addr:x})\n", func.name))
                                }
                                None => put_fmt(out, format_args!("=> {addr:x}\n")),
                            }
                            p += long;
                        }
                    }
                }
            }
            Plugin::RawData => {
                pretty = false;
                match num_field(&ev.c, &env, d, "id") {
                    None => out.push(b'!'),
                    Some(idv) => {
                        put_fmt(out, format_args!("# {idv:x}"));
                        match ev.c.field("buf") {
                            None => out.extend_from_slice(b"<CANT FIND FIELD buf>"),
                            Some(f) => {
                                for b in d.data.get(f.offset..).unwrap_or(&[]) {
                                    put_fmt(out, format_args!(" {b:02x}"));
                                }
                            }
                        }
                    }
                }
            }
            Plugin::Futex => {
                pretty = !futex(&ev.c, &env, d, out);
            }
            Plugin::FuncgraphEntry | Plugin::FuncgraphExit => {
                pretty = false;
                funcgraph(
                    &ev.c,
                    &env,
                    d,
                    out,
                    plugin == Plugin::FuncgraphExit,
                    self.leaf,
                );
            }
        }
        if pretty {
            if ev.c.failed {
                out.extend_from_slice(b"[FAILED TO PARSE]");
                ev.c.print_fields(out, &env, d);
            } else if ev.bprint {
                bprint(&ev.c, &env, d, out);
            } else {
                ev.c.pretty(out, &env, d);
            }
        }
        for (pid, comm) in new_comms {
            self.register_comm(pid, &comm);
        }
    }
}

fn plugin_for(ev: &EventFormat) -> Plugin {
    match (ev.system.as_str(), ev.name.as_str()) {
        ("sched", "sched_switch") => Plugin::SchedSwitch,
        ("sched", "sched_wakeup" | "sched_wakeup_new") => Plugin::SchedWakeup,
        (
            "kmem",
            "kfree"
            | "kmalloc"
            | "kmalloc_node"
            | "kmem_cache_alloc"
            | "kmem_cache_alloc_node"
            | "kmem_cache_free",
        ) => Plugin::Kmem,
        ("timer", "hrtimer_start") => Plugin::HrtimerStart,
        ("timer", "hrtimer_expire_entry") => Plugin::HrtimerExpire,
        ("ftrace", "function") => Plugin::Function,
        ("ftrace", "kernel_stack") => Plugin::KernelStack,
        ("ftrace", "raw_data") => Plugin::RawData,
        ("ftrace", "funcgraph_entry") => Plugin::FuncgraphEntry,
        ("syscalls", "sys_enter_futex") => Plugin::Futex,
        ("ftrace", "funcgraph_exit") => Plugin::FuncgraphExit,
        _ => Plugin::None,
    }
}

fn num_field(c: &Compiled, env: &Env<'_>, d: Data<'_>, name: &str) -> Option<u64> {
    let f = c.field(name)?;
    Some(read_num(env.endian, d.data, f.offset, f.size))
}

fn comm_field<'a>(c: &Compiled, d: Data<'a>, name: &str) -> Option<&'a [u8]> {
    let f = c.field(name)?;
    let b = d
        .data
        .get(f.offset..(f.offset + f.size).min(d.data.len()))?;
    Some(fmt::cstr(b))
}

fn write_state(out: &mut Vec<u8>, val: u64) {
    const STATES: &[u8] = b"SDTtZXxW";
    let mut found = false;
    for (i, &c) in STATES.iter().enumerate() {
        if val & (1 << i) == 0 {
            continue;
        }
        if found {
            out.push(b'|');
        }
        found = true;
        out.push(c);
    }
    if !found {
        out.push(b'R');
    }
}

fn sched_switch(
    c: &Compiled,
    env: &Env<'_>,
    d: Data<'_>,
    out: &mut Vec<u8>,
    comms: &mut Vec<(i32, Vec<u8>)>,
) {
    let Some(prev_pid) = num_field(c, env, d, "prev_pid") else {
        out.push(b'!');
        return;
    };
    if let Some(comm) = comm_field(c, d, "prev_comm") {
        out.extend_from_slice(comm);
        comms.push((prev_pid as i32, comm.to_vec()));
        out.push(b':');
    }
    put_fmt(out, format_args!("{} ", prev_pid as i64));
    if let Some(p) = num_field(c, env, d, "prev_prio") {
        put_fmt(out, format_args!("[{}] ", p as i32));
    }
    if let Some(s) = num_field(c, env, d, "prev_state") {
        write_state(out, s);
    }
    out.extend_from_slice(b" ==> ");
    let Some(next_pid) = num_field(c, env, d, "next_pid") else {
        out.push(b'!');
        return;
    };
    if let Some(comm) = comm_field(c, d, "next_comm") {
        out.extend_from_slice(comm);
        comms.push((next_pid as i32, comm.to_vec()));
        out.push(b':');
    }
    put_fmt(out, format_args!("{}", next_pid as i64));
    if let Some(p) = num_field(c, env, d, "next_prio") {
        put_fmt(out, format_args!(" [{}]", p as i32));
    }
}

fn sched_wakeup(
    c: &Compiled,
    env: &Env<'_>,
    d: Data<'_>,
    out: &mut Vec<u8>,
    comms: &mut Vec<(i32, Vec<u8>)>,
) {
    let Some(pid) = num_field(c, env, d, "pid") else {
        out.push(b'!');
        return;
    };
    if let Some(comm) = comm_field(c, d, "comm") {
        out.extend_from_slice(comm);
        comms.push((pid as i32, comm.to_vec()));
        out.push(b':');
    }
    put_fmt(out, format_args!("{}", pid as i64));
    if let Some(p) = num_field(c, env, d, "prio") {
        put_fmt(out, format_args!(" [{}]", p as i64));
    }
    if let Some(s) = num_field(c, env, d, "success") {
        put_fmt(out, format_args!(" success={}", s as i64));
    }
    if let Some(t) = num_field(c, env, d, "target_cpu") {
        put_fmt(out, format_args!(" CPU:{t:03}"));
    }
}

fn func_field(
    c: &Compiled,
    env: &Env<'_>,
    d: Data<'_>,
    name: &str,
    out: &mut Vec<u8>,
    prefix: &str,
) {
    let Some(val) = num_field(c, env, d, name) else {
        return;
    };
    out.extend_from_slice(prefix.as_bytes());
    match env.funcs.find(val) {
        Some(f) => put_fmt(
            out,
            format_args!("{}/0x{:x}", f.name, f.addr.wrapping_sub(val)),
        ),
        None => put_fmt(out, format_args!("0x{val:08x}")),
    }
}

fn hrtimer(c: &Compiled, env: &Env<'_>, d: Data<'_>, out: &mut Vec<u8>, expire: bool) {
    out.extend_from_slice(b"hrtimer=");
    match num_field(c, env, d, "timer").or_else(|| num_field(c, env, d, "hrtimer")) {
        Some(v) => put_fmt(out, format_args!("0x{v:x}")),
        None => out.extend_from_slice(b"CAN'T FIND FIELD \"hrtimer\""),
    }
    if expire {
        out.extend_from_slice(b" now=");
        match num_field(c, env, d, "now") {
            Some(v) => put_u64(out, v),
            None => out.extend_from_slice(b"CAN'T FIND FIELD \"now\""),
        }
        func_field(c, env, d, "function", out, " function=");
        return;
    }
    func_field(c, env, d, "function", out, " function=");
    out.extend_from_slice(b" expires=");
    match num_field(c, env, d, "expires") {
        Some(v) => put_u64(out, v),
        None => out.extend_from_slice(b"CAN'T FIND FIELD \"expires\""),
    }
    out.extend_from_slice(b" softexpires=");
    match num_field(c, env, d, "softexpires") {
        Some(v) => put_u64(out, v),
        None => out.extend_from_slice(b"CAN'T FIND FIELD \"softexpires\""),
    }
}

/// libtraceevent's plugin_futex: `op=NAME[|FUTEX_PRIVATE_FLAG][|FUTEX_CLOCK_REALTIME]
/// uaddr=…` and the arguments that op uses. False when it cannot print
/// (a field is missing or the op is unknown): the print fmt is used then.
fn futex(c: &Compiled, env: &Env<'_>, d: Data<'_>, out: &mut Vec<u8>) -> bool {
    const HEX: u8 = 1;
    const DEC: u8 = 2;
    // name, val, utime/val2, uaddr2, val3 (0 = not printed)
    const OPS: [(&str, u8, u8, bool, bool); 13] = [
        ("FUTEX_WAIT", HEX, HEX, false, false),
        ("FUTEX_WAKE", DEC, 0, false, false),
        ("FUTEX_FD", DEC, 0, false, false),
        ("FUTEX_REQUEUE", DEC, DEC, true, false),
        ("FUTEX_CMP_REQUEUE", DEC, DEC, true, true),
        ("FUTEX_WAKE_OP", DEC, DEC, true, true),
        ("FUTEX_LOCK_PI", 0, HEX, false, false),
        ("FUTEX_UNLOCK_PI", 0, 0, false, false),
        ("FUTEX_TRYLOCK_PI", 0, 0, false, false),
        ("FUTEX_WAIT_BITSET", HEX, HEX, false, true),
        ("FUTEX_WAKE_BITSET", DEC, 0, false, true),
        ("FUTEX_WAIT_REQUEUE_PI", HEX, HEX, true, true),
        ("FUTEX_CMP_REQUEUE_PI", DEC, DEC, true, true),
    ];
    let get = |n: &str| num_field(c, env, d, n);
    let (Some(uaddr), Some(op), Some(val), Some(utime), Some(uaddr2), Some(val3)) = (
        get("uaddr"),
        get("op"),
        get("val"),
        get("utime"),
        get("uaddr2"),
        get("val3"),
    ) else {
        return false;
    };
    let cmd = op & !(128 | 256);
    let Some(&(name, fval, futime, fuaddr2, fval3)) = OPS.get(cmd as usize) else {
        return false;
    };
    put_fmt(out, format_args!("op={name}"));
    if op & 128 != 0 {
        out.extend_from_slice(b"|FUTEX_PRIVATE_FLAG");
    }
    if op & 256 != 0 {
        out.extend_from_slice(b"|FUTEX_CLOCK_REALTIME");
    }
    put_fmt(out, format_args!(" uaddr=0x{uaddr:08x}"));
    match fval {
        HEX => put_fmt(out, format_args!(" val=0x{val:08x}")),
        DEC => put_fmt(out, format_args!(" val={val}")),
        _ => {}
    }
    match futime {
        HEX => put_fmt(out, format_args!(" utime=0x{utime:08x}")),
        DEC => put_fmt(out, format_args!(" val2={utime}")),
        _ => {}
    }
    if fuaddr2 {
        put_fmt(out, format_args!(" uaddr2=0x{uaddr2:08x}"));
    }
    if fval3 {
        put_fmt(out, format_args!(" val3=0x{val3:08x}"));
    }
    true
}

/// trace-cmd's overhead mark before a duration (`trace-ftrace.c`).
fn graph_overhead(out: &mut Vec<u8>, duration: Option<u64>) {
    out.extend_from_slice(match duration {
        None => b"  ",
        Some(d) if d > 1_000_000_000 => b"$ ",
        Some(d) if d > 1_000_000 => b"# ",
        Some(d) if d > 100_000 => b"! ",
        Some(d) if d > 10_000 => b"+ ",
        Some(_) => b"  ",
    });
}

/// trace-cmd's duration column: µs with up to 7 digits in all, " us ",
/// padding, then "|  ".
fn graph_duration(out: &mut Vec<u8>, duration: u64) {
    let usecs = (duration / 1000).to_string();
    let mut len = usecs.len();
    out.extend_from_slice(usecs.as_bytes());
    // trace-cmd 3.1.6 sizes the nsecs buffer from the whole line's length
    // (8 - s->len underflows), so the three digits are always printed.
    if len < 7 {
        put_fmt(out, format_args!(".{:03}", duration % 1000));
        len += 4;
    }
    out.extend_from_slice(b" us ");
    for _ in len..7 {
        out.push(b' ');
    }
    out.extend_from_slice(b"|  ");
}

/// trace-cmd's function-graph lines: nested entries `func() {`, leaf
/// calls `func();` with their duration (from the look-ahead), exits `}`.
fn funcgraph(
    c: &Compiled,
    env: &Env<'_>,
    d: Data<'_>,
    out: &mut Vec<u8>,
    exit: bool,
    leaf: Option<u64>,
) {
    let depth = num_field(c, env, d, "depth").unwrap_or(0) as i32;
    let indent = |out: &mut Vec<u8>| {
        for _ in 0..(depth.max(0) as usize).saturating_mul(2).min(1 << 16) {
            out.push(b' ');
        }
    };
    let func_name = |out: &mut Vec<u8>, suffix: &str| {
        let func = num_field(c, env, d, "func").unwrap_or(0);
        match env.funcs.find(func) {
            Some(f) => put_fmt(out, format_args!("{}{suffix}", f.name)),
            None => put_fmt(out, format_args!("{func:x}{suffix}")),
        }
    };
    if exit {
        let calltime = num_field(c, env, d, "calltime").unwrap_or(0);
        let rettime = num_field(c, env, d, "rettime").unwrap_or(0);
        let dur = rettime.wrapping_sub(calltime);
        graph_overhead(out, Some(dur));
        graph_duration(out, dur);
        indent(out);
        out.push(b'}');
    } else if let Some(dur) = leaf {
        graph_overhead(out, Some(dur));
        graph_duration(out, dur);
        indent(out);
        func_name(out, "();");
    } else {
        graph_overhead(out, None);
        out.extend_from_slice(b"           |  ");
        indent(out);
        func_name(out, "() {");
    }
}

/// `bprint`: the printk format at `fmt` applied to the binary arguments in `buf`.
fn bprint(c: &Compiled, env: &Env<'_>, d: Data<'_>, out: &mut Vec<u8>) {
    let ip = num_field(c, env, d, "ip").unwrap_or(0);
    let fmt_addr = num_field(c, env, d, "fmt").unwrap_or(0);
    match env.funcs.find(ip) {
        Some(f) => out.extend_from_slice(f.name.as_bytes()),
        None => put_fmt(out, format_args!("0x{ip:x}")),
    }
    out.extend_from_slice(b": ");
    let Some(fmt) = env.printk.get(&fmt_addr) else {
        put_fmt(out, format_args!("[UNKNOWN BPRINT FORMAT 0x{fmt_addr:x}]"));
        return;
    };
    let buf_off = c.field("buf").map(|f| f.offset).unwrap_or(d.data.len());
    let buf = d.data.get(buf_off..).unwrap_or(&[]);
    bprint_format(fmt, buf, env, out);
}

fn bprint_format(fmt: &str, buf: &[u8], env: &Env<'_>, out: &mut Vec<u8>) {
    let b = fmt.as_bytes();
    let mut i = 0;
    let mut pos = 0usize;
    let rd = |pos: &mut usize, size: usize| -> u64 {
        *pos = (*pos + size - 1) & !(size - 1);
        let v = read_num(env.endian, buf, *pos, size);
        *pos += size;
        v
    };
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            out.push(match b[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                o => o,
            });
            i += 2;
            continue;
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'%') {
            out.push(b'%');
            i += 2;
            continue;
        }
        let start = i;
        let mut j = i + 1;
        let mut ls = 0i32;
        while let Some(&ch) = b.get(j) {
            match ch {
                b'#' | b'.' | b'0'..=b'9' | b'-' | b'+' | b' ' | b'*' => {}
                b'h' => ls -= 1,
                b'l' => ls += 1,
                b'z' | b'Z' | b'L' => ls = 2,
                _ => break,
            }
            j += 1;
        }
        let conv = b.get(j).copied().unwrap_or(b'd');
        let text = &b[start..=j.min(b.len() - 1)];
        match conv {
            b'd' | b'i' | b'u' | b'x' | b'X' | b'o' => {
                let size = if ls >= 1 {
                    if ls >= 2 {
                        8
                    } else {
                        env.long
                    }
                } else {
                    4
                };
                let v = rd(&mut pos, size);
                cprintf::Spec::parse(text, if size == 8 { 2 } else { 0 }).fmt_int(out, v, None);
                i = j + 1;
            }
            b's' => {
                let s = fmt::cstr(buf.get(pos..).unwrap_or(&[]));
                let n = s.len();
                cprintf::Spec::parse(text, 0).fmt_str(out, s, None);
                pos += n + 1;
                i = j + 1;
            }
            b'p' => {
                let v = rd(&mut pos, env.long);
                let ext = b.get(j + 1).copied();
                if matches!(ext, Some(b'S' | b's' | b'F' | b'f')) {
                    match env.funcs.find(v) {
                        Some(f) => {
                            out.extend_from_slice(f.name.as_bytes());
                            if matches!(ext, Some(b'S' | b'F')) {
                                put_fmt(out, format_args!("+0x{:x}", v.wrapping_sub(f.addr)));
                            }
                        }
                        None => put_fmt(out, format_args!("0x{v:x}")),
                    }
                    i = j + 2;
                } else {
                    put_fmt(out, format_args!("0x{v:x}"));
                    i = j + 1;
                }
            }
            b'c' => {
                let v = rd(&mut pos, 4);
                out.push(v as u8);
                i = j + 1;
            }
            _ => {
                out.extend_from_slice(text);
                i = j + 1;
            }
        }
    }
}

/// Writes `s` to `out` (helper for callers building lines).
pub fn write_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let _ = out.write_all(s);
}
