//! `perf script`: one text line (plus call-chain lines) per sample in perf
//! 6.1's layout, with `-F` field selection. Tracepoint payloads are rendered
//! from the formats stored in perf.data's tracing data by `traceevent`.

use std::fmt::Write as _;

use traceevent::{KernelTextOptions, KernelTextRenderer, Renderer};

use crate::attr::{sample, types};
use crate::data::{Feature, TracingData};
use crate::error::{Error, Result};
use crate::session::{Location, Machine, ResolvedSample, Session};

/// Output fields (`-F`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields {
    #[allow(missing_docs)]
    pub comm: bool,
    #[allow(missing_docs)]
    pub pid: bool,
    #[allow(missing_docs)]
    pub tid: bool,
    #[allow(missing_docs)]
    pub cpu: bool,
    #[allow(missing_docs)]
    pub time: bool,
    #[allow(missing_docs)]
    pub period: bool,
    #[allow(missing_docs)]
    pub event: bool,
    #[allow(missing_docs)]
    pub ip: bool,
    #[allow(missing_docs)]
    pub sym: bool,
    #[allow(missing_docs)]
    pub symoff: bool,
    #[allow(missing_docs)]
    pub dso: bool,
    #[allow(missing_docs)]
    pub trace: bool,
}

impl Fields {
    /// Parses `comm,pid,tid,…` (an optional `type:` prefix such as `sw:` is ignored).
    pub fn parse(s: &str) -> Result<Fields> {
        let s = s.split_once(':').map(|(_, r)| r).unwrap_or(s);
        let mut f = Fields::default();
        for p in s.split(',').filter(|p| !p.is_empty()) {
            match p.trim() {
                "comm" => f.comm = true,
                "pid" => f.pid = true,
                "tid" => f.tid = true,
                "cpu" => f.cpu = true,
                "time" => f.time = true,
                "period" => f.period = true,
                "event" => f.event = true,
                "ip" => f.ip = true,
                "sym" => f.sym = true,
                "symoff" => f.symoff = true,
                "dso" => f.dso = true,
                "trace" => f.trace = true,
                other => {
                    return Err(Error::BadArg {
                        what: "field",
                        value: other.into(),
                        why:
                            "supported: comm,pid,tid,cpu,time,period,event,ip,sym,symoff,dso,trace"
                                .into(),
                    })
                }
            }
        }
        Ok(f)
    }

    fn default_for(tracepoint: bool, has_cpu: bool) -> Fields {
        if tracepoint {
            Fields {
                comm: true,
                tid: true,
                cpu: has_cpu,
                time: true,
                event: true,
                trace: true,
                ..Default::default()
            }
        } else {
            Fields {
                comm: true,
                tid: true,
                cpu: has_cpu,
                time: true,
                period: true,
                event: true,
                ip: true,
                sym: true,
                symoff: true,
                dso: true,
                ..Default::default()
            }
        }
    }
}

fn sym_text(loc: &Location, symoff: bool) -> String {
    match &loc.sym {
        Some(s) if symoff => format!("{}+{:#x}", s.name, loc.addr.wrapping_sub(s.start)),
        Some(s) => s.name.clone(),
        None => "[unknown]".into(),
    }
}

/// Renders the whole file as `perf script` does.
pub fn run(session: &mut Session, fields: Option<Fields>) -> Result<String> {
    let names: Vec<String> = session.data.attrs.iter().map(|a| a.name.clone()).collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let attrs: Vec<crate::attr::Attr> = session.data.attrs.iter().map(|a| a.attr).collect();
    let td = session
        .data
        .feature(Feature::TracingData)
        .map(TracingData::parse)
        .transpose()?;
    let reg = td.as_ref().map(|t| t.registry());
    let mut renderer = KernelTextRenderer::new(KernelTextOptions {
        context_info: false,
        ..Default::default()
    });
    let mut out = String::new();
    session.for_each_sample(|m: &mut Machine, rs: ResolvedSample| {
        let Some(attr) = attrs.get(rs.event) else {
            return;
        };
        let tp = attr.type_ == types::TRACEPOINT;
        let f =
            fields.unwrap_or_else(|| Fields::default_for(tp, attr.sample_type & sample::CPU != 0));
        let s = &rs.sample;
        let chain = f.ip && attr.sample_type & sample::CALLCHAIN != 0;
        if f.comm {
            if chain {
                let _ = write!(out, "{} ", rs.comm);
            } else {
                let _ = write!(out, "{:>16} ", rs.comm);
            }
        }
        if f.pid && f.tid {
            let _ = write!(out, "{:>5}/{:<5} ", s.pid, s.tid);
        } else if f.pid {
            let _ = write!(out, "{:>5} ", s.pid);
        } else if f.tid {
            let _ = write!(out, "{:>5} ", s.tid);
        }
        if f.cpu {
            let _ = write!(out, "[{:03}] ", s.cpu);
        }
        if f.time {
            let _ = write!(
                out,
                "{:>5}.{:06}: ",
                s.time / 1_000_000_000,
                (s.time % 1_000_000_000) / 1000
            );
        }
        if f.period {
            let _ = write!(out, "{:>10} ", s.period);
        }
        if f.event {
            let name = names
                .get(rs.event)
                .map(|s| s.as_str())
                .unwrap_or("[unknown]");
            let _ = write!(out, "{name:>width$}: ");
        }
        if f.trace && tp {
            if let Some(reg) = &reg {
                out.push_str(&render_trace(&mut renderer, reg, names.get(rs.event), s));
            }
        }
        if chain {
            out.push('\n');
            for fr in &rs.chain {
                let l = &fr.loc;
                let user_mapped = l.dso.is_some() && !l.kernel;
                let addr = if user_mapped { l.addr } else { l.ip };
                let _ = write!(out, "\t{addr:>16x}");
                if f.sym {
                    let _ = write!(out, " {}", sym_text(l, f.symoff));
                }
                if f.dso {
                    let _ = write!(out, " ({})", m.dso_long(l.dso));
                }
                out.push('\n');
            }
        } else if f.ip {
            let _ = write!(out, " {:>16x}", s.ip);
            if f.sym {
                let _ = write!(out, " {}", sym_text(&rs.loc, f.symoff));
            }
            if f.dso {
                let _ = write!(out, " ({})", m.dso_long(rs.loc.dso));
            }
        }
        out.push('\n');
    })?;
    Ok(out)
}

fn render_trace(
    r: &mut KernelTextRenderer,
    reg: &traceevent::EventRegistry,
    name: Option<&String>,
    s: &crate::data::Sample,
) -> String {
    let Ok(rec) = traceevent::Record::new(s.time, s.cpu, &s.raw, 0, traceevent::Endian::Little)
    else {
        return String::new();
    };
    let ctx = traceevent::Context::new(reg);
    let mut text = String::new();
    if r.render(&ctx, &rec, &mut text).is_err() {
        return String::new();
    }
    let text = text.trim_end_matches('\n');
    let short = name
        .and_then(|n| n.split_once(':'))
        .map(|(_, e)| e)
        .unwrap_or("");
    let pat = format!("{short}: ");
    match text.find(&pat) {
        Some(i) => text[i + pat.len()..].to_string(),
        None => text.to_string(),
    }
}
