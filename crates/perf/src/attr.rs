//! `struct perf_event_attr` as the kernel and perf.data lay it out
//! (`PERF_ATTR_SIZE_VER7`, 128 bytes), with the constants tracekit uses.
//! One plain `#[repr(C)]` struct serves both `perf_event_open(2)` and the
//! attrs section of perf.data, so what we open is byte-for-byte what we write.

/// `PERF_TYPE_*`.
pub mod types {
    /// Generalized hardware events (`cycles`, …).
    pub const HARDWARE: u32 = 0;
    /// Software events (`cpu-clock`, `task-clock`, …).
    pub const SOFTWARE: u32 = 1;
    /// Tracepoints; `config` is the tracefs event id.
    pub const TRACEPOINT: u32 = 2;
    /// Generalized hardware cache events.
    pub const HW_CACHE: u32 = 3;
    /// Raw PMU events.
    pub const RAW: u32 = 4;
    /// Breakpoints.
    pub const BREAKPOINT: u32 = 5;
}

/// `PERF_SAMPLE_*` bits of `sample_type`.
pub mod sample {
    #![allow(missing_docs)]
    pub const IP: u64 = 1 << 0;
    pub const TID: u64 = 1 << 1;
    pub const TIME: u64 = 1 << 2;
    pub const ADDR: u64 = 1 << 3;
    pub const READ: u64 = 1 << 4;
    pub const CALLCHAIN: u64 = 1 << 5;
    pub const ID: u64 = 1 << 6;
    pub const CPU: u64 = 1 << 7;
    pub const PERIOD: u64 = 1 << 8;
    pub const STREAM_ID: u64 = 1 << 9;
    pub const RAW: u64 = 1 << 10;
    pub const BRANCH_STACK: u64 = 1 << 11;
    pub const REGS_USER: u64 = 1 << 12;
    pub const STACK_USER: u64 = 1 << 13;
    pub const WEIGHT: u64 = 1 << 14;
    pub const DATA_SRC: u64 = 1 << 15;
    pub const IDENTIFIER: u64 = 1 << 16;
    pub const TRANSACTION: u64 = 1 << 17;
    pub const REGS_INTR: u64 = 1 << 18;
    pub const PHYS_ADDR: u64 = 1 << 19;
    pub const AUX: u64 = 1 << 20;
    pub const CGROUP: u64 = 1 << 21;
    pub const DATA_PAGE_SIZE: u64 = 1 << 22;
    pub const CODE_PAGE_SIZE: u64 = 1 << 23;
    pub const WEIGHT_STRUCT: u64 = 1 << 24;
}

/// `PERF_FORMAT_*` bits of `read_format`.
pub mod read {
    #![allow(missing_docs)]
    pub const TOTAL_TIME_ENABLED: u64 = 1 << 0;
    pub const TOTAL_TIME_RUNNING: u64 = 1 << 1;
    pub const ID: u64 = 1 << 2;
    pub const GROUP: u64 = 1 << 3;
    pub const LOST: u64 = 1 << 4;
}

/// Bits of the attr flag word (the C bitfield after `read_format`).
pub mod flag {
    #![allow(missing_docs)]
    pub const DISABLED: u64 = 1 << 0;
    pub const INHERIT: u64 = 1 << 1;
    pub const PINNED: u64 = 1 << 2;
    pub const EXCLUSIVE: u64 = 1 << 3;
    pub const EXCLUDE_USER: u64 = 1 << 4;
    pub const EXCLUDE_KERNEL: u64 = 1 << 5;
    pub const EXCLUDE_HV: u64 = 1 << 6;
    pub const EXCLUDE_IDLE: u64 = 1 << 7;
    pub const MMAP: u64 = 1 << 8;
    pub const COMM: u64 = 1 << 9;
    pub const FREQ: u64 = 1 << 10;
    pub const INHERIT_STAT: u64 = 1 << 11;
    pub const ENABLE_ON_EXEC: u64 = 1 << 12;
    pub const TASK: u64 = 1 << 13;
    pub const WATERMARK: u64 = 1 << 14;
    pub const MMAP_DATA: u64 = 1 << 17;
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    pub const EXCLUDE_HOST: u64 = 1 << 19;
    pub const EXCLUDE_GUEST: u64 = 1 << 20;
    pub const EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
    pub const EXCLUDE_CALLCHAIN_USER: u64 = 1 << 22;
    pub const MMAP2: u64 = 1 << 23;
    pub const COMM_EXEC: u64 = 1 << 24;
    pub const USE_CLOCKID: u64 = 1 << 25;
    pub const CONTEXT_SWITCH: u64 = 1 << 26;
    pub const KSYMBOL: u64 = 1 << 29;
    pub const BPF_EVENT: u64 = 1 << 30;
}

/// Size of [`Attr`] in bytes (`PERF_ATTR_SIZE_VER7`).
pub const ATTR_SIZE: usize = 128;

/// `struct perf_event_attr` (VER7 layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attr {
    /// `PERF_TYPE_*`.
    pub type_: u32,
    /// Size of the struct (128).
    pub size: u32,
    /// Event selector within the type.
    pub config: u64,
    /// Sample period, or frequency when [`flag::FREQ`] is set.
    pub sample_period: u64,
    /// `PERF_SAMPLE_*` bits.
    pub sample_type: u64,
    /// `PERF_FORMAT_*` bits.
    pub read_format: u64,
    /// Flag bitfield ([`flag`]; `precise_ip` in bits 15–16).
    pub flags: u64,
    /// `wakeup_events` / `wakeup_watermark`.
    pub wakeup_events: u32,
    /// Breakpoint type.
    pub bp_type: u32,
    /// `config1` (`bp_addr`, `uprobe_path`, `kprobe_func`).
    pub config1: u64,
    /// `config2` (`bp_len`, `probe_offset`).
    pub config2: u64,
    /// Branch sampling mask.
    pub branch_sample_type: u64,
    /// User registers to sample.
    pub sample_regs_user: u64,
    /// Bytes of user stack to sample.
    pub sample_stack_user: u32,
    /// Clock id when [`flag::USE_CLOCKID`].
    pub clockid: i32,
    /// Interrupt registers to sample.
    pub sample_regs_intr: u64,
    /// AUX area watermark.
    pub aux_watermark: u32,
    /// Maximum call-chain depth.
    pub sample_max_stack: u16,
    reserved2: u16,
    /// AUX sample size.
    pub aux_sample_size: u32,
    reserved3: u32,
    /// Signal data.
    pub sig_data: u64,
}

const _: () = assert!(std::mem::size_of::<Attr>() == ATTR_SIZE);

impl Attr {
    /// A zeroed attr of `type_`/`config` with the size field set.
    pub fn new(type_: u32, config: u64) -> Attr {
        Attr {
            type_,
            size: ATTR_SIZE as u32,
            config,
            ..Default::default()
        }
    }

    /// Whether flag bit(s) `f` are set.
    pub fn has(&self, f: u64) -> bool {
        self.flags & f == f
    }

    /// Serializes in native (little-endian on x86_64) byte order.
    pub fn to_bytes(&self) -> [u8; ATTR_SIZE] {
        let mut out = [0u8; ATTR_SIZE];
        let mut w = 0usize;
        let mut put = |b: &[u8]| {
            out[w..w + b.len()].copy_from_slice(b);
            w += b.len();
        };
        put(&self.type_.to_le_bytes());
        put(&self.size.to_le_bytes());
        put(&self.config.to_le_bytes());
        put(&self.sample_period.to_le_bytes());
        put(&self.sample_type.to_le_bytes());
        put(&self.read_format.to_le_bytes());
        put(&self.flags.to_le_bytes());
        put(&self.wakeup_events.to_le_bytes());
        put(&self.bp_type.to_le_bytes());
        put(&self.config1.to_le_bytes());
        put(&self.config2.to_le_bytes());
        put(&self.branch_sample_type.to_le_bytes());
        put(&self.sample_regs_user.to_le_bytes());
        put(&self.sample_stack_user.to_le_bytes());
        put(&self.clockid.to_le_bytes());
        put(&self.sample_regs_intr.to_le_bytes());
        put(&self.aux_watermark.to_le_bytes());
        put(&self.sample_max_stack.to_le_bytes());
        put(&0u16.to_le_bytes());
        put(&self.aux_sample_size.to_le_bytes());
        put(&0u32.to_le_bytes());
        put(&self.sig_data.to_le_bytes());
        out
    }

    /// Parses an attr of any size (older, shorter attrs are zero-extended;
    /// bytes beyond the VER7 layout are ignored).
    pub fn from_bytes(b: &[u8]) -> Attr {
        let mut buf = [0u8; ATTR_SIZE];
        let n = b.len().min(ATTR_SIZE);
        buf[..n].copy_from_slice(&b[..n]);
        let u32_at = |o: usize| u32::from_le_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&buf[o..o + 8]);
            u64::from_le_bytes(a)
        };
        Attr {
            type_: u32_at(0),
            size: u32_at(4),
            config: u64_at(8),
            sample_period: u64_at(16),
            sample_type: u64_at(24),
            read_format: u64_at(32),
            flags: u64_at(40),
            wakeup_events: u32_at(48),
            bp_type: u32_at(52),
            config1: u64_at(56),
            config2: u64_at(64),
            branch_sample_type: u64_at(72),
            sample_regs_user: u64_at(80),
            sample_stack_user: u32_at(88),
            clockid: u32_at(92) as i32,
            sample_regs_intr: u64_at(96),
            aux_watermark: u32_at(104),
            sample_max_stack: u16::from_le_bytes([buf[108], buf[109]]),
            reserved2: 0,
            aux_sample_size: u32_at(112),
            reserved3: 0,
            sig_data: u64_at(120),
        }
    }

    /// Size in bytes of the `sample_id_all` trailer on non-sample records.
    pub fn sample_id_size(&self) -> usize {
        if !self.has(flag::SAMPLE_ID_ALL) {
            return 0;
        }
        let t = self.sample_type;
        [
            sample::TID,
            sample::TIME,
            sample::ID,
            sample::STREAM_ID,
            sample::CPU,
            sample::IDENTIFIER,
        ]
        .iter()
        .filter(|b| t & **b != 0)
        .count()
            * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let mut a = Attr::new(types::SOFTWARE, 0);
        a.sample_period = 999;
        a.sample_type = sample::IP | sample::TID | sample::CALLCHAIN;
        a.flags = flag::FREQ | flag::DISABLED | flag::SAMPLE_ID_ALL;
        a.sample_max_stack = 127;
        a.clockid = -3;
        let b = a.to_bytes();
        assert_eq!(Attr::from_bytes(&b), a);
        assert_eq!(u32::from_le_bytes([b[4], b[5], b[6], b[7]]), 128);
        assert_eq!(a.sample_id_size(), 8);
    }
}
