//! DWARF for uprobes: a function's parameters and local variables, their C
//! types and where each one is at the function's entry address (the probe
//! fires there), read with `gimli` from the binary or its separate debug
//! file (see [`crate::locate::SymbolPaths::debuginfo`]).
//!
//! Functions are found by address, never by name: ELF aliases (`open` is
//! `__libc_open64` in glibc) all start at the same `DW_TAG_subprogram`.
//! DWARF 2–5 are read, with compressed sections (`SHF_COMPRESSED` zlib or
//! zstd, and `.zdebug_*`), `.debug_addr`, `.debug_rnglists` and
//! `.debug_loclists`. Everything in the file is untrusted input: malformed
//! DWARF gives an error or an unknown type, never a panic.
//!
//! Locations are evaluated at the entry address: `DW_OP_regN` is a register;
//! `DW_OP_fbreg N` with the usual frame base `DW_OP_call_frame_cfa` is
//! `CFA + N`, and at the entry `CFA = sp + 8` on x86_64 (`sp + 0` on arm64);
//! location lists give the entry whose range holds the entry address;
//! `DW_OP_entry_value(DW_OP_regN)` is register N (at the entry, the entry
//! value is the register itself). Stack slots below the entry stack pointer
//! (unoptimized code keeps parameters there only after the prologue) are
//! not valid at the entry; parameters of such functions fall back to the
//! calling convention's argument registers where it is unambiguous.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use gimli::{constants as dw, AttributeValue, EndianSlice, Operation, RunTimeEndian, UnitOffset};
use memmap2::Mmap;
use object::{Object, ObjectSection};

use crate::error::{Error, Result};

type R<'a> = EndianSlice<'a, RunTimeEndian>;
type Unit<'a> = gimli::Unit<R<'a>>;
type Die<'a> = gimli::DebuggingInformationEntry<R<'a>>;

/// How deep type chains and abstract-origin chains are followed (malformed
/// DWARF may loop).
const MAX_DEPTH: usize = 24;
/// Largest section this reader decompresses.
const MAX_SECTION: u64 = 1 << 32;

/// The CPU of the debug file, for register names and the entry frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Machine {
    /// x86_64 (SysV ABI).
    X86_64,
    /// arm64 (AAPCS64).
    Aarch64,
    /// Anything else: locations are read but registers have no names.
    Other,
}

const X86_64_DWARF_REGS: [&str; 16] = [
    "ax", "dx", "cx", "bx", "si", "di", "bp", "sp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];

impl Machine {
    /// The fetch-argument name (without `%`) of DWARF register `reg`: on
    /// x86_64 0–15 are ax, dx, cx, bx, si, di, bp, sp, r8–r15; on arm64
    /// 0–30 are x0–x30 and 31 is sp.
    pub fn register_name(self, reg: u16) -> Option<String> {
        match self {
            Machine::X86_64 => X86_64_DWARF_REGS
                .get(usize::from(reg))
                .map(|s| s.to_string()),
            Machine::Aarch64 => match reg {
                0..=30 => Some(format!("x{reg}")),
                31 => Some("sp".into()),
                _ => None,
            },
            Machine::Other => None,
        }
    }

    /// DWARF number of the stack pointer.
    fn sp(self) -> Option<u16> {
        match self {
            Machine::X86_64 => Some(7),
            Machine::Aarch64 => Some(31),
            Machine::Other => None,
        }
    }

    /// DWARF number of the frame pointer (not yet set up at the entry).
    fn fp(self) -> Option<u16> {
        match self {
            Machine::X86_64 => Some(6),
            Machine::Aarch64 => Some(29),
            Machine::Other => None,
        }
    }

    /// `CFA - sp` at a function's first instruction.
    fn entry_cfa_offset(self) -> i64 {
        match self {
            // The call pushed the return address.
            Machine::X86_64 => 8,
            _ => 0,
        }
    }

    /// Integer argument registers (DWARF numbers), in order.
    fn int_args(self) -> &'static [u16] {
        match self {
            // di, si, dx, cx, r8, r9
            Machine::X86_64 => &[5, 4, 1, 2, 8, 9],
            Machine::Aarch64 => &[0, 1, 2, 3, 4, 5, 6, 7],
            Machine::Other => &[],
        }
    }
}

/// What a type is, after typedefs and qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeKind {
    /// `void` (or no type).
    Void,
    /// An integer.
    Int,
    /// A character type (`char`, `signed char`, `unsigned char`, `char8_t`…).
    Char,
    /// `_Bool` / `bool`.
    Bool,
    /// A floating-point or complex type.
    Float,
    /// A pointer or C++ reference.
    Pointer,
    /// A struct or class.
    Struct,
    /// A union.
    Union,
    /// An enum.
    Enum,
    /// An array.
    Array,
    /// A function type.
    Function,
    /// Something else (or unreadable).
    Other,
}

/// A C type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Type {
    /// The C spelling (`const char *`, `struct stat *`, `size_t`).
    pub name: String,
    /// The spelling `perf probe -V` prints (`char*`; qualifiers dropped,
    /// typedef names kept), `None` where perf prints `(unknown_type)`.
    pub perf_name: Option<String>,
    /// What it is under typedefs and qualifiers.
    pub kind: TypeKind,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Whether it is a signed integer (or enum, or char) type.
    pub signed: bool,
    /// A pointer to (or array of) characters: read it as a string.
    pub char_data: bool,
    /// `.debug_info` offset of the type under typedefs and qualifiers (0: none).
    #[serde(skip)]
    pub(crate) stripped: usize,
    /// `.debug_info` offset of the pointee or element type (0: none).
    #[serde(skip)]
    pub(crate) target: usize,
}

impl Type {
    fn void() -> Type {
        Type {
            name: "void".into(),
            perf_name: None,
            kind: TypeKind::Void,
            size: None,
            signed: false,
            char_data: false,
            stripped: 0,
            target: 0,
        }
    }

    fn unknown() -> Type {
        Type {
            name: "(unknown type)".into(),
            kind: TypeKind::Other,
            ..Type::void()
        }
    }
}

/// Where a variable's value is at the function's entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// The value is in DWARF register `reg`.
    Register {
        /// DWARF register number (see [`Machine::register_name`]).
        reg: u16,
    },
    /// The value is in memory at `reg + offset`.
    Memory {
        /// DWARF register number of the base.
        reg: u16,
        /// Byte offset from the register's value.
        offset: i64,
    },
    /// A static variable at a link-time (file) virtual address.
    Static {
        /// The virtual address.
        address: u64,
    },
    /// A constant the compiler folded.
    Constant {
        /// The value.
        value: i64,
    },
    /// Not available at the entry address.
    OptimizedOut {
        /// Why (no location at the entry, no location at all…).
        why: String,
    },
    /// A location tracekit cannot express as a fetch argument.
    Unsupported {
        /// What it is (a computed value, several pieces…).
        what: String,
    },
}

impl Location {
    /// The uprobe fetch argument for this location (`%di`, `+16(%sp)`,
    /// `\5`); `None` for static variables (they need the binary's file
    /// offset: `@+OFFSET`) and for locations not available.
    pub fn fetch_arg(&self, machine: Machine) -> Option<String> {
        match self {
            Location::Register { reg } => machine.register_name(*reg).map(|r| format!("%{r}")),
            Location::Memory { reg, offset } => machine
                .register_name(*reg)
                .map(|r| format!("{}(%{r})", signed_offset(*offset))),
            Location::Constant { value } => Some(format!("\\{value}")),
            _ => None,
        }
    }

    /// A short description: the fetch argument, `static 0x…`, or why not.
    pub fn describe(&self, machine: Machine) -> String {
        if let Some(f) = self.fetch_arg(machine) {
            return f;
        }
        match self {
            Location::Static { address } => format!("static at 0x{address:x}"),
            Location::OptimizedOut { why } => format!("optimized out at entry ({why})"),
            Location::Unsupported { what } => format!("unsupported location ({what})"),
            Location::Register { reg } | Location::Memory { reg, .. } => match machine {
                Machine::X86_64 if (17..=32).contains(reg) => {
                    format!("in xmm{} (uprobes cannot read vector registers)", reg - 17)
                }
                _ => format!("in DWARF register {reg} (not readable by uprobes)"),
            },
            Location::Constant { value } => format!("constant {value}"),
        }
    }

    /// Whether a fetch argument can read it.
    pub fn available(&self) -> bool {
        !matches!(
            self,
            Location::OptimizedOut { .. } | Location::Unsupported { .. }
        )
    }
}

/// `+16` / `-8`, as fetch arguments spell offsets.
pub fn signed_offset(off: i64) -> String {
    if off < 0 {
        off.to_string()
    } else {
        format!("+{off}")
    }
}

/// Parameter or local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarKind {
    /// A formal parameter.
    Parameter,
    /// A local variable in scope at the entry.
    Local,
}

/// A parameter or local variable of a function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Parameter or local.
    pub kind: VarKind,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: Type,
    /// Where it is at the entry.
    pub location: Location,
    /// The location came from the calling convention (the argument
    /// register) because DWARF has none valid at the entry.
    pub from_abi: bool,
    /// Whether `perf probe -V` 6.1 lists it (perf's own rules: any
    /// register/stack/static location at the address, for parameters even
    /// the first one after it).
    pub perf_listed: bool,
}

/// A function (`DW_TAG_subprogram`) with its variables at the entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Function {
    /// `DW_AT_name` (through the abstract origin for out-of-line copies).
    pub name: String,
    /// `DW_AT_linkage_name`, if any.
    pub linkage_name: Option<String>,
    /// The entry address (`DW_AT_entry_pc`, else `DW_AT_low_pc`, else the
    /// first range).
    pub entry: u64,
    /// Its code ranges `[begin, end)`.
    pub ranges: Vec<(u64, u64)>,
    /// The compilation unit's name.
    pub unit: Option<String>,
    /// Return type (`void` when none).
    pub return_type: Type,
    /// Takes `...`.
    pub variadic: bool,
    /// Formal parameters, in order.
    pub params: Vec<Variable>,
    /// Local variables in scope at the entry (also those of lexical blocks
    /// and inlined calls that start there).
    pub locals: Vec<Variable>,
}

impl Function {
    /// A parameter, else a local, by name.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.params
            .iter()
            .chain(&self.locals)
            .find(|v| v.name == name)
    }

    /// Every variable: parameters, then locals.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.params.iter().chain(&self.locals)
    }
}

/// A struct or union member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// Byte offset in the outer struct (through anonymous members).
    pub offset: u64,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: Type,
    /// For bit fields: `(first bit within the byte at offset, bit count)`
    /// (little-endian bit numbering).
    pub bit_field: Option<(u64, u64)>,
}

/// Section bytes: a range of the mapping, or decompressed.
#[derive(Debug, Default)]
enum Section {
    #[default]
    Empty,
    Mapped(usize, usize),
    Owned(Vec<u8>),
}

/// A file with DWARF, opened and indexed.
pub struct DebugFile {
    path: PathBuf,
    map: Mmap,
    endian: RunTimeEndian,
    machine: Machine,
    sections: gimli::DwarfSections<Section>,
    /// `.debug_info` unit starts and ends, sorted.
    units: Vec<(usize, usize)>,
    /// Type signatures of DWARF 5 type units → `.debug_info` offset.
    signatures: HashMap<u64, usize>,
    /// perf finds the CFA through `.eh_frame`/`.debug_frame` in this file.
    has_cfi: bool,
}

impl std::fmt::Debug for DebugFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugFile")
            .field("path", &self.path)
            .field("machine", &self.machine)
            .finish()
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Dwarf {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

fn decompress(path: &Path, name: &str, c: object::CompressedData<'_>) -> Result<Vec<u8>> {
    let size = c.uncompressed_size.min(MAX_SECTION);
    let cap = usize::try_from(size.min(256 << 20)).unwrap_or(0);
    let mut out = Vec::with_capacity(cap);
    let res = match c.format {
        object::CompressionFormat::Zlib => flate2::read::ZlibDecoder::new(c.data)
            .take(size)
            .read_to_end(&mut out),
        object::CompressionFormat::Zstandard => zstd::stream::read::Decoder::new(c.data)
            .and_then(|d| d.take(size).read_to_end(&mut out)),
        other => {
            return Err(bad(
                path,
                format!("{name}: unsupported compression {other:?}"),
            ))
        }
    };
    res.map_err(|e| bad(path, format!("{name}: decompressing: {e}")))?;
    Ok(out)
}

impl DebugFile {
    /// Opens `path` (an ELF file with `.debug_info`) and indexes its units.
    pub fn open(path: &Path) -> Result<DebugFile> {
        let io = |error| Error::Io {
            path: path.to_path_buf(),
            error,
        };
        let f = File::open(path).map_err(io)?;
        // SAFETY: read-only private mapping; a file changed under us gives
        // wrong answers or a parse error, never UB in safe code that reads
        // through bounds-checked slices.
        let map = unsafe { Mmap::map(&f) }.map_err(io)?;
        let (endian, machine, sections, has_cfi) = {
            let obj = object::File::parse(&map[..]).map_err(|e| Error::BadElf {
                path: path.to_path_buf(),
                why: e.to_string(),
            })?;
            let endian = if obj.is_little_endian() {
                RunTimeEndian::Little
            } else {
                RunTimeEndian::Big
            };
            let machine = match obj.architecture() {
                object::Architecture::X86_64 => Machine::X86_64,
                object::Architecture::Aarch64 => Machine::Aarch64,
                _ => Machine::Other,
            };
            let base = map.as_ptr() as usize;
            let sections = gimli::DwarfSections::load(|id| -> Result<Section> {
                let Some(sec) = obj.section_by_name(id.name()) else {
                    return Ok(Section::Empty);
                };
                if sec.kind() == object::SectionKind::UninitializedData {
                    return Ok(Section::Empty);
                }
                let c = sec
                    .compressed_data()
                    .map_err(|e| bad(path, format!("{}: {e}", id.name())))?;
                if c.format == object::CompressionFormat::None {
                    // Borrowed straight from the mapping.
                    let start = (c.data.as_ptr() as usize).wrapping_sub(base);
                    if start
                        .checked_add(c.data.len())
                        .is_some_and(|e| e <= map.len())
                    {
                        return Ok(Section::Mapped(start, c.data.len()));
                    }
                    return Ok(Section::Owned(c.data.to_vec()));
                }
                decompress(path, id.name(), c).map(Section::Owned)
            })?;
            let cfi = |n: &str| {
                obj.section_by_name(n).is_some_and(|s| {
                    s.kind() != object::SectionKind::UninitializedData
                        && s.file_range().is_some_and(|(_, n)| n > 0)
                })
            };
            let has_cfi = cfi(".eh_frame") || cfi(".debug_frame");
            (endian, machine, sections, has_cfi)
        };
        let mut me = DebugFile {
            path: path.to_path_buf(),
            map,
            endian,
            machine,
            sections,
            units: Vec::new(),
            signatures: HashMap::new(),
            has_cfi,
        };
        let (units, sigs) = {
            let dwarf = me.dwarf();
            if gimli::Section::reader(&dwarf.debug_info).is_empty() {
                return Err(bad(path, "no .debug_info section"));
            }
            let mut units = Vec::new();
            let mut sigs = HashMap::new();
            let mut it = dwarf.units();
            loop {
                let h = match it.next() {
                    Ok(Some(h)) => h,
                    Ok(None) => break,
                    // Keep the units read so far: a truncated tail still
                    // leaves the rest usable.
                    Err(_) => break,
                };
                let Some(start) = h.debug_info_offset().map(|o| o.0) else {
                    continue;
                };
                let Some(end) = start.checked_add(h.length_including_self()) else {
                    break;
                };
                if let gimli::UnitType::Type {
                    type_signature,
                    type_offset,
                } = h.type_()
                {
                    if let Some(off) = start.checked_add(type_offset.0) {
                        sigs.insert(type_signature.0, off);
                    }
                }
                units.push((start, end));
            }
            (units, sigs)
        };
        if units.is_empty() {
            return Err(bad(path, "no readable unit in .debug_info"));
        }
        me.units = units;
        me.signatures = sigs;
        Ok(me)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its CPU.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    fn bytes<'a>(&'a self, s: &'a Section) -> &'a [u8] {
        match s {
            Section::Empty => &[],
            Section::Mapped(start, len) => self.map.get(*start..start + len).unwrap_or(&[]),
            Section::Owned(v) => v,
        }
    }

    fn dwarf(&self) -> gimli::Dwarf<R<'_>> {
        self.sections
            .borrow(|s| EndianSlice::new(self.bytes(s), self.endian))
    }

    fn cx(&self) -> Cx<'_> {
        Cx {
            file: self,
            dwarf: self.dwarf(),
            units: RefCell::new(HashMap::new()),
            types: RefCell::new(HashMap::new()),
            budget: Cell::new(BUDGET),
        }
    }

    /// The function whose code holds `addr` (a symbol's `st_value` in the
    /// runtime binary), with its variables at its entry; `None` when no
    /// subprogram covers the address. When several do, the one starting at
    /// `addr` wins, then the smallest.
    pub fn function_at(&self, addr: u64) -> Result<Option<Function>> {
        self.function_for_symbol(addr, None)
    }

    /// [`DebugFile::function_at`] for symbol `name`: among subprograms that
    /// start at `addr` with the same extent (assembly files describe every
    /// alias), the one called `name` wins, as `perf probe` names it.
    pub fn function_for_symbol(&self, addr: u64, name: Option<&str>) -> Result<Option<Function>> {
        let cx = self.cx();
        let Some((uoff, die_off)) = cx.subprogram_at(addr, name)? else {
            return Ok(None);
        };
        cx.function(uoff, die_off).map(Some)
    }

    /// Function definitions named `name` (`DW_AT_name` or
    /// `DW_AT_linkage_name`) that have code.
    pub fn functions_named(&self, name: &str) -> Result<Vec<Function>> {
        let cx = self.cx();
        let mut found = Vec::new();
        for &(start, _) in &self.units {
            let Ok(unit) = cx.unit(start) else { continue };
            let mut cur = unit.entries();
            while let Ok(Some(e)) = cur.next_dfs() {
                if e.tag() != dw::DW_TAG_subprogram {
                    continue;
                }
                let matches = |at| cx.attr_str(&unit, e, at).is_some_and(|n: String| n == name);
                if !(matches(dw::DW_AT_name) || matches(dw::DW_AT_linkage_name)) {
                    continue;
                }
                if cx.pc_ranges(&unit, e).map(|r| r.is_empty()).unwrap_or(true) {
                    continue;
                }
                found.push((start, e.offset()));
            }
        }
        found.into_iter().map(|(u, o)| cx.function(u, o)).collect()
    }

    /// A member of a struct or union type (through typedefs, qualifiers and
    /// anonymous members); `None` when it has no such member.
    pub fn member(&self, ty: &Type, name: &str) -> Result<Option<Member>> {
        if !matches!(ty.kind, TypeKind::Struct | TypeKind::Union) || ty.stripped == 0 {
            return Ok(None);
        }
        let cx = self.cx();
        cx.member(ty.stripped, name, 0, 0)
    }

    /// Names of a struct's or union's members (for error messages).
    pub fn member_names(&self, ty: &Type) -> Vec<String> {
        if ty.stripped == 0 {
            return Vec::new();
        }
        let cx = self.cx();
        let mut out = Vec::new();
        cx.member_names(ty.stripped, &mut out, 0);
        out
    }

    /// The type a pointer points to (or an array's element type).
    pub fn pointee(&self, ty: &Type) -> Result<Option<Type>> {
        if ty.target == 0 {
            return Ok(None);
        }
        let cx = self.cx();
        cx.type_at(ty.target, 0).map(Some)
    }
}

/// A frame base at the entry.
#[derive(Debug, Clone, Copy)]
enum FrameBase {
    /// `DW_OP_call_frame_cfa`.
    Cfa,
    /// The value of register + offset.
    Reg(u16, i64),
    /// None (or unreadable).
    None,
}

/// One lookup: the DWARF view and caches of parsed units and types.
struct Cx<'a> {
    file: &'a DebugFile,
    dwarf: gimli::Dwarf<R<'a>>,
    units: RefCell<HashMap<usize, Rc<Unit<'a>>>>,
    types: RefCell<HashMap<usize, Type>>,
    /// Steps left for recursive type walks (malformed DWARF can make them
    /// branch without end).
    budget: Cell<u32>,
}

/// Type-walk steps per lookup.
const BUDGET: u32 = 200_000;

fn dwarf_err(e: gimli::Error) -> String {
    e.to_string()
}

impl<'a> Cx<'a> {
    fn err(&self, why: impl std::fmt::Display) -> Error {
        bad(&self.file.path, why)
    }

    /// Takes one step of the budget; `false` when it is spent.
    fn step(&self) -> bool {
        let b = self.budget.get();
        self.budget.set(b.saturating_sub(1));
        b > 0
    }

    /// The unit starting at `start` (parsed once).
    fn unit(&self, start: usize) -> Result<Rc<Unit<'a>>> {
        if let Some(u) = self.units.borrow().get(&start) {
            return Ok(u.clone());
        }
        let h = self
            .dwarf
            .unit_header(gimli::DebugInfoOffset(start))
            .map_err(|e| self.err(format!("unit at 0x{start:x}: {}", dwarf_err(e))))?;
        let u = self
            .dwarf
            .unit(h)
            .map_err(|e| self.err(format!("unit at 0x{start:x}: {}", dwarf_err(e))))?;
        let u = Rc::new(u);
        self.units.borrow_mut().insert(start, u.clone());
        Ok(u)
    }

    /// The unit holding `.debug_info` offset `off`, and its start.
    fn unit_of(&self, off: usize) -> Option<(usize, Rc<Unit<'a>>)> {
        let units = &self.file.units;
        let i = units.partition_point(|&(s, _)| s <= off);
        let &(start, end) = units.get(i.checked_sub(1)?)?;
        (off < end).then_some(())?;
        self.unit(start).ok().map(|u| (start, u))
    }

    /// The DIE at `.debug_info` offset `off`.
    fn die(&self, off: usize) -> Option<(usize, Rc<Unit<'a>>, Die<'a>)> {
        let (start, unit) = self.unit_of(off)?;
        let e = unit.entry(UnitOffset(off - start)).ok()?;
        Some((start, unit, e))
    }

    /// A reference attribute as a `.debug_info` offset.
    fn reference(&self, ustart: usize, v: AttributeValue<R<'a>>) -> Option<usize> {
        match v {
            AttributeValue::UnitRef(o) => ustart.checked_add(o.0),
            AttributeValue::DebugInfoRef(o) => Some(o.0),
            AttributeValue::DebugTypesRef(sig) => self.file.signatures.get(&sig.0).copied(),
            _ => None,
        }
    }

    /// An attribute of a DIE, or of its abstract origin / specification
    /// (libdw's `dwarf_attr_integrate`), with the unit it was found in.
    fn attr_integrate(
        &self,
        ustart: usize,
        unit: &Rc<Unit<'a>>,
        e: &Die<'a>,
        at: gimli::DwAt,
    ) -> Option<(usize, Rc<Unit<'a>>, AttributeValue<R<'a>>)> {
        if let Some(v) = e.attr_value(at) {
            return Some((ustart, unit.clone(), v));
        }
        let mut next = e
            .attr_value(dw::DW_AT_abstract_origin)
            .or_else(|| e.attr_value(dw::DW_AT_specification))
            .and_then(|v| self.reference(ustart, v));
        for _ in 0..MAX_DEPTH {
            let (s, u, d) = self.die(next?)?;
            if let Some(v) = d.attr_value(at) {
                return Some((s, u, v));
            }
            next = d
                .attr_value(dw::DW_AT_abstract_origin)
                .or_else(|| d.attr_value(dw::DW_AT_specification))
                .and_then(|v| self.reference(s, v));
        }
        None
    }

    fn string(&self, unit: &Unit<'a>, v: AttributeValue<R<'a>>) -> Option<String> {
        let s = self.dwarf.attr_string(unit, v).ok()?;
        Some(String::from_utf8_lossy(s.slice()).into_owned())
    }

    /// A string attribute of the DIE itself or its origin.
    fn attr_str(&self, unit: &Rc<Unit<'a>>, e: &Die<'a>, at: gimli::DwAt) -> Option<String> {
        let ustart = unit.header.debug_info_offset()?.0;
        let (_, u, v) = self.attr_integrate(ustart, unit, e, at)?;
        self.string(&u, v)
    }

    /// Code ranges of a DIE; low/high pc computed without overflow.
    fn pc_ranges(&self, unit: &Unit<'a>, e: &Die<'a>) -> Result<Vec<(u64, u64)>> {
        let mut out = Vec::new();
        if let Some(v) = e.attr_value(dw::DW_AT_ranges) {
            let mut it = match self.dwarf.attr_ranges(unit, v) {
                Ok(Some(it)) => it,
                Ok(None) => return Ok(out),
                Err(e) => return Err(self.err(dwarf_err(e))),
            };
            while let Some(r) = it.next().map_err(|e| self.err(dwarf_err(e)))? {
                if r.begin < r.end {
                    out.push((r.begin, r.end));
                }
                if out.len() > 4096 {
                    break;
                }
            }
            return Ok(out);
        }
        let Some(low) = e
            .attr_value(dw::DW_AT_low_pc)
            .and_then(|v| self.dwarf.attr_address(unit, v).ok().flatten())
        else {
            return Ok(out);
        };
        let high = match e.attr_value(dw::DW_AT_high_pc) {
            Some(AttributeValue::Addr(a)) => Some(a),
            Some(AttributeValue::DebugAddrIndex(i)) => self.dwarf.address(unit, i).ok(),
            Some(v) => v.udata_value().and_then(|n| low.checked_add(n)),
            None => None,
        };
        if let Some(h) = high.filter(|&h| h > low) {
            out.push((low, h));
        }
        Ok(out)
    }

    /// The entry address of a subprogram.
    fn entry_pc(&self, unit: &Unit<'a>, e: &Die<'a>, ranges: &[(u64, u64)]) -> Option<u64> {
        let low = e
            .attr_value(dw::DW_AT_low_pc)
            .and_then(|v| self.dwarf.attr_address(unit, v).ok().flatten());
        match e.attr_value(dw::DW_AT_entry_pc) {
            Some(AttributeValue::Addr(a)) => return Some(a),
            Some(AttributeValue::DebugAddrIndex(i)) => return self.dwarf.address(unit, i).ok(),
            // DWARF 5: a constant is an offset from the base (low_pc or the
            // unit's base address).
            Some(v) => {
                if let Some(n) = v.udata_value() {
                    return low.unwrap_or(unit.low_pc).checked_add(n);
                }
            }
            None => {}
        }
        low.or_else(|| ranges.first().map(|r| r.0))
    }

    /// The unit start and DIE of the subprogram covering `addr`.
    fn subprogram_at(&self, addr: u64, name: Option<&str>) -> Result<Option<(usize, UnitOffset)>> {
        let mut tried = Vec::new();
        // .debug_aranges names the unit directly.
        let mut headers = self.dwarf.debug_aranges.headers();
        while let Ok(Some(h)) = headers.next() {
            let mut entries = h.entries();
            while let Ok(Some(a)) = entries.next() {
                let r = a.range();
                if r.begin <= addr && addr < r.end {
                    let start = h.debug_info_offset().0;
                    if !tried.contains(&start) {
                        tried.push(start);
                        if let Some(hit) = self.subprogram_in(start, addr, name)? {
                            return Ok(Some(hit));
                        }
                    }
                }
            }
        }
        // Otherwise every unit whose ranges hold the address (or all).
        for &(start, _) in &self.file.units {
            if tried.contains(&start) {
                continue;
            }
            let Ok(unit) = self.unit(start) else { continue };
            let mut covers = true;
            if let Ok(mut r) = self.dwarf.unit_ranges(&unit) {
                covers = false;
                let mut any = false;
                while let Ok(Some(r)) = r.next() {
                    any = true;
                    if r.begin <= addr && addr < r.end {
                        covers = true;
                        break;
                    }
                }
                if !any {
                    // No ranges on the unit: look inside.
                    covers = true;
                }
            }
            if covers {
                if let Some(hit) = self.subprogram_in(start, addr, name)? {
                    return Ok(Some(hit));
                }
            }
        }
        Ok(None)
    }

    fn subprogram_in(
        &self,
        start: usize,
        addr: u64,
        name: Option<&str>,
    ) -> Result<Option<(usize, UnitOffset)>> {
        let unit = self.unit(start)?;
        let mut cur = unit.entries();
        // (starts at addr, named `name`, extent, DIE)
        let mut best: Option<(bool, bool, u64, UnitOffset)> = None;
        loop {
            let e = match cur.next_dfs() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => return Err(self.err(dwarf_err(e))),
            };
            if e.tag() != dw::DW_TAG_subprogram || e.has_attr(dw::DW_AT_declaration) {
                continue;
            }
            let ranges = self.pc_ranges(&unit, e)?;
            let Some(&(b, end)) = ranges.iter().find(|(b, e)| *b <= addr && addr < *e) else {
                continue;
            };
            let at_entry = self.entry_pc(&unit, e, &ranges) == Some(addr);
            let span = end - b;
            let named =
                name.is_some_and(|n| self.attr_str(&unit, e, dw::DW_AT_name).as_deref() == Some(n));
            let key = (at_entry, std::cmp::Reverse(span), named);
            let better = match best {
                None => true,
                Some((be, bn, bs, _)) => key > (be, std::cmp::Reverse(bs), bn),
            };
            if better {
                best = Some((at_entry, named, span, e.offset()));
            }
        }
        Ok(best.map(|(_, _, _, o)| (start, o)))
    }

    /// Builds the function at `(unit, die)`.
    fn function(&self, ustart: usize, off: UnitOffset) -> Result<Function> {
        let unit = self.unit(ustart)?;
        let e = unit.entry(off).map_err(|e| self.err(dwarf_err(e)))?;
        let ranges = self.pc_ranges(&unit, &e)?;
        let entry = self.entry_pc(&unit, &e, &ranges).ok_or_else(|| {
            self.err(format!(
                "subprogram at 0x{:x} has no address",
                ustart + off.0
            ))
        })?;
        let name = self
            .attr_str(&unit, &e, dw::DW_AT_name)
            .unwrap_or_else(|| format!("0x{entry:x}"));
        let linkage_name = self
            .attr_str(&unit, &e, dw::DW_AT_linkage_name)
            .or_else(|| self.attr_str(&unit, &e, dw::DW_AT_MIPS_linkage_name));
        let return_type = self.type_of(ustart, &unit, &e);
        let external = self
            .attr_integrate(ustart, &unit, &e, dw::DW_AT_external)
            .is_some_and(|(_, _, v)| matches!(v, AttributeValue::Flag(true)));
        let unit_name = unit
            .name
            .map(|n| String::from_utf8_lossy(n.slice()).into_owned());
        let frame_base = self.frame_base(&unit, &e, entry);
        let highpc_only = !e.has_attr(dw::DW_AT_ranges);
        let mut f = Function {
            name,
            linkage_name,
            entry,
            ranges,
            unit: unit_name,
            return_type,
            variadic: false,
            params: Vec::new(),
            locals: Vec::new(),
        };
        let scope = Scope {
            ustart,
            unit: &unit,
            pc: entry,
            frame_base,
            highpc: if highpc_only {
                f.ranges.first().map(|r| r.1)
            } else {
                None
            },
        };
        let mut tree = unit
            .entries_tree(Some(off))
            .map_err(|e| self.err(dwarf_err(e)))?;
        let root = tree.root().map_err(|e| self.err(dwarf_err(e)))?;
        self.collect(&scope, root, &mut f, 0, true)?;
        // Parameters with no location at the entry: the calling convention
        // says where they are, for functions called through their symbol.
        if external && !f.name.contains('.') {
            self.abi_fallback(&mut f);
        }
        Ok(f)
    }

    fn collect(
        &self,
        s: &Scope<'_, 'a>,
        node: gimli::EntriesTreeNode<'_, '_, R<'a>>,
        f: &mut Function,
        depth: usize,
        top: bool,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let mut children = node.children();
        loop {
            let child = match children.next() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(self.err(dwarf_err(e))),
            };
            let e = child.entry();
            match e.tag() {
                dw::DW_TAG_formal_parameter | dw::DW_TAG_variable => {
                    let param = e.tag() == dw::DW_TAG_formal_parameter;
                    if let Some(v) = self.variable(s, e, param) {
                        // perf's list has every scope's variables; parameters
                        // of the function itself are its signature.
                        if param && top {
                            f.params.push(v);
                        } else if !f.variables().any(|x| x.name == v.name) {
                            f.locals.push(Variable {
                                kind: VarKind::Local,
                                ..v
                            });
                        } else if v.perf_listed {
                            // Same name in an inner scope: keep perf's view
                            // that something by that name is listed.
                            f.locals.push(Variable {
                                kind: VarKind::Local,
                                ..v
                            });
                        }
                    }
                }
                dw::DW_TAG_unspecified_parameters if top => f.variadic = true,
                dw::DW_TAG_lexical_block | dw::DW_TAG_inlined_subroutine => {
                    let r = self.pc_ranges(s.unit, e)?;
                    if r.iter().any(|&(b, end)| b <= s.pc && s.pc < end) {
                        self.collect(s, child, f, depth + 1, false)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn variable(&self, s: &Scope<'_, 'a>, e: &Die<'a>, param: bool) -> Option<Variable> {
        let unit = s.unit;
        let name = self.attr_str(unit, e, dw::DW_AT_name)?;
        let ty = self.type_of(s.ustart, unit, e);
        let external = e.has_attr(dw::DW_AT_external);
        let (location, perf_listed) = self.location(s, e, param, &ty);
        Some(Variable {
            name,
            kind: if param {
                VarKind::Parameter
            } else {
                VarKind::Local
            },
            ty,
            location,
            from_abi: false,
            perf_listed: perf_listed || external,
        })
    }

    /// The expression valid at `pc` of a location attribute: `(expr, whole
    /// scope)`, and for lists the first expression after `pc` (perf's
    /// fallback for parameters) plus entry-value registers seen later.
    fn expr_at(&self, unit: &Unit<'a>, v: AttributeValue<R<'a>>, pc: u64) -> ExprAt<'a> {
        let mut out = ExprAt::default();
        if let AttributeValue::Exprloc(x) = v {
            out.at = Some(x);
            out.whole_scope = true;
            return out;
        }
        if let AttributeValue::Block(b) = v {
            out.at = Some(gimli::Expression(b));
            out.whole_scope = true;
            return out;
        }
        let mut it = match self.dwarf.attr_locations(unit, v) {
            Ok(Some(it)) => it,
            _ => return out,
        };
        out.list = true;
        for _ in 0..65536 {
            let entry = match it.next() {
                Ok(Some(e)) => e,
                _ => break,
            };
            let r = entry.range;
            if r.begin <= pc && pc < r.end {
                if out.at.is_none() {
                    out.at = Some(entry.data);
                }
            } else if r.begin > pc && out.after.is_none_or(|(b, _)| r.begin < b) {
                out.after = Some((r.begin, entry.data));
            }
            if let Some(reg) = self.entry_value_reg(entry.data, unit.encoding()) {
                out.entry_value_reg.get_or_insert(reg);
            }
        }
        out
    }

    /// `DW_OP_entry_value(DW_OP_regN) DW_OP_stack_value` (the value register
    /// N had at the entry) → N.
    fn entry_value_reg(&self, x: gimli::Expression<R<'a>>, enc: gimli::Encoding) -> Option<u16> {
        let mut ops = x.operations(enc);
        let (
            Ok(Some(Operation::EntryValue { expression })),
            Ok(Some(Operation::StackValue)),
            Ok(None),
        ) = (ops.next(), ops.next(), ops.next())
        else {
            return None;
        };
        let inner = gimli::Expression(expression);
        let mut io = inner.operations(enc);
        match (io.next(), io.next()) {
            (Ok(Some(Operation::Register { register })), Ok(None)) => Some(register.0),
            _ => None,
        }
    }

    fn frame_base(&self, unit: &Unit<'a>, e: &Die<'a>, pc: u64) -> FrameBase {
        let Some(v) = e.attr_value(dw::DW_AT_frame_base) else {
            return FrameBase::None;
        };
        let at = self.expr_at(unit, v, pc);
        let Some(x) = at.at else {
            return FrameBase::None;
        };
        let mut ops = x.operations(unit.encoding());
        match ops.next() {
            Ok(Some(Operation::CallFrameCFA)) => FrameBase::Cfa,
            Ok(Some(Operation::RegisterOffset {
                register, offset, ..
            })) => FrameBase::Reg(register.0, offset),
            Ok(Some(Operation::Register { register })) => FrameBase::Reg(register.0, 0),
            _ => FrameBase::None,
        }
    }

    /// Location at the entry and whether perf 6.1 would list the variable.
    fn location(&self, s: &Scope<'_, 'a>, e: &Die<'a>, param: bool, ty: &Type) -> (Location, bool) {
        let unit = s.unit;
        let enc = unit.encoding();
        let Some(v) = e.attr_value(dw::DW_AT_location) else {
            if let Some(c) = e.attr_value(dw::DW_AT_const_value) {
                let value = match c {
                    AttributeValue::Sdata(n) => Some(n),
                    AttributeValue::Data1(n) => Some(extend(u64::from(n), 1, ty.signed)),
                    AttributeValue::Data2(n) => Some(extend(u64::from(n), 2, ty.signed)),
                    AttributeValue::Data4(n) => Some(extend(u64::from(n), 4, ty.signed)),
                    AttributeValue::Data8(n) => Some(n as i64),
                    AttributeValue::Udata(n) => i64::try_from(n).ok(),
                    _ => None,
                };
                return match value {
                    Some(value) => (Location::Constant { value }, true),
                    None => (
                        Location::Unsupported {
                            what: "a constant that is not an integer".into(),
                        },
                        true,
                    ),
                };
            }
            return (
                Location::OptimizedOut {
                    why: "no location".into(),
                },
                false,
            );
        };
        let at = self.expr_at(unit, v, s.pc);
        // perf: the expression at the address, or for a parameter at the
        // entry the first one after it (up to high_pc).
        let perf_expr = at.at.or_else(|| {
            if param {
                let (begin, x) = at.after?;
                s.highpc.filter(|&h| begin <= h).map(|_| x)
            } else {
                None
            }
        });
        let perf = perf_expr.is_some_and(|x| self.perf_accepts(s, x, enc));
        let Some(x) = at.at else {
            let loc = match at.entry_value_reg {
                // Later code says the parameter is still what the register
                // held at the entry: at the entry it is the register itself.
                Some(reg) if param => Location::Register { reg },
                _ => Location::OptimizedOut {
                    why: if at.list {
                        "no location at the entry address".into()
                    } else {
                        "no location".into()
                    },
                },
            };
            return (loc, perf);
        };
        let loc = self.eval(s, x, enc, ty, at.whole_scope);
        (loc, perf)
    }

    /// perf's `convert_variable_location` on the first operation.
    fn perf_accepts(
        &self,
        s: &Scope<'_, 'a>,
        x: gimli::Expression<R<'a>>,
        enc: gimli::Encoding,
    ) -> bool {
        match x.operations(enc).next() {
            Ok(Some(Operation::Address { .. })) => true,
            Ok(Some(Operation::FrameOffset { .. })) => match s.frame_base {
                FrameBase::Cfa => self.file.has_cfi,
                FrameBase::Reg(..) => true,
                FrameBase::None => false,
            },
            Ok(Some(Operation::Register { .. } | Operation::RegisterOffset { .. })) => true,
            _ => false,
        }
    }

    /// Evaluates the simple location forms a fetch argument can express.
    fn eval(
        &self,
        s: &Scope<'_, 'a>,
        x: gimli::Expression<R<'a>>,
        enc: gimli::Encoding,
        ty: &Type,
        whole_scope: bool,
    ) -> Location {
        let machine = self.file.machine;
        let mut ops = Vec::new();
        let mut it = x.operations(enc);
        loop {
            match it.next() {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => {
                    return Location::Unsupported {
                        what: format!("unreadable expression: {e}"),
                    }
                }
            }
            if ops.len() > 64 {
                return Location::Unsupported {
                    what: "a long expression".into(),
                };
            }
        }
        // A first piece that holds the whole variable is the variable.
        if let Some(Operation::Piece { size_in_bits, .. }) = ops.get(1) {
            let whole = ty
                .size
                .is_some_and(|n| n.saturating_mul(8) <= *size_in_bits);
            if whole {
                ops.truncate(1);
            } else {
                return Location::Unsupported {
                    what: "split into pieces".into(),
                };
            }
        }
        let loc = match ops.as_slice() {
            [] => Location::OptimizedOut {
                why: "empty location".into(),
            },
            [Operation::Register { register }] => Location::Register { reg: register.0 },
            [Operation::RegisterOffset {
                register, offset, ..
            }] => Location::Memory {
                reg: register.0,
                offset: *offset,
            },
            [Operation::RegisterOffset {
                register,
                offset: 0,
                ..
            }, Operation::StackValue] => Location::Register { reg: register.0 },
            [Operation::FrameOffset { offset }] => match s.frame_base {
                FrameBase::Cfa => match machine.sp() {
                    Some(sp) => Location::Memory {
                        reg: sp,
                        offset: offset.saturating_add(machine.entry_cfa_offset()),
                    },
                    None => Location::Unsupported {
                        what: "frame base on an unknown machine".into(),
                    },
                },
                FrameBase::Reg(r, o) => Location::Memory {
                    reg: r,
                    offset: offset.saturating_add(o),
                },
                FrameBase::None => Location::Unsupported {
                    what: "frame offset without a frame base".into(),
                },
            },
            [Operation::Address { address }] => Location::Static { address: *address },
            [Operation::AddressIndex { index }] => match self.dwarf.address(s.unit, *index) {
                Ok(address) => Location::Static { address },
                Err(e) => Location::Unsupported {
                    what: format!("bad address index: {e}"),
                },
            },
            [Operation::EntryValue { expression }, Operation::StackValue] => {
                let inner = gimli::Expression(*expression);
                let mut io = inner.operations(enc);
                match (io.next(), io.next()) {
                    (Ok(Some(Operation::Register { register })), Ok(None)) => {
                        Location::Register { reg: register.0 }
                    }
                    _ => Location::Unsupported {
                        what: "an entry value of memory".into(),
                    },
                }
            }
            [Operation::UnsignedConstant { value }, Operation::StackValue] => {
                match i64::try_from(*value) {
                    Ok(value) => Location::Constant { value },
                    Err(_) => Location::Constant {
                        value: *value as i64,
                    },
                }
            }
            [Operation::SignedConstant { value }, Operation::StackValue] => {
                Location::Constant { value: *value }
            }
            [Operation::ImplicitValue { data }] if data.len() <= 8 => {
                let mut v = 0u64;
                let b = data.slice();
                for (i, byte) in b.iter().enumerate() {
                    v |= u64::from(*byte)
                        << if self.file.endian == RunTimeEndian::Little {
                            8 * i
                        } else {
                            8 * (b.len() - 1 - i)
                        };
                }
                Location::Constant {
                    value: extend(v, b.len(), ty.signed),
                }
            }
            [Operation::ImplicitPointer { .. }, ..] => Location::Unsupported {
                what: "a pointer the compiler removed (implicit pointer)".into(),
            },
            [Operation::Address { .. } | Operation::UnsignedConstant { .. }, Operation::TLS, ..] => {
                Location::Unsupported {
                    what: "thread-local storage".into(),
                }
            }
            [.., Operation::StackValue] => Location::Unsupported {
                what: "a value computed from registers".into(),
            },
            [op, ..] => Location::Unsupported {
                what: format!("{op:?}").chars().take(60).collect(),
            },
        };
        // What is valid over the whole function is not yet there at its
        // first instruction when it lives in the frame the prologue builds.
        if let Location::Memory { reg, offset } = loc {
            let below_sp = Some(reg) == machine.sp() && offset < 0;
            let fp = Some(reg) == machine.fp() && whole_scope;
            if below_sp || fp {
                return Location::OptimizedOut {
                    why: "in the stack frame the prologue sets up".into(),
                };
            }
        }
        loc
    }

    /// Parameters without a location at the entry, of functions that follow
    /// the calling convention: the argument registers, while every earlier
    /// parameter is a plain integer or pointer.
    fn abi_fallback(&self, f: &mut Function) {
        let machine = self.file.machine;
        let regs = machine.int_args();
        let mut next = 0usize;
        // x86_64 passes a hidden pointer for large returned aggregates.
        if machine == Machine::X86_64
            && matches!(f.return_type.kind, TypeKind::Struct | TypeKind::Union)
        {
            match f.return_type.size {
                Some(n) if n <= 16 => {}
                Some(_) => next = 1,
                None => return,
            }
        }
        for p in &mut f.params {
            let int_class = matches!(
                p.ty.kind,
                TypeKind::Int
                    | TypeKind::Char
                    | TypeKind::Bool
                    | TypeKind::Enum
                    | TypeKind::Pointer
            ) && p.ty.size.is_some_and(|n| n <= 8);
            if p.ty.kind == TypeKind::Float && p.ty.size.is_some_and(|n| n <= 8) {
                // In a vector register: no integer register used.
                continue;
            }
            if !int_class {
                return;
            }
            let Some(&reg) = regs.get(next) else { return };
            next += 1;
            if matches!(p.location, Location::OptimizedOut { .. }) {
                p.location = Location::Register { reg };
                p.from_abi = true;
            }
        }
    }

    /// The type named by a DIE's `DW_AT_type` (through its origin).
    fn type_of(&self, ustart: usize, unit: &Rc<Unit<'a>>, e: &Die<'a>) -> Type {
        match self.attr_integrate(ustart, unit, e, dw::DW_AT_type) {
            Some((s, _, v)) => match self.reference(s, v) {
                Some(off) => self.type_at(off, 0).unwrap_or_else(|_| Type::unknown()),
                None => Type::unknown(),
            },
            None => Type::void(),
        }
    }

    /// The DW_AT_type target of the DIE at `off`, as an offset.
    fn type_ref(&self, off: usize) -> Option<usize> {
        let (s, u, d) = self.die(off)?;
        let (s2, _, v) = self.attr_integrate(s, &u, &d, dw::DW_AT_type)?;
        self.reference(s2, v)
    }

    fn type_at(&self, off: usize, depth: usize) -> Result<Type> {
        if let Some(t) = self.types.borrow().get(&off) {
            return Ok(t.clone());
        }
        if depth > MAX_DEPTH || !self.step() {
            return Ok(Type::unknown());
        }
        let (s, unit, d) = self
            .die(off)
            .ok_or_else(|| self.err(format!("no type at 0x{off:x}")))?;
        let tag = d.tag();
        let name = self.attr_str(&unit, &d, dw::DW_AT_name);
        let byte_size = d
            .attr_value(dw::DW_AT_byte_size)
            .and_then(|v| v.udata_value());
        let target = self
            .attr_integrate(s, &unit, &d, dw::DW_AT_type)
            .and_then(|(s2, _, v)| self.reference(s2, v));
        let sub = |t: Option<usize>| -> Type {
            match t {
                Some(o) => self
                    .type_at(o, depth + 1)
                    .unwrap_or_else(|_| Type::unknown()),
                None => Type::void(),
            }
        };
        let perf_name = self.perf_typename(off, 0);
        let t = match tag {
            dw::DW_TAG_base_type => {
                let enc = match d.attr_value(dw::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(e)) => Some(e),
                    Some(v) => v.u8_value().map(gimli::DwAte),
                    None => None,
                };
                let (kind, signed) = match enc {
                    Some(dw::DW_ATE_signed) => (TypeKind::Int, true),
                    Some(dw::DW_ATE_unsigned) => (TypeKind::Int, false),
                    Some(dw::DW_ATE_signed_char) => (TypeKind::Char, true),
                    Some(dw::DW_ATE_unsigned_char | dw::DW_ATE_UTF) => (TypeKind::Char, false),
                    Some(dw::DW_ATE_boolean) => (TypeKind::Bool, false),
                    Some(
                        dw::DW_ATE_float
                        | dw::DW_ATE_complex_float
                        | dw::DW_ATE_imaginary_float
                        | dw::DW_ATE_decimal_float,
                    ) => (TypeKind::Float, true),
                    _ => (TypeKind::Other, false),
                };
                Type {
                    name: name.unwrap_or_else(|| "(unnamed base type)".into()),
                    perf_name,
                    kind,
                    size: byte_size,
                    signed,
                    char_data: false,
                    stripped: off,
                    target: 0,
                }
            }
            dw::DW_TAG_unspecified_type => Type {
                name: name.unwrap_or_else(|| "void".into()),
                perf_name,
                kind: TypeKind::Void,
                stripped: off,
                ..Type::void()
            },
            dw::DW_TAG_typedef => {
                let inner = sub(target);
                Type {
                    name: name.unwrap_or_else(|| inner.name.clone()),
                    perf_name,
                    ..inner
                }
            }
            dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type
            | dw::DW_TAG_shared_type => {
                // The qualified spelling; the rest is the underlying type's.
                let inner = sub(target);
                Type {
                    name: self.c_decl(off, String::new(), 0),
                    perf_name,
                    ..inner
                }
            }
            dw::DW_TAG_pointer_type
            | dw::DW_TAG_reference_type
            | dw::DW_TAG_rvalue_reference_type
            | dw::DW_TAG_ptr_to_member_type => {
                let pointee = target.map(|o| self.strip(o, 0));
                let char_data = pointee
                    .flatten()
                    .and_then(|o| self.die(o))
                    .is_some_and(|(_, _, pd)| is_char_base(&pd));
                Type {
                    name: self.c_decl(off, String::new(), 0),
                    perf_name,
                    kind: TypeKind::Pointer,
                    size: byte_size.or(Some(u64::from(unit.encoding().address_size))),
                    signed: false,
                    char_data,
                    stripped: off,
                    target: target.unwrap_or(0),
                }
            }
            dw::DW_TAG_structure_type | dw::DW_TAG_class_type | dw::DW_TAG_union_type => Type {
                name: self.c_decl(off, String::new(), 0),
                perf_name,
                kind: if tag == dw::DW_TAG_union_type {
                    TypeKind::Union
                } else {
                    TypeKind::Struct
                },
                size: byte_size,
                signed: false,
                char_data: false,
                stripped: off,
                target: 0,
            },
            dw::DW_TAG_enumeration_type => {
                let under = target.map(|t| sub(Some(t)));
                Type {
                    name: self.c_decl(off, String::new(), 0),
                    perf_name,
                    kind: TypeKind::Enum,
                    size: byte_size.or(under.as_ref().and_then(|u| u.size)),
                    signed: under.is_some_and(|u| u.signed),
                    char_data: false,
                    stripped: off,
                    target: 0,
                }
            }
            dw::DW_TAG_array_type => {
                let elem = sub(target);
                let count = self.array_count(off);
                Type {
                    name: self.c_decl(off, String::new(), 0),
                    perf_name,
                    kind: TypeKind::Array,
                    size: byte_size.or_else(|| count?.checked_mul(elem.size?)),
                    signed: false,
                    char_data: elem.kind == TypeKind::Char && elem.size == Some(1),
                    stripped: off,
                    target: target.unwrap_or(0),
                }
            }
            dw::DW_TAG_subroutine_type => Type {
                name: self.c_decl(off, String::new(), 0),
                perf_name,
                kind: TypeKind::Function,
                size: None,
                signed: false,
                char_data: false,
                stripped: off,
                target: 0,
            },
            _ => Type {
                name: name.unwrap_or_else(|| format!("({tag})")),
                perf_name,
                ..Type::unknown()
            },
        };
        self.types.borrow_mut().insert(off, t.clone());
        Ok(t)
    }

    /// Under typedefs and qualifiers.
    fn strip(&self, mut off: usize, depth: usize) -> Option<usize> {
        for _ in depth..MAX_DEPTH {
            let (_, _, d) = self.die(off)?;
            match d.tag() {
                dw::DW_TAG_typedef
                | dw::DW_TAG_const_type
                | dw::DW_TAG_volatile_type
                | dw::DW_TAG_restrict_type
                | dw::DW_TAG_atomic_type
                | dw::DW_TAG_shared_type => off = self.type_ref(off)?,
                _ => return Some(off),
            }
        }
        None
    }

    fn array_count(&self, off: usize) -> Option<u64> {
        let (_, unit, _) = self.die(off)?;
        let start = unit.header.debug_info_offset()?.0;
        let mut tree = unit
            .entries_tree(Some(UnitOffset(off.checked_sub(start)?)))
            .ok()?;
        let root = tree.root().ok()?;
        let mut ch = root.children();
        let mut total: Option<u64> = None;
        while let Ok(Some(c)) = ch.next() {
            let e = c.entry();
            if e.tag() != dw::DW_TAG_subrange_type {
                continue;
            }
            let n = e
                .attr_value(dw::DW_AT_count)
                .and_then(|v| v.udata_value())
                .or_else(|| {
                    let up = e.attr_value(dw::DW_AT_upper_bound)?.udata_value()?;
                    let low = e
                        .attr_value(dw::DW_AT_lower_bound)
                        .and_then(|v| v.udata_value())
                        .unwrap_or(0);
                    up.checked_sub(low)?.checked_add(1)
                })?;
            total = Some(total.unwrap_or(1).checked_mul(n)?);
        }
        total
    }

    /// The dimensions `[N][M]` of an array type.
    fn array_dims(&self, off: usize) -> String {
        let Some((_, unit, _)) = self.die(off) else {
            return "[]".into();
        };
        let Some(start) = unit.header.debug_info_offset().map(|o| o.0) else {
            return "[]".into();
        };
        let Some(uo) = off.checked_sub(start) else {
            return "[]".into();
        };
        let Ok(mut tree) = unit.entries_tree(Some(UnitOffset(uo))) else {
            return "[]".into();
        };
        let Ok(root) = tree.root() else {
            return "[]".into();
        };
        let mut ch = root.children();
        let mut s = String::new();
        while let Ok(Some(c)) = ch.next() {
            let e = c.entry();
            if e.tag() != dw::DW_TAG_subrange_type {
                continue;
            }
            let n = e
                .attr_value(dw::DW_AT_count)
                .and_then(|v| v.udata_value())
                .or_else(|| {
                    e.attr_value(dw::DW_AT_upper_bound)?
                        .udata_value()?
                        .checked_add(1)
                });
            match n {
                Some(n) => s.push_str(&format!("[{n}]")),
                None => s.push_str("[]"),
            }
            if s.len() > 64 {
                break;
            }
        }
        if s.is_empty() {
            s.push_str("[]");
        }
        s
    }

    /// C declaration of `decl` with the type at `off` (`decl` empty: the
    /// type's own spelling).
    fn c_decl(&self, off: usize, decl: String, depth: usize) -> String {
        let named = |base: String, decl: String| {
            if decl.is_empty() {
                base
            } else {
                format!("{base} {decl}")
            }
        };
        if depth > MAX_DEPTH || !self.step() {
            return named("?".into(), decl);
        }
        let Some((s, unit, d)) = self.die(off) else {
            return named("?".into(), decl);
        };
        let name = self.attr_str(&unit, &d, dw::DW_AT_name);
        let target = self
            .attr_integrate(s, &unit, &d, dw::DW_AT_type)
            .and_then(|(s2, _, v)| self.reference(s2, v));
        let inner = |decl: String| match target {
            Some(t) => self.c_decl(t, decl, depth + 1),
            None => named("void".into(), decl),
        };
        let tag = d.tag();
        match tag {
            dw::DW_TAG_pointer_type => inner(format!("*{decl}")),
            dw::DW_TAG_reference_type => inner(format!("&{decl}")),
            dw::DW_TAG_rvalue_reference_type => inner(format!("&&{decl}")),
            dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type => {
                let q = match tag {
                    dw::DW_TAG_const_type => "const",
                    dw::DW_TAG_volatile_type => "volatile",
                    dw::DW_TAG_restrict_type => "restrict",
                    _ => "_Atomic",
                };
                // `const char *`, but `char *const p`.
                let target_is_ptr = target.and_then(|t| self.die(t)).is_some_and(|(_, _, td)| {
                    matches!(
                        td.tag(),
                        dw::DW_TAG_pointer_type
                            | dw::DW_TAG_reference_type
                            | dw::DW_TAG_rvalue_reference_type
                    )
                });
                if target_is_ptr {
                    inner(if decl.is_empty() {
                        q.to_string()
                    } else {
                        format!("{q} {decl}")
                    })
                } else {
                    format!("{q} {}", inner(decl))
                }
            }
            dw::DW_TAG_array_type => {
                let dims = self.array_dims(off);
                if decl.starts_with('*') || decl.starts_with('&') {
                    inner(format!("({decl}){dims}"))
                } else {
                    inner(format!("{decl}{dims}"))
                }
            }
            dw::DW_TAG_subroutine_type => {
                let args = self.params_decl(off, depth);
                if decl.starts_with('*') || decl.starts_with('&') {
                    inner(format!("({decl})({args})"))
                } else {
                    inner(format!("{decl}({args})"))
                }
            }
            dw::DW_TAG_structure_type => named(
                format!("struct {}", name.unwrap_or_else(|| "{...}".into())),
                decl,
            ),
            dw::DW_TAG_class_type => named(
                format!("class {}", name.unwrap_or_else(|| "{...}".into())),
                decl,
            ),
            dw::DW_TAG_union_type => named(
                format!("union {}", name.unwrap_or_else(|| "{...}".into())),
                decl,
            ),
            dw::DW_TAG_enumeration_type => named(
                format!("enum {}", name.unwrap_or_else(|| "{...}".into())),
                decl,
            ),
            _ => named(name.unwrap_or_else(|| "?".into()), decl),
        }
    }

    fn params_decl(&self, off: usize, depth: usize) -> String {
        let Some((s, unit, _)) = self.die(off) else {
            return String::new();
        };
        let Some(uo) = off.checked_sub(s) else {
            return String::new();
        };
        let Ok(mut tree) = unit.entries_tree(Some(UnitOffset(uo))) else {
            return String::new();
        };
        let Ok(root) = tree.root() else {
            return String::new();
        };
        let mut ch = root.children();
        let mut args: Vec<String> = Vec::new();
        while let Ok(Some(c)) = ch.next() {
            let e = c.entry();
            match e.tag() {
                dw::DW_TAG_formal_parameter => {
                    let t = e
                        .attr_value(dw::DW_AT_type)
                        .and_then(|v| self.reference(s, v));
                    args.push(match t {
                        Some(t) => self.c_decl(t, String::new(), depth + 1),
                        None => "?".into(),
                    });
                }
                dw::DW_TAG_unspecified_parameters => args.push("...".into()),
                _ => {}
            }
            if args.len() > 32 {
                break;
            }
        }
        if args.is_empty() {
            "void".into()
        } else {
            args.join(", ")
        }
    }

    /// perf's `die_get_typename` for the type at `off`.
    fn perf_typename(&self, off: usize, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH || !self.step() {
            return None;
        }
        // perf skips const/restrict/volatile/shared, not typedefs.
        let mut t = off;
        let mut d;
        let mut n = 0;
        loop {
            d = self.die(t)?;
            match d.2.tag() {
                dw::DW_TAG_const_type
                | dw::DW_TAG_restrict_type
                | dw::DW_TAG_volatile_type
                | dw::DW_TAG_shared_type => {
                    t = self.type_ref(t)?;
                }
                _ => break,
            }
            n += 1;
            if n > MAX_DEPTH {
                return None;
            }
        }
        let (_, unit, die) = d;
        match die.tag() {
            dw::DW_TAG_array_type | dw::DW_TAG_pointer_type => {
                let inner = self.perf_typename(self.type_ref(t)?, depth + 1)?;
                Some(format!("{inner}*"))
            }
            dw::DW_TAG_subroutine_type => Some("(function_type)".into()),
            tag => {
                let name = self.attr_str(&unit, &die, dw::DW_AT_name)?;
                let prefix = match tag {
                    dw::DW_TAG_union_type => "union ",
                    dw::DW_TAG_structure_type => "struct ",
                    dw::DW_TAG_enumeration_type => "enum ",
                    _ => "",
                };
                Some(format!("{prefix}{name}"))
            }
        }
    }

    fn member(&self, sty: usize, name: &str, base: u64, depth: usize) -> Result<Option<Member>> {
        if depth > MAX_DEPTH || !self.step() {
            return Ok(None);
        }
        let Some((s, unit, d)) = self.die(sty) else {
            return Ok(None);
        };
        let union = d.tag() == dw::DW_TAG_union_type;
        let Some(uo) = sty.checked_sub(s) else {
            return Ok(None);
        };
        let mut tree = unit
            .entries_tree(Some(UnitOffset(uo)))
            .map_err(|e| self.err(dwarf_err(e)))?;
        let root = tree.root().map_err(|e| self.err(dwarf_err(e)))?;
        let mut ch = root.children();
        let mut anon = Vec::new();
        while let Ok(Some(c)) = ch.next() {
            let e = c.entry();
            if e.tag() != dw::DW_TAG_member {
                continue;
            }
            let off = if union {
                0
            } else {
                match e.attr_value(dw::DW_AT_data_member_location) {
                    Some(AttributeValue::Exprloc(x)) => {
                        match x.operations(unit.encoding()).next() {
                            Ok(Some(Operation::PlusConstant { value })) => value,
                            _ => continue,
                        }
                    }
                    Some(v) => v.udata_value().unwrap_or(0),
                    None => 0,
                }
            };
            let bit_size = e
                .attr_value(dw::DW_AT_bit_size)
                .and_then(|v| v.udata_value());
            let mname = self.attr_str(&unit, e, dw::DW_AT_name);
            let Some(mty) = e
                .attr_value(dw::DW_AT_type)
                .and_then(|v| self.reference(s, v))
            else {
                continue;
            };
            match mname {
                Some(n) if n == name => {
                    let ty = self.type_at(mty, 0)?;
                    let mut offset = base.saturating_add(off);
                    let mut bit_field = None;
                    if let Some(bs) = bit_size {
                        // The first bit, counted from the struct's start
                        // (DWARF 4+: data_bit_offset; DWARF 2/3: bit_offset
                        // from the storage unit's most significant bit).
                        let dbo = if let Some(v) = e
                            .attr_value(dw::DW_AT_data_bit_offset)
                            .and_then(|v| v.udata_value())
                        {
                            Some(base.saturating_mul(8).saturating_add(v))
                        } else if let Some(bo) = e
                            .attr_value(dw::DW_AT_bit_offset)
                            .and_then(|v| v.udata_value())
                        {
                            let storage = e
                                .attr_value(dw::DW_AT_byte_size)
                                .and_then(|v| v.udata_value())
                                .or(ty.size)
                                .unwrap_or(0);
                            storage
                                .saturating_mul(8)
                                .checked_sub(bo)
                                .and_then(|x| x.checked_sub(bs))
                                .map(|lsb| offset.saturating_mul(8).saturating_add(lsb))
                        } else {
                            Some(offset.saturating_mul(8))
                        };
                        let dbo =
                            dbo.ok_or_else(|| self.err(format!("bit field {n}: bad offsets")))?;
                        offset = dbo / 8;
                        bit_field = Some((dbo % 8, bs));
                    }
                    return Ok(Some(Member {
                        name: n,
                        offset,
                        ty,
                        bit_field,
                    }));
                }
                None => anon.push((mty, off)),
                _ => {}
            }
        }
        for (mty, off) in anon {
            if let Some(inner) = self.strip(mty, 0) {
                if let Some(m) = self.member(inner, name, base.saturating_add(off), depth + 1)? {
                    return Ok(Some(m));
                }
            }
        }
        Ok(None)
    }

    fn member_names(&self, sty: usize, out: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH || out.len() > 256 || !self.step() {
            return;
        }
        let Some((s, unit, _)) = self.die(sty) else {
            return;
        };
        let Some(uo) = sty.checked_sub(s) else { return };
        let Ok(mut tree) = unit.entries_tree(Some(UnitOffset(uo))) else {
            return;
        };
        let Ok(root) = tree.root() else { return };
        let mut ch = root.children();
        while let Ok(Some(c)) = ch.next() {
            let e = c.entry();
            if e.tag() != dw::DW_TAG_member {
                continue;
            }
            match self.attr_str(&unit, e, dw::DW_AT_name) {
                Some(n) => out.push(n),
                None => {
                    if let Some(t) = e
                        .attr_value(dw::DW_AT_type)
                        .and_then(|v| self.reference(s, v))
                        .and_then(|t| self.strip(t, 0))
                    {
                        self.member_names(t, out, depth + 1);
                    }
                }
            }
        }
    }
}

fn is_char_base(d: &Die<'_>) -> bool {
    d.tag() == dw::DW_TAG_base_type
        && d.attr_value(dw::DW_AT_byte_size)
            .and_then(|v| v.udata_value())
            == Some(1)
        && matches!(
            d.attr_value(dw::DW_AT_encoding),
            Some(AttributeValue::Encoding(
                dw::DW_ATE_signed_char | dw::DW_ATE_unsigned_char | dw::DW_ATE_UTF
            ))
        )
}

/// Sign-extends the low `bytes` bytes of `v` when `signed`.
fn extend(v: u64, bytes: usize, signed: bool) -> i64 {
    if !signed || bytes == 0 || bytes >= 8 {
        return v as i64;
    }
    let shift = 64 - 8 * bytes as u32;
    ((v << shift) as i64) >> shift
}

/// Where variables are evaluated.
struct Scope<'u, 'a> {
    ustart: usize,
    unit: &'u Rc<Unit<'a>>,
    pc: u64,
    frame_base: FrameBase,
    /// `DW_AT_high_pc` of the function (perf's forward search stops there;
    /// functions with `DW_AT_ranges` have none).
    highpc: Option<u64>,
}

#[derive(Default)]
struct ExprAt<'a> {
    at: Option<gimli::Expression<R<'a>>>,
    whole_scope: bool,
    list: bool,
    after: Option<(u64, gimli::Expression<R<'a>>)>,
    entry_value_reg: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfFile;
    use crate::locate::SymbolPaths;

    const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";

    /// libc and its debug file (libc6-dbg), or a failure saying what to install.
    fn libc() -> (ElfFile, DebugFile) {
        let elf = ElfFile::open(Path::new(LIBC)).expect("libc.so.6 (apt-get install libc6)");
        let dbg = SymbolPaths::default()
            .debuginfo(Path::new(LIBC))
            .unwrap_or_else(|| panic!("no debug info for {LIBC}: apt-get install libc6-dbg"));
        (
            elf,
            DebugFile::open(&dbg).expect("reading libc's debug file"),
        )
    }

    fn at(elf: &ElfFile, dbg: &DebugFile, sym: &str) -> Function {
        let s = elf.function(sym).unwrap();
        dbg.function_at(s.addr)
            .unwrap()
            .unwrap_or_else(|| panic!("no subprogram at {sym} 0x{:x}", s.addr))
    }

    #[test]
    fn open_is_libc_open64_with_file_in_di() {
        let (elf, dbg) = libc();
        assert_eq!(dbg.machine(), Machine::X86_64);
        let f = at(&elf, &dbg, "open");
        assert_eq!(f.name, "__libc_open64");
        assert_eq!(f.entry, elf.function("open").unwrap().addr);
        assert!(f.variadic);
        let file = f.variable("file").expect("parameter file");
        assert_eq!(file.kind, VarKind::Parameter);
        assert_eq!(file.ty.name, "const char *");
        assert_eq!(file.ty.perf_name.as_deref(), Some("char*"));
        assert_eq!(file.ty.kind, TypeKind::Pointer);
        assert_eq!(file.ty.size, Some(8));
        assert!(file.ty.char_data);
        assert_eq!(file.location, Location::Register { reg: 5 });
        assert_eq!(
            file.location.fetch_arg(Machine::X86_64).as_deref(),
            Some("%di")
        );
        let oflag = f.variable("oflag").unwrap();
        assert_eq!(oflag.ty.name, "int");
        assert!(oflag.ty.signed);
        assert_eq!(oflag.ty.size, Some(4));
        assert_eq!(
            oflag.location.fetch_arg(Machine::X86_64).as_deref(),
            Some("%si")
        );
        let names: Vec<_> = f.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["file", "oflag"]);
        // Aliases land on the same subprogram.
        for alias in ["open64", "__open64", "__open"] {
            assert_eq!(at(&elf, &dbg, alias).name, "__libc_open64", "{alias}");
        }
    }

    #[test]
    fn read_has_fd_buf_nbytes() {
        let (elf, dbg) = libc();
        let f = at(&elf, &dbg, "read");
        assert_eq!(f.name, "__libc_read");
        let got: Vec<(&str, &str, Option<String>)> = f
            .params
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.ty.name.as_str(),
                    p.location.fetch_arg(Machine::X86_64),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("fd", "int", Some("%di".to_string())),
                ("buf", "void *", Some("%si".to_string())),
                ("nbytes", "size_t", Some("%dx".to_string())),
            ]
        );
        let nbytes = f.variable("nbytes").unwrap();
        assert_eq!(nbytes.ty.kind, TypeKind::Int);
        assert!(!nbytes.ty.signed);
        assert_eq!(nbytes.ty.size, Some(8));
        // void * has no perf spelling.
        assert_eq!(f.variable("buf").unwrap().ty.perf_name, None);
    }

    #[test]
    fn struct_members_and_pointees() {
        let (elf, dbg) = libc();
        let f = at(&elf, &dbg, "fstat");
        let buf = f.variable("buf").expect("fstat's buf");
        assert_eq!(buf.ty.name, "struct stat64 *");
        assert_eq!(buf.ty.perf_name.as_deref(), Some("struct stat64*"));
        let st = dbg.pointee(&buf.ty).unwrap().unwrap();
        assert_eq!(st.kind, TypeKind::Struct);
        let size = dbg.member(&st, "st_size").unwrap().unwrap();
        assert_eq!(size.offset, 48);
        assert_eq!(size.ty.size, Some(8));
        assert!(size.ty.signed);
        assert!(dbg.member(&st, "nosuch").unwrap().is_none());
        assert!(dbg.member_names(&st).contains(&"st_mode".to_string()));
    }

    #[test]
    fn no_function_outside_code_and_garbage_is_an_error() {
        let (_, dbg) = libc();
        assert!(dbg.function_at(0).unwrap().is_none());
        assert!(dbg.function_at(u64::MAX).unwrap().is_none());
        let tmp = std::env::temp_dir().join(format!("tk-dwarf-{}", std::process::id()));
        std::fs::write(&tmp, b"\x7fELF garbage").unwrap();
        assert!(DebugFile::open(&tmp).is_err());
        std::fs::remove_file(&tmp).unwrap();
        // A binary without DWARF.
        let e = DebugFile::open(Path::new(LIBC)).unwrap_err().to_string();
        assert!(e.contains("no .debug_info"), "{e}");
    }

    #[test]
    fn perf_lists_what_it_can_fetch_and_asm_aliases_keep_their_name() {
        let (elf, dbg) = libc();
        let f = at(&elf, &dbg, "open");
        let listed: Vec<_> = f
            .variables()
            .map(|v| (v.name.as_str(), v.perf_listed))
            .collect();
        assert_eq!(listed, [("file", true), ("oflag", true), ("mode", false)]);
        assert!(matches!(
            f.variable("mode").unwrap().location,
            Location::OptimizedOut { .. }
        ));
        // syscall-template.S describes munmap under four names at one address.
        let addr = elf.function("munmap").unwrap().addr;
        let m = dbg
            .function_for_symbol(addr, Some("munmap"))
            .unwrap()
            .unwrap();
        assert_eq!(m.name, "munmap");
        assert!(m.params.is_empty());
    }

    const C_SRC: &str = r#"
struct pt { int x; long y; char name[8]; unsigned flag:3; unsigned other:5; };
static int counter = 5;
__attribute__((noinline)) int work(int a, const char *s, struct pt *p, double d, long e) {
    int local = a * 2;
    static int calls;
    calls++;
    return local + s[0] + p->x + (int)d + (int)e + counter + calls;
}
__attribute__((noinline)) struct pt big(int a, long b) { struct pt r = {a, b, "hi", 1, 2}; return r; }
int main(int argc, char **argv) {
    struct pt p = {1, 2, "abc", 3, 4};
    struct pt q = big(argc, 7);
    return work(argc, argv[0], &p, 1.5, 9) + q.x;
}
"#;

    /// Builds the test program with `cc` (every Rust toolchain's linker).
    fn build(flags: &[&str]) -> (tempfile_dir::Dir, PathBuf) {
        let dir = tempfile_dir::Dir::new();
        let src = dir.0.join("t.c");
        std::fs::write(&src, C_SRC).unwrap();
        let bin = dir.0.join("t");
        let out = std::process::Command::new("cc")
            .args(flags)
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("cc (gcc) is needed: apt-get install gcc");
        assert!(
            out.status.success(),
            "cc: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, bin)
    }

    mod tempfile_dir {
        /// A temp dir removed on drop.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p =
                    std::env::temp_dir().join(format!("tk-dwarf-cc-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn func(bin: &Path, name: &str) -> (DebugFile, Function) {
        let elf = ElfFile::open(bin).unwrap();
        let dbg = DebugFile::open(bin).unwrap();
        let f = at(&elf, &dbg, name);
        (dbg, f)
    }

    #[test]
    fn unoptimized_code_uses_the_calling_convention_at_entry() {
        let (_d, bin) = build(&["-O0", "-g"]);
        let (dbg, f) = func(&bin, "work");
        let loc = |n: &str| {
            let v = f.variable(n).unwrap();
            (v.location.fetch_arg(Machine::X86_64), v.from_abi)
        };
        // The DWARF says fbreg -20 etc.: valid only after the prologue.
        assert_eq!(loc("a"), (Some("%di".into()), true));
        assert_eq!(loc("s"), (Some("%si".into()), true));
        assert_eq!(loc("p"), (Some("%dx".into()), true));
        // d is in xmm0: no integer register used.
        assert_eq!(loc("e"), (Some("%cx".into()), true));
        assert_eq!(loc("d"), (None, false));
        assert!(matches!(
            f.variable("local").unwrap().location,
            Location::OptimizedOut { .. }
        ));
        assert!(matches!(
            f.variable("calls").unwrap().location,
            Location::Static { .. }
        ));
        // A large returned struct takes %di for its hidden pointer.
        let (_, big) = func(&bin, "big");
        let a = big.variable("a").unwrap();
        assert_eq!(a.location, Location::Register { reg: 4 });
        // Bit fields and arrays in a struct.
        let p = f.variable("p").unwrap();
        let pt = dbg.pointee(&p.ty).unwrap().unwrap();
        assert_eq!(pt.name, "struct pt");
        let flag = dbg.member(&pt, "flag").unwrap().unwrap();
        assert_eq!((flag.offset, flag.bit_field), (24, Some((0, 3))));
        let other = dbg.member(&pt, "other").unwrap().unwrap();
        assert_eq!((other.offset, other.bit_field), (24, Some((3, 5))));
        let name = dbg.member(&pt, "name").unwrap().unwrap();
        assert_eq!((name.offset, name.ty.name.as_str()), (16, "char [8]"));
        assert!(name.ty.char_data && name.ty.kind == TypeKind::Array);
    }

    #[test]
    fn dwarf4_optimized_code() {
        let (_d, bin) = build(&["-O2", "-g", "-gdwarf-4"]);
        let (_, f) = func(&bin, "work");
        let fetch = |n: &str| f.variable(n).unwrap().location.fetch_arg(Machine::X86_64);
        assert_eq!(fetch("a").as_deref(), Some("%di"));
        assert_eq!(fetch("s").as_deref(), Some("%si"));
        assert_eq!(fetch("e").as_deref(), Some("%cx"));
        // d arrives in xmm0, which uprobes cannot read.
        assert_eq!(
            f.variable("d").unwrap().location,
            Location::Register { reg: 17 }
        );
        assert!(f.variable("d").unwrap().perf_listed);
        assert!(!f.variable("local").unwrap().location.available());
        assert!(!f.params.iter().any(|p| p.from_abi));
    }

    /// Flipped bytes in the DWARF give errors or odd answers, never a panic
    /// or a hang.
    #[test]
    fn corrupt_dwarf_never_panics() {
        let (d, bin) = build(&["-O2", "-g"]);
        let good = std::fs::read(&bin).unwrap();
        let obj = object::File::parse(&good[..]).unwrap();
        let ranges: Vec<(usize, usize)> = obj
            .sections()
            .filter(|s| s.name().is_ok_and(|n| n.starts_with(".debug_")))
            .filter_map(|s| s.file_range())
            .map(|(o, n)| (o as usize, n as usize))
            .filter(|&(_, n)| n > 0)
            .collect();
        let addrs: Vec<u64> = ElfFile::open(&bin)
            .unwrap()
            .functions()
            .unwrap()
            .iter()
            .map(|f| f.addr)
            .collect();
        let path = d.0.join("bad");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..150 {
            let mut bytes = good.clone();
            for _ in 0..8 {
                let (o, n) = ranges[(rnd() as usize) % ranges.len()];
                let i = o + (rnd() as usize) % n;
                bytes[i] = rnd() as u8;
            }
            std::fs::write(&path, &bytes).unwrap();
            let Ok(dbg) = DebugFile::open(&path) else {
                continue;
            };
            for &a in &addrs {
                if let Ok(Some(f)) = dbg.function_at(a) {
                    for v in f.variables() {
                        let _ = v.location.describe(Machine::X86_64);
                        let _ = dbg.pointee(&v.ty);
                        let _ = dbg.member(&v.ty, "x");
                        let _ = dbg.member_names(&v.ty);
                    }
                }
            }
            let _ = dbg.functions_named("work");
        }
    }

    #[test]
    fn sign_extension() {
        assert_eq!(extend(0xff, 1, true), -1);
        assert_eq!(extend(0xff, 1, false), 255);
        assert_eq!(extend(0x8000_0000, 4, true), -2147483648);
        assert_eq!(signed_offset(-8), "-8");
        assert_eq!(signed_offset(16), "+16");
    }
}
