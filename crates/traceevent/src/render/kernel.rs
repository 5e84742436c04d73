//! [`KernelTextRenderer`]: reproduces the kernel's own `trace`/`trace_pipe`
//! text (`kernel/trace/trace.c` `print_trace_line()` and `trace_output.c`),
//! including the `latency-format`, `raw`, `hex` and `fields` options, the
//! internal ftrace events (print, bprint, bputs, kernel_stack, user_stack,
//! raw_data, function) and the syscall events' own printers.

use super::bprint::bprint;
use super::{format_print_fmt, Context, Renderer};
use crate::error::{Error, Result};
use crate::format::{EventFormat, FieldKind};
use crate::printfmt::{
    dec_len, pair, parse_format_string, push_6, push_hex_bytes, push_u64, push_utf8, Evaluator,
    Piece,
};
use crate::record::{flags as tf, Record};
use crate::subbuf::Missed;
use std::collections::HashMap;
use std::fmt::Write as _;

/// How the trace clock's timestamps are printed (per-renderer policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockKind {
    /// Nanosecond clocks (`local global perf mono mono_raw boot tai`):
    /// `%5lu.%06lu` seconds with rounded microseconds.
    #[default]
    Nanoseconds,
    /// Non-ns clocks (`counter`, `uptime` jiffies, `x86-tsc` cycles): `%12llu`.
    Counter,
}

impl ClockKind {
    /// Maps a `trace_clock` name (with or without `[]`) to its kind.
    pub fn from_name(name: &str) -> ClockKind {
        match name.trim().trim_start_matches('[').trim_end_matches(']') {
            "local" | "global" | "perf" | "mono" | "mono_raw" | "boot" | "tai" => {
                ClockKind::Nanoseconds
            }
            _ => ClockKind::Counter,
        }
    }
}

/// How the kernel prints `syscalls:sys_enter_*` argument values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyscallStyle {
    /// Kernels ≥ 6.18: values below 10 in decimal, others as `0x%lx`.
    #[default]
    Mixed,
    /// Older kernels: every value as `%lx`.
    Hex,
}

impl SyscallStyle {
    /// The style of a kernel version (`major`, `minor`).
    pub fn for_kernel(major: u32, minor: u32) -> SyscallStyle {
        if (major, minor) >= (6, 18) {
            SyscallStyle::Mixed
        } else {
            SyscallStyle::Hex
        }
    }
}

/// Options of the kernel text renderer (the `options/*` files of tracefs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelTextOptions {
    /// `latency-format`.
    pub latency_format: bool,
    /// `raw`.
    pub raw: bool,
    /// `hex`.
    pub hex: bool,
    /// `fields`.
    pub fields: bool,
    /// `irq-info` (default on).
    pub irq_info: bool,
    /// `context-info` (default on).
    pub context_info: bool,
    /// `record-tgid`.
    pub record_tgid: bool,
    /// `print-parent` (default on), for function events.
    pub print_parent: bool,
    /// `sym-offset`, for function/stack symbols.
    pub sym_offset: bool,
    /// `sym-addr`, for function/stack symbols.
    pub sym_addr: bool,
    /// Trace clock kind.
    pub clock: ClockKind,
    /// Syscall argument style of the traced kernel.
    pub syscall_style: SyscallStyle,
    /// Buffer start time for `latency-format` timestamps (`time_start`).
    pub latency_time_start: u64,
}

impl Default for KernelTextOptions {
    fn default() -> Self {
        KernelTextOptions {
            latency_format: false,
            raw: false,
            hex: false,
            fields: false,
            irq_info: true,
            context_info: true,
            record_tgid: false,
            print_parent: true,
            sym_offset: false,
            sym_addr: false,
            clock: ClockKind::Nanoseconds,
            syscall_style: SyscallStyle::default(),
            latency_time_start: 0,
        }
    }
}

/// Renders records as the kernel's `trace` file shows them.
#[derive(Debug, Clone, Default)]
pub struct KernelTextRenderer {
    opts: KernelTextOptions,
    evaluator: Evaluator,
    next_ts: Option<u64>,
    fallbacks: u64,
    last_fallback: Option<String>,
    bprint_cache: HashMap<u64, Vec<Piece>>,
    /// Reused buffer the line is assembled in.
    line: Vec<u8>,
    /// Layouts of `syscalls` events by event id.
    sys_plans: Vec<Option<Box<SysPlan>>>,
}

/// How the kernel prints one `syscalls` event.
#[derive(Debug, Clone)]
struct SysPlan {
    /// The event's name (checks that the id still means this event).
    name: String,
    /// `sys_NAME(` or `sys_NAME -> 0x`.
    head: Vec<u8>,
    kind: SysKind,
}

#[derive(Debug, Clone)]
enum SysKind {
    /// Arguments: (`[, ]NAME: `, offset, size).
    Enter(Vec<(Vec<u8>, usize, usize)>),
    /// The return value's (offset, size).
    Exit(Option<(usize, usize)>),
    /// Not a syscall entry or exit.
    Other,
}

impl SysPlan {
    fn new(ev: &EventFormat) -> SysPlan {
        let (head, kind) = if let Some(name) = ev.name.strip_prefix("sys_enter_") {
            let args = ev
                .fields
                .iter()
                .filter(|f| f.name != "__syscall_nr")
                .enumerate()
                .map(|(i, f)| {
                    let sep = if i == 0 { "" } else { ", " };
                    (format!("{sep}{}: ", f.name).into_bytes(), f.offset, f.size)
                })
                .collect();
            (format!("sys_{name}("), SysKind::Enter(args))
        } else if let Some(name) = ev.name.strip_prefix("sys_exit_") {
            let ret = ev.field("ret").map(|f| (f.offset, f.size));
            (format!("sys_{name} -> 0x"), SysKind::Exit(ret))
        } else {
            (String::new(), SysKind::Other)
        };
        SysPlan {
            name: ev.name.clone(),
            head: head.into_bytes(),
            kind,
        }
    }
}

impl KernelTextRenderer {
    /// A renderer with these options.
    pub fn new(opts: KernelTextOptions) -> Self {
        KernelTextRenderer {
            opts,
            ..Default::default()
        }
    }

    /// The options.
    pub fn options(&self) -> &KernelTextOptions {
        &self.opts
    }

    /// Sets the timestamp of the record that follows the next one rendered
    /// (for the latency-format delay mark); `None` = last record.
    pub fn set_next_timestamp(&mut self, ts: Option<u64>) {
        self.next_ts = ts;
    }

    /// Number of records whose print fmt could not be evaluated and were
    /// printed with their raw fields instead.
    pub fn fallback_count(&self) -> u64 {
        self.fallbacks
    }

    /// Why the most recent fallback happened (`event: reason`).
    pub fn last_fallback_reason(&self) -> Option<&str> {
        self.last_fallback.as_deref()
    }

    /// The context prefix (`comm-pid [cpu] flags timestamp: `), as UTF-8 bytes.
    fn context(&self, ctx: &Context<'_>, rec: &Record<'_>, out: &mut Vec<u8>) {
        let pid = rec.pid();
        let comm = ctx.comm(pid);
        let mut ib = itoa::Buffer::new();
        if self.opts.latency_format {
            // "%8.8s-%-7d %3d" + flags + " %4lldus%c: "
            let c: String = comm.chars().take(8).collect();
            pad_left(out, &c, 8);
            out.push(b'-');
            pad_right(out, ib.format(pid), 7);
            out.push(b' ');
            pad_left(out, ib.format(rec.cpu), 3);
            lat_flags(out, rec.flags(), rec.preempt_count());
            let next = self.next_ts.unwrap_or(rec.ts);
            let abs = rec.ts.wrapping_sub(self.opts.latency_time_start);
            let rel = next.wrapping_sub(rec.ts);
            match self.opts.clock {
                ClockKind::Nanoseconds => {
                    let abs_us = ns2usecs(abs);
                    let rel_us = ns2usecs(rel);
                    out.push(b' ');
                    pad_left(out, ib.format(abs_us as i64), 4);
                    out.extend_from_slice(b"us");
                    out.push(find_mark(rel_us.wrapping_mul(1000)) as u8);
                    out.extend_from_slice(b": ");
                }
                ClockKind::Counter => {
                    out.push(b' ');
                    pad_left(out, ib.format(abs as i64), 4);
                    out.extend_from_slice(b": ");
                }
            }
            return;
        }
        if !self.opts.record_tgid && self.opts.irq_info && self.opts.clock == ClockKind::Nanoseconds
        {
            let t = ns2usecs(rec.ts);
            let secs = t / 1_000_000;
            if let (Ok(pid), true, true, true) = (
                u32::try_from(pid),
                rec.cpu < 1000,
                secs < 100_000,
                comm.len() <= 16 && comm.is_ascii(),
            ) {
                if pid < 10_000_000 {
                    fast_context(out, comm, pid, rec, secs as u32, (t % 1_000_000) as u32);
                    return;
                }
            }
        }
        // "%16s-%-7d "
        pad_left(out, comm, 16);
        out.push(b'-');
        if pid >= 0 {
            let start = out.len();
            push_u64(out, pid as u64);
            push_spaces(out, 7usize.saturating_sub(out.len() - start));
        } else {
            pad_right(out, ib.format(pid), 7);
        }
        out.push(b' ');
        if self.opts.record_tgid {
            match ctx.cmdlines.tgid(pid).filter(|&t| t != 0) {
                Some(t) => {
                    out.push(b'(');
                    pad_left(out, ib.format(t), 7);
                    out.extend_from_slice(b") ");
                }
                None => out.extend_from_slice(b"(-------) "),
            }
        }
        // "[%03d] "
        out.push(b'[');
        if rec.cpu < 1000 {
            let c = rec.cpu;
            let [b, d] = pair(c % 100);
            out.extend_from_slice(&[b'0' + (c / 100) as u8, b, d]);
        } else {
            out.extend_from_slice(ib.format(rec.cpu).as_bytes());
        }
        out.extend_from_slice(b"] ");
        if self.opts.irq_info {
            lat_flags(out, rec.flags(), rec.preempt_count());
        }
        match self.opts.clock {
            ClockKind::Nanoseconds => {
                // " %5lu.%06lu: "
                let t = ns2usecs(rec.ts);
                let secs = t / 1_000_000;
                let usec = (t % 1_000_000) as u32;
                out.push(b' ');
                push_spaces(out, 5usize.saturating_sub(dec_len(secs)));
                push_u64(out, secs);
                out.push(b'.');
                push_6(out, usec);
                out.extend_from_slice(b": ");
            }
            ClockKind::Counter => {
                out.push(b' ');
                pad_left(out, ib.format(rec.ts), 12);
                out.extend_from_slice(b": ");
            }
        }
    }

    fn sym(&self, ctx: &Context<'_>, out: &mut String, ip: u64) {
        // seq_print_ip_sym()
        if ip == 0 {
            out.push('0');
            return;
        }
        match ctx.kallsyms.lookup(ip) {
            Some(h) => {
                out.push_str(h.name);
                // kallsyms_lookup() (no sym-offset) gives the bare name; sprint_symbol()
                // (sym-offset) adds the offset and the module.
                if self.opts.sym_offset {
                    let _ = write!(out, "+0x{:x}/0x{:x}", h.offset, h.size);
                    if let Some(m) = h.module {
                        let _ = write!(out, " [{m}]");
                    }
                }
            }
            None => {
                let _ = write!(out, "0x{ip:08x}");
            }
        }
        if self.opts.sym_addr {
            let _ = write!(out, " <{ip:016x}>");
        }
    }

    /// The body of the line for internal ftrace events. Returns false when the
    /// event has no dedicated printer.
    fn ftrace_event(
        &mut self,
        ctx: &Context<'_>,
        ev: &EventFormat,
        rec: &Record<'_>,
        out: &mut String,
    ) -> bool {
        let u = |name: &str| ev.field(name).and_then(|f| rec.field_u64(f));
        let long = ctx.registry.long_size().bytes();
        match ev.name.as_str() {
            "print" => {
                let ip = u("ip").unwrap_or(0);
                if self.opts.raw {
                    let _ = write!(out, "# {ip:x} ");
                } else {
                    self.sym(ctx, out, ip);
                    out.push_str(": ");
                }
                if let Some(b) = ev.field("buf").and_then(|f| rec.field_bytes(f)) {
                    push_cstr(out, b);
                }
                true
            }
            "bputs" => {
                let ip = u("ip").unwrap_or(0);
                let s = u("str").unwrap_or(0);
                if self.opts.raw {
                    let _ = write!(out, "# {ip:x} ");
                } else {
                    self.sym(ctx, out, ip);
                    out.push_str(": ");
                }
                match ctx.printk_formats.get(s) {
                    Some(t) => out.push_str(t),
                    None => {
                        let _ = write!(out, "(0x{s:x})");
                    }
                }
                true
            }
            "bprint" => {
                let ip = u("ip").unwrap_or(0);
                let fmt_addr = u("fmt").unwrap_or(0);
                if self.opts.raw {
                    let _ = write!(out, ": {ip:x} : ");
                } else {
                    self.sym(ctx, out, ip);
                    out.push_str(": ");
                }
                let Some(fmt) = ctx.printk_formats.get(fmt_addr) else {
                    let _ = writeln!(out, "[UNKNOWN BPRINT FORMAT 0x{fmt_addr:x}]");
                    return true;
                };
                let pieces = self.bprint_cache.entry(fmt_addr).or_insert_with(|| {
                    parse_format_string(fmt).unwrap_or_else(|_| vec![Piece::Lit(fmt.into())])
                });
                let buf = ev
                    .field("buf")
                    .and_then(|f| rec.field_bytes(f))
                    .unwrap_or(&[]);
                let kall = ctx.kallsyms;
                let sym = |o: &mut String, a: u64, off: bool| match kall.lookup(a) {
                    Some(h) if a != 0 => {
                        o.push_str(h.name);
                        if off {
                            let _ = write!(o, "+0x{:x}/0x{:x}", h.offset, h.size);
                        }
                    }
                    _ => {
                        let _ = write!(o, "0x{a:x}");
                    }
                };
                bprint(out, pieces, buf, rec.endian, ctx.registry.long_size(), &sym);
                true
            }
            "kernel_stack" => {
                out.push_str("<stack trace>\n");
                let Some(f) = ev.field("caller") else {
                    return true;
                };
                let end = rec.payload.len();
                let mut off = f.offset;
                while off + long <= end {
                    let Some(ip) = rec.endian.read_uint(rec.payload, off, long) else {
                        break;
                    };
                    let all_ones = if long == 8 {
                        u64::MAX
                    } else {
                        u64::from(u32::MAX)
                    };
                    if ip == all_ones {
                        break;
                    }
                    out.push_str(" => ");
                    self.sym(ctx, out, ip);
                    out.push('\n');
                    off += long;
                }
                true
            }
            "user_stack" => {
                out.push_str("<user stack trace>\n");
                let Some(f) = ev.field("caller") else {
                    return true;
                };
                let n = match f.kind {
                    FieldKind::Array { len, .. } => len,
                    _ => 8,
                };
                for i in 0..n {
                    let Some(ip) = rec.endian.read_uint(rec.payload, f.offset + i * long, long)
                    else {
                        break;
                    };
                    if ip == 0 {
                        break;
                    }
                    let _ = writeln!(out, " =>  <{ip:016x}>");
                }
                true
            }
            "raw_data" => {
                let id = u("id").unwrap_or(0);
                let _ = write!(out, "# {id:x} buf:");
                if let Some(f) = ev.field("buf") {
                    for b in rec.payload.get(f.offset..).unwrap_or(&[]) {
                        let _ = write!(out, " {b:02x}");
                    }
                }
                out.push('\n');
                true
            }
            "function" => {
                let ip = u("ip").unwrap_or(0);
                let parent = u("parent_ip").unwrap_or(0);
                if self.opts.raw {
                    let _ = writeln!(out, "{ip:x} {parent:x}");
                    return true;
                }
                self.sym(ctx, out, ip);
                if self.opts.print_parent {
                    out.push_str(" <-");
                    self.sym(ctx, out, parent);
                }
                out.push('\n');
                true
            }
            "context_switch" | "wakeup" => {
                let g = |n: &str| ev.field(n).and_then(|f| rec.field_i64(f)).unwrap_or(0);
                let state = |s: i64| -> char {
                    b"RSDTtXZPI"
                        .get(usize::try_from(s).unwrap_or(usize::MAX))
                        .map(|&c| c as char)
                        .unwrap_or('?')
                };
                let next_pid = g("next_pid") as i32;
                let _ = writeln!(
                    out,
                    " {:7}:{:3}:{} {} [{:03}] {:7}:{:3}:{} {}",
                    g("prev_pid"),
                    g("prev_prio"),
                    state(g("prev_state")),
                    if ev.name == "wakeup" { "  +" } else { "==>" },
                    g("next_cpu"),
                    next_pid,
                    g("next_prio"),
                    state(g("next_state")),
                    ctx.comm(next_pid)
                );
                true
            }
            _ => false,
        }
    }

    /// The kernel's own syscall printers (`print_syscall_enter`/`_exit`):
    /// `sys_NAME(arg: val, ...)` and `sys_NAME -> 0xRET`, appended to the line.
    /// Returns false for other events of the `syscalls` system. The layout
    /// of each event is worked out once and cached by event id.
    fn syscall(&mut self, ev: &EventFormat, rec: &Record<'_>, out: &mut Vec<u8>) -> bool {
        let idx = usize::from(rec.id);
        let cached = matches!(self.sys_plans.get(idx), Some(Some(p)) if p.name == ev.name);
        if !cached {
            if self.sys_plans.len() <= idx {
                self.sys_plans.resize(idx + 1, None);
            }
            if let Some(slot) = self.sys_plans.get_mut(idx) {
                *slot = Some(Box::new(SysPlan::new(ev)));
            }
        }
        let Some(Some(plan)) = self.sys_plans.get(idx) else {
            return false;
        };
        let p = rec.payload;
        match &plan.kind {
            SysKind::Enter(args) => {
                out.extend_from_slice(&plan.head);
                for (prefix, off, size) in args {
                    out.extend_from_slice(prefix);
                    let v = rec.endian.read_field(p, *off, *size).unwrap_or(0);
                    match self.opts.syscall_style {
                        SyscallStyle::Mixed if v < 10 => out.push(b'0' + v as u8),
                        SyscallStyle::Mixed => {
                            out.extend_from_slice(b"0x");
                            push_hex_bytes(out, v, false);
                        }
                        SyscallStyle::Hex => push_hex_bytes(out, v, false),
                    }
                }
                out.extend_from_slice(b")\n");
                true
            }
            SysKind::Exit(ret) => {
                out.extend_from_slice(&plan.head);
                let v = ret
                    .and_then(|(off, size)| rec.endian.read_field(p, off, size))
                    .unwrap_or(0);
                push_hex_bytes(out, v, false);
                out.push(b'\n');
                true
            }
            SysKind::Other => false,
        }
    }

    fn fields_body(&self, ctx: &Context<'_>, ev: &EventFormat, rec: &Record<'_>, out: &mut String) {
        if ev.system == "ftrace" {
            let _ = writeln!(out, "UNKNOWN TYPE {}", ev.id);
            return;
        }
        let _ = write!(out, "{}:", ev.name);
        if ev.fields.is_empty() {
            out.push_str("No fields found\n");
            return;
        }
        let ent = rec.payload.len();
        let sym_fields = ev
            .print_fmt
            .as_ref()
            .map(|p| p.symbol_fields())
            .unwrap_or_default();
        for (idx, f) in ev.fields.iter().enumerate() {
            let _ = write!(out, " {}=", f.name);
            if f.offset + f.size > ent {
                out.push_str("<OVERFLOW>");
                continue;
            }
            let is_char = f.type_name.contains("char");
            match f.kind {
                FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } => {
                    let Some(b) = rec.field_bytes(f) else {
                        out.push_str("<OVERFLOW>");
                        continue;
                    };
                    if is_char {
                        push_cstr(out, b);
                    } else if f.type_name.contains("cpumask_t") {
                        out.push_str("<INVALID-TYPE>");
                    } else {
                        for (i, x) in b.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            let _ = write!(out, "{x:02x}");
                        }
                    }
                }
                FieldKind::Array { .. } | FieldKind::FlexArray { .. } if is_char => {
                    push_cstr(out, rec.field_bytes(f).unwrap_or(&[]));
                }
                _ if f.kind == FieldKind::Pointer
                    && matches!(f.type_name.as_str(), "char *" | "const char *") =>
                {
                    // 6.18 prints the address of the field inside the ring buffer
                    // here, which user space cannot know; print the pointer value.
                    let v = rec.field_u64(f).unwrap_or(0);
                    let _ = write!(out, "(0x{v:016x})");
                }
                _ if sym_fields.contains(&idx) && matches!(f.size, 4 | 8) => {
                    // FILTER_TRACE_FN: "%pS (%d)"
                    let v = rec.field_u64(f).unwrap_or(0);
                    match ctx.kallsyms.lookup(v) {
                        Some(h) if v != 0 => {
                            let _ = write!(out, "{}+0x{:x}/0x{:x}", h.name, h.offset, h.size);
                            if let Some(m) = h.module {
                                let _ = write!(out, " [{m}]");
                            }
                        }
                        _ => {
                            let _ = write!(out, "0x{v:x}");
                        }
                    }
                    let _ = write!(out, " ({})", v as u32 as i32);
                }
                _ => {
                    let v = rec.endian.read_uint(rec.payload, f.offset, f.size);
                    match (f.size, v) {
                        (1, Some(v)) => {
                            let c = v as u8;
                            if (0x20..0x7f).contains(&c) {
                                let _ = write!(out, "'{}'", c as char);
                            }
                            let _ = write!(out, "({c})");
                        }
                        (2, Some(v)) => {
                            let _ = write!(out, "0x{v:x} ({v})");
                        }
                        (4, Some(v)) => {
                            let _ = write!(out, "0x{v:x} ({})", v as u32 as i32);
                        }
                        (8, Some(v)) => {
                            let _ = write!(out, "0x{v:x} ({})", v as i64);
                        }
                        _ => out.push_str("<INVALID-SIZE>"),
                    }
                }
            }
        }
        out.push('\n');
    }
}

/// Writes libtraceevent-style ` name=value` pairs for every event field
/// (the fallback when a print fmt cannot be evaluated).
pub fn write_raw_fields(ev: &EventFormat, rec: &Record<'_>, out: &mut String) {
    for f in &ev.fields {
        let _ = write!(out, " {}=", f.name);
        match f.kind {
            FieldKind::Int | FieldKind::Pointer => {
                let Some(v) = rec.field_u64(f) else {
                    out.push_str("<OVERFLOW>");
                    continue;
                };
                if f.kind == FieldKind::Pointer {
                    let _ = write!(out, "0x{v:x}");
                } else if f.signed {
                    let _ = write!(out, "{}", crate::bytes::sign_extend(v, f.size));
                } else {
                    let _ = write!(out, "{v}");
                }
            }
            _ => {
                let Some(b) = rec.field_bytes(f) else {
                    out.push_str("<OVERFLOW>");
                    continue;
                };
                let text = b.split(|&c| c == 0).next().unwrap_or(&[]);
                if f.is_char()
                    && !text.is_empty()
                    && text.iter().all(|c| c.is_ascii_graphic() || *c == b' ')
                {
                    push_cstr(out, text);
                } else {
                    out.push_str("ARRAY[");
                    for (i, x) in b.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        let _ = write!(out, "{x:02x}");
                    }
                    out.push(']');
                }
            }
        }
    }
}

impl KernelTextRenderer {
    /// Renders one record like [`Renderer::render`], appending the line's
    /// bytes to `out` as the kernel writes them: a comm or string argument
    /// that is not UTF-8 is copied as is (the `String` form replaces it).
    /// This is the fast path for output that goes straight to a file.
    pub fn render_bytes(
        &mut self,
        ctx: &Context<'_>,
        rec: &Record<'_>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(ev) = ctx.registry.get(rec.id) else {
            return Err(Error::UnknownEvent {
                cpu: rec.cpu,
                offset: rec.offset,
                id: u32::from(rec.id),
            });
        };
        let ev: &EventFormat = ev;
        if !self.opts.hex && !self.opts.raw {
            if self.opts.context_info {
                self.context(ctx, rec, out);
            } else if ev.system == "ftrace" && ev.name == "raw_data" {
                // observed on 6.18: without context-info the kernel prints nothing for raw_data
                return Ok(());
            }
            if !self.opts.fields && ev.system == "syscalls" && self.syscall(ev, rec, out) {
                return Ok(());
            }
            // Common case: the print fmt, formatted straight into `out`.
            let special = self.opts.fields || ev.system == "ftrace" || ev.system == "syscalls";
            if let (false, Ok(fmt)) = (special, &ev.print_fmt) {
                let context_len = out.len();
                out.extend_from_slice(ev.name.as_bytes());
                out.extend_from_slice(b": ");
                let r = self
                    .evaluator
                    .write_bytes(fmt, ev, rec.payload, &ctx.env(), out);
                if r.is_ok() {
                    out.push(b'\n');
                    return Ok(());
                }
                // Print fmt failed: the general path below reports it.
                out.truncate(context_len);
            }
        }
        let mut body = String::new();
        self.render_body(ctx, ev, rec, &mut body);
        out.extend_from_slice(body.as_bytes());
        Ok(())
    }

    /// The uncommon layouts (hex, raw, fields, ftrace's own events, print
    /// fmt failures) into a `String`; the context prefix is already written
    /// unless hex or raw.
    fn render_body(
        &mut self,
        ctx: &Context<'_>,
        ev: &EventFormat,
        rec: &Record<'_>,
        out: &mut String,
    ) {
        if self.opts.hex {
            if self.opts.context_info {
                hex_field(out, u64::from(rec.pid() as u32), 4);
                hex_field(out, u64::from(rec.cpu), 4);
                hex_field(out, rec.ts, 8);
            }
            let _ = writeln!(out, "type: {}", rec.id);
            out.push('\n');
            return;
        }
        if self.opts.raw {
            if self.opts.context_info {
                let _ = write!(out, "{} {} {} ", rec.pid(), rec.cpu, rec.ts);
            }
            if ev.system == "ftrace"
                && matches!(
                    ev.name.as_str(),
                    "print" | "bprint" | "raw_data" | "function" | "bputs"
                )
            {
                self.ftrace_event(ctx, ev, rec, out);
                return;
            }
            let _ = writeln!(out, "type: {}", rec.id);
            return;
        }
        if self.opts.fields {
            self.fields_body(ctx, ev, rec, out);
            return;
        }
        if ev.system == "ftrace" && self.ftrace_event(ctx, ev, rec, out) {
            return;
        }
        out.push_str(&ev.name);
        out.push_str(": ");
        if let Err(e) = format_print_fmt(ev, &mut self.evaluator, ctx, rec, out) {
            self.fallbacks += 1;
            self.last_fallback = Some(format!("{}:{}: {e}", ev.system, ev.name));
            out.push_str("[FAILED TO PARSE]");
            write_raw_fields(ev, rec, out);
        }
        out.push('\n');
    }
}

impl Renderer for KernelTextRenderer {
    fn render(&mut self, ctx: &Context<'_>, rec: &Record<'_>, out: &mut String) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.reserve(512);
        let r = self.render_bytes(ctx, rec, &mut line);
        push_utf8(out, &line);
        self.line = line;
        r
    }

    fn render_lost(&mut self, cpu: u32, missed: Missed, out: &mut String) {
        match missed {
            Missed::None => {}
            Missed::Unknown => {
                let _ = writeln!(out, "CPU:{cpu} [LOST EVENTS]");
            }
            Missed::Count(n) => {
                let _ = writeln!(out, "CPU:{cpu} [LOST {n} EVENTS]");
            }
        }
    }
}

fn hex_field(out: &mut String, v: u64, bytes: usize) {
    let _ = write!(out, "{:0w$x} ", v, w = bytes * 2);
}

#[inline]
fn ns2usecs(ns: u64) -> u64 {
    ns.wrapping_add(500) / 1000
}

fn find_mark(d: u64) -> char {
    const MARKS: [(u64, char); 6] = [
        (1_000_000_000, '$'),
        (100_000_000, '@'),
        (10_000_000, '*'),
        (1_000_000, '#'),
        (100_000, '!'),
        (10_000, '+'),
    ];
    MARKS
        .iter()
        .find(|(v, _)| d > *v)
        .map(|m| m.1)
        .unwrap_or(' ')
}

/// The default context prefix `"%16s-%-7d [%03d] %c%c%c%c%c %5lu.%06lu: "`
/// assembled in one fixed-size block: `comm` ASCII of at most 16 bytes, pid
/// below 10^7, cpu below 1000, `secs` below 10^5.
#[inline]
fn fast_context(out: &mut Vec<u8>, comm: &str, pid: u32, rec: &Record<'_>, secs: u32, usec: u32) {
    // Written in place: assembling the line on the stack and copying it
    // stalled on store forwarding.
    let start = out.len();
    out.resize(start + 51, b' ');
    let Some(h) = out.get_mut(start..start + 51) else {
        return;
    };
    let c = comm.as_bytes();
    if let Some(d) = h.get_mut(16 - c.len().min(16)..16) {
        d.copy_from_slice(c.get(..d.len()).unwrap_or(&[]));
    }
    h[16] = b'-';
    h[17..25].copy_from_slice(&left8(pid));
    h[24] = b' ';
    let cpu = rec.cpu;
    let [c1, c2] = pair(cpu % 100);
    h[25..31].copy_from_slice(&[b'[', b'0' + (cpu / 100) as u8, c1, c2, b']', b' ']);
    let f = LAT_FLAGS
        .get(usize::from(rec.flags()))
        .copied()
        .unwrap_or([b'.'; 3]);
    let pc = rec.preempt_count();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (lo, hi) = (pc & 0xf, pc >> 4);
    h[31..36].copy_from_slice(&[
        f[0],
        f[1],
        f[2],
        if lo != 0 { HEX[lo as usize] } else { b'.' },
        if hi != 0 { HEX[hi as usize] } else { b'.' },
    ]);
    // h[36] = ' '
    h[37..42].copy_from_slice(&right8(secs)[3..]);
    h[42] = b'.';
    let [u1, u2] = pair(usec / 10_000);
    let [u3, u4] = pair(usec / 100 % 100);
    let [u5, u6] = pair(usec % 100);
    h[43..51].copy_from_slice(&[u1, u2, u3, u4, u5, u6, b':', b' ']);
}

/// The 8 decimal digits of `v` (below 10^8), zero-padded.
#[inline]
fn digits8(v: u32) -> u64 {
    let [a, b] = pair(v / 1_000_000);
    let [c, d] = pair(v / 10_000 % 100);
    let [e, f] = pair(v / 100 % 100);
    let [g, h] = pair(v % 100);
    u64::from_be_bytes([a, b, c, d, e, f, g, h])
}

/// Number of decimal digits of `v` (below 10^8).
#[inline]
fn digits_of(v: u32) -> u32 {
    1 + u32::from(v >= 10)
        + u32::from(v >= 100)
        + u32::from(v >= 1_000)
        + u32::from(v >= 10_000)
        + u32::from(v >= 100_000)
        + u32::from(v >= 1_000_000)
        + u32::from(v >= 10_000_000)
}

const SPACES8: u64 = 0x2020_2020_2020_2020;

/// `v` (below 10^7) left-aligned in 8 bytes, padded with spaces (`%-8u`).
#[inline]
fn left8(v: u32) -> [u8; 8] {
    let pad = 8 * (8 - digits_of(v)); // 8..=56 bits for v below 10^7
    let low = (1u64 << pad) - 1;
    ((digits8(v) << pad) | (SPACES8 & low)).to_be_bytes()
}

/// `v` (below 10^8) right-aligned in 8 bytes, padded with spaces (`%8u`).
#[inline]
fn right8(v: u32) -> [u8; 8] {
    let pad = 8 * (8 - digits_of(v)); // 0..=56 bits
    let high = !(u64::MAX.checked_shr(pad).unwrap_or(0));
    ((digits8(v) & !high) | (SPACES8 & high)).to_be_bytes()
}

/// The five irq-info characters (`trace_print_lat_fmt`).
#[inline]
pub(crate) fn lat_flags(out: &mut Vec<u8>, flags: u8, pc: u8) {
    let f = LAT_FLAGS
        .get(usize::from(flags))
        .copied()
        .unwrap_or([b'.'; 3]);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let lo = pc & 0xf;
    let hi = pc >> 4;
    out.extend_from_slice(&[
        f[0],
        f[1],
        f[2],
        if lo != 0 { HEX[lo as usize] } else { b'.' },
        if hi != 0 { HEX[hi as usize] } else { b'.' },
    ]);
}

/// The irq-off, need-resched and hard/soft-irq characters for every
/// `common_flags` value.
static LAT_FLAGS: [[u8; 3]; 256] = {
    let mut t = [[b'.'; 3]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = lat_flag_chars(i as u8);
        i += 1;
    }
    t
};

const fn lat_flag_chars(flags: u8) -> [u8; 3] {
    let nmi = flags & tf::NMI != 0;
    let hard = flags & tf::HARDIRQ != 0;
    let soft = flags & tf::SOFTIRQ != 0;
    let bh = flags & tf::BH_OFF != 0;
    let irqs = flags & tf::IRQS_OFF != 0;
    let a = if irqs && bh {
        b'D'
    } else if irqs {
        b'd'
    } else if bh {
        b'b'
    } else {
        b'.'
    };
    let nr = flags & tf::NEED_RESCHED != 0;
    let lazy = flags & tf::NEED_RESCHED_LAZY != 0;
    let pr = flags & tf::PREEMPT_RESCHED != 0;
    let b = match (nr, lazy, pr) {
        (true, true, true) => b'B',
        (true, false, true) => b'N',
        (false, true, true) => b'L',
        (true, true, false) => b'b',
        (true, false, false) => b'n',
        (false, false, true) => b'p',
        (false, true, false) => b'l',
        _ => b'.',
    };
    let c = if nmi && hard {
        b'Z'
    } else if nmi {
        b'z'
    } else if hard && soft {
        b'H'
    } else if hard {
        b'h'
    } else if soft {
        b's'
    } else {
        b'.'
    };
    [a, b, c]
}

const SPACES: &[u8; 32] = b"                                ";

fn pad_left(out: &mut Vec<u8>, s: &str, w: usize) {
    // chars = bytes that are not UTF-8 continuation bytes
    let n = s.bytes().filter(|&b| (b as i8) >= -0x40).count();
    push_spaces(out, w.saturating_sub(n));
    out.extend_from_slice(s.as_bytes());
}

fn pad_right(out: &mut Vec<u8>, s: &str, w: usize) {
    out.extend_from_slice(s.as_bytes());
    push_spaces(out, w.saturating_sub(s.len()));
}

#[inline]
fn push_spaces(out: &mut Vec<u8>, n: usize) {
    // whole blocks of spaces, cut back to `n`
    let end = out.len() + n;
    let mut left = n;
    while left > 0 {
        out.extend_from_slice(SPACES);
        left = left.saturating_sub(SPACES.len());
    }
    out.truncate(end);
}

fn push_cstr(out: &mut String, b: &[u8]) {
    let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}
