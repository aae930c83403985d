//! Swedish personnummer and samordningsnummer: shape, century, validity and masking
//! (SPEC "Organisation: cleared to upgrade" and `admin_review.personnummer_masked`).
//!
//! Our own module because the `personnummer` crate rejects samordningsnummer and puts
//! 10-digit numbers born in 2000 or later in the 1900s.

use crate::time::{civil_from_days, is_valid_date};

/// A value that has one of the accepted shapes, with its century resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Personnummer {
    pub year: i32,
    pub month: u32,
    /// As written: day + 60 for a samordningsnummer.
    pub day: u32,
    /// The three-digit serial and the check digit.
    pub serial: u32,
    pub check: u32,
}

impl Personnummer {
    /// Reads `YYMMDD-NNNN`, `YYMMDD+NNNN`, `YYMMDDNNNN`, `YYYYMMDDNNNN` and
    /// `YYYYMMDD-NNNN`/`YYYYMMDD+NNNN`, trimmed of surrounding white space. A 10-digit
    /// form takes the latest century that puts the birth date on or before `as_of`,
    /// 100 years earlier with `+`. Returns `None` when the shape is not one of these.
    pub fn parse(text: &str, as_of: i32) -> Option<Personnummer> {
        let t = text.trim().as_bytes();
        let (digits, plus, long) = match t.len() {
            10 => (t.to_vec(), false, false),
            11 if matches!(t[6], b'-' | b'+') => ([&t[..6], &t[7..]].concat(), t[6] == b'+', false),
            12 => (t.to_vec(), false, true),
            13 if matches!(t[8], b'-' | b'+') => ([&t[..8], &t[9..]].concat(), false, true),
            _ => return None,
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| digits[r].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
        let off = if long { 2 } else { 0 };
        let month = n(off + 2..off + 4);
        let day = n(off + 4..off + 6);
        let serial = n(off + 6..off + 9);
        let check = n(off + 9..off + 10);
        let year = if long {
            n(0..4) as i32
        } else {
            let (ay, am, ad) = civil_from_days(as_of);
            let yy = n(0..2) as i32;
            let mut year = ay - ay.rem_euclid(100) + yy;
            // Compare as written, so the century is defined even for impossible dates.
            if (year, month, birth_day(day)) > (ay, am, ad) {
                year -= 100;
            }
            if plus {
                year -= 100;
            }
            year
        };
        Some(Personnummer { year, month, day, serial, check })
    }

    pub fn is_coordination_number(&self) -> bool {
        self.day > 60
    }

    /// Valid: Luhn over the 10-digit form, a real birth date (day − 60 for a
    /// samordningsnummer) not after `as_of`, serial not `000`.
    pub fn is_valid(&self, as_of: i32) -> bool {
        let day = birth_day(self.day);
        if !is_valid_date(self.year, self.month, day) || self.serial == 0 {
            return false;
        }
        let (ay, am, ad) = civil_from_days(as_of);
        if (self.year, self.month, day) > (ay, am, ad) {
            return false;
        }
        let ten = format!("{:02}{:02}{:02}{:03}", self.year.rem_euclid(100), self.month, self.day, self.serial);
        luhn_check_digit(ten.as_bytes()) == self.check
    }

    /// The identity of a person: the 12-digit form `YYYYMMDDNNNC`.
    pub fn key(&self) -> u64 {
        let date = self.year as u64 * 10_000 + u64::from(self.month) * 100 + u64::from(self.day);
        date * 10_000 + u64::from(self.serial) * 10 + u64::from(self.check)
    }

    /// `YYYYMMDD-****`: the date part as written, never the serial.
    pub fn masked(&self) -> String {
        format!("{:04}{:02}{:02}-****", self.year, self.month, self.day)
    }
}

fn birth_day(day: u32) -> u32 {
    if day > 60 { day - 60 } else { day }
}

/// The Luhn check digit of nine digits (weights 2, 1, 2, …).
fn luhn_check_digit(nine: &[u8]) -> u32 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let v = u32::from(c - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_date;
    use serde_json::Value;

    fn vectors(name: &str) -> Vec<Value> {
        let path = format!("{}/../shared/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let fallback = format!("{}/testdata/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let text =
            std::fs::read_to_string(&fallback).or_else(|_| std::fs::read_to_string(&path)).expect("test vectors");
        serde_json::from_str(&text).unwrap()
    }

    fn valid(text: &str, as_of: i32) -> bool {
        Personnummer::parse(text, as_of).is_some_and(|p| p.is_valid(as_of))
    }

    #[test]
    fn every_vector_in_every_form() {
        // The vectors were published on 2023-11-14; their `valid` holds for any later date.
        for as_of in ["2023-11-14", "2026-11-28"] {
            let d = parse_date(as_of).unwrap();
            for v in vectors("list.json") {
                let expected = v["valid"].as_bool().unwrap();
                for form in ["long_format", "short_format", "separated_format", "separated_long"] {
                    let text = v[form].as_str().unwrap();
                    assert_eq!(valid(text, d), expected, "{form} {text} as of {as_of}");
                }
                if expected {
                    // Every form names the same person where it states the century.
                    let long = Personnummer::parse(v["long_format"].as_str().unwrap(), d).unwrap();
                    let sep = Personnummer::parse(v["separated_format"].as_str().unwrap(), d).unwrap();
                    assert_eq!(long.key(), sep.key(), "{}", v["long_format"]);
                }
            }
            for v in vectors("orgnumber.json") {
                for form in ["short_format", "separated_format"] {
                    let text = v[form].as_str().unwrap();
                    assert!(!valid(text, d), "organisation number {text} accepted");
                }
            }
        }
    }

    #[test]
    fn century_from_as_of_and_separator() {
        let d = parse_date("2021-11-15").unwrap();
        let p = |t| Personnummer::parse(t, d).unwrap();
        assert_eq!(p("211115-0000").year, 2021); // on D itself
        assert_eq!(p("211116-0000").year, 1921); // one day after D: previous century
        assert_eq!(p("000229-2399").year, 2000);
        assert_eq!(p("000229+2399").year, 1900);
        assert_eq!(p("19000229-2399").year, 1900);
        assert_eq!(p("20000229+2399").year, 2000); // 12 digits state the century
        assert!(valid("000229-2399", d));
        assert!(!valid("000229+2399", d)); // 1900 was no leap year
        assert_eq!(p(" 8507099805 ").masked(), "19850709-****");
    }

    #[test]
    fn samordningsnummer_and_serial() {
        let d = parse_date("2021-11-15").unwrap();
        // 1985-07-09 as a samordningsnummer: day 69.
        let s = Personnummer::parse("850769-9802", d).unwrap();
        assert!(s.is_coordination_number());
        assert_eq!(s.masked(), "19850769-****");
        assert!(s.is_valid(d), "check digit {}", luhn_check_digit(b"850769980"));
        assert!(!valid("850792-9806", d)); // day 32 after subtracting 60
        assert!(!valid("850709-0007", d) || luhn_check_digit(b"850709000") != 7);
        // Serial 000 is never issued, even with a right check digit.
        let c = luhn_check_digit(b"850709000");
        assert!(!valid(&format!("850709-000{c}"), d));
        for bad in ["85070998", "850709_9805", "85O709-9805", "", "19850709--9805", "850709 9805"] {
            assert!(Personnummer::parse(bad, d).is_none(), "{bad}");
        }
    }

    #[test]
    fn future_birth_dates_are_invalid() {
        let d = parse_date("2021-11-15").unwrap();
        let c = luhn_check_digit(b"211116123");
        assert!(!valid(&format!("20211116123{c}"), d));
        assert!(valid(&format!("19211116123{c}"), d));
    }
}
