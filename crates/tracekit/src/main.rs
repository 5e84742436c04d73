//! The `tracekit` binary: parses arguments and calls the libraries.
//!
//! Exit codes: 0 success, 1 error, 2 usage error (clap).

/// `println!` that returns the write error instead of panicking: a closed
/// pipe then ends the command quietly with status 0 (see `main`), a full
/// disk with a message.
macro_rules! outln {
    () => {
        $crate::out_write(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::out_write(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// `print!` counterpart of `outln!`.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::out_write(format_args!($($t)*))
    };
}

mod cli;
mod cmd;
mod context;
mod logger;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    logger::install();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let result = match &cli.command {
        Command::Check(a) => cmd::check::run(&cli.global, a),
        Command::List(a) => cmd::list::run(&cli.global, a),
        Command::Show(a) => cmd::show::run(&cli.global, a),
        Command::Status(a) => cmd::status::run(&cli.global, a),
        Command::Set(a) => {
            let sub = matches
                .subcommand_matches("set")
                .cloned()
                .unwrap_or_default();
            cmd::set::run(&cli.global, a, &sub)
        }
        Command::Reset(a) => cmd::reset::run(&cli.global, a),
        Command::Stream(a) => {
            let sub = matches
                .subcommand_matches("stream")
                .cloned()
                .unwrap_or_default();
            cmd::live::stream(&cli.global, a, &sub)
        }
        Command::Start(a) => {
            let sub = matches
                .subcommand_matches("start")
                .cloned()
                .unwrap_or_default();
            cmd::live::start(&cli.global, a, &sub)
        }
        Command::Stop(a) => cmd::live::stop(&cli.global, a),
        Command::Extract(a) => cmd::live::extract(&cli.global, a),
        Command::Clear(a) => cmd::live::clear(&cli.global, a),
        Command::Record(a) => {
            let sub = matches
                .subcommand_matches("record")
                .cloned()
                .unwrap_or_default();
            cmd::record::run(&cli.global, a, &sub)
        }
        Command::Report(a) => cmd::report::run(a),
        Command::Dump(a) => cmd::dump::run(a),
        Command::Probe(a) => cmd::probe::run(&cli.global, a),
        Command::Perf(a) => cmd::perf::run(&cli.global, a),
        Command::Profile(a) => cmd::profile::run(&cli.global, a),
        Command::Completions(a) => {
            let mut c = Cli::command();
            let mut buf = Vec::new();
            clap_complete::generate(a.shell, &mut c, "tracekit", &mut buf);
            std::io::stdout()
                .lock()
                .write_all(&buf)
                .and_then(|()| std::io::stdout().lock().flush())
                .map_err(anyhow::Error::from)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .map(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    .unwrap_or(false)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = std::io::stdout().flush();
            eprintln!("tracekit: error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout, returning the error (used by `outln!`/`out!`).
pub(crate) fn out_write(a: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    std::io::stdout().lock().write_fmt(a)
}

/// The error and its causes joined by `: `, skipping a cause whose text the
/// message before it already contains (library errors often print their
/// source too, which `{:#}` would repeat).
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if out.contains(&t) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&t);
    }
    out
}
