//! Development aid: `report FILE [-t|-R|-N|-l|--stat|--cpus|--nodate]`.
fn main() {
    let mut a = std::env::args().skip(1);
    let p = a.next().unwrap_or_default();
    let mut o = tracecmd::report::ReportOptions {
        inputs: vec![p.into()],
        ..Default::default()
    };
    for x in a {
        match x.as_str() {
            "-t" => o.nsec = true,
            "-R" => o.raw = true,
            "-N" => o.no_plugins = true,
            "-l" => o.latency = true,
            "--stat" => o.mode = tracecmd::report::Mode::Stat,
            "--cpus" => o.mode = tracecmd::report::Mode::Cpus,
            "--nodate" => o.nodate = true,
            _ => {}
        }
    }
    let out = std::io::stdout();
    let mut l = out.lock();
    if let Err(e) = tracecmd::report::run(&o, &mut l, &mut std::io::stderr()) {
        eprintln!("error: {e}");
    }
}
