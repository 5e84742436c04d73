//! Rendering of decoded records. [`Renderer`] is the one interface every output
//! family implements (the kernel's `trace` text here; trace-cmd `report` and
//! others in later crates/issues); [`Context`] bundles the tables a renderer
//! may consult. The structured (serde) form lives in [`structured`].

mod bprint;
mod kernel;
pub mod structured;

pub use kernel::{ClockKind, KernelTextOptions, KernelTextRenderer, SyscallStyle};

use crate::error::Result;
use crate::printfmt::{EvalError, Evaluator};
use crate::record::Record;
use crate::registry::EventRegistry;
use crate::subbuf::Missed;
use crate::symbols::{Cmdlines, Kallsyms, PrintkFormats};
use crate::{format::EventFormat, printfmt};
use std::sync::LazyLock;

static EMPTY_KALLSYMS: LazyLock<Kallsyms> = LazyLock::new(Kallsyms::new);
static EMPTY_PRINTK: LazyLock<PrintkFormats> = LazyLock::new(PrintkFormats::new);
static EMPTY_CMDLINES: LazyLock<Cmdlines> = LazyLock::new(Cmdlines::new);

/// The tables a renderer consults: formats, symbols, printk strings, comms.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Event formats.
    pub registry: &'a EventRegistry,
    /// Kernel symbols for `%pS`/`%ps` and function events.
    pub kallsyms: &'a Kallsyms,
    /// `printk_formats` for `bprint`/`bputs` and `%s` on constant pointers.
    pub printk_formats: &'a PrintkFormats,
    /// pid → comm/tgid.
    pub cmdlines: &'a Cmdlines,
}

impl<'a> Context<'a> {
    /// A context with empty symbol, printk and cmdline tables.
    pub fn new(registry: &'a EventRegistry) -> Self {
        Context {
            registry,
            kallsyms: &EMPTY_KALLSYMS,
            printk_formats: &EMPTY_PRINTK,
            cmdlines: &EMPTY_CMDLINES,
        }
    }

    /// Uses this kallsyms table.
    pub fn with_kallsyms(mut self, k: &'a Kallsyms) -> Self {
        self.kallsyms = k;
        self
    }

    /// Uses this printk_formats table.
    pub fn with_printk_formats(mut self, p: &'a PrintkFormats) -> Self {
        self.printk_formats = p;
        self
    }

    /// Uses this cmdline table.
    pub fn with_cmdlines(mut self, c: &'a Cmdlines) -> Self {
        self.cmdlines = c;
        self
    }

    pub(crate) fn env(&self) -> printfmt::eval_env::Env<'a> {
        printfmt::eval_env::Env {
            endian: self.registry.endian(),
            long_size: self.registry.long_size(),
            kallsyms: self.kallsyms,
            printk: self.printk_formats,
        }
    }

    /// The comm the kernel's `trace` would show for `pid`
    /// (`<idle>` for 0, `<...>` when not cached).
    pub fn comm(&self, pid: i32) -> &'a str {
        if pid == 0 {
            return "<idle>";
        }
        if pid < 0 {
            return "<XXX>";
        }
        self.cmdlines.comm(pid).unwrap_or("<...>")
    }
}

/// Renders records into text. Implementations append complete output
/// (including the trailing newline) for one record to `out`.
pub trait Renderer {
    /// Appends the rendering of `record`. On error nothing useful was
    /// appended for this record and the caller should count and report it.
    fn render(&mut self, ctx: &Context<'_>, record: &Record<'_>, out: &mut String) -> Result<()>;

    /// Appends the notice for events lost before a sub-buffer of `cpu`.
    /// (Default: no notice.)
    fn render_lost(&mut self, _cpu: u32, _missed: Missed, _out: &mut String) {}
}

/// Formats the event's print fmt for `record` into `out` (no trailing newline).
/// On failure `out` is left as it was and the reason is returned.
pub(crate) fn format_print_fmt(
    ev: &EventFormat,
    evaluator: &mut Evaluator,
    ctx: &Context<'_>,
    record: &Record<'_>,
    out: &mut String,
) -> std::result::Result<(), EvalError> {
    let start = out.len();
    let fmt = match &ev.print_fmt {
        Ok(f) => f,
        Err(e) => {
            return Err(EvalError::Unsupported(format!("{e}").into()));
        }
    };
    let r = evaluator.write(fmt, ev, record.payload, &ctx.env(), out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}
