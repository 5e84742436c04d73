//! Format parsing against the running kernel (every `events/*/*/format`, with
//! tracepoint_decode as an oracle for the field model) and against the formats
//! embedded in the trace-cmd corpus; corpus pages decode to the known counts.

mod common;

use tracekit_traceevent::*;

#[test]
fn every_live_format_parses_and_matches_oracle() {
    let root = common::tracefs();
    let hp = HeaderPage::parse(&common::read_tracefs(&root.join("events/header_page"))).unwrap();
    HeaderEvent::parse(&common::read_tracefs(&root.join("events/header_event"))).unwrap();
    let files = common::format_files(&root);
    assert!(files.len() > 100, "only {} format files found", files.len());
    let mut fields = 0;
    let mut unknown_fmt = 0;
    for (sys, name, text) in &files {
        let ev = EventFormat::parse(sys, text, hp.long_size())
            .unwrap_or_else(|e| panic!("{sys}/{name}: {e}"));
        if let Err(e) = &ev.print_fmt {
            panic!(
                "{sys}/{name}: print fmt does not parse: {e}\n{}",
                ev.print_fmt_text
            );
        }
        if ev.print_fmt.as_ref().unwrap().has_unknown() {
            unknown_fmt += 1;
        }
        let oracle =
            tracepoint_decode::PerfEventFormat::parse(hp.long_size() == LongSize::Eight, sys, text)
                .unwrap_or_else(|| panic!("oracle cannot parse {sys}/{name}"));
        assert_eq!(u32::from(ev.id), oracle.id(), "{sys}/{name}");
        let ours: Vec<_> = ev.common_fields.iter().chain(ev.fields.iter()).collect();
        assert_eq!(ours.len(), oracle.fields().len(), "{sys}/{name}");
        for (a, b) in ours.iter().zip(oracle.fields()) {
            assert_eq!(a.name, b.name(), "{sys}/{name}");
            assert_eq!(a.offset, usize::from(b.offset()), "{sys}/{name}.{}", a.name);
            assert_eq!(a.size, usize::from(b.size()), "{sys}/{name}.{}", a.name);
            if let Some(s) = b.signed() {
                assert_eq!(a.signed, s, "{sys}/{name}.{}", a.name);
            }
            fields += 1;
        }
    }
    eprintln!("{} formats, {fields} fields parsed; {unknown_fmt} print fmts reference things user space cannot evaluate", files.len());
}

const CORPUS: [(&str, usize); 8] = [
    ("sched.dat", 548),
    ("sched_v6.dat", 487),
    ("syscalls.dat", 1262),
    ("dynarray.dat", 2641),
    ("stack.dat", 48),
    ("multibuf.dat", 2411),
    ("clock_mono.dat", 1239),
    ("date.dat", 31),
];

#[test]
fn corpus_formats_parse_and_pages_decode() {
    let dir = common::corpus_dir();
    for (file, expected) in CORPUS {
        let t = common::tracedat::read(&dir.join(file));
        let endian = if t.little {
            Endian::Little
        } else {
            Endian::Big
        };
        let hp = HeaderPage::parse(&t.header_page).unwrap_or_else(|e| panic!("{file}: {e}"));
        HeaderEvent::parse(&t.header_event).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut reg = EventRegistry::new(common::long_size_of(t.long_size), endian);
        reg.set_header_page(hp);
        for (sys, text) in &t.formats {
            let ev = reg
                .add_format(sys, text)
                .unwrap_or_else(|e| panic!("{file}: {sys}: {e}"));
            assert!(
                ev.print_fmt.is_ok(),
                "{file}: {}: {:?}",
                ev.full_name(),
                ev.print_fmt
            );
        }
        Kallsyms::parse(&t.kallsyms).unwrap_or_else(|e| panic!("{file}: {e}"));
        PrintkFormats::parse(&t.printk).unwrap_or_else(|e| panic!("{file}: {e}"));
        Cmdlines::parse(&t.cmdlines).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut n = 0;
        for (_, page_size, cpus) in &t.buffers {
            for (cpu, data) in cpus.iter().enumerate() {
                for page in data.chunks(*page_size) {
                    let sb = SubBuffer::parse_with_header(page, &hp, endian)
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                    for r in sb.with_cpu(cpu as u32).records() {
                        let r = r.unwrap_or_else(|e| panic!("{file}: {e}"));
                        let rec = Record::from_raw(r, cpu as u32, endian).unwrap();
                        assert!(reg.get(rec.id).is_some(), "{file}: unknown id {}", rec.id);
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, expected, "{file}: record count");
    }
}
