//! `tracekit show`: print `trace`, `snapshot`, or stream `trace_pipe`.

use std::io::{Read, Write};

use anyhow::{Context as _, Result};
use tracefs::Instance;

use crate::cli::{GlobalArgs, ShowArgs};
use crate::context::Ctx;

pub fn run(g: &GlobalArgs, a: &ShowArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let inst = Instance::open(&ctx.tfs, a.instance.as_deref())?;
    let file = if a.pipe {
        "trace_pipe"
    } else if a.snapshot {
        "snapshot"
    } else {
        "trace"
    };
    let path = inst.path(file);
    if a.pipe && (a.tc || a.format.is_some()) {
        use ::live::live::{self, StreamFormat};
        let format = match (a.tc, a.format.as_deref()) {
            (true, _) => StreamFormat::TraceCmd,
            (_, Some("json")) => StreamFormat::Json,
            (_, Some("text")) => StreamFormat::Kernel,
            (_, f) => anyhow::bail!("unknown format '{}' (text, json)", f.unwrap_or("")),
        };
        let stop = crate::cmd::record::stop_flag()?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let sum = live::pipe(
            &ctx.tfs,
            &inst,
            live::StreamOptions::new(format),
            stop,
            &mut out,
        )?;
        let _ = out.flush();
        for (cpu, n) in sum.lost {
            eprintln!("tracekit: CPU{cpu}: {n} events lost");
        }
        return Ok(());
    }
    if !a.pipe {
        let text = inst.read(file)?;
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(());
    }
    let mut f = std::fs::File::open(&path)
        .map_err(|e| ctx.tfs.classify(&path, e, true))
        .with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = std::io::stdout().lock();
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => break,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
    Ok(())
}
