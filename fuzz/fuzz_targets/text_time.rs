//! The date/time grammar on arbitrary text: never a panic; whatever it accepts formats
//! back to a value it accepts again with the same meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siths_sweep::time::{TextTime, Zone, format_instant, parse_text_time};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(t) = parse_text_time(text) else { return };
    thread_local! {
        static ZONE: Zone = Zone::new("Europe/Stockholm").unwrap();
    }
    let zone = ZONE.with(Zone::clone);
    let instant = match t {
        TextTime::Instant(i) => i,
        TextTime::Local(l) => zone.local_to_instant(l),
    };
    // Round trip through RFC 3339 where the year has four digits on both sides.
    let day = zone.local_date(instant);
    if !(-719_162 + 366..2_932_896 - 366).contains(&day) {
        return;
    }
    let again = format_instant(instant);
    assert_eq!(parse_text_time(&again), Some(TextTime::Instant(instant)), "{text:?} -> {again}");
});
