//! Writing one output file as Parquet or CSV, hashing it on the way out.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::schema::OutputTable;
use crate::time::{push_date, push_instant};

/// Whether a text cell is one that a spreadsheet would take for a formula (SPEC "CSV
/// companions", after OWASP's CSV injection advice): it starts with `=`, `@`, tab or
/// carriage return, or with `+`/`-` and the whole cell is not a plain number
/// `[+-][0-9]+(\.[0-9]+)?`. A card id `-42` is an identifier the CA's tools must get as
/// it is, and no spreadsheet evaluates a plain signed number as a formula.
pub fn looks_like_formula(text: &str) -> bool {
    match text.as_bytes() {
        [b'=' | b'@' | b'\t' | b'\r', ..] => true,
        [b'+' | b'-', rest @ ..] => !is_unsigned_decimal(rest),
        _ => false,
    }
}

/// `[0-9]+(\.[0-9]+)?`, the whole of `s`.
fn is_unsigned_decimal(s: &[u8]) -> bool {
    let (whole, fraction) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    };
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    digits(whole) && fraction.is_none_or(digits)
}

/// Rows per Parquet row group: DuckDB and Spark parallelise over row groups.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// What the manifest records of a written file.
#[derive(Clone, Debug)]
pub struct Written {
    pub name: String,
    pub sha256: String,
    pub rows: u64,
}

impl Written {
    /// The file as every manifest lists it (run, diff, trend).
    pub fn manifest_entry(&self) -> serde_json::Value {
        serde_json::json!({"name": self.name, "sha256": self.sha256, "rows": self.rows})
    }
}

/// A file writer that hashes what passes through.
pub struct HashingWriter {
    inner: BufWriter<File>,
    hash: Sha256,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Creates an output file readable by its owner and group only: outputs carry
/// administrators' names and e-mail addresses.
pub fn create_private(path: &Path) -> Result<HashingWriter> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o640);
    let f = o.open(path).map_err(|e| Error::io(path, e))?;
    Ok(HashingWriter { inner: BufWriter::with_capacity(1 << 20, f), hash: Sha256::new() })
}

fn finish(w: HashingWriter, path: &Path) -> Result<String> {
    let HashingWriter { inner, hash } = w;
    let f = inner.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(crate::ingest::hex(&hash.finalize()))
}

/// How every Parquet output is written: zstd, row groups of [`ROW_GROUP_ROWS`], no
/// dictionary for `unique` columns, `sorted_by` recorded as the sort order.
fn properties(schema: &SchemaRef, unique: &[&str], sorted_by: &[&str]) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid level")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("siths-sweep {}", env!("CARGO_PKG_VERSION")));
    for c in unique {
        props = props.set_column_dictionary_enabled(ColumnPath::from(*c), false);
    }
    if !sorted_by.is_empty() {
        let sorting = sorted_by
            .iter()
            .map(|c| SortingColumn {
                column_idx: schema.index_of(c).expect("sort column exists") as i32,
                descending: false,
                nulls_first: true,
            })
            .collect();
        props = props.set_sorting_columns(Some(sorting));
    }
    props.build()
}

/// A Parquet file being written: zstd, 1M-row groups, no dictionary for `unique`
/// columns (ids, timestamps), `sorted_by` recorded as the file's sort order.
///
/// Each batch is encoded as it comes into the open row group's column writers
/// (arrow-rs's `ArrowColumnWriter`), its columns in parallel, and let go: a row group's
/// rows are never all held, only its encoded, compressed pages. The column chunks are
/// appended in column order, so the bytes do not depend on the thread count, and each
/// writer gets the same calls (one a batch) as when a whole row group was held first.
/// Row groups are cut at exactly [`ROW_GROUP_ROWS`] rows, whatever the batch sizes.
pub struct ParquetSink {
    path: std::path::PathBuf,
    name: String,
    schema: SchemaRef,
    writer: SerializedFileWriter<HashingWriter>,
    factory: ArrowRowGroupWriterFactory,
    /// The open row group's column writers, once it has a row.
    open: Option<Vec<ArrowColumnWriter>>,
    open_rows: usize,
    row_groups: usize,
    rows: u64,
}

impl ParquetSink {
    /// The sink of an output table, as declared.
    pub fn for_output(dir: &Path, t: &OutputTable) -> Result<Self> {
        Self::create(dir, &t.parquet_file(), &(t.schema)(), t.unique, t.sorted_by)
    }

    pub fn create(dir: &Path, name: &str, schema: &SchemaRef, unique: &[&str], sorted_by: &[&str]) -> Result<Self> {
        let path = dir.join(name);
        let props = properties(schema, unique, sorted_by);
        let w = create_private(&path)?;
        let err = |e: parquet::errors::ParquetError| Error::output(&path, e);
        // ArrowWriter writes the header and the Arrow schema readers need (time zones,
        // list types); the column encoding is then driven here.
        let arrow = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(err)?;
        let (writer, factory) = arrow.into_serialized_writer().map_err(err)?;
        Ok(ParquetSink {
            path: path.clone(),
            name: name.to_string(),
            schema: schema.clone(),
            writer,
            factory,
            open: None,
            open_rows: 0,
            row_groups: 0,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let take = (ROW_GROUP_ROWS - self.open_rows).min(batch.num_rows());
            self.encode(&batch.slice(0, take))?;
            if self.open_rows == ROW_GROUP_ROWS {
                self.close_row_group()?;
            }
            batch = batch.slice(take, batch.num_rows() - take);
        }
        Ok(())
    }

    /// Encodes `batch` (rows of one row group) into the open row group, opened if none is.
    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        use rayon::prelude::*;
        let err = |e: parquet::errors::ParquetError| Error::output(&self.path, e);
        let writers = match &mut self.open {
            Some(writers) => writers,
            None => self.open.insert(self.factory.create_column_writers(self.row_groups).map_err(err)?),
        };
        let fields = self.schema.fields();
        // One writer per column here: no output column is a struct.
        writers
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(c, w)| {
                for leaf in compute_leaves(&fields[c], batch.column(c))? {
                    w.write(&leaf)?;
                }
                Ok(())
            })
            .map_err(err)?;
        self.open_rows += batch.num_rows();
        Ok(())
    }

    fn close_row_group(&mut self) -> Result<()> {
        use rayon::prelude::*;
        let Some(writers) = self.open.take() else {
            return Ok(());
        };
        let err = |e: parquet::errors::ParquetError| Error::output(&self.path, e);
        let chunks: Vec<ArrowColumnChunk> =
            writers.into_par_iter().map(|w| w.close()).collect::<Result<_, _>>().map_err(err)?;
        let mut rg = self.writer.next_row_group().map_err(err)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut rg).map_err(err)?;
        }
        rg.close().map_err(err)?;
        self.rows += self.open_rows as u64;
        self.open_rows = 0;
        self.row_groups += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Written> {
        self.close_row_group()?;
        let err = |e: parquet::errors::ParquetError| Error::output(&self.path, e);
        // into_inner writes the footer.
        let w = self.writer.into_inner().map_err(err)?;
        Ok(Written { sha256: finish(w, &self.path)?, name: self.name, rows: self.rows })
    }
}

/// Reads back a Parquet file the sweep wrote (a published or staged output), batch by
/// batch: for the nightly diff and the organisation reports.
/// Input has its own checked, parallel reader.
pub fn read_output(path: &Path) -> Result<(SchemaRef, impl Iterator<Item = Result<RecordBatch>> + '_)> {
    use arrow_array::RecordBatchReader as _;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(65_536).build())
        .map_err(|e| Error::input(path, format!("not a readable sweep output: {e}")))?;
    Ok((reader.schema(), reader.map(move |b| b.map_err(|e| Error::input(path, e.to_string())))))
}

/// Writes `batches` as the output table `t`: its Parquet file and its CSV companion if
/// it has one.
pub fn write_table(dir: &Path, t: &OutputTable, batches: &[RecordBatch]) -> Result<Vec<Written>> {
    write_table_from(dir, t, batches.iter().cloned())
}

/// [`write_table`] from batches made as they are asked for: each goes to the Parquet
/// file and the CSV companion before the next is made, so only one is held.
pub fn write_table_from(
    dir: &Path,
    t: &OutputTable,
    batches: impl IntoIterator<Item = RecordBatch>,
) -> Result<Vec<Written>> {
    let mut sink = ParquetSink::for_output(dir, t)?;
    let mut csv = if t.csv { Some(CsvSink::create(dir, &t.csv_file(), &(t.schema)())?) } else { None };
    for b in batches {
        sink.write(&b)?;
        if let Some(csv) = &mut csv {
            csv.write(&b)?;
        }
    }
    let mut written = vec![sink.finish()?];
    if let Some(csv) = csv {
        written.push(csv.finish()?);
    }
    Ok(written)
}

/// A CSV file being written per SPEC "CSV companions".
pub struct CsvSink {
    path: std::path::PathBuf,
    name: String,
    w: HashingWriter,
    rows: u64,
    line: String,
}

impl CsvSink {
    pub fn create(dir: &Path, name: &str, schema: &SchemaRef) -> Result<Self> {
        let path = dir.join(name);
        let mut w = create_private(&path)?;
        let header: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
        writeln!(w, "{}", header.join(",")).map_err(|e| Error::io(&path, e))?;
        Ok(CsvSink { path, name: name.to_string(), w, rows: 0, line: String::new() })
    }

    pub fn write(&mut self, b: &RecordBatch) -> Result<()> {
        let columns: Vec<Cells<'_>> = b.columns().iter().map(|c| Cells::of(c.as_ref())).collect();
        // Rows gather in `line` and go to the file (and its hash) 64 KiB at a time.
        self.line.clear();
        for r in 0..b.num_rows() {
            for (c, col) in columns.iter().enumerate() {
                if c > 0 {
                    self.line.push(',');
                }
                let start = self.line.len();
                col.write(&mut self.line, r);
                // OWASP CSV injection: a text cell that a spreadsheet would read as a
                // formula gets a leading apostrophe. Numbers, dates and timestamps are
                // never textual, so a negative count stays a number.
                if col.textual() && looks_like_formula(&self.line[start..]) {
                    self.line.insert(start, '\'');
                }
                if needs_quotes(&self.line[start..]) {
                    let q = quote(&self.line[start..]);
                    self.line.truncate(start);
                    self.line.push_str(&q);
                }
            }
            self.line.push('\n');
            if self.line.len() >= 1 << 16 || r + 1 == b.num_rows() {
                self.w.write_all(self.line.as_bytes()).map_err(|e| Error::io(&self.path, e))?;
                self.line.clear();
            }
        }
        self.rows += b.num_rows() as u64;
        Ok(())
    }

    pub fn finish(self) -> Result<Written> {
        Ok(Written { sha256: finish(self.w, &self.path)?, name: self.name, rows: self.rows })
    }
}

/// Writes a text file (`rows`: what the manifest should count for it).
pub fn write_text(dir: &Path, name: &str, text: &str, rows: u64) -> Result<Written> {
    let path = dir.join(name);
    let mut w = create_private(&path)?;
    w.write_all(text.as_bytes()).map_err(|e| Error::io(&path, e))?;
    Ok(Written { name: name.to_string(), sha256: finish(w, &path)?, rows })
}

/// A column downcast once, so that the CSV writer formats its cells without a type
/// dispatch or an allocation per cell: text, lists of text, dates and timestamps (the
/// outputs' types) apart, the rest through [`write_other`]. [`write_cell`] (one cell,
/// for the org reports) goes through it too.
enum Cells<'a> {
    Text(&'a arrow_array::StringArray),
    /// A list of strings: its offsets and items.
    TextList(&'a arrow_array::ListArray, &'a arrow_array::StringArray),
    Date(&'a arrow_array::Date32Array),
    Instant(&'a arrow_array::TimestampMicrosecondArray),
    Other(&'a dyn Array),
}

impl<'a> Cells<'a> {
    fn of(a: &'a dyn Array) -> Self {
        match a.data_type() {
            DataType::Utf8 => Cells::Text(a.as_string::<i32>()),
            DataType::List(item) if item.data_type() == &DataType::Utf8 => {
                let l = a.as_list::<i32>();
                Cells::TextList(l, l.values().as_string::<i32>())
            }
            DataType::Date32 => Cells::Date(a.as_primitive::<Date32Type>()),
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => {
                Cells::Instant(a.as_primitive::<TimestampMicrosecondType>())
            }
            _ => Cells::Other(a),
        }
    }

    /// Whether a cell is text that a spreadsheet could take for a formula.
    fn textual(&self) -> bool {
        match self {
            Cells::Text(_) | Cells::TextList(..) => true,
            Cells::Other(a) => matches!(a.data_type(), DataType::List(_)),
            Cells::Date(_) | Cells::Instant(_) => false,
        }
    }

    /// Appends row `r`'s text (unquoted), nothing for null.
    fn write(&self, out: &mut String, r: usize) {
        match self {
            Cells::Text(a) if a.is_valid(r) => out.push_str(a.value(r)),
            Cells::TextList(l, items) if l.is_valid(r) => {
                let o = l.value_offsets();
                for (k, i) in (o[r] as usize..o[r + 1] as usize).enumerate() {
                    if k > 0 {
                        out.push(';');
                    }
                    out.push_str(items.value(i));
                }
            }
            Cells::Date(a) if a.is_valid(r) => push_date(out, a.value(r)),
            Cells::Instant(a) if a.is_valid(r) => push_instant(out, a.value(r)),
            Cells::Other(a) => write_other(out, *a, r),
            _ => {}
        }
    }
}

/// One cell as CSV text (unquoted).
pub fn cell_text(a: &dyn Array, r: usize) -> String {
    let mut s = String::new();
    write_cell(&mut s, a, r);
    s
}

/// Appends one cell's text (unquoted) to `out`; nothing for null.
fn write_cell(out: &mut String, a: &dyn Array, r: usize) {
    Cells::of(a).write(out, r);
}

/// [`write_cell`] for the types [`Cells`] does not take apart.
fn write_other(out: &mut String, a: &dyn Array, r: usize) {
    use std::fmt::Write as _;
    if a.is_null(r) {
        return;
    }
    let _ = match a.data_type() {
        // Not in our outputs, but in files other tools write (a `query --format parquet` result).
        DataType::LargeUtf8 => write!(out, "{}", a.as_string::<i64>().value(r)),
        DataType::Utf8View => write!(out, "{}", a.as_string_view().value(r)),
        DataType::UInt32 => write!(out, "{}", a.as_primitive::<UInt32Type>().value(r)),
        DataType::UInt64 => write!(out, "{}", a.as_primitive::<UInt64Type>().value(r)),
        DataType::Int32 => write!(out, "{}", a.as_primitive::<Int32Type>().value(r)),
        DataType::Int64 => write!(out, "{}", a.as_primitive::<Int64Type>().value(r)),
        // Rust's Display for f64 is the shortest text that reads back to the same value.
        DataType::Float64 => write!(out, "{}", a.as_primitive::<Float64Type>().value(r)),
        DataType::Boolean => write!(out, "{}", a.as_boolean().value(r)),
        t => write!(out, "<{t}>"),
    };
}

/// One CSV field from a cell's text: a `textual` cell that a spreadsheet would read as a
/// formula ([`looks_like_formula`]) gets a leading apostrophe (OWASP CSV injection), then
/// RFC 4180 quoting where needed. Numbers, dates and timestamps are never `textual`.
pub fn csv_field(text: &str, textual: bool) -> String {
    if textual && looks_like_formula(text) { quote(&format!("'{text}")) } else { quote(text) }
}

/// Whether RFC 4180 wants `s` quoted (a byte scan: a `char` pattern decodes UTF-8).
fn needs_quotes(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// RFC 4180 quoting where needed.
fn quote(s: &str) -> String {
    if needs_quotes(s) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, TimestampMicrosecondArray,
    };
    use arrow_schema::{Field, Schema};

    use super::*;

    /// The sink encodes each batch as it comes, into the open row group: its file is the
    /// one arrow-rs's own `ArrowWriter` writes from the same batches with the same
    /// properties (which holds a row group's encoded columns the same way), byte for
    /// byte, with batches that straddle a row group boundary, end exactly on one, and
    /// are of one row.
    #[test]
    fn the_sink_writes_the_bytes_arrow_writer_writes_from_the_same_batches() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("org", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let rows = 2 * ROW_GROUP_ROWS + 7;
        let make = |start: usize, len: usize| {
            let ids: Vec<String> = (start..start + len).map(|i| format!("C{i:09}")).collect();
            let orgs: Vec<Option<String>> =
                (start..start + len).map(|i| (i % 11 != 0).then(|| format!("ORG{}", i % 37))).collect();
            let n: Vec<Option<i64>> = (start..start + len).map(|i| (i % 5 != 0).then_some(i as i64 * 3)).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(arrow_array::StringArray::from(ids)),
                Arc::new(arrow_array::StringArray::from(orgs)),
                Arc::new(Int64Array::from(n)),
            ];
            RecordBatch::try_new(schema.clone(), columns).expect("batch")
        };
        // Sizes: one row, a straddle of the first boundary, exactly up to the second, rest.
        let mut sizes = vec![1, 65_536, ROW_GROUP_ROWS, ROW_GROUP_ROWS - 65_537];
        sizes.push(rows - sizes.iter().sum::<usize>());
        let mut batches = Vec::new();
        let mut start = 0;
        for len in sizes {
            batches.push(make(start, len));
            start += len;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = ParquetSink::create(dir.path(), "sink.parquet", &schema, &["id"], &["id"]).expect("sink");
        for b in &batches {
            sink.write(b).expect("write");
        }
        let written = sink.finish().expect("finish");
        assert_eq!(written.rows, rows as u64);
        let mut reference = Vec::new();
        let mut w = ArrowWriter::try_new(&mut reference, schema.clone(), Some(properties(&schema, &["id"], &["id"])))
            .expect("writer");
        for b in &batches {
            w.write(b).expect("write");
        }
        w.close().expect("close");
        let ours = std::fs::read(dir.path().join("sink.parquet")).expect("read");
        assert_eq!(ours.len(), reference.len());
        assert!(ours == reference, "the sink's bytes differ from ArrowWriter's");
        let meta = parquet::file::reader::FileReader::metadata(
            &parquet::file::serialized_reader::SerializedFileReader::new(
                std::fs::File::open(dir.path().join("sink.parquet")).expect("open"),
            )
            .expect("parquet"),
        )
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect::<Vec<_>>();
        assert_eq!(meta, [ROW_GROUP_ROWS as i64, ROW_GROUP_ROWS as i64, 7]);
    }

    /// Every cell type the outputs use, with the cases the CSV rules name: formula
    /// starts, quoting, nulls, empty and null lists.
    fn batch() -> RecordBatch {
        let mut list = ListBuilder::new(StringBuilder::new());
        for cells in [Some(vec!["a", "b"]), Some(vec![]), None, Some(vec!["=x"]), Some(vec!["c,d", "e\"f"])] {
            match cells {
                Some(v) => {
                    for s in v {
                        list.values().append_value(s);
                    }
                    list.append(true);
                }
                None => list.append(false),
            }
        }
        let list: ArrayRef = Arc::new(list.finish());
        let columns: Vec<ArrayRef> = vec![
            Arc::new(arrow_array::StringArray::from(vec![
                Some("plain"),
                Some("=1+1"),
                None,
                Some("a,\"b\""),
                Some("-x\n"),
            ])),
            list,
            Arc::new(Date32Array::from(vec![Some(0), Some(-1), None, Some(18_946), Some(2_932_896)])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(0), Some(-1), None, Some(1_636_934_400_123_456), Some(1)])
                    .with_timezone("UTC"),
            ),
            Arc::new(Int32Array::from(vec![Some(-3), Some(0), None, Some(7), Some(i32::MAX)])),
            Arc::new(Int64Array::from(vec![Some(-3), Some(0), None, Some(7), Some(i64::MIN)])),
            Arc::new(Float64Array::from(vec![Some(0.1), Some(-2.5), None, Some(1.0 / 3.0), Some(1e300)])),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(false)])),
        ];
        let fields: Vec<Field> =
            columns.iter().enumerate().map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true)).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
    }

    #[test]
    fn csv_rows_are_the_cells_text_quoted_and_neutralised() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = batch();
        let name = "t.csv";
        let mut sink = CsvSink::create(dir.path(), name, &b.schema()).expect("created");
        for part in [b.clone(), b.slice(1, 3)] {
            sink.write(&part).expect("written");
        }
        sink.finish().expect("finished");
        let text = std::fs::read_to_string(dir.path().join(name)).expect("read");
        // The same rows through the one-cell functions other outputs use.
        let mut expected = String::from("c0,c1,c2,c3,c4,c5,c6,c7\n");
        for part in [b.clone(), b.slice(1, 3)] {
            for r in 0..part.num_rows() {
                let cells: Vec<String> = part
                    .columns()
                    .iter()
                    .map(|c| {
                        let textual = matches!(c.data_type(), DataType::Utf8 | DataType::List(_));
                        if c.is_null(r) { String::new() } else { csv_field(&cell_text(c.as_ref(), r), textual) }
                    })
                    .collect();
                expected.push_str(&cells.join(","));
                expected.push('\n');
            }
        }
        assert_eq!(text, expected);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[1], "plain,a;b,1970-01-01,1970-01-01T00:00:00.000000Z,-3,-3,0.1,true");
        assert_eq!(rows[2], "'=1+1,,1969-12-31,1969-12-31T23:59:59.999999Z,0,0,-2.5,false");
        assert_eq!(rows[3], ",,,,,,,");
        assert_eq!(rows[4], "\"a,\"\"b\"\"\",'=x,2021-11-15,2021-11-15T00:00:00.123456Z,7,7,0.3333333333333333,true");
        // A cell holding a line break is quoted whole; the file's row continues after it.
        assert!(text.contains("\"'-x\n\",\"c,d;e\"\"f\",9999-12-31,1970-01-01T00:00:00.000001Z,"), "{text}");
    }

    /// SPEC "CSV companions": both sides of the line between a plain number and a formula.
    #[test]
    fn plain_numbers_are_not_neutralised_and_formulas_are() {
        for plain in ["-42", "+46", "-4.5", "+0.0", "-007", "42", "", "a=1", "x-1", " -1+1", "SE2321000016-A1B2"] {
            assert!(!looks_like_formula(plain), "{plain:?} is no formula");
            assert_eq!(csv_field(plain, true), plain, "{plain:?}");
        }
        let formulas = [
            "-2+3", "+1+1", "-", "+", "--1", "-4.", "-.5", "-4.5.1", "-1e5", "- 1", "-1 ", "=1", "@x", "\t1", "\r1",
            "+46 70",
        ];
        for formula in formulas {
            assert!(looks_like_formula(formula), "{formula:?} is neutralised");
            assert_eq!(csv_field(formula, true), quote(&format!("'{formula}")), "{formula:?}");
        }
        // Digits beyond ASCII are not a plain number ("-٤٢" is Arabic-Indic 42).
        assert!(looks_like_formula("-\u{664}\u{662}"));
        // Only text cells are ever neutralised.
        assert_eq!(csv_field("-2+3", false), "-2+3");
    }
}
