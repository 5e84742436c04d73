//! Decode + render throughput: synthetic 4 KiB sub-buffers full of
//! `sched_switch` events (format of kernel 6.18, `benches/sched_switch.format`)
//! are split into records and rendered as the kernel's `trace` text into a
//! reused `String` sink, on one thread.
//!
//! The events vary like a busy system's: 2 CPUs, 400 tasks (one in ten not in
//! the cmdline cache, shown as `<...>`, and the idle task), 16 comms of 4 to
//! 15 characters, the common task states (`R`, `S`, `D`, `I`, `R+`, ...),
//! irq/need-resched flags and preempt counts, a 5-digit uptime.
//!
//! Prints the median (and min/max) events/s of 11 runs for decode+render and
//! for decode alone (sub-buffer split + `Record`), both per second of wall
//! time and per second of the thread's on-CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`, so time a shared machine gives to other
//! processes does not count; the two agree on an idle machine).
//!
//! Run: `cargo bench -p tracekit-traceevent --bench decode`

use std::time::Instant;
use tracekit_traceevent::*;

const FORMAT: &str = include_str!("sched_switch.format");
const PAGE: usize = 4096;
const PAGES: usize = 4000;
const RUNS: usize = 11;
const TASKS: u64 = 400;
const COMMS: [&[u8]; 16] = [
    b"bash",
    b"kworker/0:1",
    b"swapper/1",
    b"systemd-journal",
    b"sshd",
    b"rcu_preempt",
    b"kworker/u8:2",
    b"cc1plus",
    b"rustc",
    b"ksoftirqd/0",
    b"containerd",
    b"python3",
    b"Xorg",
    b"migration/1",
    b"jbd2/sda1-8",
    b"node",
];

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn task(n: u64) -> (i32, &'static [u8]) {
    if n == 0 {
        return (0, b"swapper/0");
    }
    (1000 + n as i32 * 7, COMMS[(n % 16) as usize])
}

/// Fills one page with sched_switch records; returns the number of events.
fn build_page(page: &mut [u8], ts: &mut u64, r: &mut Rng) -> usize {
    page.fill(0);
    page[0..8].copy_from_slice(&ts.to_le_bytes());
    let mut off = 16;
    let mut events = 0;
    while off + 4 + 64 <= PAGE {
        let delta = 500 + (r.next() % 20_000) as u32;
        *ts += u64::from(delta);
        let hdr = 16u32 | (delta << 5); // type_len 16 = 64-byte payload
        page[off..off + 4].copy_from_slice(&hdr.to_le_bytes());
        let rec = &mut page[off + 4..off + 68];
        let prev = task(r.next() % TASKS);
        let next = task(r.next() % TASKS);
        rec[0..2].copy_from_slice(&372u16.to_le_bytes());
        rec[2] = [0u8, 0, 0x01, 0x04, 0x05, 0x08][(r.next() % 6) as usize];
        rec[3] = [0u8, 0, 1, 2, 0x11][(r.next() % 5) as usize];
        rec[4..8].copy_from_slice(&prev.0.to_le_bytes());
        rec[8..8 + prev.1.len()].copy_from_slice(prev.1);
        rec[24..28].copy_from_slice(&prev.0.to_le_bytes());
        let prio: i32 = [120, 120, 120, 100, 139, 49][(r.next() % 6) as usize];
        rec[28..32].copy_from_slice(&prio.to_le_bytes());
        let state: i64 = [0, 1, 1, 1, 2, 0x80, 0x100, 0x101][(r.next() % 8) as usize];
        rec[32..40].copy_from_slice(&state.to_le_bytes());
        rec[40..40 + next.1.len()].copy_from_slice(next.1);
        rec[56..60].copy_from_slice(&next.0.to_le_bytes());
        rec[60..64].copy_from_slice(&120i32.to_le_bytes());
        off += 68;
        events += 1;
    }
    let commit = (off - 16) as u64;
    page[8..16].copy_from_slice(&commit.to_le_bytes());
    events
}

/// Pages alternate between CPU 0 and CPU 1.
fn build_pages() -> (Vec<u8>, usize) {
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    let mut data = vec![0u8; PAGES * PAGE];
    let mut ts = [12_345_678_901_234u64; 2];
    let mut events = 0;
    for (i, page) in data.chunks_mut(PAGE).enumerate() {
        events += build_page(page, &mut ts[i % 2], &mut r);
    }
    (data, events)
}

/// Nanoseconds this thread has run on a CPU (`CLOCK_THREAD_CPUTIME_ID`).
#[cfg(target_os = "linux")]
fn cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: std::ffi::c_long,
        tv_nsec: std::ffi::c_long,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let r = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (r == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn cpu_ns() -> Option<u64> {
    None
}

/// Runs `f` and returns (wall seconds, on-CPU seconds or wall seconds).
fn timed(mut f: impl FnMut()) -> (f64, f64) {
    let c0 = cpu_ns();
    let t = Instant::now();
    f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    (wall, cpu)
}

/// "median M events/s (min, max)" of events over each duration.
fn summary(events: usize, secs: &[f64]) -> String {
    let (med, min, max) = median(secs.iter().map(|s| events as f64 / s).collect());
    format!(
        "median {:.2} M events/s (min {:.2}, max {:.2})",
        med / 1e6,
        min / 1e6,
        max / 1e6
    )
}

fn median(mut rates: Vec<f64>) -> (f64, f64, f64) {
    rates.sort_by(|a, b| a.total_cmp(b));
    (rates[rates.len() / 2], rates[0], rates[rates.len() - 1])
}

fn main() {
    let mut reg = EventRegistry::new(LongSize::Eight, Endian::Little);
    reg.add_format("sched", FORMAT)
        .expect("sched_switch format parses");
    let mut cmdlines = Cmdlines::new();
    for n in 1..TASKS {
        if n % 10 != 3 {
            let (pid, comm) = task(n);
            cmdlines.insert(pid, std::str::from_utf8(comm).expect("ascii comm"));
        }
    }
    let ctx = Context::new(&reg).with_cmdlines(&cmdlines);
    let (data, events) = build_pages();
    let mut renderer = KernelTextRenderer::default();
    let mut sink = String::with_capacity(PAGE * 4);
    {
        let sb = SubBuffer::parse(&data[..PAGE], LongSize::Eight, Endian::Little).expect("page");
        let mut s = String::new();
        for raw in sb.records().take(4) {
            let rec = Record::from_raw(raw.expect("record"), 0, Endian::Little).expect("record");
            renderer.render(&ctx, &rec, &mut s).expect("render");
        }
        print!("{s}");
    }
    let mut bytes = 0usize;
    let mut run = || {
        timed(|| {
            for (i, page) in data.chunks(PAGE).enumerate() {
                let cpu = (i % 2) as u32;
                let sb = SubBuffer::parse(page, LongSize::Eight, Endian::Little).expect("page");
                for raw in sb.records() {
                    let raw = raw.expect("record");
                    let rec = Record::from_raw(raw, cpu, Endian::Little).expect("record");
                    renderer.render(&ctx, &rec, &mut sink).expect("render");
                }
                bytes = bytes.wrapping_add(sink.len());
                sink.clear();
            }
        })
    };
    run(); // warm-up
    let (wall, cpu): (Vec<f64>, Vec<f64>) = (0..RUNS).map(|_| run()).unzip();
    assert_eq!(
        renderer.fallback_count(),
        0,
        "{:?}",
        renderer.last_fallback_reason()
    );
    println!(
        "decode+render sched_switch (kernel text), {events} events/run, {RUNS} runs, {} bytes/run:",
        bytes / (RUNS + 1)
    );
    println!("  wall time:   {}", summary(events, &wall));
    println!("  on-CPU time: {}", summary(events, &cpu));
    // decode only, for reference
    let mut n = 0usize;
    const DECODE_PASSES: usize = 10;
    let mut decode = || {
        timed(|| {
            for (i, page) in data
                .chunks(PAGE)
                .cycle()
                .take(PAGES * DECODE_PASSES)
                .enumerate()
            {
                let sb = SubBuffer::parse(page, LongSize::Eight, Endian::Little).expect("page");
                for raw in sb.records() {
                    let raw = raw.expect("record");
                    let rec =
                        Record::from_raw(raw, (i % 2) as u32, Endian::Little).expect("record");
                    n = n.wrapping_add(usize::from(rec.id) + rec.payload.len());
                }
            }
        })
    };
    decode();
    let (wall, cpu): (Vec<f64>, Vec<f64>) = (0..RUNS).map(|_| decode()).unzip();
    println!("decode only (sub-buffer split + Record), checksum {n}:");
    println!("  wall time:   {}", summary(events * DECODE_PASSES, &wall));
    println!("  on-CPU time: {}", summary(events * DECODE_PASSES, &cpu));
}
