//! Minimal trace.dat v6/v7 reader for tests (metadata + per-CPU page data).
//! Compressed v7 sections are inflated with the `zstd` command-line tool.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

pub struct TraceDat {
    pub little: bool,
    pub long_size: usize,
    pub header_page: String,
    pub header_event: String,
    /// (system, format text)
    pub formats: Vec<(String, String)>,
    pub kallsyms: String,
    pub printk: String,
    pub cmdlines: String,
    /// buffers: (name, page size, per-cpu data)
    pub buffers: Vec<(String, usize, Vec<Vec<u8>>)>,
}

struct R<'a> {
    d: &'a [u8],
    o: usize,
    little: bool,
}

impl<'a> R<'a> {
    fn u(&mut self, n: usize) -> u64 {
        let b = &self.d[self.o..self.o + n];
        self.o += n;
        let mut v = 0u64;
        if self.little {
            for (i, x) in b.iter().enumerate() {
                v |= u64::from(*x) << (8 * i);
            }
        } else {
            for x in b {
                v = v << 8 | u64::from(*x);
            }
        }
        v
    }
    fn raw(&mut self, n: usize) -> &'a [u8] {
        let b = &self.d[self.o..self.o + n];
        self.o += n;
        b
    }
    fn cstr(&mut self) -> String {
        let e = self.d[self.o..].iter().position(|&c| c == 0).unwrap() + self.o;
        let s = String::from_utf8_lossy(&self.d[self.o..e]).into_owned();
        self.o = e + 1;
        s
    }
}

fn unzstd(b: &[u8]) -> Vec<u8> {
    let mut c = Command::new("zstd")
        .args(["-d", "-c", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the `zstd` command is needed to read compressed trace.dat files (apt-get install zstd)");
    let mut stdin = c.stdin.take().unwrap();
    let data = b.to_vec();
    let t = std::thread::spawn(move || stdin.write_all(&data));
    let out = c.wait_with_output().unwrap();
    t.join().unwrap().unwrap();
    out.stdout
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses the header_info / ftrace / event-format / kallsyms / printk / cmdlines blocks (v6 layout).
fn headers(r: &mut R<'_>, t: &mut TraceDat) {
    assert_eq!(r.raw(12), b"header_page\0");
    let n = r.u(8) as usize;
    t.header_page = text(r.raw(n));
    assert_eq!(r.raw(13), b"header_event\0");
    let n = r.u(8) as usize;
    t.header_event = text(r.raw(n));
}

fn ftrace_formats(r: &mut R<'_>, t: &mut TraceDat) {
    let n = r.u(4);
    for _ in 0..n {
        let sz = r.u(8) as usize;
        t.formats.push(("ftrace".into(), text(r.raw(sz))));
    }
}

fn event_formats(r: &mut R<'_>, t: &mut TraceDat) {
    let ns = r.u(4);
    for _ in 0..ns {
        let sys = r.cstr();
        let ne = r.u(4);
        for _ in 0..ne {
            let sz = r.u(8) as usize;
            t.formats.push((sys.clone(), text(r.raw(sz))));
        }
    }
}

pub fn read(path: &std::path::Path) -> TraceDat {
    let d = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert_eq!(&d[..10], b"\x17\x08\x44tracing");
    let mut r = R {
        d: &d,
        o: 10,
        little: true,
    };
    let ver: u32 = r.cstr().parse().unwrap();
    let endian = r.u(1);
    r.little = endian == 0;
    let long_size = r.u(1) as usize;
    let page = r.u(4) as usize;
    let mut t = TraceDat {
        little: r.little,
        long_size,
        header_page: String::new(),
        header_event: String::new(),
        formats: vec![],
        kallsyms: String::new(),
        printk: String::new(),
        cmdlines: String::new(),
        buffers: vec![],
    };
    if ver < 7 {
        headers(&mut r, &mut t);
        ftrace_formats(&mut r, &mut t);
        event_formats(&mut r, &mut t);
        let n = r.u(4) as usize;
        t.kallsyms = text(r.raw(n));
        let n = r.u(4) as usize;
        t.printk = text(r.raw(n));
        let n = r.u(8) as usize;
        t.cmdlines = text(r.raw(n));
        let cpus = r.u(4) as usize;
        let mut extra = vec![];
        let fly = |r: &mut R<'_>, extra: &mut Vec<(u64, String)>, top: bool| loop {
            let tag = r.raw(10);
            if tag == b"options  \0" {
                loop {
                    let id = r.u(2);
                    if id == 0 {
                        break;
                    }
                    let sz = r.u(4) as usize;
                    let body = r.raw(sz);
                    if top && id == 3 {
                        let mut br = R {
                            d: body,
                            o: 0,
                            little: r.little,
                        };
                        let off = br.u(8);
                        extra.push((off, br.cstr()));
                    }
                }
                continue;
            }
            return tag.to_vec();
        };
        let tag = fly(&mut r, &mut extra, true);
        if tag == b"flyrecord\0" {
            let v: Vec<Vec<u8>> = (0..cpus)
                .map(|_| {
                    let off = r.u(8) as usize;
                    let sz = r.u(8) as usize;
                    d[off..off + sz].to_vec()
                })
                .collect();
            t.buffers.push((String::new(), page, v));
        }
        for (off, name) in extra {
            let mut rr = R {
                d: &d,
                o: off as usize,
                little: r.little,
            };
            let tag = fly(&mut rr, &mut vec![], false);
            assert_eq!(tag, b"flyrecord\0");
            let v: Vec<Vec<u8>> = (0..cpus)
                .map(|_| {
                    let off = rr.u(8) as usize;
                    let sz = rr.u(8) as usize;
                    d[off..off + sz].to_vec()
                })
                .collect();
            t.buffers.push((name, page, v));
        }
        return t;
    }
    let comp = r.cstr();
    let _cver = r.cstr();
    let first_opts = r.u(8) as usize;
    let compressed_file = comp != "none";
    let section = |off: usize| -> (u16, u16, Vec<u8>, usize) {
        let mut rr = R {
            d: &d,
            o: off,
            little: r.little,
        };
        let id = rr.u(2) as u16;
        let flags = rr.u(2) as u16;
        let _desc = rr.u(4);
        let size = rr.u(8) as usize;
        let body_off = rr.o;
        let body = if flags & 1 != 0 && id != 3 {
            let csz = rr.u(4) as usize;
            let _usz = rr.u(4);
            unzstd(rr.raw(csz))
        } else {
            d[body_off..body_off + size].to_vec()
        };
        (id, flags, body, body_off)
    };
    let mut off;
    off = first_opts;
    let mut sections: HashMap<u16, usize> = HashMap::new();
    let mut bufopts = vec![];
    while off != 0 {
        let (id, _, body, _) = section(off);
        assert_eq!(id, 0);
        let mut br = R {
            d: &body,
            o: 0,
            little: r.little,
        };
        loop {
            let oid = br.u(2) as u16;
            let sz = br.u(4) as usize;
            let ob = br.raw(sz).to_vec();
            let mut q = R {
                d: &ob,
                o: 0,
                little: r.little,
            };
            if oid == 0 {
                off = q.u(8) as usize;
                break;
            }
            if (16..=21).contains(&oid) {
                sections.insert(oid, q.u(8) as usize);
            }
            if oid == 3 {
                let boff = q.u(8);
                let name = q.cstr();
                let _clock = q.cstr();
                let ps = q.u(4) as usize;
                let nc = q.u(4);
                let cl: Vec<(u64, u64)> = (0..nc)
                    .map(|_| {
                        let _cpu = q.u(4);
                        (q.u(8), q.u(8))
                    })
                    .collect();
                bufopts.push((boff, name, ps, cl));
            }
        }
    }
    let get = |id: u16| section(*sections.get(&id).unwrap()).2;
    let hi = get(16);
    headers(
        &mut R {
            d: &hi,
            o: 0,
            little: r.little,
        },
        &mut t,
    );
    let ft = get(17);
    ftrace_formats(
        &mut R {
            d: &ft,
            o: 0,
            little: r.little,
        },
        &mut t,
    );
    let ef = get(18);
    event_formats(
        &mut R {
            d: &ef,
            o: 0,
            little: r.little,
        },
        &mut t,
    );
    let ks = get(19);
    let mut kr = R {
        d: &ks,
        o: 0,
        little: r.little,
    };
    let n = kr.u(4) as usize;
    t.kallsyms = text(kr.raw(n));
    let pk = get(20);
    let mut pr = R {
        d: &pk,
        o: 0,
        little: r.little,
    };
    let n = pr.u(4) as usize;
    t.printk = text(pr.raw(n));
    let cl = get(21);
    let mut cr = R {
        d: &cl,
        o: 0,
        little: r.little,
    };
    let n = cr.u(8) as usize;
    t.cmdlines = text(cr.raw(n));
    for (boff, name, ps, cpus) in bufopts {
        let (_, flags, _, _) = section(boff as usize);
        let compressed = flags & 1 != 0 && compressed_file;
        let v = cpus
            .iter()
            .map(|&(o, s)| {
                let (o, s) = (o as usize, s as usize);
                if s == 0 {
                    return vec![];
                }
                if !compressed {
                    return d[o..o + s].to_vec();
                }
                let mut q = R {
                    d: &d,
                    o,
                    little: r.little,
                };
                let n = q.u(4);
                let mut out = vec![];
                for _ in 0..n {
                    let csz = q.u(4) as usize;
                    let _usz = q.u(4);
                    out.extend(unzstd(q.raw(csz)));
                }
                out
            })
            .collect();
        t.buffers.push((name, ps, v));
    }
    t
}
