//! Fuzzes the sub-buffer decoder with every long size and byte order, and
//! renders whatever records come out against a small registry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use traceevent::{Context, Endian, EventRegistry, KernelTextRenderer, LongSize, Record, Renderer, SubBuffer};

const SCHED: &str = "name: sched_switch\nID: 1\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
\tfield:__data_loc char[] name;\toffset:28;\tsize:4;\tsigned:0;\n\n\
print fmt: \"prev_comm=%s prev_pid=%d name=%s\", REC->prev_comm, REC->prev_pid, __get_str(name)\n";

fuzz_target!(|data: &[u8]| {
    for (ls, en) in [
        (LongSize::Eight, Endian::Little),
        (LongSize::Four, Endian::Little),
        (LongSize::Eight, Endian::Big),
        (LongSize::Four, Endian::Big),
    ] {
        let mut reg = EventRegistry::new(ls, en);
        let _ = reg.add_format("sched", SCHED);
        let ctx = Context::new(&reg);
        let mut r = KernelTextRenderer::default();
        let mut out = String::new();
        let Ok(sb) = SubBuffer::parse(data, ls, en) else { continue };
        let _ = sb.missed;
        for rec in sb.with_cpu(0).records().take(10_000) {
            let Ok(raw) = rec else { break };
            if let Ok(rec) = Record::from_raw(raw, 0, en) {
                out.clear();
                let _ = r.render(&ctx, &rec, &mut out);
            }
        }
    }
});
