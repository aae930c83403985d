//! Typed reading of one input column, whatever Arrow type it arrived as (SPEC "Input":
//! strings of any encoding, timestamps of any unit with or without zone, dates, booleans,
//! integers as text, the Null type). The type is looked at once per batch; rows then go
//! through a small enum dispatch.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};

use crate::rules::{CardType, Status, match_label};
use crate::schema::ColumnKind;
use crate::time::{MICROS_PER_DAY, TextTime, Zone, parse_text_time};

/// Which enum a label column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelSet {
    CardType,
    Status,
}

impl LabelSet {
    pub fn for_column(name: &str) -> Option<LabelSet> {
        match name {
            "card_type" => Some(LabelSet::CardType),
            "status" => Some(LabelSet::Status),
            _ => None,
        }
    }

    fn parse(self, label: &str) -> Option<u8> {
        match self {
            LabelSet::CardType => match_label(label, CardType::from_label).map(|t| t as u8),
            LabelSet::Status => match_label(label, Status::from_label).map(|s| s as u8),
        }
    }
}

/// Whether an Arrow type can be read as a column of this kind; the reason if not.
pub fn check_type(kind: ColumnKind, dt: &DataType) -> Result<(), String> {
    let ok = match dt {
        DataType::Null => true,
        DataType::Dictionary(_, v) => return check_type(kind, v),
        t if is_string(t) => true,
        t if t.is_integer() => kind == ColumnKind::Text,
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => kind == ColumnKind::Time,
        DataType::Boolean => kind == ColumnKind::Bool,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let want = match kind {
            ColumnKind::Text | ColumnKind::Label => "a string",
            ColumnKind::Time => "a timestamp, date or string",
            ColumnKind::Bool => "a boolean or string",
        };
        Err(format!("has type {dt}, expected {want}"))
    }
}

fn is_string(dt: &DataType) -> bool {
    matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Read access to a string-like column: any string encoding, a dictionary of one, an
/// integer column (its decimal text) or the Null type.
pub enum TextAccess<'a> {
    Null,
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Int(&'a dyn Array, Box<dyn Fn(usize) -> String + 'a>),
    Dict { array: &'a dyn Array, keys: Vec<usize>, values: Box<TextAccess<'a>> },
}

impl<'a> TextAccess<'a> {
    pub fn new(a: &'a ArrayRef) -> TextAccess<'a> {
        Self::of(a.as_ref())
    }

    fn of(a: &'a dyn Array) -> TextAccess<'a> {
        macro_rules! int {
            ($t:ty) => {{
                let p = a.as_primitive::<$t>();
                TextAccess::Int(a, Box::new(move |i| p.value(i).to_string()))
            }};
        }
        match a.data_type() {
            DataType::Utf8 => TextAccess::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => TextAccess::Large(a.as_string::<i64>()),
            DataType::Utf8View => TextAccess::View(a.as_string_view()),
            DataType::Int8 => int!(Int8Type),
            DataType::Int16 => int!(Int16Type),
            DataType::Int32 => int!(Int32Type),
            DataType::Int64 => int!(Int64Type),
            DataType::UInt8 => int!(UInt8Type),
            DataType::UInt16 => int!(UInt16Type),
            DataType::UInt32 => int!(UInt32Type),
            DataType::UInt64 => int!(UInt64Type),
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                TextAccess::Dict {
                    array: a,
                    keys: d.normalized_keys(),
                    values: Box::new(Self::of(d.values().as_ref())),
                }
            }
            _ => TextAccess::Null,
        }
    }

    /// The value, `None` for null. Empty strings are returned as they are.
    pub fn get(&self, i: usize) -> Option<Cow<'a, str>> {
        match self {
            TextAccess::Null => None,
            TextAccess::Utf8(a) => a.is_valid(i).then(|| Cow::Borrowed(a.value(i))),
            TextAccess::Large(a) => a.is_valid(i).then(|| Cow::Borrowed(a.value(i))),
            TextAccess::View(a) => a.is_valid(i).then(|| Cow::Borrowed(a.value(i))),
            TextAccess::Int(a, f) => a.is_valid(i).then(|| Cow::Owned(f(i))),
            TextAccess::Dict { array, keys, values } => {
                if array.is_valid(i) {
                    values.get(keys[i])
                } else {
                    None
                }
            }
        }
    }
}

/// One cell after conversion.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
    Label(u8),
    Time(i64),
    Bool(bool),
}

/// Why a cell could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellError {
    Missing,
    /// A short description of what was wrong (may quote the value; callers decide
    /// whether it can be shown).
    Bad {
        what: &'static str,
        value: String,
    },
}

/// A column of a batch prepared for row-wise reading.
pub enum ColumnReader<'a> {
    Absent,
    /// A dictionary-encoded column: rows are read through their key. When the dictionary
    /// has no more values than the batch has rows, each value is converted once
    /// (`memo`): an issuer, status or org_id of millions of rows is parsed, trimmed and
    /// checked a few dozen times, not once per row.
    Dict {
        array: &'a dyn Array,
        keys: Vec<usize>,
        values: Box<ColumnReader<'a>>,
        memo: Option<Vec<Result<Value<'a>, CellError>>>,
    },
    Text(TextAccess<'a>),
    Label(TextAccess<'a>, LabelSet),
    /// Text parsed with SPEC's CSV date-time grammar.
    TimeText(TextAccess<'a>),
    /// An Arrow timestamp: its raw values, unit and whether it is an instant.
    Timestamp {
        values: &'a [i64],
        nulls: Option<&'a arrow_buffer::NullBuffer>,
        unit: TimeUnit,
        instant: bool,
    },
    Date32(&'a arrow_array::Date32Array),
    Date64(&'a arrow_array::Date64Array),
    BoolText(TextAccess<'a>),
    Bool(&'a arrow_array::BooleanArray),
}

impl<'a> ColumnReader<'a> {
    /// `int96` marks a Parquet INT96 column, whose values are UTC instants although Arrow
    /// reads them without a zone (the Spark/Impala convention).
    pub fn new(kind: ColumnKind, name: &str, a: Option<&'a ArrayRef>, int96: bool, zone: &Zone) -> ColumnReader<'a> {
        let Some(a) = a else { return ColumnReader::Absent };
        match (kind, a.data_type()) {
            (_, DataType::Null) => ColumnReader::Absent,
            (_, DataType::Dictionary(_, _)) => {
                let d = a.as_any_dictionary();
                let values = ColumnReader::new(kind, name, Some(d.values()), int96, zone);
                let n = d.values().len();
                // A dictionary bigger than the batch (one shared by a whole column
                // chunk) is read row by row through the keys instead.
                let memo = (n <= a.len()).then(|| (0..n).map(|k| values.read(k, zone)).collect());
                ColumnReader::Dict { array: a.as_ref(), keys: d.normalized_keys(), values: Box::new(values), memo }
            }
            (ColumnKind::Text, _) => ColumnReader::Text(TextAccess::new(a)),
            (ColumnKind::Label, _) => {
                ColumnReader::Label(TextAccess::new(a), LabelSet::for_column(name).expect("label column"))
            }
            (ColumnKind::Time, DataType::Timestamp(unit, tz)) => {
                // Arrow keeps timestamps as i64 whatever the unit.
                let values: &'a [i64] = match unit {
                    TimeUnit::Second => a.as_primitive::<TimestampSecondType>().values(),
                    TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().values(),
                    TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().values(),
                    TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().values(),
                };
                ColumnReader::Timestamp { values, nulls: a.nulls(), unit: *unit, instant: tz.is_some() || int96 }
            }
            (ColumnKind::Time, DataType::Date32) => ColumnReader::Date32(a.as_primitive()),
            (ColumnKind::Time, DataType::Date64) => ColumnReader::Date64(a.as_primitive()),
            (ColumnKind::Time, _) => ColumnReader::TimeText(TextAccess::new(a)),
            (ColumnKind::Bool, DataType::Boolean) => ColumnReader::Bool(a.as_boolean()),
            (ColumnKind::Bool, _) => ColumnReader::BoolText(TextAccess::new(a)),
        }
    }

    /// Reads row `i`: `Value::Null` for null, empty or (for dates, booleans, labels)
    /// blank values.
    pub fn read(&self, i: usize, zone: &Zone) -> Result<Value<'a>, CellError> {
        match self {
            ColumnReader::Absent => Ok(Value::Null),
            ColumnReader::Dict { array, keys, values, memo } => {
                if array.is_null(i) {
                    Ok(Value::Null)
                } else if let Some(memo) = memo {
                    memo[keys[i]].clone()
                } else {
                    values.read(keys[i], zone)
                }
            }
            ColumnReader::Text(t) => Ok(match t.get(i) {
                Some(s) if !s.is_empty() => Value::Text(s),
                _ => Value::Null,
            }),
            ColumnReader::Label(t, set) => match t.get(i).filter(|s| !s.trim().is_empty()) {
                None => Ok(Value::Null),
                Some(s) => set
                    .parse(&s)
                    .map(Value::Label)
                    .ok_or_else(|| CellError::Bad { what: "unknown label", value: s.into_owned() }),
            },
            ColumnReader::TimeText(t) => match t.get(i).filter(|s| !s.trim().is_empty()) {
                None => Ok(Value::Null),
                Some(s) => match parse_text_time(s.trim()) {
                    Some(TextTime::Instant(us)) => Ok(Value::Time(us)),
                    Some(TextTime::Local(l)) => Ok(Value::Time(zone.local_to_instant(l))),
                    None => Err(CellError::Bad { what: "not a date or date-time", value: s.into_owned() }),
                },
            },
            ColumnReader::Timestamp { values, nulls, unit, instant } => {
                if nulls.is_some_and(|n| n.is_null(i)) {
                    return Ok(Value::Null);
                }
                let v = values[i];
                let us = match unit {
                    TimeUnit::Second => v.checked_mul(1_000_000),
                    TimeUnit::Millisecond => v.checked_mul(1_000),
                    TimeUnit::Microsecond => Some(v),
                    TimeUnit::Nanosecond => Some(v.div_euclid(1_000)),
                };
                let us = us.filter(|us| (MIN_MICROS..=MAX_MICROS).contains(us)).ok_or_else(|| CellError::Bad {
                    what: "timestamp outside the years 0001–9999",
                    value: v.to_string(),
                })?;
                Ok(Value::Time(if *instant { us } else { zone.local_to_instant(us) }))
            }
            ColumnReader::Date32(a) => {
                if a.is_null(i) {
                    Ok(Value::Null)
                } else {
                    date(i64::from(a.value(i)), zone)
                }
            }
            // Date64 is milliseconds of a date; the date is what counts.
            ColumnReader::Date64(a) => {
                if a.is_null(i) {
                    Ok(Value::Null)
                } else {
                    date(a.value(i).div_euclid(86_400_000), zone)
                }
            }
            ColumnReader::Bool(a) => Ok(if a.is_null(i) { Value::Null } else { Value::Bool(a.value(i)) }),
            ColumnReader::BoolText(t) => match t.get(i).filter(|s| !s.trim().is_empty()) {
                None => Ok(Value::Null),
                Some(s) => parse_bool(&s)
                    .map(Value::Bool)
                    .ok_or_else(|| CellError::Bad { what: "not a boolean", value: s.into_owned() }),
            },
        }
    }
}

impl ColumnReader<'_> {
    /// For a dictionary column whose values were converted once, how many values it has,
    /// so callers can keep a result per value and look it up with [`Self::dictionary_key`].
    pub fn dictionary_len(&self) -> Option<usize> {
        match self {
            ColumnReader::Dict { memo: Some(memo), .. } => Some(memo.len()),
            _ => None,
        }
    }

    /// Row `i`'s dictionary key (`None` for a null row or a column without a memo).
    #[inline]
    pub fn dictionary_key(&self, i: usize) -> Option<usize> {
        match self {
            ColumnReader::Dict { array, keys, memo: Some(_), .. } if array.is_valid(i) => Some(keys[i]),
            _ => None,
        }
    }
}

/// The instants the sweep accepts: years 0001 to 9999, as in text. Beyond them no
/// calendar arithmetic or output format is meaningful (and `i64` µs would overflow).
pub const MIN_MICROS: i64 = -62_135_596_800 * 1_000_000;
pub const MAX_MICROS: i64 = 253_402_300_799 * 1_000_000 + 999_999;

/// A date as 00:00 local time that day.
fn date(days: i64, zone: &Zone) -> Result<Value<'static>, CellError> {
    let local = days.checked_mul(MICROS_PER_DAY).filter(|us| (MIN_MICROS..=MAX_MICROS).contains(us));
    match local {
        Some(l) => Ok(Value::Time(zone.local_to_instant(l))),
        None => Err(CellError::Bad { what: "date outside the years 0001–9999", value: days.to_string() }),
    }
}

/// `true/false`, `1/0`, `yes/no`, `ja/nej`, any case, trimmed.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "ja" => Some(true),
        "false" | "0" | "no" | "nej" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn booleans_in_every_spelling() {
        for t in ["true", "TRUE", " 1 ", "yes", "Ja", "JA"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for t in ["false", "False", "0", "NO", "nej", "Nej "] {
            assert_eq!(parse_bool(t), Some(false), "{t}");
        }
        for t in ["y", "n", "2", "sant", "t"] {
            assert_eq!(parse_bool(t), None, "{t}");
        }
    }

    #[test]
    fn dictionary_and_integer_text() {
        use arrow_array::{DictionaryArray, Int64Array, StringArray};
        let dict: DictionaryArray<Int32Type> = vec![Some("b"), None, Some("a"), Some("b")].into_iter().collect();
        let a: ArrayRef = Arc::new(dict);
        let t = TextAccess::new(&a);
        let got: Vec<_> = (0..4).map(|i| t.get(i).map(|c| c.into_owned())).collect();
        assert_eq!(got, [Some("b".into()), None, Some("a".into()), Some("b".into())]);
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(42), None]));
        let t = TextAccess::new(&a);
        assert_eq!(t.get(0).as_deref(), Some("42"));
        assert_eq!(t.get(1), None);
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("")]));
        let r = ColumnReader::new(ColumnKind::Text, "org_id", Some(&a), false, &Zone::new("UTC").unwrap());
        assert_eq!(r.read(0, &Zone::new("UTC").unwrap()), Ok(Value::Null));
    }
}
