//! `perf report --header-only`: the perf.data header and feature sections as
//! Debian's perf 6.1 prints them (`perf_header__fprintf_info` and the
//! `print_*` functions of perf's `util/header.c`, without `-I`).
//!
//! File mode: the header block, one part per set feature bit in bit order,
//! `# missing features:`. Pipe mode: the header block with zero offsets, then
//! the features in the order their `HEADER_FEATURE` records arrived.
//! A feature perf cannot decode prints what perf's defaults print (`(null)`,
//! zeros, `not available`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::attr::Attr;
use crate::data::{u32_at, u64_at, PerfData};

/// Number of features perf 6.1 knows (`HEADER_LAST_FEATURE`).
pub const LAST_FEATURE: u32 = 32;

/// perf's feature names (`feat_ops[].name`), by feature number.
pub const FEATURE_NAMES: [&str; LAST_FEATURE as usize] = [
    "RESERVED",
    "TRACING_DATA",
    "BUILD_ID",
    "HOSTNAME",
    "OSRELEASE",
    "VERSION",
    "ARCH",
    "NRCPUS",
    "CPUDESC",
    "CPUID",
    "TOTAL_MEM",
    "CMDLINE",
    "EVENT_DESC",
    "CPU_TOPOLOGY",
    "NUMA_TOPOLOGY",
    "BRANCH_STACK",
    "PMU_MAPPINGS",
    "GROUP_DESC",
    "AUXTRACE",
    "STAT",
    "CACHE",
    "SAMPLE_TIME",
    "MEM_TOPOLOGY",
    "CLOCKID",
    "DIR_FORMAT",
    "BPF_PROG_INFO",
    "BPF_BTF",
    "COMPRESSED",
    "CPU_PMU_CAPS",
    "CLOCK_DATA",
    "HYBRID_TOPOLOGY",
    "PMU_CAPS",
];

/// Features shown only with `-I` (perf prints "info available" instead).
const FULL_ONLY: [u32; 5] = [13, 14, 20, 22, 30];

/// `ctime(3)` of `t` in local time, with its newline.
pub fn ctime(t: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let tt = t as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r fills it from a valid time_t.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to locals.
    let ok = unsafe { !libc::localtime_r(&tt, &mut tm).is_null() };
    if !ok {
        return "(null)".to_string();
    }
    let day = DAYS.get(tm.tm_wday as usize).copied().unwrap_or("???");
    let mon = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
    format!(
        "{day} {mon}{:3} {:02}:{:02}:{:02} {}\n",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// The whole `perf report --header-only` text.
pub fn header_only(pd: &PerfData) -> String {
    let mut out = String::from("# ========\n");
    let h = &pd.header;
    let Some(mtime) = h.mtime else {
        // perf stops when fstat fails.
        out.push_str("# ========\n#\n");
        return out;
    };
    let _ = write!(out, "# captured on    : {}", ctime(mtime));
    out.push_str("# header version : 1\n");
    let _ = writeln!(out, "# data offset    : {}", h.data_offset);
    let _ = writeln!(out, "# data size      : {}", h.data_size);
    let _ = writeln!(out, "# feat offset    : {}", h.feat_offset);
    if h.pipe {
        out.push_str("# ========\n#\n");
        for &f in &h.feature_order {
            // Features without a reader (branch stack, stat) or printer are skipped.
            if f >= LAST_FEATURE || matches!(f, 1 | 2 | 15 | 19) {
                continue;
            }
            out.push_str(&feature_text(pd, f, true));
        }
        return out;
    }
    for &f in &h.feature_order {
        if f < LAST_FEATURE {
            out.push_str(&feature_text(pd, f, false));
        }
    }
    out.push_str("# missing features: ");
    for bit in 1..LAST_FEATURE {
        if !h.has_feature(bit) {
            let _ = write!(out, "{} ", FEATURE_NAMES[bit as usize]);
        }
    }
    out.push('\n');
    out.push_str("# ========\n#\n");
    out
}

/// A cursor over a feature section with perf's `do_read_*` semantics.
struct Fd<'a> {
    b: &'a [u8],
    o: usize,
}

impl<'a> Fd<'a> {
    fn new(b: &'a [u8]) -> Fd<'a> {
        Fd { b, o: 0 }
    }
    fn u32(&mut self) -> Option<u32> {
        let v = u32_at(self.b, self.o)?;
        self.o += 4;
        Some(v)
    }
    fn u64(&mut self) -> Option<u64> {
        let v = u64_at(self.b, self.o)?;
        self.o += 8;
        Some(v)
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.o.checked_add(n)?;
        let s = self.b.get(self.o..end)?;
        self.o = end;
        Some(s)
    }
    /// `do_read_string`: u32 length, then NUL-padded text.
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let s = self.bytes(n)?;
        let end = s.iter().position(|c| *c == 0).unwrap_or(s.len());
        Some(String::from_utf8_lossy(&s[..end]).into_owned())
    }
}

/// The text one feature prints; `pipe`: perf prints nothing when the
/// feature does not decode (file mode prints its defaults).
fn feature_text(pd: &PerfData, f: u32, pipe: bool) -> String {
    if FULL_ONLY.contains(&f) {
        return format!(
            "# {} info available, use -I to display\n",
            FEATURE_NAMES[f as usize]
        );
    }
    let b = pd.features.get(&f).map(|v| &v[..]).unwrap_or(&[]);
    let mut fd = Fd::new(b);
    let text = match f {
        3 => fd.string().map(|s| format!("# hostname : {s}\n")),
        4 => fd.string().map(|s| format!("# os release : {s}\n")),
        5 => fd.string().map(|s| format!("# perf version : {s}\n")),
        6 => fd.string().map(|s| format!("# arch : {s}\n")),
        8 => fd.string().map(|s| format!("# cpudesc : {s}\n")),
        9 => fd.string().map(|s| format!("# cpuid : {s}\n")),
        7 => (|| {
            let avail = fd.u32()?;
            let online = fd.u32()?;
            Some(format!(
                "# nrcpus online : {online}\n# nrcpus avail : {avail}\n"
            ))
        })(),
        10 => fd.u64().map(|m| format!("# total memory : {m} kB\n")),
        11 => cmdline(&mut fd),
        12 => Some(event_desc(b)),
        15 => Some("# contains samples with branch stack\n".to_string()),
        16 => pmu_mappings(&mut fd),
        17 => group_desc(pd, &mut fd),
        18 => Some("# contains AUX area data (e.g. instruction trace)\n".to_string()),
        19 => Some("# contains stat data\n".to_string()),
        21 => (|| {
            let first = fd.u64()?;
            let last = fd.u64()?;
            Some(sample_time(first, last))
        })(),
        23 => fd
            .u64()
            .map(|r| format!("# clockid frequency: {} MHz\n", r.wrapping_mul(1000))),
        // perf prints the version of directory data, 0 for a single file.
        24 => Some("# directory data version : 0\n".to_string()),
        25 => bpf_prog_info(&mut fd),
        26 => bpf_btf(&mut fd),
        27 => (|| {
            let _version = fd.u32()?;
            let type_ = fd.u32()?;
            let level = fd.u32()?;
            let ratio = fd.u32()?;
            let _mmap_len = fd.u32()?;
            Some(compressed(type_, level as i32, ratio as i32))
        })(),
        28 => pmu_caps_one(&mut fd).map(|caps| print_pmu_caps("cpu", &caps)),
        29 => clock_data(&mut fd),
        31 => pmu_caps(&mut fd),
        _ => Some(String::new()),
    };
    match text {
        Some(t) => t,
        None if pipe => String::new(),
        // perf's env defaults when the section did not decode.
        None => match f {
            3 => "# hostname : (null)\n".into(),
            4 => "# os release : (null)\n".into(),
            5 => "# perf version : (null)\n".into(),
            6 => "# arch : (null)\n".into(),
            8 => "# cpudesc : (null)\n".into(),
            9 => "# cpuid : (null)\n".into(),
            7 => "# nrcpus online : 0\n# nrcpus avail : 0\n".into(),
            10 => "# total memory : 0 kB\n".into(),
            16 => "# pmu mappings: not available\n".into(),
            21 => sample_time(0, 0),
            23 => "# clockid frequency: 0 MHz\n".into(),
            27 => compressed(0, 0, 0),
            28 => print_pmu_caps("cpu", &[]),
            29 => "# reference time disabled\n".into(),
            _ => String::new(),
        },
    }
}

fn compressed(type_: u32, level: i32, ratio: i32) -> String {
    format!(
        "# compressed : {}, level = {level}, ratio = {ratio}\n",
        if type_ == 1 { "Zstd" } else { "Unknown" }
    )
}

fn sample_time(first: u64, last: u64) -> String {
    let usec = |t: u64| format!("{}.{:06}", t / 1_000_000_000, (t % 1_000_000_000) / 1000);
    // perf subtracts in u64 and converts to double.
    let d = last.wrapping_sub(first) as f64 / 1e6;
    format!(
        "# time of first sample : {}\n# time of last sample : {}\n# sample duration : {d:10.3} ms\n",
        usec(first),
        usec(last)
    )
}

fn cmdline(fd: &mut Fd<'_>) -> Option<String> {
    let nr = fd.u32()?;
    let mut out = String::from("# cmdline : ");
    for _ in 0..nr {
        let Some(a) = fd.string() else { break };
        out.push_str(&a.replace('\'', "\\'"));
        out.push(' ');
    }
    out.push('\n');
    Some(out)
}

fn pmu_mappings(fd: &mut Fd<'_>) -> Option<String> {
    let n = fd.u32()?;
    if n == 0 {
        return Some("# pmu mappings: not available\n".into());
    }
    let mut out = String::new();
    let mut delim = "# pmu mappings: ";
    for _ in 0..n {
        let ty = fd.u32()?;
        let name = fd.string()?;
        let _ = write!(out, "{delim}{name} = {ty}");
        delim = ", ";
    }
    out.push('\n');
    Some(out)
}

fn group_desc(pd: &PerfData, fd: &mut Fd<'_>) -> Option<String> {
    let n = fd.u32()?;
    let mut groups = Vec::new();
    for _ in 0..n {
        let name = fd.string()?;
        let leader = fd.u32()?;
        let members = fd.u32()?;
        groups.push((name, leader, members));
    }
    // Rebuild leaders as perf's process_group_desc does.
    let mut out = String::new();
    let (mut gi, mut nr) = (0usize, 0u32);
    let mut open = 0u32;
    for (idx, a) in pd.attrs.iter().enumerate() {
        match groups.get(gi) {
            Some((gname, leader, members)) if *leader as usize == idx => {
                if nr > 0 {
                    break;
                }
                gi += 1;
                nr = members.saturating_sub(1);
                if *members > 1 {
                    let g = if gname == "{anon_group}" { "" } else { gname };
                    let _ = write!(out, "# group: {g}{{{}", a.name);
                    open = members - 1;
                }
            }
            _ if nr > 0 => {
                nr -= 1;
                if open > 0 {
                    let _ = write!(out, ",{}", a.name);
                    open -= 1;
                    if open == 0 {
                        out.push_str("}\n");
                    }
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// `name=value` pairs of one PMU's capabilities.
fn pmu_caps_one(fd: &mut Fd<'_>) -> Option<Vec<String>> {
    let n = fd.u32()?;
    let mut caps = Vec::new();
    for _ in 0..n {
        let name = fd.string()?;
        let value = fd.string()?;
        caps.push(format!("{name}={value}"));
    }
    Some(caps)
}

fn print_pmu_caps(pmu: &str, caps: &[String]) -> String {
    if caps.is_empty() {
        format!("# {pmu} pmu capabilities: not available\n")
    } else {
        format!("# {pmu} pmu capabilities: {}\n", caps.join(", "))
    }
}

fn pmu_caps(fd: &mut Fd<'_>) -> Option<String> {
    let n = fd.u32()?;
    let mut out = String::new();
    for _ in 0..n {
        let caps = pmu_caps_one(fd)?;
        let name = fd.string()?;
        out.push_str(&print_pmu_caps(&name, &caps));
    }
    Some(out)
}

fn clockid_name(id: u32) -> &'static str {
    match id {
        1 => "monotonic",
        4 => "monotonic_raw",
        0 => "realtime",
        7 => "boottime",
        11 => "tai",
        _ => "(not found)",
    }
}

fn clock_data(fd: &mut Fd<'_>) -> Option<String> {
    if fd.u32()? != 1 {
        return None;
    }
    let clockid = fd.u32()?;
    let tod = fd.u64()?;
    let clk = fd.u64()?;
    let (tod_s, tod_us) = (tod / 1_000_000_000, (tod % 1_000_000_000) / 1000);
    let (clk_s, clk_ns) = (clk / 1_000_000_000, clk % 1_000_000_000);
    let date = local_date(tod_s as i64)
        .map(|d| format!("{d}.{tod_us:06}"))
        .unwrap_or_else(|| "<error>".into());
    let name = clockid_name(clockid);
    Some(format!(
        "# clockid: {name} ({clockid})\n# reference time: {date} = {tod_s}.{tod_us:06} (TOD) = {clk_s}.{clk_ns:09} ({name})\n"
    ))
}

/// `strftime("%F %T")` in local time.
fn local_date(t: i64) -> Option<String> {
    let tt = t as libc::time_t;
    // SAFETY: plain data filled by localtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to locals.
    if unsafe { libc::localtime_r(&tt, &mut tm).is_null() } {
        return None;
    }
    Some(format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    ))
}

fn bpf_btf(fd: &mut Fd<'_>) -> Option<String> {
    let n = fd.u32()?;
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..n {
        let (Some(id), Some(len)) = (fd.u32(), fd.u32()) else {
            break;
        };
        if fd.bytes(len as usize).is_none() {
            break;
        }
        ids.insert(id);
    }
    Some(
        ids.iter()
            .map(|id| format!("# btf info of id {id}\n"))
            .collect(),
    )
}

/// `BPF_PROG_INFO`: one line per program (by id), named like perf's
/// `synthesize_bpf_prog_name` without BTF (`bpf_prog_<tag>[_<name>]`).
fn bpf_prog_info(fd: &mut Fd<'_>) -> Option<String> {
    const INFO_SIZE: usize = 232;
    let n = fd.u32()?;
    let mut progs = BTreeMap::new();
    for _ in 0..n {
        let (Some(info_len), Some(data_len), Some(_arrays)) = (fd.u32(), fd.u32(), fd.u64()) else {
            break;
        };
        if info_len as usize > INFO_SIZE {
            break;
        }
        let (Some(info), Some(data)) = (fd.bytes(info_len as usize), fd.bytes(data_len as usize))
        else {
            break;
        };
        let mut i = [0u8; INFO_SIZE];
        i[..info.len()].copy_from_slice(info);
        let id = u32_at(&i, 4).unwrap_or(0);
        progs.entry(id).or_insert_with(|| bpf_prog_text(&i, data));
    }
    Some(progs.into_values().collect())
}

fn bpf_prog_text(i: &[u8], data: &[u8]) -> String {
    let id = u32_at(i, 4).unwrap_or(0);
    let name_raw = i.get(64..80).unwrap_or(&[]);
    let name_end = name_raw
        .iter()
        .position(|c| *c == 0)
        .unwrap_or(name_raw.len());
    let name = String::from_utf8_lossy(&name_raw[..name_end]).into_owned();
    let nr_ksyms = u32_at(i, 104).unwrap_or(0);
    let nr_lens = u32_at(i, 108).unwrap_or(0);
    let ksyms = u64_at(i, 112).unwrap_or(0) as usize;
    let lens = u64_at(i, 120).unwrap_or(0) as usize;
    let nr_tags = u32_at(i, 180).unwrap_or(0);
    let tags = u64_at(i, 184).unwrap_or(0) as usize;
    if nr_ksyms != nr_tags || nr_ksyms != nr_lens {
        return String::new();
    }
    // Array fields hold offsets into `data` in the file.
    let addr = |k: usize| {
        k.checked_mul(8)
            .and_then(|o| o.checked_add(ksyms))
            .and_then(|o| u64_at(data, o))
    };
    let len = |k: usize| {
        k.checked_mul(4)
            .and_then(|o| o.checked_add(lens))
            .and_then(|o| u32_at(data, o))
    };
    let tag = |k: usize| {
        let o = k.checked_mul(8)?.checked_add(tags)?;
        let t = data.get(o..o.checked_add(8)?)?;
        Some(t.iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    let sym = |k: usize| -> Option<String> {
        let short = if k == 0 && nr_ksyms == 1 {
            (!name.is_empty()).then(|| name.clone())
        } else {
            Some("F".to_string())
        };
        let mut s = format!("bpf_prog_{}", tag(k)?);
        if let Some(n) = short {
            s.push('_');
            s.push_str(&n);
        }
        Some(s)
    };
    if nr_ksyms == 1 {
        return match (sym(0), addr(0), len(0)) {
            (Some(s), Some(a), Some(l)) => {
                format!("# bpf_prog_info {id}: {s} addr {a:#x} size {l}\n")
            }
            _ => String::new(),
        };
    }
    let mut out = format!("# bpf_prog_info {id}:\n");
    for k in 0..nr_ksyms.min(4096) as usize {
        let (Some(s), Some(a), Some(l)) = (sym(k), addr(k), len(k)) else {
            break;
        };
        let _ = writeln!(out, "# \tsub_prog {k}: {s} addr {a:#x} size {l}");
    }
    out
}

/// `perf_event_attr__fprintf` of perf 6.1: every non-zero field, `, name = value`.
fn attr_fields(raw: &[u8]) -> String {
    let a = Attr::from_bytes(raw);
    let mut out = String::new();
    let mut p = |name: &str, v: String| {
        let _ = write!(out, ", {name} = {v}");
    };
    if a.type_ != 0 {
        p("type", a.type_.to_string());
    }
    if a.size != 0 {
        p("size", a.size.to_string());
    }
    if a.config != 0 {
        p("config", format!("{:#x}", a.config));
    }
    if a.sample_period != 0 {
        p(
            "{ sample_period, sample_freq }",
            a.sample_period.to_string(),
        );
    }
    if a.sample_type != 0 {
        p("sample_type", bits(a.sample_type, SAMPLE_BITS));
    }
    if a.read_format != 0 {
        p("read_format", bits(a.read_format, READ_BITS));
    }
    for (bit, name) in FLAG_BITS {
        let v = if *bit == 15 {
            (a.flags >> 15) & 3
        } else {
            (a.flags >> bit) & 1
        };
        if v != 0 {
            p(name, v.to_string());
        }
    }
    let hex = |v: u64| format!("{v:#x}");
    if a.wakeup_events != 0 {
        p(
            "{ wakeup_events, wakeup_watermark }",
            a.wakeup_events.to_string(),
        );
    }
    if a.bp_type != 0 {
        p("bp_type", a.bp_type.to_string());
    }
    if a.config1 != 0 {
        p("{ bp_addr, config1 }", hex(a.config1));
    }
    if a.config2 != 0 {
        p("{ bp_len, config2 }", hex(a.config2));
    }
    if a.branch_sample_type != 0 {
        p(
            "branch_sample_type",
            bits(a.branch_sample_type, BRANCH_BITS),
        );
    }
    if a.sample_regs_user != 0 {
        p("sample_regs_user", hex(a.sample_regs_user));
    }
    if a.sample_stack_user != 0 {
        p("sample_stack_user", a.sample_stack_user.to_string());
    }
    if a.clockid != 0 {
        p("clockid", a.clockid.to_string());
    }
    if a.sample_regs_intr != 0 {
        p("sample_regs_intr", hex(a.sample_regs_intr));
    }
    if a.aux_watermark != 0 {
        p("aux_watermark", a.aux_watermark.to_string());
    }
    if a.sample_max_stack != 0 {
        p("sample_max_stack", a.sample_max_stack.to_string());
    }
    if a.aux_sample_size != 0 {
        p("aux_sample_size", a.aux_sample_size.to_string());
    }
    if a.sig_data != 0 {
        p("sig_data", a.sig_data.to_string());
    }
    out
}

fn bits(v: u64, names: &[(u64, &str)]) -> String {
    names
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

const SAMPLE_BITS: &[(u64, &str)] = &[
    (1 << 0, "IP"),
    (1 << 1, "TID"),
    (1 << 2, "TIME"),
    (1 << 3, "ADDR"),
    (1 << 4, "READ"),
    (1 << 5, "CALLCHAIN"),
    (1 << 6, "ID"),
    (1 << 7, "CPU"),
    (1 << 8, "PERIOD"),
    (1 << 9, "STREAM_ID"),
    (1 << 10, "RAW"),
    (1 << 11, "BRANCH_STACK"),
    (1 << 12, "REGS_USER"),
    (1 << 13, "STACK_USER"),
    (1 << 16, "IDENTIFIER"),
    (1 << 18, "REGS_INTR"),
    (1 << 15, "DATA_SRC"),
    (1 << 14, "WEIGHT"),
    (1 << 19, "PHYS_ADDR"),
    (1 << 20, "AUX"),
    (1 << 21, "CGROUP"),
    (1 << 22, "DATA_PAGE_SIZE"),
    (1 << 23, "CODE_PAGE_SIZE"),
    (1 << 24, "WEIGHT_STRUCT"),
];

const READ_BITS: &[(u64, &str)] = &[
    (1 << 0, "TOTAL_TIME_ENABLED"),
    (1 << 1, "TOTAL_TIME_RUNNING"),
    (1 << 2, "ID"),
    (1 << 3, "GROUP"),
    (1 << 4, "LOST"),
];

const BRANCH_BITS: &[(u64, &str)] = &[
    (1 << 0, "USER"),
    (1 << 1, "KERNEL"),
    (1 << 2, "HV"),
    (1 << 3, "ANY"),
    (1 << 4, "ANY_CALL"),
    (1 << 5, "ANY_RETURN"),
    (1 << 6, "IND_CALL"),
    (1 << 7, "ABORT_TX"),
    (1 << 8, "IN_TX"),
    (1 << 9, "NO_TX"),
    (1 << 10, "COND"),
    (1 << 11, "CALL_STACK"),
    (1 << 12, "IND_JUMP"),
    (1 << 13, "CALL"),
    (1 << 14, "NO_FLAGS"),
    (1 << 15, "NO_CYCLES"),
    (1 << 16, "TYPE_SAVE"),
    (1 << 17, "HW_INDEX"),
];

/// Attr flag bits in perf's print order (`precise_ip` is the 2-bit field at 15).
const FLAG_BITS: &[(u32, &str)] = &[
    (0, "disabled"),
    (1, "inherit"),
    (2, "pinned"),
    (3, "exclusive"),
    (4, "exclude_user"),
    (5, "exclude_kernel"),
    (6, "exclude_hv"),
    (7, "exclude_idle"),
    (8, "mmap"),
    (9, "comm"),
    (10, "freq"),
    (11, "inherit_stat"),
    (12, "enable_on_exec"),
    (13, "task"),
    (14, "watermark"),
    (15, "precise_ip"),
    (17, "mmap_data"),
    (18, "sample_id_all"),
    (19, "exclude_host"),
    (20, "exclude_guest"),
    (21, "exclude_callchain_kernel"),
    (22, "exclude_callchain_user"),
    (23, "mmap2"),
    (24, "comm_exec"),
    (25, "use_clockid"),
    (26, "context_switch"),
    (27, "write_backward"),
    (28, "namespaces"),
    (29, "ksymbol"),
    (30, "bpf_event"),
    (31, "aux_output"),
    (32, "cgroup"),
    (33, "text_poke"),
    (34, "build_id"),
    (35, "inherit_thread"),
    (36, "remove_on_exec"),
    (37, "sigtrap"),
];

/// perf's `perf_attr_check`: reserved bits clear, no unknown sample/read/branch bits.
fn attr_ok(raw: &[u8]) -> bool {
    let flags = u64_at(raw, 40).unwrap_or(0);
    let st = u64_at(raw, 24).unwrap_or(0);
    let rf = u64_at(raw, 32).unwrap_or(0);
    let bst = u64_at(raw, 72).unwrap_or(0);
    let r2 = crate::data::u16_at(raw, 110).unwrap_or(0);
    let r3 = u32_at(raw, 116).unwrap_or(0);
    flags >> 38 == 0
        && r2 == 0
        && r3 == 0
        && st >> 25 == 0
        && rf >> 5 == 0
        && !(st & (1 << 11) != 0 && bst >> 19 != 0)
}

/// `print_event_desc`: one `# event :` line per EVENT_DESC entry.
fn event_desc(b: &[u8]) -> String {
    const NA: &str = "# event desc: not available or unable to read\n";
    let mut fd = Fd::new(b);
    let (Some(nre), Some(sz)) = (fd.u32(), fd.u32()) else {
        return NA.into();
    };
    let mut lines = String::new();
    let mut done = false;
    for _ in 0..nre {
        let Some(raw) = fd.bytes(sz as usize) else {
            return NA.into();
        };
        let mut a = [0u8; crate::attr::ATTR_SIZE];
        let n = raw.len().min(a.len());
        a[..n].copy_from_slice(&raw[..n]);
        if !attr_ok(&a) {
            return NA.into();
        }
        let (Some(nr), Some(name)) = (fd.u32(), fd.string()) else {
            return NA.into();
        };
        let mut ids = Vec::new();
        for _ in 0..nr {
            let Some(id) = fd.u64() else {
                return NA.into();
            };
            ids.push(id);
        }
        // perf's list ends at the first attr whose size is 0.
        if done || u32_at(&a, 4) == Some(0) {
            done = true;
            continue;
        }
        let _ = write!(lines, "# event : name = {name}, ");
        if !ids.is_empty() {
            let list: Vec<String> = ids.iter().map(|i| format!(" {i}")).collect();
            let _ = write!(lines, ", id = {{{} }}", list.join(","));
        }
        lines.push_str(&attr_fields(&a));
        lines.push('\n');
    }
    lines
}
