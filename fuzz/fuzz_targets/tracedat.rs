//! Fuzzes the trace.dat reader end to end: arbitrary bytes as a whole
//! trace.dat file (v6 or v7, any compression), then
//! - `dump --all` (trace-cmd's byte walk, every item), and
//! - metadata parsing + the k-way merge over every buffer/CPU + the
//!   trace-cmd renderer (default, and `-R`/`-N`/`-l`/`-t` picked by the
//!   first byte), all output to a sink.
//! Errors are fine; panics, hangs and unbounded allocations are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracecmd::dump::{dump_source, DumpItems};
use tracecmd::io::Source;
use tracecmd::render::{TepOptions, TepRenderer};
use tracecmd::{Merge, TraceDat, TsCalc};

/// Records rendered per input at most (keeps each run short).
const MAX_RECORDS: usize = 200_000;

fuzz_target!(|data: &[u8]| {
    let src = Source::Mem(data.to_vec().into());
    let all = DumpItems {
        all: true,
        validate: true,
        ..Default::default()
    };
    let _ = dump_source(&src, "fuzz.dat", &all, &mut std::io::sink());

    let Ok(dat) = TraceDat::from_source(src) else {
        return;
    };
    let base = TepOptions {
        in_usecs: dat.in_usecs,
        ..Default::default()
    };
    let sel = data.get(200).copied().unwrap_or(0);
    let other = TepOptions {
        raw: sel & 1 != 0,
        no_plugins: sel & 2 != 0,
        latency: sel & 4 != 0,
        nsec: sel & 8 != 0,
        ..base
    };
    for opts in [base, other] {
        let mut tep = TepRenderer::new(&dat, opts);
        let calc = TsCalc {
            tsc: dat.tsc2nsec.map(|(m, s, _)| (m, s)),
            offset: dat.offset_ns.wrapping_add(dat.date_offset_ns),
            raw: false,
        };
        let mut merge = Merge::for_file(&dat, calc, |_, b| !b.latency);
        let mut line = Vec::new();
        let mut n = 0;
        while n < MAX_RECORDS && merge.advance() {
            if let Some(e) = merge.event() {
                line.clear();
                tep.render(&e, &mut line);
            }
            n += 1;
        }
    }
});
