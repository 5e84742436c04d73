//! Unit tests per print-fmt helper and per printf conversion, through the
//! public API (format text + payload bytes → kernel text body).

use tracekit_traceevent::*;

/// Field layout used by every case (offsets in the record).
const FIELDS: &str = "\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;
\tfield:unsigned int u;\toffset:12;\tsize:4;\tsigned:0;
\tfield:unsigned long b;\toffset:16;\tsize:8;\tsigned:0;
\tfield:char c[16];\toffset:24;\tsize:16;\tsigned:0;
\tfield:__data_loc char[] d;\toffset:40;\tsize:4;\tsigned:0;
\tfield:__rel_loc char[] e;\toffset:44;\tsize:4;\tsigned:0;
\tfield:u8 f[16];\toffset:48;\tsize:16;\tsigned:0;
\tfield:void * g;\toffset:64;\tsize:8;\tsigned:0;
\tfield:unsigned long arr[2];\toffset:72;\tsize:16;\tsigned:0;
\tfield:__data_loc unsigned long[] mask;\toffset:88;\tsize:4;\tsigned:0;
\tfield:__data_loc u8[] sa;\toffset:92;\tsize:4;\tsigned:0;
\tfield:short sh;\toffset:96;\tsize:2;\tsigned:1;
\tfield:unsigned char uc;\toffset:98;\tsize:1;\tsigned:0;
\tfield:unsigned long ns;\toffset:104;\tsize:8;\tsigned:0;
";

fn payload() -> Vec<u8> {
    let mut p = vec![0u8; 112];
    p[0] = 1; // common_type
    p[4] = 42; // pid
    p[8..12].copy_from_slice(&(-5i32).to_le_bytes());
    p[12..16].copy_from_slice(&3000000000u32.to_le_bytes());
    p[16..24].copy_from_slice(&0xffffffff81000010u64.to_le_bytes());
    p[24..29].copy_from_slice(b"hello");
    p[48..64].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p[64..72].copy_from_slice(&0xffffffff81000060u64.to_le_bytes());
    p[72..80].copy_from_slice(&7u64.to_le_bytes());
    p[80..88].copy_from_slice(&0x1234u64.to_le_bytes());
    p[96..98].copy_from_slice(&(-2i16).to_le_bytes());
    p[98] = 200;
    p[104..112].copy_from_slice(&3_000_000_123u64.to_le_bytes());
    // dynamic data
    let dynamic = |p: &mut Vec<u8>, loc: usize, data: &[u8], rel: bool| {
        let off = p.len();
        p.extend_from_slice(data);
        let v = if rel { off - (loc + 4) } else { off } as u32 | ((data.len() as u32) << 16);
        p[loc..loc + 4].copy_from_slice(&v.to_le_bytes());
    };
    dynamic(&mut p, 40, b"dynstr\0", false);
    dynamic(&mut p, 44, b"relstr\0", true);
    dynamic(
        &mut p,
        88,
        &[0x05, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        false,
    );
    let mut sa = vec![2, 0, 0x1f, 0x90, 10, 0, 0, 1];
    sa.resize(16, 0);
    dynamic(&mut p, 92, &sa, false);
    p
}

fn render_with(fmt: &str, kallsyms: &Kallsyms, printk: &PrintkFormats) -> String {
    let mut reg = EventRegistry::new(LongSize::Eight, Endian::Little);
    let text = format!("name: t\nID: 1\nformat:\n{FIELDS}\nprint fmt: {fmt}\n");
    reg.add_format("test", &text).unwrap();
    let p = payload();
    let rec = Record::new(0, 0, &p, 0, Endian::Little).unwrap();
    let ctx = Context::new(&reg)
        .with_kallsyms(kallsyms)
        .with_printk_formats(printk);
    let mut r = KernelTextRenderer::new(KernelTextOptions {
        context_info: false,
        ..Default::default()
    });
    let mut out = String::new();
    r.render(&ctx, &rec, &mut out).unwrap();
    out.strip_prefix("t: ")
        .unwrap()
        .strip_suffix('\n')
        .unwrap()
        .to_string()
}

fn ks() -> Kallsyms {
    Kallsyms::parse(
        "ffffffff81000000 T start_func\nffffffff81000040 t second\nffffffff81000080 T third\n",
    )
    .unwrap()
}

fn r(fmt: &str) -> String {
    render_with(fmt, &ks(), &PrintkFormats::new())
}

#[test]
fn integer_conversions() {
    assert_eq!(
        r(r#""%d %i %u", REC->a, REC->a, REC->a"#),
        "-5 -5 4294967291"
    );
    assert_eq!(
        r(r#""%x %X %o", REC->a, REC->u, REC->u"#),
        "fffffffb B2D05E00 26264057000"
    );
    assert_eq!(
        r(r#""%lx %llx %lu", REC->a, REC->b, REC->u"#),
        "fffffffffffffffb ffffffff81000010 3000000000"
    );
    assert_eq!(
        r(r#""%hd %hu %hhu %hhd", REC->sh, REC->sh, REC->uc, REC->uc"#),
        "-2 65534 200 -56"
    );
    assert_eq!(
        r(r#""%zu %zd %Lu", REC->u, REC->a, REC->u"#),
        "3000000000 -5 3000000000"
    );
    assert_eq!(
        r(r#""[%5d|%-5d|%05d|%+d|% d]", REC->a, REC->a, REC->a, 3, 3"#),
        "[   -5|-5   |-0005|+3| 3]"
    );
    assert_eq!(
        r(r#""%#x %#o %#x %#lx", 255, 8, 0, REC->b"#),
        "0xff 010 0x0 0xffffffff81000010"
    );
    assert_eq!(
        r(r#""%08lx %016llx %.3d %8.3d", 0x1b, 0x1b, 7, 7"#),
        "0000001b 000000000000001b 007      007"
    );
    assert_eq!(r(r#""%c%c", 'h', 105"#), "hi");
    assert_eq!(r(r#""%*d|%-*d|", 4, 1, 3, 2"#), "   1|2  |");
}

#[test]
fn strings_and_widths() {
    assert_eq!(
        r(r#""%s %s %s", REC->c, __get_str(d), __get_rel_str(e)"#),
        "hello dynstr relstr"
    );
    assert_eq!(
        r(r#""[%8s|%-8s|%.3s|%.*s|%*s]", REC->c, REC->c, REC->c, 2, REC->c, 6, "ab""#),
        "[   hello|hello   |hel|he|    ab]"
    );
    assert_eq!(r(r#""%s", REC->a > 0 ? "pos" : "neg""#), "neg");
    assert_eq!(r(r#""lit" " concat %d%%", 1"#), "lit concat 1%");
    assert_eq!(r(r#""%s", (char *)0"#), "(null)");
}

#[test]
fn c_expressions() {
    assert_eq!(r(r#""%d", (REC->u >> 20) & ((1U << 20) - 1)"#), "2861");
    assert_eq!(r(r#""%d %d", -1 < 1U, -1 < 1"#), "0 1");
    assert_eq!(
        r(r#""%d %d %d", REC->a / 2, REC->a % 2, (u8)REC->a"#),
        "-2 -1 251"
    );
    assert_eq!(r(r#""%d %d %d", !REC->a, ~0, REC->a && 0 || 1"#), "0 -1 1");
    assert_eq!(
        r(r#""%lu %d", sizeof(unsigned long), sizeof(REC->c)"#),
        "8 16"
    );
    assert_eq!(r(r#""%lu %lu", REC->arr[0], REC->arr[1]"#), "7 4660");
    assert_eq!(r(r#""%d", __builtin_expect(!!(REC->a), 1)"#), "1");
    assert_eq!(
        r(r#""%u", (unsigned int)(unsigned long)REC->a"#),
        "4294967291"
    );
    assert_eq!(
        r(r#""%llu", (unsigned long long)REC->a"#),
        "18446744073709551611"
    );
    assert_eq!(r(r#""%d", 0x10 | 010 | 0b1"#), "25");
}

#[test]
fn flags_and_symbolic() {
    assert_eq!(
        r(r#""%s", __print_flags(0x7, "|", { 1, "A" }, { 2, "B" })"#),
        "A|B|0x4"
    );
    assert_eq!(r(r#""[%s]", __print_flags(0, "|", { 1, "A" })"#), "[]");
    assert_eq!(
        r(r#""%s", __print_flags(3, "|", { 3, "AB" }, { 1, "A" })"#),
        "AB"
    );
    assert_eq!(
        r(
            r#""%s %s", __print_symbolic(2, { 1, "one" }, { 2, "two" }), __print_symbolic(9, { 1, "one" })"#
        ),
        "two 0x9"
    );
    assert_eq!(
        r(r#""%s", __print_symbolic(-1, { -1, "neg" }, { 0, NULL })"#),
        "neg"
    );
    assert_eq!(
        r(r#""%s", __print_flags_u64(1ULL << 40, "|", { 1ULL << 40, "BIG" })"#),
        "BIG"
    );
    assert_eq!(
        r(r#""%s", __print_symbolic_u64(1ULL << 40, { 1ULL << 40, "BIG" })"#),
        "BIG"
    );
    // unresolved enum names: raw fields, never a guess
    assert!(r(r#""%s", __print_symbolic(REC->a, { SOME_ENUM, "x" })"#)
        .starts_with("[FAILED TO PARSE] a=-5"));
}

#[test]
fn array_and_hex_helpers() {
    assert_eq!(r(r#""%s", __print_hex(REC->f, 4)"#), "20 01 0d b8");
    assert_eq!(r(r#""%s", __print_hex_str(REC->f, 4)"#), "20010db8");
    assert_eq!(r(r#""%s", __print_array(REC->arr, 2, 8)"#), "{0x7,0x1234}");
    assert_eq!(r(r#""%s", __print_array(REC->f, 3, 1)"#), "{0x20,0x1,0xd}");
    assert_eq!(r(r#""%s", __print_array(REC->f, 2, 2)"#), "{0x120,0xb80d}");
    assert!(r(r#""%s", __print_array(REC->f, 2, 3)"#).starts_with("BAD SIZE:3 0x"));
    assert_eq!(r(r#""%d", __get_dynamic_array_len(d)"#), "7");
    assert_eq!(r(r#""%s", __print_dynamic_array(mask, 8)"#), "{0x105,0x0}");
    assert_eq!(
        r(r#""%s", __get_bitmask(mask)"#),
        "00000000,00000000,00000000,00000105"
    );
    assert_eq!(
        r(r#""%s", __get_cpumask(mask)"#),
        "00000000,00000000,00000000,00000105"
    );
    assert_eq!(r(r#""%*pbl", 16, __get_dynamic_array(mask)"#), "0,2,8");
    assert_eq!(r(r#""%*pb", 12, __get_dynamic_array(mask)"#), "105");
    assert_eq!(
        r(r#""%llu.%09lu", __print_ns_to_secs(REC->ns), __print_ns_without_secs(REC->ns)"#),
        "3.000000123"
    );
    assert_eq!(
        r(r#""%s", __print_hex_dump("p: ", 0, 16, 1, REC->f, 4, 0)"#),
        "\np: 20 01 0d b8"
    );
}

#[test]
fn pointer_extensions() {
    assert_eq!(
        r(r#""%pS %ps %pB", REC->b, REC->b, REC->g"#),
        "start_func+0x10/0x40 start_func second+0x20/0x40"
    );
    assert_eq!(r(r#""%ps %pS", 0, (void *)0"#), "0x0 0x0");
    assert_eq!(
        r(r#""%p %pK %px", REC->g, REC->g, REC->g"#),
        "ffffffff81000060 ffffffff81000060 ffffffff81000060"
    );
    assert_eq!(
        r(r#""%pI4 %pI6 %pI6c", REC->f, REC->f, REC->f"#),
        "32.1.13.184 2001:0db8:0000:0000:0000:0000:0000:0001 2001:db8::1"
    );
    assert_eq!(
        r(r#""%pi4 %pi6", REC->f, REC->f"#),
        "32.1.13.184 20010db8000000000000000000000001"
    );
    assert_eq!(
        r(r#""%pISpc %pIS", __get_sockaddr(sa), __get_dynamic_array(sa)"#),
        "10.0.0.1:8080 10.0.0.1"
    );
    assert_eq!(
        r(r#""%pM %pMR %pMF %pm", REC->f, REC->f, REC->f, REC->f"#),
        "20:01:0d:b8:00:00 00:00:b8:0d:01:20 20-01-0d-b8-00-00 20010db80000"
    );
    assert_eq!(
        r(r#""%pU", REC->f"#),
        "20010db8-0000-0000-0000-000000000001"
    );
    assert_eq!(
        r(r#""%pUl", REC->f"#),
        "b80d0120-0000-0000-0000-000000000001"
    );
    assert_eq!(
        r(r#""%pUB", REC->f"#),
        "20010DB8-0000-0000-0000-000000000001"
    );
    assert_eq!(
        r(r#""%*ph %*phN %*phC", 3, REC->f, 3, REC->f, 2, REC->f"#),
        "20 01 0d 20010d 20:01"
    );
    assert_eq!(r(r#""[%20ps]", REC->b"#), "[          start_func]");
}

#[test]
fn unevaluable_falls_back_to_raw_fields() {
    for fmt in [
        r#""%d", jiffies_to_msecs(REC->a)"#,
        r#""%s", ({ const char *x = "a"; x; })"#,
        r#""%d", REC->a.member"#,
        r#""%d", UNKNOWN_MACRO"#,
        r#""%s", REC->g"#,
        r#""%d", REC->a / 0"#,
        r#""%d %d", REC->a"#,
    ] {
        let out = r(fmt);
        assert!(
            out.starts_with(
                "[FAILED TO PARSE] a=-5 u=3000000000 b=18446744071578845200 c=hello d=dynstr"
            ),
            "{fmt}: {out}"
        );
    }
    // %s on a pointer known to printk_formats prints the string
    let mut p = PrintkFormats::new();
    p.insert(0xffffffff81000060, "from printk".into());
    assert_eq!(render_with(r#""%s", REC->g"#, &ks(), &p), "from printk");
}

#[test]
fn malformed_print_fmts_are_errors_not_panics() {
    for fmt in [
        "",
        "no quotes",
        "\"%d\", (",
        "\"%d\", REC->",
        "\"%q\", 1",
        "\"x\" junk",
        "\"%d\", __print_flags(1, \"|\", {1})",
    ] {
        let text = format!("name: t\nID: 1\nformat:\n{FIELDS}\nprint fmt: {fmt}\n");
        let ev = EventFormat::parse("test", &text, LongSize::Eight).unwrap();
        assert!(ev.print_fmt.is_err(), "{fmt:?} should not parse");
        // rendering still works and prints raw fields
        let mut reg = EventRegistry::new(LongSize::Eight, Endian::Little);
        reg.add_format("test", &text).unwrap();
        let p = payload();
        let rec = Record::new(0, 0, &p, 0, Endian::Little).unwrap();
        let mut out = String::new();
        KernelTextRenderer::default()
            .render(&Context::new(&reg), &rec, &mut out)
            .unwrap();
        assert!(out.contains("[FAILED TO PARSE]"));
    }
}

#[test]
fn format_file_edge_cases() {
    let text = "name: ev\nID: 9\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:char buf[];\toffset:24;\tsize:0;\tsigned:0;\n\
\tfield:u8 head[];\toffset:24;\tsize:4;\tsigned:0;\n\
\tfield:__data_loc char[][3] strs;\toffset:28;\tsize:12;\tsigned:0;\n\
\tfield:__rel_loc u32[] rl;\toffset:40;\tsize:4;\tsigned:0;\n\
\tfield:struct foo s;\toffset:44;\tsize:12;\tsigned:0;\n\n\
print fmt: \"line1\nline2 %d\", REC->dfd\n";
    let ev = EventFormat::parse("x", text, LongSize::Eight).unwrap();
    assert_eq!(ev.common_fields.len(), 1);
    let k: Vec<_> = ev.fields.iter().map(|f| f.kind).collect();
    assert_eq!(
        k,
        vec![
            FieldKind::Int,
            FieldKind::FlexArray { elem_size: 1 },
            FieldKind::Array {
                len: 4,
                elem_size: 1
            },
            FieldKind::DataLocArray { count: 3 },
            FieldKind::RelLoc { elem_size: 4 },
            FieldKind::Bytes,
        ]
    );
    assert_eq!(ev.fields[0].size, 8, "trust size, not the C type");
    assert_eq!(ev.print_fmt_text, "\"line1\nline2 %d\", REC->dfd");
    assert!(ev.print_fmt.is_ok());
    for bad in [
        "",
        "name: x\n",
        "name: x\nID: abc\n",
        "name: x\nID: 70000\n",
        "name: x\nID: 1\n\tfield:int a;\toffset:x;\tsize:4;\n",
        "name: x\nID: 1\ngarbage line\n",
    ] {
        assert!(
            EventFormat::parse("x", bad, LongSize::Eight).is_err(),
            "{bad:?}"
        );
    }
}
