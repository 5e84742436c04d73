//! Source lines and inlined frames from DWARF (blazesym): `file:line` for a
//! file offset in an ELF file, following debug links and `/usr/lib/debug`.

use std::path::{Path, PathBuf};

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};

/// A source location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrcLoc {
    /// Source file (with directory when DWARF has it).
    pub file: PathBuf,
    /// Line (0 when unknown).
    pub line: u32,
    /// Inlined callees at this address, outermost first: `(function, file, line)`.
    pub inlined: Vec<(String, Option<(PathBuf, u32)>)>,
}

/// Looks up source lines; keeps parsed DWARF cached across calls.
pub struct SourceLines {
    sym: Symbolizer,
}

impl std::fmt::Debug for SourceLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceLines")
    }
}

impl Default for SourceLines {
    fn default() -> Self {
        SourceLines::new()
    }
}

impl SourceLines {
    /// A symbolizer with code info and inlined functions enabled.
    pub fn new() -> SourceLines {
        SourceLines {
            sym: Symbolizer::builder()
                .enable_code_info(true)
                .enable_inlined_fns(true)
                .set_debug_dirs(Some(["/usr/lib/debug"]))
                .build(),
        }
    }

    /// Source locations of `offsets` (file offsets) in the ELF file at `path`.
    pub fn lookup(&self, path: &Path, offsets: &[u64]) -> Vec<Option<SrcLoc>> {
        let src = Source::Elf(Elf::new(path));
        let Ok(res) = self.sym.symbolize(&src, Input::FileOffset(offsets)) else {
            return vec![None; offsets.len()];
        };
        res.into_iter()
            .map(|r| match r {
                Symbolized::Sym(s) => {
                    // The innermost inlined frame holds the line being executed
                    // (what perf's addr2line reports).
                    let ci = s
                        .inlined
                        .last()
                        .and_then(|f| f.code_info.as_ref())
                        .or(s.code_info.as_deref())?;
                    let inlined = s
                        .inlined
                        .iter()
                        .map(|f| {
                            (
                                f.name.to_string(),
                                f.code_info
                                    .as_ref()
                                    .map(|c| (c.to_path().into_owned(), c.line.unwrap_or(0))),
                            )
                        })
                        .collect();
                    Some(SrcLoc {
                        file: ci.to_path().into_owned(),
                        line: ci.line.unwrap_or(0),
                        inlined,
                    })
                }
                Symbolized::Unknown(_) => None,
            })
            .collect()
    }
}
