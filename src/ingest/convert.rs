//! One raw batch into typed columns, a value family at a time: each column's type is
//! dispatched once and its values converted in a tight loop. A row's first error, in
//! column order, sends it to quarantine ([`FirstErrors`]).

use arrow_array::builder::LargeStringBuilder;
use arrow_array::{Array, ArrayRef};
use arrow_schema::TimeUnit;

use super::quarantine::{FirstErrors, QError, QuarantineRow, quote_short};
use super::table::{self, ColumnData, NULL_TIME, RowRef, Table, TextColumn};
use super::values::{self, CellError, ColumnReader, Value};
use super::{RawBatch, Resolver, RowNumbers};
use crate::schema::{ColumnKind, InputColumn, InputTable};
use crate::time::Zone;

/// Converts one raw batch: the rows that passed every check, and the quarantine rows of
/// the others.
pub fn convert_batch(
    batch: &RawBatch,
    table: &InputTable,
    zone: &Zone,
    resolve: Option<&Resolver<'_>>,
) -> (Table, Vec<QuarantineRow>) {
    let n = batch.len;
    let mut errors = FirstErrors::new(n);
    let personal = table.name == "id_admins";
    let mut columns = Vec::with_capacity(table.columns.len());
    for ((c, a), int96) in table.columns.iter().zip(&batch.columns).zip(&batch.int96) {
        let reader = ColumnReader::new(c.kind, c.name, a.as_ref(), *int96, zone);
        let mut cells = Cells { reader: &reader, column: c, zone, personal, errors: &mut errors };
        columns.push(convert_column(&mut cells, a.as_ref(), n, resolve));
    }
    let source = match &batch.rows {
        RowNumbers::From(first) => table::Sources::run(batch.file, *first, n),
        RowNumbers::Listed(rows) => rows.iter().map(|&r| RowRef::new(batch.file, r)).collect(),
    };
    errors.separate(Table { def: *table, columns, source, derived: Vec::new() }, batch, table)
}

/// The cells of one column of a batch, read with SPEC's checks: a cell that fails one
/// records the row's error and reads as `None`.
struct Cells<'r, 'a> {
    reader: &'r ColumnReader<'a>,
    column: &'r InputColumn,
    zone: &'r Zone,
    /// The table holds personal data: a bad value is not quoted in its message.
    personal: bool,
    errors: &'r mut FirstErrors,
}

impl<'a> Cells<'_, 'a> {
    fn get(&mut self, i: usize) -> Option<Value<'a>> {
        let c = self.column;
        let (error, detail) = match self.reader.read(i, self.zone) {
            Ok(Value::Null) if c.required => (QError::MissingRequired, "required value is missing".to_string()),
            // A blank identifier is as good as none.
            Ok(Value::Text(s)) if c.required && s.trim().is_empty() => {
                (QError::MissingRequired, "required value is blank".to_string())
            }
            Ok(v) => return Some(v),
            Err(CellError::Missing) => (QError::MissingRequired, "required value is missing".to_string()),
            Err(CellError::Bad { what, value }) => {
                let detail = if self.personal { what.to_string() } else { format!("{what}: {}", quote_short(&value)) };
                (QError::BadValue, detail)
            }
        };
        self.errors.fail(i, c.name, error, detail);
        None
    }
}

/// One column, by its kind.
fn convert_column(
    cells: &mut Cells<'_, '_>,
    a: Option<&ArrayRef>,
    n: usize,
    resolve: Option<&Resolver<'_>>,
) -> ColumnData {
    let c = cells.column;
    match c.kind {
        ColumnKind::Text if let Some(r) = resolve.filter(|r| r.column == c.name) => {
            ColumnData::Index(row_indices(cells, n, r))
        }
        ColumnKind::Text if c.interned => interned(cells, n),
        ColumnKind::Text if let Some(text) = a.and_then(|a| clean_text(a, c.required)) => ColumnData::Text(text),
        ColumnKind::Text => text(cells, a, n),
        ColumnKind::Label => {
            let reader = cells.reader;
            ColumnData::Label(by_dictionary_key(reader, n, u8::MAX, |i| match cells.get(i) {
                Some(Value::Label(l)) => l,
                _ => u8::MAX,
            }))
        }
        ColumnKind::Time => ColumnData::Time(times(cells, n)),
        ColumnKind::Bool => ColumnData::Bool(bools(cells, n)),
    }
}

/// A key column as the row indices of the table it names ([`table::NULL_ID`] where the
/// cell failed).
fn row_indices(cells: &mut Cells<'_, '_>, n: usize, resolve: &Resolver<'_>) -> Vec<u32> {
    let Resolver { lookup, key_of, .. } = resolve;
    // Exports list a card's certificates together, and often in the order of the cards:
    // most rows name the card of the row before, many of the rest the card after it. A
    // string compare with a neighbour in memory is much cheaper than a probe into a map
    // of every card; the map decides whenever neither matches.
    let mut last: Option<(Value<'_>, u32)> = None;
    (0..n)
        .map(|i| match cells.get(i) {
            Some(v @ Value::Text(_)) => match &last {
                Some((prev, id)) if *prev == v => *id,
                _ => {
                    let Value::Text(s) = &v else { unreachable!("matched as text") };
                    let next = last
                        .as_ref()
                        .map(|(_, id)| *id)
                        .filter(|&id| id != table::NULL_ID)
                        .map(|id| id + 1)
                        .filter(|&next| key_of(next) == Some(s.as_ref()));
                    let id = next.unwrap_or_else(|| lookup(s));
                    last = Some((v, id));
                    id
                }
            },
            _ => table::NULL_ID,
        })
        .collect()
}

/// A low-cardinality text column as ids into its own dictionary.
fn interned(cells: &mut Cells<'_, '_>, n: usize) -> ColumnData {
    let mut b = table::Interner::default();
    let reader = cells.reader;
    let ids = by_dictionary_key(reader, n, table::NULL_ID, |i| match cells.get(i) {
        Some(Value::Text(s)) => b.id(&s),
        _ => table::NULL_ID,
    });
    ColumnData::Interned { ids, dict: b.into_dict() }
}

/// A text column read row by row (the fast path, [`clean_text`], did not apply).
fn text(cells: &mut Cells<'_, '_>, a: Option<&ArrayRef>, n: usize) -> ColumnData {
    let bytes = a.map_or(0, |a| a.get_buffer_memory_size());
    let mut b = LargeStringBuilder::with_capacity(n, bytes);
    for i in 0..n {
        match cells.get(i) {
            Some(Value::Text(s)) => b.append_value(s),
            _ => b.append_null(),
        }
    }
    ColumnData::Text(TextColumn::Large(b.finish()))
}

/// Instants in microseconds ([`NULL_TIME`] for null or failed cells).
fn times(cells: &mut Cells<'_, '_>, n: usize) -> Vec<i64> {
    // The common case, a UTC-anchored microsecond timestamp in range, is taken as it
    // is; anything else (null, another unit, out of range) goes through the reading,
    // which also finds the rows to reject.
    let direct = match cells.reader {
        ColumnReader::Timestamp { values, nulls, unit: TimeUnit::Microsecond, instant: true } => {
            Some((*values, *nulls))
        }
        _ => None,
    };
    (0..n)
        .map(|i| {
            if let Some((values, nulls)) = direct
                && nulls.is_none_or(|n| n.is_valid(i))
                && (values::MIN_MICROS..=values::MAX_MICROS).contains(&values[i])
            {
                return values[i];
            }
            match cells.get(i) {
                Some(Value::Time(t)) => t,
                _ => NULL_TIME,
            }
        })
        .collect()
}

/// Booleans; an Arrow boolean column is taken as it is.
fn bools(cells: &mut Cells<'_, '_>, n: usize) -> Vec<Option<bool>> {
    let direct = match cells.reader {
        ColumnReader::Bool(a) => Some(*a),
        _ => None,
    };
    (0..n)
        .map(|i| {
            if let Some(a) = direct.filter(|a| a.is_valid(i)) {
                return Some(a.value(i));
            }
            match cells.get(i) {
                Some(Value::Bool(b)) => Some(b),
                _ => None,
            }
        })
        .collect()
}

/// Every row's `read(i)`, except that a row whose dictionary key was read before with a
/// good result (not `failed`) takes that result again: the reader converted each key's
/// value once (its memo), so the row would read the same. Interning and label parsing
/// then happen once per dictionary value, not once per row. Rows that fail are read
/// every time, so each is rejected on its own.
fn by_dictionary_key<T: Copy + PartialEq>(
    r: &ColumnReader<'_>,
    n: usize,
    failed: T,
    mut read: impl FnMut(usize) -> T,
) -> Vec<T> {
    let mut by_key = vec![failed; r.dictionary_len().unwrap_or(0)];
    (0..n)
        .map(|i| {
            let key = r.dictionary_key(i);
            if let Some(k) = key.filter(|&k| by_key[k] != failed) {
                return by_key[k];
            }
            let v = read(i);
            if let Some(k) = key {
                by_key[k] = v;
            }
            v
        })
        .collect()
}

/// A plain text column whose every value the row-by-row reading would take as it is,
/// without copying its text: no empty strings (those read as null) and, if the column is
/// required, no nulls and no blank values (those are quarantined). `None` sends the
/// column through the row-by-row reading, which finds the rows to reject.
fn clean_text(a: &ArrayRef, required: bool) -> Option<TextColumn> {
    use arrow_array::cast::AsArray;
    fn clean<O: arrow_array::OffsetSizeTrait>(s: &arrow_array::GenericStringArray<O>, required: bool) -> bool {
        if required && s.null_count() > 0 {
            return false;
        }
        (0..s.len()).all(|i| {
            if s.is_null(i) {
                return true;
            }
            let v = s.value(i);
            if v.is_empty() {
                return false;
            }
            // A blank value is white space only; one that starts with a visible ASCII
            // character is not.
            let blank = required && !v.as_bytes()[0].is_ascii_graphic() && v.trim().is_empty();
            !blank
        })
    }
    match a.data_type() {
        arrow_schema::DataType::Utf8 => {
            let s = a.as_string::<i32>();
            clean(s, required).then(|| TextColumn::Small(fitted(s)))
        }
        arrow_schema::DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            clean(s, required).then(|| TextColumn::Large(fitted(s)))
        }
        _ => None,
    }
}

/// The decoded array itself, or, when its text buffer has much more room than text (the
/// Parquet decoder grows it as it goes: 1.66 GB held for 1.08 GB of text at 10M cards),
/// a copy of the text into a buffer of its size. The column is kept for the whole run.
fn fitted<O: arrow_array::OffsetSizeTrait>(
    s: &arrow_array::GenericStringArray<O>,
) -> arrow_array::GenericStringArray<O> {
    let values = s.values();
    if values.capacity() <= values.len() + values.len() / 8 + 4096 {
        return s.clone();
    }
    let exact = arrow_buffer::Buffer::from_slice_ref(values.as_slice());
    arrow_array::GenericStringArray::new(s.offsets().clone(), exact, s.nulls().cloned())
}
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::{Int32Type, TimestampMicrosecondType};
    use arrow_array::{ArrayRef, BooleanArray, DictionaryArray, Int32Array, PrimitiveArray, StringArray};

    use super::*;
    use crate::ingest::{NULL_ID, Resolver};
    use crate::schema::{self, cols};

    /// A dictionary array of `values` whose dictionary also holds `unused` values no
    /// row refers to (a dictionary shared by a column chunk bigger than the batch).
    fn dictionary(values: &[Option<&str>], unused: usize) -> ArrayRef {
        let mut dict: Vec<String> = (0..unused).map(|i| format!("unused {i}")).collect();
        let keys: Vec<Option<i32>> = values
            .iter()
            .map(|v| {
                v.map(|v| match dict.iter().position(|d| d == v) {
                    Some(p) => p as i32,
                    None => {
                        dict.push(v.to_string());
                        (dict.len() - 1) as i32
                    }
                })
            })
            .collect();
        let values: ArrayRef = Arc::new(StringArray::from(dict));
        Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values).unwrap())
    }

    fn times_as_dictionary(t: &[Option<i64>]) -> ArrayRef {
        let distinct: Vec<i64> = {
            let mut d: Vec<i64> = t.iter().flatten().copied().collect();
            d.sort_unstable();
            d.dedup();
            d
        };
        let keys: Vec<Option<i32>> =
            t.iter().map(|v| v.map(|v| distinct.iter().position(|d| *d == v).unwrap() as i32)).collect();
        let values: ArrayRef =
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(distinct).with_timezone("UTC"));
        Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values).unwrap())
    }

    /// Dictionary columns are read value by value exactly like plain ones: same values,
    /// same interned ids, same quarantine rows with the same details, whether each
    /// dictionary value is converted once or every row is read through its key.
    #[test]
    fn dictionary_columns_convert_like_plain_ones() {
        let zone = Zone::new("Europe/Stockholm").unwrap();
        let card_id = [Some("C1"), Some("C2"), Some("C3"), Some("C4"), Some("C5"), Some("C6"), Some("C7"), Some("C8")];
        let org_id = [Some("O1"), Some("O2"), Some("O1"), Some("  "), None, Some("O2"), Some("O1"), Some("O3")];
        let care_unit = [None, Some("U1"), Some("U1"), Some("U2"), Some("U1"), None, Some(""), Some("U2")];
        let card_type = [
            Some("siths"),
            Some("SITHS e-id"),
            Some("siths"),
            Some("siths"),
            Some("x"),
            None,
            Some("siths"),
            Some(" siths "),
        ];
        let status = [
            Some("received"),
            Some(" Mottaget "),
            Some("bogus"),
            Some("ordered"),
            Some("sent"),
            Some("received"),
            Some(""),
            Some("Spärrad"),
        ];
        let ordered_at = [
            Some(1_600_000_000_000_000),
            Some(1_600_000_000_000_000),
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(1),
            Some(i64::MAX),
        ];
        let plain_times: ArrayRef =
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(ordered_at.to_vec()).with_timezone("UTC"));
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true); 8]));
        let text = |v: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        let batch = |columns: Vec<Option<ArrayRef>>| RawBatch {
            file: 0,
            len: 8,
            rows: RowNumbers::From(1),
            int96: vec![false; columns.len()],
            columns,
        };
        // The card columns with the text columns made by `strings`.
        let cards = |strings: &dyn Fn(&[Option<&str>]) -> ArrayRef, times: ArrayRef| {
            let mut columns: Vec<Option<ArrayRef>> =
                [&card_id[..], &org_id, &care_unit, &card_type, &status].iter().map(|v| Some(strings(v))).collect();
            columns.extend([Some(times), None, None, None, Some(bools.clone()), Some(bools.clone())]);
            batch(columns)
        };
        let plain = cards(&|v| text(v), plain_times.clone());
        let (want, want_q) = convert_batch(&plain, &schema::CARDS, &zone, None);
        assert_eq!(want_q.len(), 6, "{want_q:?}");
        for unused in [0, 20] {
            let dict = cards(&|v| dictionary(v, unused), times_as_dictionary(&ordered_at));
            let (got, got_q) = convert_batch(&dict, &schema::CARDS, &zone, None);
            assert_eq!(got_q, want_q, "unused {unused}");
            assert_eq!(format!("{:?}", got.columns), format!("{:?}", want.columns), "unused {unused}");
            assert_eq!(got.source, want.source);
        }
    }

    /// Microsecond UTC timestamps and booleans, taken without the row-by-row reading
    /// when in range and present, read exactly as the reading would: the kept values
    /// are the input's, a missing required time and an out-of-range one are rejected
    /// with the reading's codes, a missing optional value is null.
    #[test]
    fn plain_times_and_booleans_read_like_the_reading() {
        let zone = Zone::new("Europe/Stockholm").unwrap();
        let max = 253_402_300_799_999_999;
        let ordered = [Some(1_600_000_000_000_000), None, Some(max + 1), Some(max), Some(-1)];
        let sent = [None, Some(5), Some(i64::MIN), Some(7), Some(8)];
        let auth = [Some(true), Some(false), None, Some(true), None];
        let n = ordered.len();
        let times = |v: &[Option<i64>]| {
            Some(Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(v.to_vec()).with_timezone("UTC")) as ArrayRef)
        };
        let text = |v: &str| Some(Arc::new(StringArray::from(vec![Some(v); n])) as ArrayRef);
        let columns = vec![
            Some(Arc::new(StringArray::from((0..n).map(|i| format!("C{i}")).collect::<Vec<_>>())) as ArrayRef),
            text("O1"),
            None,
            text("siths"),
            text("received"),
            times(&ordered),
            times(&sent),
            None,
            None,
            Some(Arc::new(BooleanArray::from(auth.to_vec())) as ArrayRef),
            None,
        ];
        let batch = RawBatch { file: 0, len: n, rows: RowNumbers::From(1), int96: vec![false; columns.len()], columns };
        let (t, q) = convert_batch(&batch, &schema::CARDS, &zone, None);
        let got: Vec<_> = q.iter().map(|r| (r.row, r.column.unwrap(), r.error)).collect();
        assert_eq!(got, [(2, "ordered_at", QError::MissingRequired), (3, "ordered_at", QError::BadValue),]);
        assert_eq!(t.times(cols::cards::ORDERED_AT).0, [1_600_000_000_000_000, max, -1]);
        assert_eq!(t.times(cols::cards::SENT_AT).0, [NULL_TIME, 7, 8]);
        assert_eq!(t.bools(cols::cards::HAS_AUTH_CODE), [Some(true), Some(true), None]);
    }

    /// Text decoded into a buffer with far more room than text is copied to a buffer of
    /// its size, and reads the same, a slice (offsets not from zero) and nulls included.
    #[test]
    fn roomy_text_buffers_are_fitted() {
        use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
        let mut bytes: Vec<u8> = Vec::with_capacity(1 << 20);
        bytes.extend_from_slice(b"XS1S22S333");
        let offsets = OffsetBuffer::new(ScalarBuffer::from(vec![0i32, 1, 3, 3, 6, 10]));
        let nulls = NullBuffer::from(vec![true, true, false, true, true]);
        let roomy = StringArray::new(offsets, Buffer::from_vec(bytes), Some(nulls));
        for a in [roomy.clone(), roomy.slice(1, 4)] {
            let f = fitted(&a);
            assert!(f.values().capacity() < 4096, "{}", f.values().capacity());
            let read = |x: &StringArray| {
                (0..x.len()).map(|i| x.is_valid(i).then(|| x.value(i).to_string())).collect::<Vec<_>>()
            };
            assert_eq!(read(&f), read(&a));
        }
        assert_eq!(fitted(&roomy.slice(1, 4)).value(2), "S22");
    }

    /// Plain text taken without copying reads exactly as the row-by-row reading (a
    /// `Utf8View` column always goes row by row): clean columns, and columns with
    /// empty, blank (ASCII and non-ASCII white space) and null values.
    #[test]
    fn text_taken_whole_reads_like_text_read_row_by_row() {
        use arrow_array::{LargeStringArray, StringViewArray};
        let zone = Zone::new("UTC").unwrap();
        let cases: [&[Option<&str>]; 4] = [
            &[Some("S1"), Some(" S2 "), Some("Ö3")],
            &[Some("S1"), Some(""), Some("S3")],
            &[Some("S1"), Some(" \t"), Some("\u{a0}"), Some("S4")],
            &[Some("S1"), None, Some("S3")],
        ];
        for serials in cases {
            let n = serials.len();
            let card: Vec<Option<&str>> = (0..n).map(|i| if i == 0 { None } else { Some("C1") }).collect();
            let issuer = vec![Some("CA"); n];
            let batch = |serial: ArrayRef| RawBatch {
                file: 0,
                len: n,
                rows: RowNumbers::From(1),
                int96: vec![false; 5],
                columns: vec![
                    Some(serial),
                    Some(Arc::new(StringArray::from(card.clone())) as ArrayRef),
                    Some(Arc::new(StringArray::from(issuer.clone())) as ArrayRef),
                    None,
                    None,
                ],
            };
            let view: ArrayRef = Arc::new(serials.iter().copied().collect::<StringViewArray>());
            let (want, want_q) = convert_batch(&batch(view), &schema::CERTIFICATES, &zone, None);
            for whole in [
                Arc::new(StringArray::from(serials.to_vec())) as ArrayRef,
                Arc::new(serials.iter().copied().collect::<LargeStringArray>()) as ArrayRef,
                // A slice: its offsets do not start at zero.
                Arc::new(StringArray::from([&[Some("X")], serials].concat()).slice(1, n)) as ArrayRef,
            ] {
                let (got, got_q) = convert_batch(&batch(whole), &schema::CERTIFICATES, &zone, None);
                assert_eq!(got_q, want_q, "{serials:?}");
                assert_eq!(format!("{:?}", got.columns), format!("{:?}", want.columns), "{serials:?}");
            }
        }
    }

    /// Certificates find their card whatever order they come in: the same card again,
    /// the next card, a jump back, an unknown card, the card after the last one.
    #[test]
    fn card_ids_resolve_in_any_order() {
        let zone = Zone::new("UTC").unwrap();
        let cards = ["K0", "K1", "K2", "K3"];
        let lookup = |id: &str| cards.iter().position(|c| *c == id).map_or(NULL_ID, |p| p as u32);
        let key_of = |i: u32| cards.get(i as usize).copied();
        let resolve = Resolver { column: "card_id", lookup: &lookup, key_of: &key_of };
        let order = ["K1", "K1", "K2", "K3", "K0", "K2", "nope", "K0", "K1", "K3", "K3", "K2"];
        let n = order.len();
        let text = |v: Vec<Option<&str>>| Some(Arc::new(StringArray::from(v)) as ArrayRef);
        let serials: Vec<String> = (0..n).map(|i| format!("S{i}")).collect();
        let batch = RawBatch {
            file: 0,
            len: n,
            rows: RowNumbers::From(1),
            int96: vec![false; 5],
            columns: vec![
                text(serials.iter().map(|s| Some(s.as_str())).collect()),
                text(order.iter().map(|c| Some(*c)).collect()),
                text(vec![Some("CA"); n]),
                None,
                None,
            ],
        };
        let (t, q) = convert_batch(&batch, &schema::CERTIFICATES, &zone, Some(&resolve));
        assert!(q.is_empty());
        let want: Vec<u32> = order.iter().map(|c| lookup(c)).collect();
        assert_eq!(t.indices(cols::certificates::CARD), want.as_slice());
        assert_eq!(want[6], NULL_ID);
    }
}
