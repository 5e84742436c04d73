//! Fuzzes print-fmt parsing and evaluation: the input is split into a print
//! fmt (first line) and a record payload (the rest), evaluated against a
//! format with every kind of field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use traceevent::{Context, Endian, EventRegistry, KernelTextOptions, KernelTextRenderer, LongSize, Record, Renderer};

const FIELDS: &str = "name: fz\nID: 7\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:unsigned long b;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:char c[16];\toffset:24;\tsize:16;\tsigned:0;\n\
\tfield:__data_loc char[] d;\toffset:40;\tsize:4;\tsigned:0;\n\
\tfield:__rel_loc u8[] e;\toffset:44;\tsize:4;\tsigned:0;\n\
\tfield:u8 f[16];\toffset:48;\tsize:16;\tsigned:0;\n\
\tfield:void * g;\toffset:64;\tsize:8;\tsigned:0;\n\
\tfield:char h[];\toffset:72;\tsize:0;\tsigned:0;\n\n\
print fmt: ";

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(fmt) = std::str::from_utf8(&data[..split]) else { return };
    let payload_src = data.get(split + 1..).unwrap_or(&[]);
    for ls in [LongSize::Eight, LongSize::Four] {
        let mut reg = EventRegistry::new(ls, Endian::Little);
        let text = format!("{FIELDS}{fmt}\n");
        if reg.add_format("fz", &text).is_err() {
            return;
        }
        let mut payload = vec![7u8, 0, 0, 0, 1, 0, 0, 0];
        payload.extend_from_slice(payload_src);
        let rec = match Record::new(1, 0, &payload, 0, Endian::Little) {
            Ok(r) => r,
            Err(_) => return,
        };
        let ctx = Context::new(&reg);
        let mut out = String::new();
        for opts in [KernelTextOptions::default(), KernelTextOptions { fields: true, ..Default::default() }] {
            let _ = KernelTextRenderer::new(opts).render(&ctx, &rec, &mut out);
        }
        let _ = traceevent::StructuredRecord::from_record(&ctx, &rec);
    }
});
