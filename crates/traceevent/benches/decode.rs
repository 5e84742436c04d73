//! Decode + render throughput: synthetic 4 KiB sub-buffers full of
//! `sched_switch` events (format of kernel 6.18, `benches/sched_switch.format`)
//! are split into records and rendered as the kernel's `trace` text into a
//! reusable `String` sink, on one thread. Prints events/s (median of 7 runs).
//!
//! Run: `cargo bench -p tracekit-traceevent --bench decode`

use std::time::Instant;
use tracekit_traceevent::*;

const FORMAT: &str = include_str!("sched_switch.format");
const PAGE: usize = 4096;

fn build_pages(n_pages: usize) -> (Vec<u8>, usize) {
    let comms: [&[u8]; 4] = [b"bash", b"kworker/0:1", b"swapper/0", b"systemd-journal"];
    let mut data = Vec::with_capacity(n_pages * PAGE);
    let mut events = 0;
    let mut ts = 1_000_000_000u64;
    for p in 0..n_pages {
        let mut page = vec![0u8; PAGE];
        page[0..8].copy_from_slice(&ts.to_le_bytes());
        let mut off = 16;
        let mut i = 0usize;
        while off + 4 + 64 <= PAGE {
            let delta = 1000 + (i as u32 % 7) * 13;
            ts += u64::from(delta);
            let hdr = 16u32 | (delta << 5); // type_len 16 = 64-byte payload
            page[off..off + 4].copy_from_slice(&hdr.to_le_bytes());
            let r = &mut page[off + 4..off + 68];
            r[0..2].copy_from_slice(&372u16.to_le_bytes());
            r[2] = u8::from(i.is_multiple_of(3));
            r[3] = (i % 3) as u8;
            let pid = 1000 + ((p * 64 + i) % 50) as i32;
            r[4..8].copy_from_slice(&pid.to_le_bytes());
            let c = comms[i % 4];
            r[8..8 + c.len()].copy_from_slice(c);
            r[24..28].copy_from_slice(&pid.to_le_bytes());
            r[28..32].copy_from_slice(&120i32.to_le_bytes());
            let state: i64 = [0, 1, 2, 0x100][i % 4];
            r[32..40].copy_from_slice(&state.to_le_bytes());
            let c2 = comms[(i + 1) % 4];
            r[40..40 + c2.len()].copy_from_slice(c2);
            r[56..60].copy_from_slice(&(pid + 1).to_le_bytes());
            r[60..64].copy_from_slice(&120i32.to_le_bytes());
            off += 68;
            i += 1;
            events += 1;
        }
        let commit = (off - 16) as u64;
        page[8..16].copy_from_slice(&commit.to_le_bytes());
        data.extend_from_slice(&page);
    }
    (data, events)
}

fn main() {
    let mut reg = EventRegistry::new(LongSize::Eight, Endian::Little);
    reg.add_format("sched", FORMAT)
        .expect("sched_switch format parses");
    let mut cmdlines = Cmdlines::new();
    for pid in 1000..1040 {
        cmdlines.insert(pid, "bench-task");
    }
    let ctx = Context::new(&reg).with_cmdlines(&cmdlines);
    let (data, events) = build_pages(2000);
    let mut renderer = KernelTextRenderer::default();
    let mut sink = String::with_capacity(PAGE * 4);
    let mut bytes = 0usize;
    {
        let sb = SubBuffer::parse(&data[..PAGE], LongSize::Eight, Endian::Little).expect("page");
        let mut s = String::new();
        for raw in sb.records().take(4) {
            let rec = Record::from_raw(raw.expect("record"), 0, Endian::Little).expect("record");
            renderer.render(&ctx, &rec, &mut s).expect("render");
        }
        print!("{s}");
        assert_eq!(
            renderer.fallback_count(),
            0,
            "{:?}",
            renderer.last_fallback_reason()
        );
    }
    let mut run = || {
        let t = Instant::now();
        for page in data.chunks(PAGE) {
            let sb = SubBuffer::parse(page, LongSize::Eight, Endian::Little).expect("page");
            for raw in sb.records() {
                let raw = raw.expect("record");
                let rec = Record::from_raw(raw, 0, Endian::Little).expect("record");
                renderer.render(&ctx, &rec, &mut sink).expect("render");
            }
            bytes += sink.len();
            sink.clear();
        }
        t.elapsed()
    };
    run(); // warm-up
    let mut rates: Vec<f64> = (0..7)
        .map(|_| events as f64 / run().as_secs_f64())
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    println!(
        "decode+render sched_switch (kernel text): {events} events/run, median {:.2} M events/s (min {:.2}, max {:.2}), {} bytes rendered",
        median / 1e6,
        rates[0] / 1e6,
        rates[rates.len() - 1] / 1e6,
        bytes
    );
    // decode only, for reference
    let t = Instant::now();
    let mut n = 0usize;
    for page in data.chunks(PAGE) {
        let sb = SubBuffer::parse(page, LongSize::Eight, Endian::Little).expect("page");
        for raw in sb.records() {
            let raw = raw.expect("record");
            n += usize::from(Record::from_raw(raw, 0, Endian::Little).expect("record").id);
        }
    }
    let e = t.elapsed();
    println!(
        "decode only: {:.2} M events/s ({n})",
        events as f64 / e.as_secs_f64() / 1e6
    );
}
