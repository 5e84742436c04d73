//! Kernel type information from BTF: function signatures (parameter names
//! and C types) and struct member offsets, for naming probe arguments
//! (`do_sys_openat2 dfd filename:string`, `vfs_read file->f_pos`).
//!
//! The BTF file is the caller's choice; the kernel's is [`DEFAULT_BTF`].

use std::path::{Path, PathBuf};

use btf_rs::{Btf, BtfType, Type};

use crate::error::{Error, Result};

/// Default BTF location.
pub const DEFAULT_BTF: &str = "/sys/kernel/btf/vmlinux";

/// A C type, as far as probe arguments need it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CType {
    /// `void`.
    Void,
    /// Integer or enum of `size` bytes.
    Int {
        /// The type's C name (`int`, `size_t`, `loff_t`).
        name: String,
        /// Bytes.
        size: usize,
        /// Signedness.
        signed: bool,
        /// `char`.
        is_char: bool,
    },
    /// Pointer.
    Ptr(Box<CType>),
    /// Fixed array.
    Array {
        /// Element type.
        elem: Box<CType>,
        /// Element count.
        len: usize,
    },
    /// Struct or union (members resolved on demand through `id`).
    Struct {
        /// `struct NAME` / `union NAME`.
        name: String,
        /// BTF type id.
        id: u32,
        /// Bytes.
        size: usize,
    },
    /// Anything else (function pointers, floats…).
    Other(String),
}

impl CType {
    /// C spelling (`const` and typedef names are not kept beyond the base name).
    pub fn c_name(&self) -> String {
        match self {
            CType::Void => "void".into(),
            CType::Int { name, .. } => name.clone(),
            CType::Ptr(t) => format!("{} *", t.c_name()),
            CType::Array { elem, len } => format!("{}[{len}]", elem.c_name()),
            CType::Struct { name, .. } => name.clone(),
            CType::Other(s) => s.clone(),
        }
    }

    /// Size in bytes (pointers: 8).
    pub fn size(&self) -> usize {
        match self {
            CType::Void => 0,
            CType::Int { size, .. } => *size,
            CType::Ptr(_) => 8,
            CType::Array { elem, len } => elem.size() * len,
            CType::Struct { size, .. } => *size,
            CType::Other(_) => 8,
        }
    }
}

/// A function parameter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: CType,
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signature {
    /// Function name.
    pub name: String,
    /// Return type.
    pub ret: CType,
    /// Parameters in order.
    pub params: Vec<Param>,
}

impl Signature {
    /// `int do_sys_openat2(int dfd, const char * filename, struct open_how * how)`.
    pub fn c_decl(&self) -> String {
        let ps: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{} {}", p.ty.c_name(), p.name))
            .collect();
        format!("{} {}({})", self.ret.c_name(), self.name, ps.join(", "))
    }
}

/// Kernel BTF.
pub struct KernelBtf {
    btf: Btf,
    path: PathBuf,
}

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBtf")
            .field("path", &self.path)
            .finish()
    }
}

impl KernelBtf {
    /// Loads BTF from a file.
    pub fn load(path: &Path) -> Result<KernelBtf> {
        if !path.exists() {
            return Err(Error::NoBtf {
                path: path.to_path_buf(),
                why: "file does not exist".into(),
            });
        }
        let btf = Btf::from_file(path).map_err(|e| Error::NoBtf {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        Ok(KernelBtf {
            btf,
            path: path.to_path_buf(),
        })
    }

    fn name_of(&self, t: &dyn BtfType) -> String {
        self.btf.resolve_name(t).unwrap_or_default()
    }

    /// Resolves a type id into a [`CType`] (typedef names kept for ints).
    pub fn ctype(&self, id: u32) -> CType {
        self.ctype_depth(id, 0, None)
    }

    fn ctype_depth(&self, id: u32, depth: usize, alias: Option<String>) -> CType {
        if depth > 32 {
            return CType::Other("?".into());
        }
        if id == 0 {
            return CType::Void;
        }
        let Ok(t) = self.btf.resolve_type_by_id(id) else {
            return CType::Other(format!("type#{id}"));
        };
        let next = |t: &dyn BtfType, alias: Option<String>| match t.get_type_id() {
            Some(n) => self.ctype_depth(n, depth + 1, alias),
            None => CType::Void,
        };
        match &t {
            Type::Int(i) => CType::Int {
                name: alias.unwrap_or_else(|| self.name_of(i)),
                size: i.size(),
                signed: i.is_signed(),
                is_char: i.is_char() || self.name_of(i).contains("char"),
            },
            Type::Enum(e) => CType::Int {
                name: alias.unwrap_or_else(|| format!("enum {}", self.name_of(e))),
                size: e.size(),
                signed: e.is_signed(),
                is_char: false,
            },
            Type::Enum64(e) => CType::Int {
                name: alias.unwrap_or_else(|| format!("enum {}", self.name_of(e))),
                size: 8,
                signed: false,
                is_char: false,
            },
            Type::Ptr(p) => CType::Ptr(Box::new(next(p, None))),
            Type::Array(a) => CType::Array {
                elem: Box::new(next(a, None)),
                len: a.len(),
            },
            Type::Struct(s) => CType::Struct {
                name: format!("struct {}", self.name_of(s)),
                id,
                size: s.size(),
            },
            Type::Union(s) => CType::Struct {
                name: format!("union {}", self.name_of(s)),
                id,
                size: s.size(),
            },
            Type::Typedef(td) => {
                let n = self.name_of(td);
                next(td, Some(alias.unwrap_or(n)))
            }
            Type::Const(c) => next(c, alias),
            Type::Volatile(c) => next(c, alias),
            Type::Restrict(c) => next(c, alias),
            Type::TypeTag(c) => next(c, alias),
            Type::Void => CType::Void,
            Type::FuncProto(_) => CType::Other("function".into()),
            Type::Float(f) => CType::Other(self.name_of(f)),
            Type::Fwd(f) => CType::Struct {
                name: format!("struct {}", self.name_of(f)),
                id,
                size: 0,
            },
            _ => CType::Other(t.name().to_string()),
        }
    }

    /// The signature of kernel function `name`.
    pub fn function(&self, name: &str) -> Result<Signature> {
        let types = self.btf.resolve_types_by_name(name).unwrap_or_default();
        for t in types {
            let Type::Func(f) = &t else { continue };
            let Ok(Type::FuncProto(proto)) = self.btf.resolve_chained_type(f) else {
                continue;
            };
            let params = proto
                .parameters
                .iter()
                .filter(|p| !p.is_variadic())
                .map(|p| Param {
                    name: self.name_of(p),
                    ty: p
                        .get_type_id()
                        .map(|id| self.ctype(id))
                        .unwrap_or(CType::Void),
                })
                .collect();
            return Ok(Signature {
                name: name.to_string(),
                ret: self.ctype(proto.return_type_id()),
                params,
            });
        }
        Err(Error::NotFound {
            what: "kernel function (in BTF)",
            name: name.to_string(),
            suggestions: Vec::new(),
        })
    }

    /// A member of a struct/union type: (byte offset, type). Anonymous
    /// struct/union members are searched through.
    pub fn member(&self, struct_id: u32, member: &str) -> Result<(u64, CType)> {
        self.member_depth(struct_id, member, 0).ok_or_else(|| {
            let names = self.member_names(struct_id);
            Error::NotFound {
                what: "struct member",
                name: member.to_string(),
                suggestions: names
                    .into_iter()
                    .filter(|n| n.contains(member) || member.contains(n.as_str()))
                    .take(5)
                    .collect(),
            }
        })
    }

    fn member_names(&self, id: u32) -> Vec<String> {
        match self.btf.resolve_type_by_id(id) {
            Ok(Type::Struct(s)) | Ok(Type::Union(s)) => {
                s.members.iter().map(|m| self.name_of(m)).collect()
            }
            _ => Vec::new(),
        }
    }

    fn member_depth(&self, id: u32, member: &str, depth: usize) -> Option<(u64, CType)> {
        if depth > 8 {
            return None;
        }
        let s = match self.btf.resolve_type_by_id(id).ok()? {
            Type::Struct(s) | Type::Union(s) => s,
            _ => return None,
        };
        for m in &s.members {
            let name = self.name_of(m);
            let off = u64::from(m.bit_offset() / 8);
            let tid = m.get_type_id()?;
            if name == member {
                return Some((off, self.ctype(tid)));
            }
            if name.is_empty() {
                // Anonymous struct/union: look inside (through modifiers).
                if let CType::Struct { id: inner, .. } = self.ctype(tid) {
                    if let Some((o, t)) = self.member_depth(inner, member, depth + 1) {
                        return Some((off + o, t));
                    }
                }
            }
        }
        None
    }

    /// Names of kernel functions matching a glob, sorted.
    pub fn functions(&self, glob: &str) -> Vec<String> {
        use fallible_iterator::FallibleIterator;
        let mut v: Vec<String> = Vec::new();
        let mut it = self.btf.type_iter();
        // A malformed type ends the listing; what was read so far is kept.
        while let Ok(Some(t)) = it.next() {
            if let Type::Func(f) = &t {
                let n = self.name_of(f);
                if crate::glob(glob, &n) {
                    v.push(n);
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btf() -> KernelBtf {
        KernelBtf::load(Path::new(DEFAULT_BTF))
            .expect("this test needs /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")
    }

    #[test]
    fn signatures_and_members() {
        let b = btf();
        let s = b.function("do_sys_openat2").unwrap();
        assert_eq!(s.params.len(), 3);
        assert_eq!(s.params[0].name, "dfd");
        assert!(matches!(
            s.params[0].ty,
            CType::Int {
                size: 4,
                signed: true,
                ..
            }
        ));
        assert!(
            matches!(&s.params[1].ty, CType::Ptr(t) if matches!(**t, CType::Int { is_char: true, .. }))
        );
        assert_eq!(
            s.c_decl(),
            "long do_sys_openat2(int dfd, char * filename, struct open_how * how)"
                .replace("long", &s.ret.c_name())
        );
        let vr = b.function("vfs_read").unwrap();
        let CType::Ptr(file) = &vr.params[0].ty else {
            panic!()
        };
        let CType::Struct { id, .. } = **file else {
            panic!()
        };
        let (off, ty) = b.member(id, "f_pos").unwrap();
        assert!(off > 0);
        assert_eq!(ty.size(), 8);
        assert!(b.member(id, "nosuch").is_err());
        assert!(b.function("no_such_function_xyz").is_err());
        assert!(b
            .functions("do_sys_open*")
            .contains(&"do_sys_openat2".to_string()));
    }

    #[test]
    fn missing_btf_is_explained() {
        let e = KernelBtf::load(Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("CONFIG_DEBUG_INFO_BTF") && e.contains("%di"),
            "{e}"
        );
    }
}
