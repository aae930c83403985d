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
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::time::{format_date, format_instant};

/// First characters that make Excel and LibreOffice treat a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Rows per Parquet row group: DuckDB and Spark parallelise over row groups.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// What the manifest records of a written file.
#[derive(Clone, Debug)]
pub struct Written {
    pub name: String,
    pub sha256: String,
    pub rows: u64,
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

/// A Parquet file being written: zstd, 1M-row groups, no dictionary for `unique`
/// columns (ids, timestamps), `sorted_by` recorded as the file's sort order.
///
/// Each row group's columns are encoded in parallel (arrow-rs's `ArrowColumnWriter`)
/// and appended in column order, so the bytes do not depend on the thread count.
/// Row groups are cut at exactly [`ROW_GROUP_ROWS`] rows, whatever the batch sizes.
pub struct ParquetSink {
    path: std::path::PathBuf,
    name: String,
    schema: SchemaRef,
    writer: SerializedFileWriter<HashingWriter>,
    factory: ArrowRowGroupWriterFactory,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    row_groups: usize,
    rows: u64,
}

impl ParquetSink {
    pub fn create(dir: &Path, name: &str, schema: &SchemaRef, unique: &[&str], sorted_by: &[&str]) -> Result<Self> {
        let path = dir.join(name);
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
        let w = create_private(&path)?;
        let err = |e: parquet::errors::ParquetError| Error::output(&path, e);
        // ArrowWriter writes the header and the Arrow schema readers need (time zones,
        // list types); the column encoding is then driven here.
        let arrow = ArrowWriter::try_new(w, schema.clone(), Some(props.build())).map_err(err)?;
        let (writer, factory) = arrow.into_serialized_writer().map_err(err)?;
        Ok(ParquetSink {
            path: path.clone(),
            name: name.to_string(),
            schema: schema.clone(),
            writer,
            factory,
            pending: Vec::new(),
            pending_rows: 0,
            row_groups: 0,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        while self.pending_rows + batch.num_rows() >= ROW_GROUP_ROWS {
            let take = ROW_GROUP_ROWS - self.pending_rows;
            self.pending.push(batch.slice(0, take));
            self.pending_rows += take;
            self.flush_row_group()?;
            batch = batch.slice(take, batch.num_rows() - take);
        }
        if batch.num_rows() > 0 {
            self.pending_rows += batch.num_rows();
            self.pending.push(batch);
        }
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<()> {
        use rayon::prelude::*;
        if self.pending_rows == 0 {
            return Ok(());
        }
        let err = |e: parquet::errors::ParquetError| Error::output(&self.path, e);
        let writers = self.factory.create_column_writers(self.row_groups).map_err(err)?;
        let batches = std::mem::take(&mut self.pending);
        let fields = self.schema.fields();
        // One writer per column here: no output column is a struct.
        let chunks: Vec<ArrowColumnChunk> = writers
            .into_par_iter()
            .enumerate()
            .map(|(c, mut w)| {
                for b in &batches {
                    for leaf in compute_leaves(&fields[c], b.column(c))? {
                        w.write(&leaf)?;
                    }
                }
                w.close()
            })
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let mut rg = self.writer.next_row_group().map_err(err)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut rg).map_err(err)?;
        }
        rg.close().map_err(err)?;
        self.rows += self.pending_rows as u64;
        self.pending_rows = 0;
        self.row_groups += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Written> {
        self.flush_row_group()?;
        let err = |e: parquet::errors::ParquetError| Error::output(&self.path, e);
        // into_inner writes the footer.
        let w = self.writer.into_inner().map_err(err)?;
        Ok(Written { sha256: finish(w, &self.path)?, name: self.name, rows: self.rows })
    }
}

/// Reads back a Parquet file the sweep wrote (a published or staged output), batch by
/// batch: for the nightly diff, the organisation reports and the tests' canonical text.
/// Input has its own checked, parallel reader.
pub fn read_output(path: &Path) -> Result<(SchemaRef, impl Iterator<Item = Result<RecordBatch>> + '_)> {
    use arrow_array::RecordBatchReader as _;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(65_536).build())
        .map_err(|e| Error::input(path, format!("not a readable sweep output: {e}")))?;
    Ok((reader.schema(), reader.map(move |b| b.map_err(|e| Error::input(path, e.to_string())))))
}

/// Writes batches as one Parquet file (see [`ParquetSink`]).
pub fn write_parquet(
    dir: &Path,
    name: &str,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
    unique: &[&str],
    sorted_by: &[&str],
) -> Result<Written> {
    let mut sink = ParquetSink::create(dir, name, schema, unique, sorted_by)?;
    for b in batches {
        sink.write(&b)?;
    }
    sink.finish()
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
        for r in 0..b.num_rows() {
            self.line.clear();
            for (c, col) in b.columns().iter().enumerate() {
                if c > 0 {
                    self.line.push(',');
                }
                let start = self.line.len();
                write_cell(&mut self.line, col.as_ref(), r);
                // OWASP CSV injection: a text cell that a spreadsheet would read as a
                // formula gets a leading apostrophe. Numbers, dates and timestamps never
                // start with these characters.
                let text = matches!(col.data_type(), DataType::Utf8 | DataType::List(_));
                if text && self.line[start..].starts_with(FORMULA_START) {
                    self.line.insert(start, '\'');
                }
                if self.line[start..].contains([',', '"', '\r', '\n']) {
                    let q = quote(&self.line[start..]);
                    self.line.truncate(start);
                    self.line.push_str(&q);
                }
            }
            self.line.push('\n');
            self.w.write_all(self.line.as_bytes()).map_err(|e| Error::io(&self.path, e))?;
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

/// Writes batches as one CSV file (see [`CsvSink`]).
pub fn write_csv(dir: &Path, name: &str, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Written> {
    let mut sink = CsvSink::create(dir, name, schema)?;
    for b in batches {
        sink.write(b)?;
    }
    sink.finish()
}

/// One cell as CSV text (unquoted).
pub fn cell_text(a: &dyn Array, r: usize) -> String {
    let mut s = String::new();
    write_cell(&mut s, a, r);
    s
}

/// Appends one cell's text (unquoted) to `out`; nothing for null.
fn write_cell(out: &mut String, a: &dyn Array, r: usize) {
    use std::fmt::Write as _;
    if a.is_null(r) {
        return;
    }
    let _ = match a.data_type() {
        DataType::Utf8 => write!(out, "{}", a.as_string::<i32>().value(r)),
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
        DataType::Date32 => write!(out, "{}", format_date(a.as_primitive::<Date32Type>().value(r))),
        DataType::Timestamp(_, _) => {
            write!(out, "{}", format_instant(a.as_primitive::<TimestampMicrosecondType>().value(r)))
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>().value(r);
            let s = l.as_string::<i32>();
            for i in 0..s.len() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(s.value(i));
            }
            Ok(())
        }
        t => write!(out, "<{t}>"),
    };
}

/// One CSV field from a cell's text: a `textual` cell that a spreadsheet would read as a
/// formula gets a leading apostrophe (OWASP CSV injection), then RFC 4180 quoting where
/// needed. Numbers, dates and timestamps never start with those characters.
pub fn csv_field(text: &str, textual: bool) -> String {
    if textual && text.starts_with(FORMULA_START) { quote(&format!("'{text}")) } else { quote(text) }
}

/// RFC 4180 quoting where needed.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
