//! Parsers for the tracefs `format` files (`events/<system>/<event>/format`),
//! `events/header_page` and `events/header_event`, producing the field model
//! ([`Field`], [`FieldKind`]) that the print-fmt evaluator and the renderers use.
//! Sizes come from the `size:` column, never from the C type.

use crate::bytes::LongSize;
use crate::error::{Error, Result};
use crate::printfmt::PrintFmt;
use serde::Serialize;

/// How a field's bytes are laid out in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum FieldKind {
    /// Integer of `size` 1, 2, 4 or 8 bytes.
    Int,
    /// Pointer (`T *name`), an integer of the kernel's long size.
    Pointer,
    /// Fixed array `T name[N]` (or `T name[]` with a non-zero size).
    Array {
        /// Number of elements.
        len: usize,
        /// Size of one element in bytes.
        elem_size: usize,
    },
    /// Flexible tail `T name[]` with size 0: the rest of the record.
    FlexArray {
        /// Size of one element in bytes.
        elem_size: usize,
    },
    /// `__data_loc T[] name`: u32 locator, offset from the record start.
    DataLoc {
        /// Size of one element in bytes.
        elem_size: usize,
    },
    /// `__data_loc T[][N] name`: N u32 locators (probe string arrays).
    DataLocArray {
        /// Number of locators.
        count: usize,
    },
    /// `__rel_loc T[] name`: u32 locator relative to the end of the field.
    RelLoc {
        /// Size of one element in bytes.
        elem_size: usize,
    },
    /// Anything else (structs, odd sizes): raw bytes.
    Bytes,
}

/// One `field:` line of a format file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Field name (`prev_comm`).
    pub name: String,
    /// Element C type with array brackets removed (`char`, `unsigned long`, `void *`).
    pub type_name: String,
    /// The declaration as written in the file (`char prev_comm[16]`).
    pub decl: String,
    /// Offset from the start of the record (from `common_type`).
    pub offset: usize,
    /// Size in bytes as declared by `size:`.
    pub size: usize,
    /// Signedness from `signed:`.
    pub signed: bool,
    /// Layout.
    pub kind: FieldKind,
}

impl Field {
    /// True when the element type is `char`-like (printable as a string).
    pub fn is_char(&self) -> bool {
        let t = self.type_name.trim_start_matches("const ").trim();
        matches!(
            t,
            "char" | "unsigned char" | "signed char" | "u8" | "__u8" | "s8"
        ) && !self.type_name.contains('*')
    }

    /// True for `char` element types only (not `u8`), used for `%s`-like rendering.
    pub fn is_string_type(&self) -> bool {
        let t = self.type_name.trim_start_matches("const ").trim();
        t == "char" && !self.type_name.contains('*')
    }

    /// Size of one element for arrays, the field size otherwise.
    pub fn elem_size(&self) -> usize {
        match self.kind {
            FieldKind::Array { elem_size, .. }
            | FieldKind::FlexArray { elem_size }
            | FieldKind::DataLoc { elem_size }
            | FieldKind::RelLoc { elem_size } => elem_size,
            FieldKind::DataLocArray { .. } => 1,
            _ => self.size,
        }
    }

    /// True for `__data_loc`/`__rel_loc`/flexible fields whose length varies.
    pub fn is_dynamic(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::DataLoc { .. } | FieldKind::RelLoc { .. } | FieldKind::FlexArray { .. }
        )
    }

    /// Parses one `field:...;\toffset:N;\tsize:N;\tsigned:N;` line.
    pub fn parse_line(line: &str, long_size: LongSize) -> std::result::Result<Field, String> {
        let rest = line
            .trim_start()
            .strip_prefix("field:")
            .ok_or("missing 'field:'")?;
        let mut parts = rest.split(';');
        let decl = parts
            .next()
            .ok_or("missing declaration")?
            .trim()
            .to_string();
        let (mut offset, mut size, mut signed) = (None, None, false);
        for p in parts {
            let p = p.trim();
            if let Some(v) = p.strip_prefix("offset:") {
                offset = Some(parse_usize(v).ok_or("bad offset")?);
            } else if let Some(v) = p.strip_prefix("size:") {
                size = Some(parse_usize(v).ok_or("bad size")?);
            } else if let Some(v) = p.strip_prefix("signed:") {
                signed = parse_usize(v).ok_or("bad signed")? != 0;
            }
        }
        let offset = offset.ok_or("missing offset")?;
        let size = size.ok_or("missing size")?;
        if decl.is_empty() {
            return Err("empty declaration".into());
        }
        parse_decl(&decl, offset, size, signed, long_size)
    }
}

fn parse_usize(s: &str) -> Option<usize> {
    let s = s.trim();
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    s.parse().ok()
}

/// Size of a C scalar type name, if known.
pub(crate) fn c_type_size(t: &str, long_size: LongSize) -> Option<usize> {
    let t = t.trim();
    if t.ends_with('*') {
        return Some(long_size.bytes());
    }
    let t = t
        .trim_start_matches("const ")
        .trim_start_matches("volatile ")
        .trim_start_matches("struct ")
        .trim();
    let l = long_size.bytes();
    Some(match t {
        "char" | "signed char" | "unsigned char" | "u8" | "s8" | "__u8" | "__s8" | "bool"
        | "_Bool" | "uint8_t" | "int8_t" | "uchar" | "u_char" => 1,
        "short" | "short int" | "signed short" | "unsigned short" | "unsigned short int"
        | "u16" | "s16" | "__u16" | "__s16" | "__be16" | "__le16" | "uint16_t" | "int16_t"
        | "ushort" | "u_short" => 2,
        "int" | "signed int" | "signed" | "unsigned int" | "unsigned" | "u32" | "s32" | "__u32"
        | "__s32" | "__be32" | "__le32" | "uint32_t" | "int32_t" | "pid_t" | "gfp_t" | "uid_t"
        | "gid_t" | "dev_t" | "fmode_t" | "uint" | "u_int" => 4,
        "long" | "long int" | "signed long" | "unsigned long" | "unsigned long int" | "size_t"
        | "ssize_t" | "uintptr_t" | "local_t" | "ulong" | "u_long" => l,
        "long long"
        | "long long int"
        | "signed long long"
        | "unsigned long long"
        | "unsigned long long int"
        | "u64"
        | "s64"
        | "__u64"
        | "__s64"
        | "__be64"
        | "__le64"
        | "uint64_t"
        | "int64_t"
        | "loff_t"
        | "sector_t"
        | "ktime_t" => 8,
        _ => return None,
    })
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `TYPE NAME` into (type, name); the name is the trailing identifier.
fn split_type_name(s: &str) -> std::result::Result<(String, String), String> {
    let s = s.trim();
    let start = s
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_ident_char(c))
        .last()
        .map(|(i, _)| i)
        .ok_or("missing field name")?;
    let name = &s[start..];
    let ty = s[..start].trim();
    if name.is_empty() {
        return Err("missing field name".into());
    }
    let ty = if ty.is_empty() { "int" } else { ty };
    Ok((ty.to_string(), name.to_string()))
}

fn parse_decl(
    decl: &str,
    offset: usize,
    size: usize,
    signed: bool,
    long_size: LongSize,
) -> std::result::Result<Field, String> {
    let mk = |name: String, type_name: String, kind: FieldKind| Field {
        name,
        type_name,
        decl: decl.to_string(),
        offset,
        size,
        signed,
        kind,
    };
    for (prefix, rel) in [("__data_loc ", false), ("__rel_loc ", true)] {
        if let Some(rest) = decl.strip_prefix(prefix) {
            // "T[] name" or "T[][N] name"
            let (ty_part, name) = split_type_name(rest)?;
            let bracket = ty_part.find('[').unwrap_or(ty_part.len());
            let elem_ty = ty_part[..bracket].trim().to_string();
            let dims = &ty_part[bracket..];
            let elem_size = c_type_size(&elem_ty, long_size).unwrap_or(1).max(1);
            let kind = if rel {
                FieldKind::RelLoc { elem_size }
            } else if let Some(n) = dims.strip_prefix("[]").and_then(|d| {
                d.strip_prefix('[')
                    .and_then(|d| d.strip_suffix(']'))
                    .and_then(parse_usize)
            }) {
                FieldKind::DataLocArray { count: n }
            } else {
                FieldKind::DataLoc { elem_size }
            };
            return Ok(mk(name, elem_ty, kind));
        }
    }
    if let Some(open) = decl.rfind('[') {
        if decl.trim_end().ends_with(']') {
            let head = &decl[..open];
            let dim = decl[open + 1..].trim_end().trim_end_matches(']').trim();
            let (ty, name) = split_type_name(head)?;
            let known = c_type_size(&ty, long_size);
            if size == 0 {
                let elem_size = known.unwrap_or(1).max(1);
                return Ok(mk(name, ty, FieldKind::FlexArray { elem_size }));
            }
            let n = parse_usize(dim).filter(|&n| n > 0);
            let (len, elem_size) = match (n, known) {
                (Some(n), Some(es)) if n.checked_mul(es) == Some(size) => (n, es),
                (Some(n), _) if size.is_multiple_of(n) => (n, size / n),
                (_, Some(es)) if size.is_multiple_of(es) => (size / es, es),
                _ => (size, 1),
            };
            return Ok(mk(name, ty, FieldKind::Array { len, elem_size }));
        }
    }
    let (ty, name) = split_type_name(decl)?;
    let kind = if ty.ends_with('*') && matches!(size, 4 | 8) {
        FieldKind::Pointer
    } else if matches!(size, 1 | 2 | 4 | 8) && !ty.starts_with("struct ") {
        FieldKind::Int
    } else {
        FieldKind::Bytes
    };
    Ok(mk(name, ty, kind))
}

/// A parsed `events/<system>/<event>/format` file.
#[derive(Debug, Clone)]
pub struct EventFormat {
    /// Subsystem (`sched`); not part of the file, supplied by the caller.
    pub system: String,
    /// Event name (`sched_switch`).
    pub name: String,
    /// Event id (`common_type`).
    pub id: u16,
    /// The common fields (`common_type`, `common_flags`, ...).
    pub common_fields: Vec<Field>,
    /// The event's own fields, in file order.
    pub fields: Vec<Field>,
    /// The raw `print fmt:` text (after the prefix, trailing newline removed).
    pub print_fmt_text: String,
    /// The parsed print fmt, or the error that prevented parsing it.
    pub print_fmt: std::result::Result<PrintFmt, Error>,
    /// Kernel long size the format was parsed with.
    pub long_size: LongSize,
}

impl EventFormat {
    /// Parses a format file. `system` names the subsystem directory.
    ///
    /// Field and header errors fail the whole file; a print-fmt parse error is
    /// kept in [`EventFormat::print_fmt`] so the event can still be printed raw.
    pub fn parse(system: &str, text: &str, long_size: LongSize) -> Result<EventFormat> {
        let err = |line: usize, reason: &str, name: &str| Error::Format {
            event: format!("{system}:{name}"),
            line,
            reason: reason.to_string(),
        };
        let mut name: Option<String> = None;
        let mut id: Option<u16> = None;
        let mut common_fields = Vec::new();
        let mut fields = Vec::new();
        let mut print_fmt_text: Option<String> = None;
        let mut in_common = true;
        let mut seen_field = false;
        let mut pos = 0usize;
        for (idx, line) in text.split_inclusive('\n').enumerate() {
            let lineno = idx + 1;
            let start = pos;
            pos += line.len();
            let l = line.trim_end_matches(['\n', '\r']);
            let n = name.as_deref().unwrap_or("?");
            if let Some(v) = l.strip_prefix("name:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = l.strip_prefix("ID:") {
                let v: u32 = v.trim().parse().map_err(|_| err(lineno, "bad ID", n))?;
                id = Some(u16::try_from(v).map_err(|_| err(lineno, "ID above 65535", n))?);
            } else if l.trim_start().starts_with("field:") {
                let f = Field::parse_line(l, long_size).map_err(|r| err(lineno, &r, n))?;
                seen_field = true;
                if in_common && f.name.starts_with("common_") {
                    common_fields.push(f);
                } else {
                    in_common = false;
                    fields.push(f);
                }
            } else if l.trim().is_empty() {
                if seen_field {
                    in_common = false;
                }
            } else if let Some(rest) = text.get(start..).and_then(|t| t.strip_prefix("print fmt:"))
            {
                let rest = rest.strip_prefix(' ').unwrap_or(rest);
                print_fmt_text = Some(rest.trim_end_matches(['\n', '\r']).to_string());
                break;
            } else if l.trim() == "format:" {
            } else {
                return Err(err(lineno, "unexpected line", n));
            }
        }
        let name = name.ok_or_else(|| err(1, "missing 'name:'", "?"))?;
        let id = id.ok_or_else(|| err(2, "missing 'ID:'", &name))?;
        let print_fmt_text = print_fmt_text.unwrap_or_default();
        let mut ev = EventFormat {
            system: system.to_string(),
            name,
            id,
            common_fields,
            fields,
            print_fmt_text,
            print_fmt: Err(Error::PrintFmt {
                event: String::new(),
                offset: 0,
                reason: "not parsed".into(),
            }),
            long_size,
        };
        ev.print_fmt = PrintFmt::parse(&ev.print_fmt_text, &ev);
        Ok(ev)
    }

    /// `system:name`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.system, self.name)
    }

    /// Looks up an event field (not a common field) by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Index of an event field in [`EventFormat::fields`].
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Looks up a common field by name (`common_pid`).
    pub fn common_field(&self, name: &str) -> Option<&Field> {
        self.common_fields.iter().find(|f| f.name == name)
    }
}

/// Parsed `events/header_page`: where the sub-buffer header fields live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeaderPage {
    /// Offset of the u64 page timestamp.
    pub timestamp_offset: usize,
    /// Offset of `commit`.
    pub commit_offset: usize,
    /// Size of `commit` = kernel long size.
    pub commit_size: usize,
    /// Offset of the event data.
    pub data_offset: usize,
    /// Size of the data area (sub-buffer size minus header).
    pub data_size: usize,
}

impl HeaderPage {
    /// Parses the `header_page` text.
    pub fn parse(text: &str) -> Result<HeaderPage> {
        let err = |line: usize, reason: &str| Error::Format {
            event: "header_page".into(),
            line,
            reason: reason.into(),
        };
        let (mut ts, mut commit, mut data) = (None, None, None);
        for (i, l) in text.lines().enumerate() {
            if !l.trim_start().starts_with("field:") {
                continue;
            }
            let f = Field::parse_line(l, LongSize::Eight).map_err(|r| err(i + 1, &r))?;
            match f.name.as_str() {
                "timestamp" => ts = Some(f),
                "commit" => commit = Some(f),
                "data" => data = Some(f),
                _ => {}
            }
        }
        let ts = ts.ok_or_else(|| err(0, "missing timestamp field"))?;
        let commit = commit.ok_or_else(|| err(0, "missing commit field"))?;
        let data = data.ok_or_else(|| err(0, "missing data field"))?;
        if LongSize::from_bytes(commit.size).is_none() {
            return Err(err(0, "commit size is neither 4 nor 8"));
        }
        Ok(HeaderPage {
            timestamp_offset: ts.offset,
            commit_offset: commit.offset,
            commit_size: commit.size,
            data_offset: data.offset,
            data_size: data.size,
        })
    }

    /// Kernel long size (size of `commit`).
    pub fn long_size(&self) -> LongSize {
        LongSize::from_bytes(self.commit_size).unwrap_or(LongSize::Eight)
    }

    /// Sub-buffer size in bytes (data offset + data size).
    pub fn subbuf_size(&self) -> usize {
        self.data_offset.saturating_add(self.data_size)
    }
}

/// Parsed `events/header_event` (the compressed entry header description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeaderEvent {
    /// Bits of `type_len` (5).
    pub type_len_bits: u32,
    /// Bits of `time_delta` (27).
    pub time_delta_bits: u32,
    /// `type_len` of padding records (29).
    pub padding: u32,
    /// `type_len` of time extends (30).
    pub time_extend: u32,
    /// `type_len` of absolute time stamps (31).
    pub time_stamp: u32,
    /// Largest data `type_len` (28).
    pub data_max_type_len: u32,
}

impl Default for HeaderEvent {
    fn default() -> Self {
        HeaderEvent {
            type_len_bits: 5,
            time_delta_bits: 27,
            padding: 29,
            time_extend: 30,
            time_stamp: 31,
            data_max_type_len: 28,
        }
    }
}

impl HeaderEvent {
    /// Parses the `header_event` text. Missing lines keep the kernel defaults.
    pub fn parse(text: &str) -> Result<HeaderEvent> {
        let mut h = HeaderEvent::default();
        let mut any = false;
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (k, v) = l
                .split_once(':')
                .or_else(|| l.split_once("=="))
                .ok_or_else(|| Error::Format {
                    event: "header_event".into(),
                    line: i + 1,
                    reason: "missing ':'".into(),
                })?;
            let num = |v: &str| -> Option<u32> {
                v.split(|c: char| !c.is_ascii_digit())
                    .find(|s| !s.is_empty())
                    .and_then(|s| s.parse().ok())
            };
            let Some(n) = num(v) else { continue };
            any = true;
            match k.trim() {
                "type_len" => h.type_len_bits = n,
                "time_delta" => h.time_delta_bits = n,
                "padding" => h.padding = n,
                "time_extend" => h.time_extend = n,
                "time_stamp" => h.time_stamp = n,
                "data max type_len" | "data max type_len  " => h.data_max_type_len = n,
                _ => {}
            }
        }
        if !any || h.type_len_bits != 5 || h.time_delta_bits != 27 {
            return Err(Error::Format {
                event: "header_event".into(),
                line: 0,
                reason: "unsupported entry header layout".into(),
            });
        }
        Ok(h)
    }
}
