//! Writes small trace.dat seeds for the `tracedat` fuzz target (v6, v7
//! uncompressed, v7 zstd; two buffers each): this machine's event formats
//! (tracefs), a few kallsyms/cmdline lines and the first pages of each CPU
//! of an uncompressed trace.dat recorded on the same kernel.
//!
//! `cargo run -p tracekit-tracecmd --example fuzz_seeds -- OUT_DIR SRC.dat`
//! (e.g. `../shared/corpus/tracecmd/sched_v6.dat`; run as root).

use std::error::Error;
use std::path::{Path, PathBuf};
use tracecmd::writer::{BufferInput, Compression, Metadata, TraceDatWriter, WriterOptions};

/// Reads a tracefs file with large reads (some return short first reads).
fn read(p: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(p)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
}

fn formats(dir: &Path, names: &[&str]) -> Vec<Vec<u8>> {
    names
        .iter()
        .filter_map(|n| read(&dir.join(n).join("format")).ok())
        .collect()
}

fn head(text: &[u8], lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for l in text.split_inclusive(|&c| c == b'\n').take(lines) {
        out.extend_from_slice(l);
    }
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: fuzz_seeds OUT_DIR SRC.dat")?);
    let src = PathBuf::from(args.next().ok_or("usage: fuzz_seeds OUT_DIR SRC.dat")?);
    std::fs::create_dir_all(&out)?;
    let d = tracecmd::TraceDat::open(&src)?;
    let ev = Path::new("/sys/kernel/tracing/events");
    let meta = Metadata {
        header_page: read(&ev.join("header_page"))?,
        header_event: read(&ev.join("header_event"))?,
        ftrace_formats: formats(
            &ev.join("ftrace"),
            &["function", "print", "bprint", "kernel_stack", "raw_data"],
        ),
        systems: vec![
            (
                "sched".into(),
                formats(
                    &ev.join("sched"),
                    &[
                        "sched_switch",
                        "sched_wakeup",
                        "sched_waking",
                        "sched_process_exec",
                        "sched_migrate_task",
                    ],
                ),
            ),
            (
                "irq".into(),
                formats(&ev.join("irq"), &["irq_handler_entry", "softirq_entry"]),
            ),
        ],
        kallsyms: head(&d.kallsyms_text, 40),
        printk: head(&d.printk_text, 10),
        cmdlines: head(&d.cmdlines_text, 30),
        trace_clock: "[local] global counter uptime perf mono mono_raw boot tai x86-tsc\n".into(),
        uname: "Linux vm 6.18 x86_64".into(),
        version: "seed".into(),
        cpus: d.cpus,
        page_size: 4096,
        long_size: 8,
        date: None,
        proc_maps: None,
    };
    let tmp = out.join("pages.tmp");
    std::fs::create_dir_all(&tmp)?;
    let mut cpus = Vec::new();
    if let Some(b) = d.buffers.first() {
        for c in &b.cpus {
            let n = c.size.min(2 * 4096);
            let pages = d.source.read_vec(c.offset, n, "cpu data")?;
            let p = tmp.join(format!("cpu{}", c.cpu));
            std::fs::write(&p, pages)?;
            cpus.push((
                c.cpu,
                p,
                format!("CPU: {}\nentries: 1\noverrun: 0\n", c.cpu),
            ));
        }
    }
    let buffers = [
        BufferInput {
            name: String::new(),
            clock: "local".into(),
            subbuf_size: 4096,
            cpus: cpus.clone(),
            in_place: None,
        },
        BufferInput {
            name: "inst".into(),
            clock: "local".into(),
            subbuf_size: 4096,
            cpus,
            in_place: None,
        },
    ];
    for (version, compression, name) in [
        (6, Compression::None, "seed_v6.dat"),
        (7, Compression::None, "seed_v7_none.dat"),
        (7, Compression::Zstd, "seed_v7_zstd.dat"),
    ] {
        for nb in [1usize, 2] {
            let file = out.join(format!("{}{name}", if nb == 2 { "multi_" } else { "" }));
            let w = TraceDatWriter::create(
                &file,
                WriterOptions {
                    version,
                    compression,
                },
            )?;
            w.write(&meta, buffers.get(..nb).unwrap_or(&buffers))?;
            println!(
                "{} {} bytes",
                file.display(),
                std::fs::metadata(&file)?.len()
            );
        }
    }
    std::fs::remove_dir_all(&tmp)?;
    Ok(())
}
