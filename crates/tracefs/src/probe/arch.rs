//! Register names and argument ABIs per architecture, as the kernel's
//! `regs_query_register_offset()` tables accept them (`%REG` fetch args).

/// A CPU architecture's probe-relevant registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// `uname -m` spelling.
    pub name: &'static str,
    /// Registers accepted as `%REG`.
    pub registers: &'static [&'static str],
    /// Argument registers in order (`$arg1` = first).
    pub args: &'static [&'static str],
    /// Return value register.
    pub ret: &'static str,
}

const X86_64_REGS: &[&str] = &[
    "ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15", "ip", "flags", "cs", "ss", "orig_ax",
];
const ARM64_REGS: &[&str] = &[
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30", "lr", "sp", "pc", "pstate",
];
const RISCV_REGS: &[&str] = &[
    "epc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6", "status", "badaddr", "cause", "orig_a0",
];
const S390_REGS: &[&str] = &[
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];
const PPC64_REGS: &[&str] = &[
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26", "r27",
    "r28", "r29", "r30", "r31", "gpr0", "gpr1", "gpr2", "gpr3", "gpr4", "gpr5", "gpr6", "gpr7",
    "gpr8", "gpr9", "gpr10", "gpr11", "gpr12", "gpr13", "gpr14", "gpr15", "gpr16", "gpr17",
    "gpr18", "gpr19", "gpr20", "gpr21", "gpr22", "gpr23", "gpr24", "gpr25", "gpr26", "gpr27",
    "gpr28", "gpr29", "gpr30", "gpr31", "nip", "msr", "ctr", "link", "xer", "ccr", "trap", "dar",
    "dsisr", "softe",
];

/// x86_64.
pub const X86_64: Arch = Arch {
    name: "x86_64",
    registers: X86_64_REGS,
    args: &["di", "si", "dx", "cx", "r8", "r9"],
    ret: "ax",
};
/// arm64.
pub const AARCH64: Arch = Arch {
    name: "aarch64",
    registers: ARM64_REGS,
    args: &["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"],
    ret: "x0",
};
/// riscv64.
pub const RISCV64: Arch = Arch {
    name: "riscv64",
    registers: RISCV_REGS,
    args: &["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"],
    ret: "a0",
};
/// s390x.
pub const S390X: Arch = Arch {
    name: "s390x",
    registers: S390_REGS,
    args: &["r2", "r3", "r4", "r5", "r6"],
    ret: "r2",
};
/// powerpc64 (LE and BE).
pub const PPC64: Arch = Arch {
    name: "ppc64le",
    registers: PPC64_REGS,
    args: &["r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"],
    ret: "r3",
};

/// All known architectures.
pub const ALL: &[Arch] = &[X86_64, AARCH64, RISCV64, S390X, PPC64];

impl Arch {
    /// The architecture tracekit was built for; `None` when its probe
    /// registers are not known (an error for the caller, never x86_64 by
    /// default).
    pub fn current() -> Option<Arch> {
        Arch::by_name(std::env::consts::ARCH)
    }

    /// Looks up `x86_64`, `aarch64`/`arm64`, `riscv64`, `s390x`, `ppc64`/`ppc64le`/`powerpc64`.
    pub fn by_name(name: &str) -> Option<Arch> {
        Some(match name {
            "x86_64" | "amd64" => X86_64,
            "aarch64" | "arm64" => AARCH64,
            "riscv64" => RISCV64,
            "s390x" => S390X,
            "ppc64" | "ppc64le" | "powerpc64" | "powerpc64le" => PPC64,
            _ => return None,
        })
    }

    /// Whether `%REG` is accepted.
    pub fn has_register(&self, reg: &str) -> bool {
        self.registers.contains(&reg)
    }

    /// The fetch arg for argument `n` (1-based) at function entry: a
    /// register, or a stack slot past the register arguments.
    pub fn arg(&self, n: usize) -> Option<String> {
        if n == 0 {
            return None;
        }
        if let Some(r) = self.args.get(n - 1) {
            return Some(format!("%{r}"));
        }
        match self.name {
            // x86_64: arg7 is $stack1 at entry ($stack0 = return address).
            "x86_64" => Some(format!("$stack{}", n - self.args.len())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi() {
        assert_eq!(X86_64.arg(1).as_deref(), Some("%di"));
        assert_eq!(X86_64.arg(2).as_deref(), Some("%si"));
        assert_eq!(X86_64.arg(7).as_deref(), Some("$stack1"));
        assert_eq!(AARCH64.arg(1).as_deref(), Some("%x0"));
        assert_eq!(AARCH64.arg(9), None);
        assert_eq!(S390X.arg(1).as_deref(), Some("%r2"));
        assert_eq!(PPC64.arg(1).as_deref(), Some("%r3"));
        assert_eq!(RISCV64.arg(1).as_deref(), Some("%a0"));
        assert!(X86_64.has_register("orig_ax"));
        assert!(!X86_64.has_register("rax"));
        assert_eq!(Arch::by_name("arm64"), Some(AARCH64));
    }
}
