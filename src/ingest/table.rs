//! An input table after conversion: one typed column per SPEC column, valid rows only,
//! in input (file-then-row) order, each row remembering where it came from.
//!
//! Memory matters at national scale (tens of millions of certificates), so columns are
//! compact: timestamps are `i64` with a null sentinel, low-cardinality text (org_id on
//! cards, issuers) is interned, and a certificate's card_id is replaced by the index of
//! its card as soon as it is read.

use arrow_array::{Array, ArrayRef, BooleanArray, LargeStringArray, StringArray};

use rayon::prelude::*;

use crate::hashing::KeyMap;
use crate::schema::{Col, ColumnKind, InputTable, held};

/// The null of an interned or index column.
pub const NULL_ID: u32 = u32::MAX;
/// The null of a time column (no real instant is this early).
pub const NULL_TIME: i64 = i64::MIN;

/// Where a row came from: index into the sweep's input files (16 bits) and 1-based data
/// row (48 bits), packed in eight bytes because every row of tens of millions has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowRef(u64);

impl RowRef {
    pub const MAX_FILES: u32 = 1 << 16;

    pub fn new(file: u32, row: u64) -> RowRef {
        debug_assert!(file < Self::MAX_FILES && row < 1 << 48);
        RowRef((u64::from(file) << 48) | row)
    }

    pub fn file(self) -> u32 {
        (self.0 >> 48) as u32
    }

    pub fn row(self) -> u64 {
        self.0 & ((1 << 48) - 1)
    }
}

/// Where each row of a table came from, kept as runs of consecutive rows of one file:
/// a batch read from Parquet is one run, a CSV batch one run per stretch between
/// malformed records, a filtered part one run per kept stretch. Every row of tens of
/// millions has a source, but they are looked up only to name a rejected row, so a few
/// runs per part stand for them (a source per row would be 8 bytes: 360 MB at 45M
/// certificates).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    /// The index of each run's first row, and that row's source; runs are maximal
    /// (a row that continues the run before it never starts a run), so equal sequences
    /// of sources are equal values.
    runs: Vec<(usize, RowRef)>,
    len: usize,
}

impl Sources {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `n` consecutive rows of `file` from data row `first`.
    pub fn run(file: u32, first: u64, n: usize) -> Sources {
        let runs = if n == 0 { Vec::new() } else { vec![(0, RowRef::new(file, first))] };
        Sources { runs, len: n }
    }

    /// Appends one row's source.
    pub fn push(&mut self, r: RowRef) {
        let continues = self.runs.last().is_some_and(|&(start, first)| {
            r.file() == first.file() && r.row() == first.row() + (self.len - start) as u64
        });
        if !continues {
            self.runs.push((self.len, r));
        }
        self.len += 1;
    }

    /// The source of row `i`.
    pub fn get(&self, i: usize) -> RowRef {
        assert!(i < self.len, "row {i} of {} sources", self.len);
        let (start, first) = self.runs[self.runs.partition_point(|&(s, _)| s <= i) - 1];
        RowRef::new(first.file(), first.row() + (i - start) as u64)
    }

    /// Every row's source, in order.
    pub fn iter(&self) -> impl Iterator<Item = RowRef> + '_ {
        self.runs.iter().enumerate().flat_map(|(k, &(start, first))| {
            let end = self.runs.get(k + 1).map_or(self.len, |&(s, _)| s);
            (0..(end - start) as u64).map(move |j| RowRef::new(first.file(), first.row() + j))
        })
    }

    /// The sources of the rows where `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> Sources {
        let mut out = Sources::default();
        for (r, _) in self.iter().zip(keep).filter(|(_, k)| **k) {
            out.push(r);
        }
        out
    }

    /// Appends another table's sources after these.
    pub fn append(&mut self, other: &Sources) {
        for (k, &(start, first)) in other.runs.iter().enumerate() {
            let end = other.runs.get(k + 1).map_or(other.len, |&(s, _)| s);
            // Its first row may continue this table's last run; the rest follow it.
            self.push(first);
            self.len += end - start - 1;
        }
    }
}

impl FromIterator<RowRef> for Sources {
    fn from_iter<I: IntoIterator<Item = RowRef>>(iter: I) -> Sources {
        let mut s = Sources::default();
        for r in iter {
            s.push(r);
        }
        s
    }
}

/// A plain text column, with the 32-bit offsets it was decoded with (a batch's text is
/// far below 2 GiB; 64-bit offsets would add 4 bytes to each of tens of millions of
/// serials), or 64-bit ones when it came so or a whole table's text is larger.
#[derive(Clone)]
pub enum TextColumn {
    Small(StringArray),
    Large(LargeStringArray),
}

impl TextColumn {
    /// An Arrow `Utf8` or `LargeUtf8` array.
    pub fn from_array(a: &ArrayRef) -> TextColumn {
        use arrow_array::cast::AsArray;
        match a.data_type() {
            arrow_schema::DataType::Utf8 => TextColumn::Small(a.as_string::<i32>().clone()),
            arrow_schema::DataType::LargeUtf8 => TextColumn::Large(a.as_string::<i64>().clone()),
            t => panic!("a text column is Utf8 or LargeUtf8, not {t}"),
        }
    }

    pub fn as_array(&self) -> &dyn Array {
        match self {
            TextColumn::Small(a) => a,
            TextColumn::Large(a) => a,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TextColumn::Small(a) => a.len(),
            TextColumn::Large(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Called per row (key hashing, lookups): matched, not through `&dyn Array`.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        match self {
            TextColumn::Small(a) => a.is_valid(i),
            TextColumn::Large(a) => a.is_valid(i),
        }
    }

    #[inline]
    pub fn value(&self, i: usize) -> &str {
        match self {
            TextColumn::Small(a) => a.value(i),
            TextColumn::Large(a) => a.value(i),
        }
    }

    /// Bytes of text its rows refer to.
    fn text_bytes(&self) -> usize {
        match self {
            TextColumn::Small(a) => (a.value_offsets()[a.len()] - a.value_offsets()[0]) as usize,
            TextColumn::Large(a) => (a.value_offsets()[a.len()] - a.value_offsets()[0]) as usize,
        }
    }
}

/// The values, whatever the offsets: two columns of the same values look the same.
impl std::fmt::Debug for TextColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries((0..self.len()).map(|i| self.is_valid(i).then(|| self.value(i)))).finish()
    }
}

/// One converted column.
#[derive(Debug, Clone)]
pub enum ColumnData {
    Text(TextColumn),
    /// Low-cardinality text: an id per row into a dictionary of distinct values.
    Interned {
        ids: Vec<u32>,
        dict: Vec<String>,
    },
    /// A key already resolved to the index of the row it refers to.
    Index(Vec<u32>),
    Label(Vec<u8>),
    Time(Vec<i64>),
    Bool(Vec<Option<bool>>),
    /// A column let go after its rows' [`Table::derived`] bytes were decided: no values.
    Gone,
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Text(a) => a.len(),
            ColumnData::Interned { ids, .. } => ids.len(),
            ColumnData::Index(v) => v.len(),
            ColumnData::Label(v) => v.len(),
            ColumnData::Time(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Gone => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A time column: `i64` µs with [`NULL_TIME`] for null.
#[derive(Clone, Copy, Debug)]
pub struct Times<'a>(pub &'a [i64]);

impl Times<'_> {
    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        let t = self.0[i];
        (t != NULL_TIME).then_some(t)
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub def: InputTable,
    pub columns: Vec<ColumnData>,
    /// Where each row came from.
    pub source: Sources,
    /// One byte per row that the reading decided from the row's values, for columns it
    /// then let go (certificates: the rules' issuer kind and activity, see
    /// [`Derive`](super::Derive)); empty if none was.
    pub derived: Vec<u8>,
}

impl Table {
    pub fn len(&self) -> usize {
        // Every table keeps a column that is not let go (a certificate its card).
        let kept = self.columns.iter().find(|c| !matches!(c, ColumnData::Gone));
        kept.map_or(self.source.len(), ColumnData::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column `c` reads. A handle of another table is a programming error that
    /// every test run would meet, hence the assertion.
    fn column<K>(&self, c: Col<K>) -> &ColumnData {
        debug_assert_eq!(self.def.name, c.table, "{} is a column of {}", c.name, c.table);
        match &self.columns[c.index] {
            ColumnData::Gone => panic!("{} was let go once its rows were classified", c.name),
            data => data,
        }
    }

    /// Decides the rows' derived bytes and lets go of the columns only they needed.
    pub fn derive(&mut self, d: &dyn super::Derive) {
        self.derived = d.bytes(self);
        assert_eq!(self.derived.len(), self.len(), "a derived byte per row");
        for &index in d.lets_go() {
            self.columns[index] = ColumnData::Gone;
        }
    }

    pub fn text(&self, c: Col<held::Text>) -> &TextColumn {
        match self.column(c) {
            ColumnData::Text(a) => a,
            _ => unreachable!("{} is declared plain text", c.name),
        }
    }

    /// A text value (plain or interned), `None` for null.
    pub fn str<K: held::Textual>(&self, c: Col<K>, i: usize) -> Option<&str> {
        match self.column(c) {
            ColumnData::Text(a) => a.is_valid(i).then(|| a.value(i)),
            ColumnData::Interned { ids, dict } => (ids[i] != NULL_ID).then(|| dict[ids[i] as usize].as_str()),
            _ => unreachable!("{} is declared text", c.name),
        }
    }

    /// An interned column's ids and dictionary.
    pub fn interned(&self, c: Col<held::Interned>) -> (&[u32], &[String]) {
        match self.column(c) {
            ColumnData::Interned { ids, dict } => (ids, dict),
            _ => unreachable!("{} is declared interned", c.name),
        }
    }

    /// Each row's card in `cards` ([`NULL_ID`] for none).
    pub fn indices(&self, c: Col<held::CardRow>) -> &[u32] {
        match self.column(c) {
            ColumnData::Index(v) => v,
            _ => unreachable!("{} holds card rows once read", c.name),
        }
    }

    pub fn indices_mut(&mut self, c: Col<held::CardRow>) -> &mut [u32] {
        match &mut self.columns[c.index] {
            ColumnData::Index(v) => v,
            _ => unreachable!("{} holds card rows once read", c.name),
        }
    }

    /// Each row's label as the index of its vocabulary entry (`Status as u8`, …).
    pub fn labels(&self, c: Col<held::Label>) -> &[u8] {
        match self.column(c) {
            ColumnData::Label(v) => v,
            _ => unreachable!("{} is declared a label", c.name),
        }
    }

    pub fn times(&self, c: Col<held::Time>) -> Times<'_> {
        match self.column(c) {
            ColumnData::Time(v) => Times(v),
            _ => unreachable!("{} is declared a time", c.name),
        }
    }

    pub fn bools(&self, c: Col<held::Bool>) -> &[Option<bool>] {
        match self.column(c) {
            ColumnData::Bool(v) => v,
            _ => unreachable!("{} is declared a boolean", c.name),
        }
    }

    /// The rows where `keep` is true, in order.
    pub fn filter(&self, keep: &[bool]) -> Table {
        let mask = BooleanArray::from(keep.to_vec());
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                ColumnData::Text(a) => {
                    let f = arrow_select::filter::filter(a.as_array(), &mask).expect("same length");
                    ColumnData::Text(TextColumn::from_array(&f))
                }
                ColumnData::Interned { ids, dict } => ColumnData::Interned { ids: pick(keep, ids), dict: dict.clone() },
                ColumnData::Index(v) => ColumnData::Index(pick(keep, v)),
                ColumnData::Label(v) => ColumnData::Label(pick(keep, v)),
                ColumnData::Time(v) => ColumnData::Time(pick(keep, v)),
                ColumnData::Bool(v) => ColumnData::Bool(pick(keep, v)),
                ColumnData::Gone => ColumnData::Gone,
            })
            .collect();
        let derived = if self.derived.is_empty() { Vec::new() } else { pick(keep, &self.derived) };
        Table { def: self.def, columns, source: self.source.filter(keep), derived }
    }

    /// This table if `keep` keeps every row, else its [`filter`](Table::filter): most
    /// parts lose no rows and are not copied.
    pub fn keep(self, keep: &[bool]) -> Table {
        if keep.iter().all(|k| *k) { self } else { self.filter(keep) }
    }

    /// A table with no rows.
    pub fn empty(def: InputTable) -> Table {
        let columns = def
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Text if c.interned => ColumnData::Interned { ids: Vec::new(), dict: Vec::new() },
                ColumnKind::Text => ColumnData::Text(TextColumn::Small(StringArray::from(Vec::<Option<&str>>::new()))),
                ColumnKind::Label => ColumnData::Label(Vec::new()),
                ColumnKind::Time => ColumnData::Time(Vec::new()),
                ColumnKind::Bool => ColumnData::Bool(Vec::new()),
            })
            .collect();
        Table { def, columns, source: Sources::default(), derived: Vec::new() }
    }

    /// Appends parts of one table, in order, each column allocated once at its final size.
    pub fn concat(def: InputTable, parts: Vec<Table>) -> Table {
        if parts.is_empty() {
            return Table::empty(def);
        }
        let n: usize = parts.iter().map(Table::len).sum();
        let mut source = Sources::default();
        let mut derived = Vec::new();
        for p in &parts {
            source.append(&p.source);
            derived.extend_from_slice(&p.derived);
        }
        // Column by column, each part's column dropped once copied: the peak is the
        // table plus one column, not the table twice.
        let mut parts = parts;
        let columns = (0..def.columns.len())
            .map(|c| {
                let col = concat_column(parts.iter().map(|p| &p.columns[c]), n);
                for p in &mut parts {
                    p.columns[c] = ColumnData::Label(Vec::new());
                }
                if n >= RELEASE_ROWS {
                    crate::memory::release_freed();
                }
                col
            })
            .collect();
        Table { def, columns, source, derived }
    }
}

/// Tables of at least this many rows have the memory of each column's parts returned to
/// the system as soon as the column is copied ([`Table::concat`]): the parts are many
/// batch-sized allocations and the new column one large fresh one, so the freed parts
/// were not reused, and the allocator kept them resident on top of the new table (at
/// 10M cards the read_cards stage peaked at up to 1,549 MiB for it, BENCHMARKS.md).
const RELEASE_ROWS: usize = 1 << 20;

/// A table still in the parts (batches) it was read in, its rows addressed by one index
/// across all parts. Key checks run on the parts, so the table is copied into one piece
/// once, with the rejected rows already left out.
pub struct Parts {
    pub def: InputTable,
    pub parts: Vec<Table>,
    /// The index of every part's first row, and the total row count last.
    starts: Vec<usize>,
}

impl Parts {
    pub fn new(def: InputTable, parts: Vec<Table>) -> Parts {
        let mut starts = Vec::with_capacity(parts.len() + 1);
        let mut n = 0;
        for p in &parts {
            starts.push(n);
            n += p.len();
        }
        starts.push(n);
        Parts { def, parts, starts }
    }

    pub fn len(&self) -> usize {
        *self.starts.last().expect("starts ends with the total")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the rows that `keep` marks in each part (one bool per row), part by part
    /// in parallel, each part's rows let go as it is done.
    pub fn retain(&mut self, keep: impl Fn(&Table) -> Vec<bool> + Sync) {
        let parts: Vec<Table> = std::mem::take(&mut self.parts)
            .into_par_iter()
            .map(|p| {
                let k = keep(&p);
                p.keep(&k)
            })
            .collect();
        *self = Parts::new(self.def, parts);
    }

    /// Each part with the index of its first row.
    pub fn with_starts(&self) -> impl Iterator<Item = (&Table, usize)> {
        self.parts.iter().zip(self.starts.iter().copied())
    }

    /// The part holding row `i`, and the row's place in it.
    pub fn locate(&self, i: usize) -> (&Table, usize) {
        let (p, r) = self.locate_part(i);
        (&self.parts[p], r)
    }

    /// The number of the part holding row `i` (the last part starting at or before it:
    /// empty parts share a start), and the row's place in it.
    pub fn locate_part(&self, i: usize) -> (usize, usize) {
        let p = self.starts.partition_point(|&s| s <= i) - 1;
        (p, i - self.starts[p])
    }

    pub fn source(&self, i: usize) -> RowRef {
        let (t, r) = self.locate(i);
        t.source.get(r)
    }

    /// One table of the rows where `keep` is true (all rows if `None`), in order. Only
    /// parts that lose rows are filtered; then every column is copied once.
    pub fn into_table(self, keep: Option<&[bool]>) -> Table {
        let parts = match keep {
            None => self.parts,
            Some(keep) => self
                .parts
                .into_par_iter()
                .zip(self.starts.par_windows(2))
                .map(|(p, w)| p.keep(&keep[w[0]..w[1]]))
                .collect(),
        };
        Table::concat(self.def, parts)
    }

    /// A text value (plain or interned) of row `i`, `None` for null.
    pub fn str<K: held::Textual>(&self, c: Col<K>, i: usize) -> Option<&str> {
        let (t, r) = self.locate(i);
        t.str(c, r)
    }

    /// Every part's card rows, in order.
    pub fn indices(&self, c: Col<held::CardRow>) -> impl Iterator<Item = u32> + '_ {
        self.parts.iter().flat_map(move |p| p.indices(c).iter().copied())
    }
}

// Every column is copied into one allocated at its final size, the parts' pieces in
// parallel: at 10M cards the copy (and the first touch of ~600 MB of fresh pages) took
// 0.2-0.8 s of one core while the other waited.
fn concat_column<'a>(cols: impl Iterator<Item = &'a ColumnData> + Clone, n: usize) -> ColumnData {
    // The parts' vectors of one variant, appended into one of exactly `n` rows.
    macro_rules! flat {
        ($variant:ident) => {{
            let parts = cols.map(|c| match c {
                ColumnData::$variant(part) => &part[..],
                _ => unreachable!("parts of one table have the same columns"),
            });
            concat_slices(parts.collect(), n)
        }};
    }
    let first = cols.clone().next().expect("at least one part");
    match first {
        ColumnData::Text(_) => {
            let texts: Vec<&TextColumn> = cols
                .map(|c| match c {
                    ColumnData::Text(a) => a,
                    _ => unreachable!("parts of one table have the same columns"),
                })
                .collect();
            let small: Option<Vec<&StringArray>> = texts
                .iter()
                .map(|t| match t {
                    TextColumn::Small(a) => Some(a),
                    TextColumn::Large(_) => None,
                })
                .collect();
            let bytes: usize = texts.iter().map(|t| t.text_bytes()).sum();
            match small {
                Some(small) if bytes <= i32::MAX as usize => {
                    ColumnData::Text(TextColumn::Small(concat_text(&small, n)))
                }
                _ => {
                    // Mixed offsets, or more text than 32-bit offsets reach: value by value.
                    let mut b = arrow_array::builder::LargeStringBuilder::with_capacity(n, bytes);
                    for t in texts {
                        for i in 0..t.len() {
                            b.append_option(t.is_valid(i).then(|| t.value(i)));
                        }
                    }
                    ColumnData::Text(TextColumn::Large(b.finish()))
                }
            }
        }
        ColumnData::Interned { .. } => {
            // One dictionary in first-appearance order across the parts (a few values
            // each), then every part's ids mapped into it in parallel.
            let mut global: KeyMap<&str, u32> = KeyMap::default();
            let mut dict: Vec<String> = Vec::new();
            let mut parts = Vec::new();
            for c in cols {
                let ColumnData::Interned { ids: part_ids, dict: part_dict } = c else { unreachable!() };
                let remap: Vec<u32> = part_dict
                    .iter()
                    .map(|s| {
                        *global.entry(s.as_str()).or_insert_with(|| {
                            dict.push(s.clone());
                            (dict.len() - 1) as u32
                        })
                    })
                    .collect();
                parts.push((&part_ids[..], remap));
            }
            let mut ids = vec![0u32; n];
            split_by(&mut ids, parts.iter().map(|(p, _)| p.len())).into_par_iter().zip(&parts).for_each(
                |(to, (from, remap))| {
                    for (t, &i) in to.iter_mut().zip(*from) {
                        *t = if i == NULL_ID { NULL_ID } else { remap[i as usize] };
                    }
                },
            );
            ColumnData::Interned { ids, dict }
        }
        ColumnData::Index(_) => ColumnData::Index(flat!(Index)),
        ColumnData::Label(_) => ColumnData::Label(flat!(Label)),
        ColumnData::Time(_) => ColumnData::Time(flat!(Time)),
        ColumnData::Bool(_) => ColumnData::Bool(flat!(Bool)),
        ColumnData::Gone => ColumnData::Gone,
    }
}

/// `v` cut into consecutive pieces of the given lengths (which sum to its length).
fn split_by<T>(mut v: &mut [T], lens: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    lens.map(|n| {
        let (piece, rest) = std::mem::take(&mut v).split_at_mut(n);
        v = rest;
        piece
    })
    .collect()
}

/// The slices appended, `n` values in all, each copied in parallel.
fn concat_slices<T: Copy + Default + Send + Sync>(parts: Vec<&[T]>, n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    split_by(&mut v, parts.iter().map(|p| p.len()))
        .into_par_iter()
        .zip(parts)
        .for_each(|(to, from)| to.copy_from_slice(from));
    v
}

/// The string arrays appended (`n` values in all, their text within 32-bit offsets):
/// values and offsets copied part by part in parallel, the validity bits appended.
fn concat_text(parts: &[&StringArray], n: usize) -> StringArray {
    use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
    // A part may be a slice of a bigger array: its text is values[first..last].
    let span = |a: &StringArray| {
        let o = a.value_offsets();
        (o[0] as usize, o[a.len()] as usize)
    };
    let text_starts: Vec<i32> = parts
        .iter()
        .scan(0i32, |at, a| {
            let (first, last) = span(a);
            let start = *at;
            *at += (last - first) as i32;
            Some(start)
        })
        .collect();
    let bytes = parts.last().map_or(0, |a| {
        let (first, last) = span(a);
        text_starts[parts.len() - 1] as usize + last - first
    });
    let mut offsets = vec![0i32; n + 1];
    let mut values = vec![0u8; bytes];
    let offset_pieces = split_by(&mut offsets[1..], parts.iter().map(|a| a.len()));
    let value_pieces = split_by(&mut values, parts.iter().map(|a| span(a).1 - span(a).0));
    offset_pieces.into_par_iter().zip(value_pieces).zip(parts).zip(&text_starts).for_each(
        |(((offsets, values), a), &start)| {
            let (first, last) = span(a);
            values.copy_from_slice(&a.value_data()[first..last]);
            for (to, &end) in offsets.iter_mut().zip(&a.value_offsets()[1..]) {
                *to = start + (end - first as i32);
            }
        },
    );
    let nulls = parts.iter().any(|a| a.null_count() > 0).then(|| {
        let mut b = BooleanBufferBuilder::new(n);
        for a in parts {
            match a.nulls() {
                Some(valid) => b.append_buffer(valid.inner()),
                None => b.append_n(a.len(), true),
            }
        }
        NullBuffer::new(b.finish())
    });
    StringArray::try_new(OffsetBuffer::new(ScalarBuffer::from(offsets)), Buffer::from_vec(values), nulls)
        .expect("valid parts append into a valid array")
}

/// Interns the text values of one batch: ids in first-appearance order. Consecutive rows
/// often repeat a value (cards come grouped by organisation), so the last one is
/// checked before the map.
#[derive(Default)]
pub struct Interner {
    dict: Vec<String>,
    index: KeyMap<Box<str>, u32>,
    last: u32,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if (self.last as usize) < self.dict.len() && self.dict[self.last as usize] == s {
            return self.last;
        }
        let id = match self.index.get(s) {
            Some(&id) => id,
            None => {
                let id = self.dict.len() as u32;
                self.dict.push(s.to_string());
                self.index.insert(s.into(), id);
                id
            }
        };
        self.last = id;
        id
    }

    pub fn into_dict(self) -> Vec<String> {
        self.dict
    }
}

fn pick<T: Copy>(keep: &[bool], v: &[T]) -> Vec<T> {
    v.iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ORGANISATIONS;
    use crate::schema::cols::organisations::ORG_ID;

    fn part(first_row: u64, rows: usize) -> Table {
        let ids: Vec<String> = (0..rows).map(|i| format!("O{}", first_row + i as u64)).collect();
        Table {
            def: ORGANISATIONS,
            columns: vec![
                ColumnData::Text(TextColumn::Small(StringArray::from(
                    ids.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>(),
                ))),
                ColumnData::Text(TextColumn::Large(LargeStringArray::from(vec![None::<&str>; rows]))),
            ],
            source: Sources::run(0, first_row, rows),
            derived: Vec::new(),
        }
    }

    /// Rows are found across parts, empty ones (a batch whose every row was rejected)
    /// included, and `into_table` keeps exactly the rows marked, in order.
    #[test]
    fn parts_address_rows_across_empty_parts() {
        let parts = Parts::new(ORGANISATIONS, vec![part(1, 0), part(1, 3), part(4, 0), part(4, 2), part(6, 0)]);
        assert_eq!(parts.len(), 5);
        let rows: Vec<u64> = (0..5).map(|i| parts.source(i).row()).collect();
        assert_eq!(rows, [1, 2, 3, 4, 5]);
        let (t, r) = parts.locate(3);
        assert_eq!((t.str(ORG_ID, r), r), (Some("O4"), 0));
        let table = parts.into_table(Some(&[true, false, true, true, false]));
        let ids: Vec<_> = (0..table.len()).map(|i| table.str(ORG_ID, i).unwrap().to_string()).collect();
        assert_eq!(ids, ["O1", "O3", "O4"]);
        assert_eq!(table.source.iter().map(|s| s.row()).collect::<Vec<_>>(), [1, 3, 4]);
        assert_eq!((0..3).map(|i| table.source.get(i).row()).collect::<Vec<_>>(), [1, 3, 4]);
    }

    /// Sources kept as runs read, filter and append exactly like a list of every row's
    /// source: across files, gaps, rows out of order, empty tables and runs that an
    /// append or a filter joins.
    #[test]
    fn sources_are_a_list_of_every_rows_source() {
        use proptest::prelude::*;
        let row = (0u32..3, 0u64..12).prop_map(|(f, r)| RowRef::new(f, r));
        let list = proptest::collection::vec(row, 0..40);
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&(list.clone(), list, proptest::collection::vec(any::<bool>(), 40)), |(a, b, keep)| {
                let (sa, sb): (Sources, Sources) = (a.iter().copied().collect(), b.iter().copied().collect());
                prop_assert_eq!(sa.len(), a.len());
                prop_assert_eq!(sa.iter().collect::<Vec<_>>(), a.clone());
                prop_assert_eq!((0..a.len()).map(|i| sa.get(i)).collect::<Vec<_>>(), a.clone());
                let mut joined = sa.clone();
                joined.append(&sb);
                let both: Vec<RowRef> = a.iter().chain(&b).copied().collect();
                prop_assert_eq!(joined.iter().collect::<Vec<_>>(), both.clone());
                prop_assert_eq!(&joined, &both.iter().copied().collect::<Sources>());
                let k = &keep[..a.len()];
                let kept: Vec<RowRef> = a.iter().zip(k).filter(|(_, k)| **k).map(|(r, _)| *r).collect();
                prop_assert_eq!(&sa.filter(k), &kept.iter().copied().collect::<Sources>());
                prop_assert_eq!(sa.filter(k).iter().collect::<Vec<_>>(), kept);
                Ok(())
            })
            .unwrap();
        let run = Sources::run(2, 7, 3);
        assert_eq!(run, [7, 8, 9].map(|r| RowRef::new(2, r)).into_iter().collect::<Sources>());
        assert_eq!(Sources::run(2, 7, 0), Sources::default());
    }

    /// Parts whose text came with 32-bit and 64-bit offsets concatenate to the same
    /// values in order, nulls kept.
    #[test]
    fn text_of_both_offset_widths_concatenates() {
        let mut wide = part(4, 2);
        wide.columns[0] = ColumnData::Text(TextColumn::Large(LargeStringArray::from(vec![Some("O4"), None])));
        let t = Parts::new(ORGANISATIONS, vec![part(1, 3), wide, part(6, 1)]).into_table(None);
        let ids: Vec<Option<&str>> = (0..t.len()).map(|i| t.str(ORG_ID, i)).collect();
        assert_eq!(ids, [Some("O1"), Some("O2"), Some("O3"), Some("O4"), None, Some("O6")]);
        assert!(matches!(t.text(ORG_ID), TextColumn::Large(_)));
        let narrow = Parts::new(ORGANISATIONS, vec![part(1, 2), part(3, 1)]).into_table(None);
        assert!(matches!(narrow.text(ORG_ID), TextColumn::Small(_)));
        assert_eq!(narrow.str(ORG_ID, 2), Some("O3"));
    }
    /// One row of a cards-like part: card_id, org_id (interned: a place in the part's
    /// dictionary, wrapped around), a label, a time, a code.
    type CardRow = (Option<String>, Option<u8>, u8, Option<i64>, Option<bool>);

    /// A part of `rows`, its card_id array cut out of a bigger one (a part may be a slice
    /// of what was read, its text not starting at offset 0) and its org dictionary in an
    /// order of its own.
    fn cards_part(rows: &[CardRow], first_row: u64, dict_order: &[&str]) -> Table {
        use crate::schema::CARDS;
        let mut ids: Vec<Option<&str>> = vec![Some("before")];
        ids.extend(rows.iter().map(|r| r.0.as_deref()));
        ids.push(Some("after"));
        let card_id = StringArray::from(ids).slice(1, rows.len());
        let dict: Vec<String> = dict_order.iter().map(|s| s.to_string()).collect();
        let org: Vec<u32> = rows.iter().map(|r| org_of(r, dict_order).map_or(NULL_ID, |o| o as u32)).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.3.unwrap_or(NULL_TIME)).collect();
        let labels: Vec<u8> = rows.iter().map(|r| r.2).collect();
        let codes: Vec<Option<bool>> = rows.iter().map(|r| r.4).collect();
        let interned = || ColumnData::Interned { ids: org.clone(), dict: dict.clone() };
        Table {
            def: CARDS,
            columns: vec![
                ColumnData::Text(TextColumn::Small(card_id)),
                interned(),
                interned(),
                ColumnData::Label(labels.clone()),
                ColumnData::Label(labels),
                ColumnData::Time(times.clone()),
                ColumnData::Time(times.clone()),
                ColumnData::Time(times.clone()),
                ColumnData::Time(times),
                ColumnData::Bool(codes.clone()),
                ColumnData::Bool(codes),
            ],
            source: Sources::run(0, first_row, rows.len()),
            derived: Vec::new(),
        }
    }

    /// The place of a row's org in its part's dictionary, if it has one.
    fn org_of(r: &CardRow, dict: &[&str]) -> Option<usize> {
        r.1.filter(|_| !dict.is_empty()).map(|o| o as usize % dict.len())
    }

    const ORGS: [&str; 4] = ["A", "B", "C", "D"];

    /// A large table's parts give their memory back column by column as they are
    /// copied: the release is asked for once a column at least (other tests may ask too).
    #[test]
    fn a_large_concatenation_returns_each_columns_parts_as_it_goes() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        static RELEASES: AtomicUsize = AtomicUsize::new(0);
        crate::memory::set_release_freed(|| {
            RELEASES.fetch_add(1, Relaxed);
        });
        let rows: Vec<CardRow> = (0..RELEASE_ROWS / 2).map(|i| (None, None, i as u8, None, None)).collect();
        let parts = vec![cards_part(&rows, 0, &[]), cards_part(&rows, rows.len() as u64, &[])];
        let before = RELEASES.load(Relaxed);
        let t = Table::concat(crate::schema::CARDS, parts);
        assert_eq!(t.len(), RELEASE_ROWS);
        assert!(RELEASES.load(Relaxed) - before >= t.columns.len(), "a release per column");
    }

    /// Parts of every column kind concatenate (each piece copied in parallel) to their
    /// values in order: text from sliced arrays, with and without nulls, interned values
    /// across parts whose dictionaries differ, empty parts.
    #[test]
    fn parts_of_every_column_kind_concatenate_in_order() {
        use crate::schema::cols::cards;
        use proptest::prelude::*;
        let text = proptest::option::weighted(0.8, "[a-z]{0,5}");
        let row = (
            text,
            proptest::option::of(0u8..4),
            any::<u8>(),
            proptest::option::of(any::<i64>()),
            any::<Option<bool>>(),
        );
        let dict = proptest::sample::subsequence(ORGS.to_vec(), 0..=4).prop_shuffle();
        let part = (proptest::collection::vec(row, 0..9), dict);
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&proptest::collection::vec(part, 1..7), |parts| {
                let mut first = 0;
                let tables: Vec<Table> = parts
                    .iter()
                    .map(|(rows, order)| {
                        let t = cards_part(rows, first, order);
                        first += rows.len() as u64;
                        t
                    })
                    .collect();
                let t = Parts::new(crate::schema::CARDS, tables).into_table(None);
                let all: Vec<(&CardRow, &Vec<&str>)> =
                    parts.iter().flat_map(|(rows, dict)| rows.iter().map(move |r| (r, dict))).collect();
                prop_assert_eq!(t.len(), all.len());
                for (i, (r, dict)) in all.iter().enumerate() {
                    let org = org_of(r, dict).map(|o| dict[o]);
                    prop_assert_eq!(t.str(cards::CARD_ID, i), r.0.as_deref());
                    prop_assert_eq!(t.str(cards::ORG_ID, i), org);
                    prop_assert_eq!(t.str(cards::CARE_UNIT, i), org);
                    prop_assert_eq!(t.labels(cards::STATUS)[i], r.2);
                    prop_assert_eq!(t.times(cards::UPGRADED_AT).get(i), r.3.filter(|&v| v != NULL_TIME));
                    prop_assert_eq!(t.bools(cards::HAS_SIGN_CODE)[i], r.4);
                    prop_assert_eq!(t.source.get(i).row(), i as u64);
                }
                // The dictionary holds each part's values once, in order of first appearance.
                let (_, dict) = t.interned(cards::ORG_ID);
                let mut seen: Vec<&str> = Vec::new();
                for d in parts.iter().flat_map(|(_, order)| order) {
                    if !seen.contains(d) {
                        seen.push(d);
                    }
                }
                prop_assert_eq!(dict.iter().map(String::as_str).collect::<Vec<_>>(), seen);
                Ok(())
            })
            .unwrap();
    }
}
