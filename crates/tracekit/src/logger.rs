//! The binary's logger: library warnings (`log::warn!`) reach stderr as
//! `tracekit: warning: …`. `TRACEKIT_LOG=info|debug|trace` shows more.

use std::io::Write;

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let level = match r.level() {
            log::Level::Error => "error",
            log::Level::Warn => "warning",
            log::Level::Info => "info",
            log::Level::Debug => "debug",
            log::Level::Trace => "trace",
        };
        // stderr may be closed; a lost warning must not end the program.
        let _ = writeln!(std::io::stderr().lock(), "tracekit: {level}: {}", r.args());
    }

    fn flush(&self) {}
}

/// Installs the logger (once, at start).
pub fn install() {
    let level = match std::env::var("TRACEKIT_LOG").ok().as_deref() {
        Some("error") => log::LevelFilter::Error,
        Some("info") => log::LevelFilter::Info,
        Some("debug") => log::LevelFilter::Debug,
        Some("trace") => log::LevelFilter::Trace,
        Some("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Warn,
    };
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
