//! `perf archive`: the build-id cache entries of a recording's hit objects in
//! one `tar.bz2`, as perf 6.1's `perf-archive` script packs them, so
//! `perf report` can name its addresses on another machine after
//! `tar xf perf.data.tar.bz2 -C ~/.debug` (or `--buildid-dir DIR`).
//!
//! For every build id of `perf buildid-list --with-hits` ([`Hits::with_hits`])
//! the archive holds `.build-id/xx/yyy…` (the symlink, not followed) and the
//! directory it points to with everything in it (`usr/bin/dash/<id>/elf`,
//! `…/debug`, `[kernel.kallsyms]/<id>/kallsyms`), paths relative to the
//! cache. An object missing from the cache is first cached from this host
//! when the host's file has the recorded build id, so files recorded without
//! a cache (or by another tool) can be archived too.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use symbols::buildid_cache::{BuildIdCache, Entry};
use symbols::locate::SymbolPaths;

use crate::buildid::Hits;
use crate::data::{BuildIdEntry, PerfData};
use crate::error::{io_err, Result};

/// `perf archive` options.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// The recording.
    pub input: PathBuf,
    /// The tarball (perf: `INPUT.tar.bz2`, see [`default_output`]).
    pub output: PathBuf,
    /// The build-id cache to pack from (and fill from this host).
    pub buildid_dir: PathBuf,
    /// This host's sources for missing entries (see [`crate::session::host_paths`]).
    pub host: SymbolPaths,
}

/// What went into the archive.
#[derive(Debug, Clone, Default)]
pub struct ArchiveSummary {
    /// The build ids with hits (`perf buildid-list --with-hits`).
    pub with_hits: Vec<BuildIdEntry>,
    /// Those packed, with their cache entries.
    pub archived: Vec<(BuildIdEntry, Entry)>,
    /// Those neither in the cache nor on this host, with the reason.
    pub missing: Vec<(BuildIdEntry, String)>,
    /// Hit objects with no build id at all.
    pub no_build_id: Vec<String>,
    /// The archive written (`None` when nothing could be packed).
    pub output: Option<PathBuf>,
}

/// perf's default output: the input's path with `.tar.bz2` appended.
pub fn default_output(input: &Path) -> PathBuf {
    let mut s = input.as_os_str().to_os_string();
    s.push(".tar.bz2");
    PathBuf::from(s)
}

/// Builds the archive. Nothing is written when no build id with hits could
/// be packed (perf: "no build-ids found").
pub fn run(opts: &ArchiveOptions) -> Result<ArchiveSummary> {
    let pd = PerfData::open(&opts.input)?;
    let table = pd.build_ids();
    let hits = Hits::from_data(&pd);
    let mut sum = ArchiveSummary {
        with_hits: hits.with_hits(&table),
        no_build_id: hits.hit_without_build_id(&table),
        ..ArchiveSummary::default()
    };
    let cache = BuildIdCache::new(&opts.buildid_dir);
    for e in &sum.with_hits {
        if sum.archived.iter().any(|(a, _)| a.build_id == e.build_id) {
            continue;
        }
        let entry = match cache.entry(&e.build_id) {
            Some(x) => Ok(x),
            None => match cache.add(&e.filename, &e.build_id, &opts.host) {
                Ok(_) => cache.entry(&e.build_id).ok_or_else(|| {
                    format!(
                        "the cache entry in {} is unusable",
                        opts.buildid_dir.display()
                    )
                }),
                Err(err) => Err(format!(
                    "not in the build-id cache {} and not cacheable from this host: {err}",
                    opts.buildid_dir.display()
                )),
            },
        };
        match entry {
            Ok(x) => sum.archived.push((e.clone(), x)),
            Err(why) => sum.missing.push((e.clone(), why)),
        }
    }
    if sum.archived.is_empty() {
        return Ok(sum);
    }
    let entries: Vec<&Entry> = sum.archived.iter().map(|(_, x)| x).collect();
    write_tar_bz2(&opts.output, &opts.buildid_dir, &entries)?;
    sum.output = Some(opts.output.clone());
    Ok(sum)
}

/// `tar cjf OUT -C DIR <manifest>`: written beside `out`, then renamed.
fn write_tar_bz2(out: &Path, dir: &Path, entries: &[&Entry]) -> Result<()> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let f = File::create(&tmp).map_err(io_err(&tmp))?;
        let bz = bzip2::write::BzEncoder::new(f, bzip2::Compression::best());
        let mut t = tar::Builder::new(bz);
        t.follow_symlinks(false);
        for e in entries {
            t.append_path_with_name(dir.join(&e.link), &e.link)
                .map_err(io_err(dir.join(&e.link)))?;
            if let Some(d) = &e.dir {
                t.append_dir_all(d, dir.join(d))
                    .map_err(io_err(dir.join(d)))?;
            }
        }
        let bz = t.into_inner().map_err(io_err(&tmp))?;
        let mut f = bz.finish().map_err(io_err(&tmp))?;
        f.flush().map_err(io_err(&tmp))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).map_err(io_err(out))
}
