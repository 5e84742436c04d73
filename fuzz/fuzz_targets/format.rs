//! Fuzzes format-file, header_page and header_event parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use traceevent::{EventFormat, HeaderEvent, HeaderPage, LongSize};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(ev) = EventFormat::parse("fuzz", text, LongSize::Eight) {
        let _ = ev.full_name();
    }
    let _ = EventFormat::parse("fuzz", text, LongSize::Four);
    let _ = HeaderPage::parse(text);
    let _ = HeaderEvent::parse(text);
});
