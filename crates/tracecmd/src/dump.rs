//! `dump`: metadata views of a trace.dat file in the spirit of
//! `trace-cmd dump` (initial format, headers, formats, tables, options,
//! flyrecord layout, clock). The layout follows trace-cmd's, but is not yet
//! byte-identical to it for every item.

use crate::dat::{opt, TraceDat};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::PathBuf;

/// Which parts to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct DumpItems {
    /// `--summary`.
    pub summary: bool,
    /// `--head-page`.
    pub head_page: bool,
    /// `--head-event`.
    pub head_event: bool,
    /// `--ftrace-events`.
    pub ftrace_events: bool,
    /// `--systems`.
    pub systems: bool,
    /// `--events`.
    pub events: bool,
    /// `--kallsyms`.
    pub kallsyms: bool,
    /// `--printk`.
    pub printk: bool,
    /// `--cmd-lines`.
    pub cmd_lines: bool,
    /// `--options`.
    pub options: bool,
    /// `--flyrecord`.
    pub flyrecord: bool,
    /// `--clock`.
    pub clock: bool,
}

/// Options of `dump`.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// The file.
    pub file: PathBuf,
    /// What to print (nothing selected = summary).
    pub items: DumpItems,
}

fn w(out: &mut dyn Write, s: &str) -> Result<()> {
    out.write_all(s.as_bytes()).map_err(Error::Output)
}

/// Runs `dump`.
pub fn run(o: &DumpOptions, out: &mut dyn Write) -> Result<()> {
    let d = TraceDat::open(&o.file)?;
    let mut it = o.items;
    let any = it.head_page
        || it.head_event
        || it.ftrace_events
        || it.systems
        || it.events
        || it.kallsyms
        || it.printk
        || it.cmd_lines
        || it.options
        || it.flyrecord
        || it.clock;
    if !any {
        it.summary = true;
    }
    let name = o
        .file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    w(out, &format!("\n Tracing meta data in file {name}:\n"))?;
    if it.summary {
        w(out, "\t[Initial format]\n")?;
        w(out, &format!("\t\t{}\t[Version]\n", d.version))?;
        w(
            out,
            &format!(
                "\t\t{}\t[{} endian]\n",
                u8::from(d.endian == traceevent::Endian::Big),
                if d.endian == traceevent::Endian::Big {
                    "Big"
                } else {
                    "Little"
                }
            ),
        )?;
        w(
            out,
            &format!("\t\t{}\t[Bytes in a long]\n", d.long_size_header),
        )?;
        w(out, &format!("\t\t{}\t[Page size, bytes]\n", d.page_size))?;
        if d.version >= 7 {
            w(
                out,
                &format!("\t\t{}\t[Compression algorithm]\n", d.compression_text.0),
            )?;
            w(
                out,
                &format!("\t\t{}\t[Compression version]\n", d.compression_text.1),
            )?;
        }
        for b in &d.buffers {
            w(out, &format!("\t[buffer \"{}\", \"{}\" clock, {} page size, {} cpus, {} bytes flyrecord data]\n", b.name, b.clock, b.page_size, b.cpus.len(), b.cpus.iter().map(|c| c.size).sum::<u64>()))?;
        }
        w(out, &format!("\t[{} options]\n", d.options.len()))?;
        w(
            out,
            &format!("\t[Saved command lines, {} bytes]\n", d.cmdlines_text.len()),
        )?;
        w(
            out,
            &format!("\t[Trace printk, {} bytes]\n", d.printk_text.len()),
        )?;
        w(
            out,
            &format!("\t[Kallsyms, {} bytes]\n", d.kallsyms_text.len()),
        )?;
        w(
            out,
            &format!("\t[Events format, {} systems]\n", d.systems.len()),
        )?;
        w(
            out,
            &format!("\t[Ftrace format, {} events]\n", d.ftrace_format_count),
        )?;
    }
    if it.head_page {
        w(
            out,
            &format!(
                "\t[Header page, {} bytes]\n{}\n",
                d.header_page_text.len(),
                d.header_page_text
            ),
        )?;
    }
    if it.head_event {
        w(
            out,
            &format!(
                "\t[Header event, {} bytes]\n{}\n",
                d.header_event_text.len(),
                d.header_event_text
            ),
        )?;
    }
    if it.ftrace_events || it.events || it.systems {
        for ev in d.registry.iter() {
            let is_ftrace = ev.system == "ftrace";
            if (is_ftrace && it.ftrace_events) || (!is_ftrace && it.events) {
                w(
                    out,
                    &format!(
                        "\t[{}:{} id {}]\n\tprint fmt: {}\n",
                        ev.system, ev.name, ev.id, ev.print_fmt_text
                    ),
                )?;
            }
        }
        if it.systems {
            for (s, n) in &d.systems {
                w(out, &format!("\t\t{s}\t[system, {n} events]\n"))?;
            }
        }
    }
    if it.kallsyms {
        out.write_all(&d.kallsyms_text).map_err(Error::Output)?;
    }
    if it.printk {
        out.write_all(&d.printk_text).map_err(Error::Output)?;
    }
    if it.cmd_lines {
        out.write_all(&d.cmdlines_text).map_err(Error::Output)?;
    }
    if it.options {
        for o in &d.options {
            let name = opt::name(o.id)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}", o.id));
            w(
                out,
                &format!(
                    "\t\t[Option {}, {} bytes]\n",
                    name.replace('_', " "),
                    o.data.len()
                ),
            )?;
            if matches!(
                o.id,
                opt::TRACECLOCK
                    | opt::UNAME
                    | opt::VERSION
                    | opt::CPUSTAT
                    | opt::DATE
                    | opt::OFFSET
            ) {
                w(out, &format!("{}\n", crate::io::text(&o.data)))?;
            }
        }
    }
    if it.flyrecord {
        w(out, "\t[Flyrecord tracing data]\n")?;
        for b in &d.buffers {
            for c in &b.cpus {
                w(
                    out,
                    &format!(
                        "\t {:10} {:10}\t[offset, size of cpu {}]\n",
                        c.offset, c.size, c.cpu
                    ),
                )?;
            }
        }
    }
    if it.clock {
        w(
            out,
            &format!("\t[Tracing clock]\n\t\t[{}]\n", d.trace_clock),
        )?;
    }
    Ok(())
}
