//! `tracekit check`: the capability report.

use anyhow::Result;
use comfy_table::{presets::UTF8_BORDERS_ONLY, ContentArrangement, Table};
use tracefs::capabilities::{self, Availability};

use crate::cli::{CheckArgs, GlobalArgs};
use crate::context::Ctx;

pub fn run(g: &GlobalArgs, a: &CheckArgs) -> Result<()> {
    let ctx = Ctx::open(g)?;
    let caps = capabilities::probe(&ctx.tfs);
    ctx.finish(false)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&caps)?)?;
        return Ok(());
    }
    outln!("kernel {}  tracefs {}", caps.kernel, caps.tracefs)?;
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["feature", "available", "why", "fallback"]);
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        // Piped: $COLUMNS when the shell exports it, else 100 columns.
        let cols = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| *c >= 40)
            .unwrap_or(100);
        t.set_width(cols);
    }
    let mut last = "";
    for c in &caps.features {
        if c.category != last {
            t.add_row(vec![
                format!("[{}]", c.category),
                String::new(),
                String::new(),
                String::new(),
            ]);
            last = c.category;
        }
        let mut why = c.detail.clone();
        if c.available != Availability::Yes {
            if let Some(cfg) = &c.config {
                why.push_str(&format!(" ({cfg})"));
            }
        }
        t.add_row(vec![
            format!("  {}", c.name),
            c.available.word().to_string(),
            why,
            c.fallback.clone().unwrap_or_default(),
        ]);
    }
    outln!("{t}")?;
    Ok(())
}
