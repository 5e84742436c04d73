//! Counts records of a trace.dat (development aid).
fn main() {
    let p = std::env::args().nth(1).unwrap_or_default();
    let d = tracecmd::TraceDat::open(std::path::Path::new(&p)).unwrap();
    println!(
        "v{} cpus={} clock={} bufs={:?}",
        d.version,
        d.cpus,
        d.trace_clock,
        d.buffers
            .iter()
            .map(|b| (&b.name, b.cpus.len(), b.compressed))
            .collect::<Vec<_>>()
    );
    let mut m = tracecmd::Merge::for_file(&d, Default::default(), |_, _| true);
    let mut n = 0;
    while m.advance() {
        n += 1;
    }
    println!(
        "records={n} errors={:?} warn={:?}",
        m.errors,
        m.warnings().collect::<Vec<_>>()
    );
}
