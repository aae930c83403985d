//! The personnummer reader on arbitrary text: never a panic; the masked form never shows
//! the serial or check digit; a valid number's 12-digit key reads back as valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siths_sweep::personnummer::Personnummer;
use siths_sweep::time::parse_date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let as_of = parse_date("2021-11-15").unwrap();
    let Some(p) = Personnummer::parse(text, as_of) else { return };
    let masked = p.masked();
    assert!(masked.ends_with("-****") && masked.len() >= 13, "{masked}");
    if p.is_valid(as_of) {
        let key = format!("{:012}", p.key());
        let again = Personnummer::parse(&key, as_of).expect("a key has an accepted shape");
        assert!(again.is_valid(as_of), "{text:?} valid but its key {key} is not");
        assert_eq!(again.key(), p.key());
    }
});
