//! Parquet input: only the columns a table needs, one reader per row group in parallel
//! (and per set of columns when a file has fewer row groups than threads), 64k-row
//! batches (arrow-rs's default of 1024 is several times slower).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::basic::Type as PhysicalType;
use rayon::prelude::*;

use arrow_array::RecordBatch;
use arrow_schema::DataType;

use super::values::check_type;
use super::{RawBatch, RowNumbers};
use crate::error::{Error, Result};
use crate::schema::{ColumnKind, InputColumn, InputTable};

/// Reads a Parquet file and hands every batch to `convert` on the thread that decoded
/// it, so raw and converted data of the whole file never sit in memory together.
/// Returns the converted batches in file order and the file's row count.
pub fn read_parquet<T: Send>(
    path: &Path,
    table: &InputTable,
    file: u32,
    batch_rows: usize,
    convert: impl Fn(RawBatch) -> T + Sync,
) -> Result<(Vec<T>, u64)> {
    read(path, table, file, batch_rows, None, convert)
}

/// Reads only the data rows `rows` (1-based, ascending) of a Parquet file, as
/// [`read_parquet`] would have converted them, decompressing only the pages that hold
/// them: the key checks read a few certificates' keys again this way. Each batch lists
/// its rows' numbers.
pub fn read_parquet_rows<T: Send>(
    path: &Path,
    table: &InputTable,
    file: u32,
    rows: &[u64],
    batch_rows: usize,
    convert: impl Fn(RawBatch) -> T + Sync,
) -> Result<Vec<T>> {
    debug_assert!(rows.is_sorted(), "rows ascend");
    Ok(read(path, table, file, batch_rows, Some(rows), convert)?.0)
}

/// [`read_parquet`], or with `only` [`read_parquet_rows`].
fn read<T: Send>(
    path: &Path,
    table: &InputTable,
    file: u32,
    batch_rows: usize,
    only: Option<&[u64]>,
    convert: impl Fn(RawBatch) -> T + Sync,
) -> Result<(Vec<T>, u64)> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new()).map_err(|e| unreadable(path, &e))?;
    let names: Vec<String> = meta.schema().fields().iter().map(|f| f.name().clone()).collect();
    let positions = super::map_columns(table, path, &names)?;
    for (col, p) in table.columns.iter().zip(&positions) {
        if let Some(p) = p {
            check_type(col.kind, meta.schema().field(*p).data_type())
                .map_err(|why| Error::input(path, format!("column {:?} of table {} {why}", col.name, table.name)))?;
        }
    }
    let meta = ask_for_dictionaries(meta, table, &positions).map_err(|e| unreadable(path, &e))?;
    let plan = ReadPlan::new(&meta, &names, &positions, file, batch_rows);
    let per_group: Vec<Result<Vec<T>>> = (0..plan.first_rows.len())
        .into_par_iter()
        .map(|g| {
            // The rows of `only` in this row group, if it reads only some.
            let mine = only.map(|rows| {
                let (first, end) = (plan.first_rows[g], plan.first_rows.get(g + 1).copied().unwrap_or(plan.rows + 1));
                &rows[rows.partition_point(|&r| r < first)..rows.partition_point(|&r| r < end)]
            });
            if mine.is_some_and(<[u64]>::is_empty) {
                return Ok(Vec::new());
            }
            plan.row_group(path, &meta, g, mine, &convert)
        })
        .collect();
    let mut batches = Vec::new();
    for g in per_group {
        batches.extend(g?);
    }
    Ok((batches, plan.rows))
}

fn unreadable(path: &Path, e: &parquet::errors::ParquetError) -> Error {
    Error::input(path, format!("not a readable Parquet file: {e}"))
}

/// Low-cardinality strings (labels, interned text) are asked for as dictionaries:
/// arrow-rs then hands over a dictionary page's values and keys as they are instead of
/// copying a string per row, and conversion looks at each distinct value once.
fn ask_for_dictionaries(
    meta: ArrowReaderMetadata,
    table: &InputTable,
    positions: &[Option<usize>],
) -> parquet::errors::Result<ArrowReaderMetadata> {
    let schema = meta.schema().clone();
    let wanted = |c: &InputColumn| c.kind == ColumnKind::Label || (c.kind == ColumnKind::Text && c.interned);
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    let mut changed = false;
    for (col, p) in table.columns.iter().zip(positions) {
        if let Some(p) = *p
            && wanted(col)
            && matches!(fields[p].data_type(), DataType::Utf8 | DataType::LargeUtf8)
        {
            let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(fields[p].data_type().clone()));
            fields[p] = Arc::new(fields[p].as_ref().clone().with_data_type(dict));
            changed = true;
        }
    }
    if !changed {
        return Ok(meta);
    }
    let hinted = Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new().with_schema(hinted))
}

/// How a file is decoded: which columns in which sets, where each table column lands in
/// a set's batches, and the first data row of each row group.
struct ReadPlan {
    file: u32,
    batch_rows: usize,
    /// Per table column: its set and its place in that set's batches (a projected batch
    /// holds the selected roots in schema order).
    slot: Vec<Option<(usize, usize)>>,
    masks: Vec<ProjectionMask>,
    /// Per table column: a Parquet INT96 timestamp. Arrow reads those as zone-less
    /// timestamps; SPEC takes them as UTC instants.
    int96: Vec<bool>,
    first_rows: Vec<u64>,
    rows: u64,
}

impl ReadPlan {
    fn new(
        meta: &ArrowReaderMetadata,
        names: &[String],
        positions: &[Option<usize>],
        file: u32,
        batch_rows: usize,
    ) -> Self {
        let leaves = meta.parquet_schema().columns();
        let int96 = positions
            .iter()
            .map(|p| {
                p.is_some_and(|p| {
                    leaves.iter().any(|c| c.physical_type() == PhysicalType::INT96 && c.path().parts()[0] == names[p])
                })
            })
            .collect();
        let mut roots: Vec<usize> = positions.iter().flatten().copied().collect();
        roots.sort_unstable();
        let groups = meta.metadata().row_groups();
        let mut first_rows = Vec::with_capacity(groups.len());
        let mut rows = 0u64;
        for g in groups {
            first_rows.push(rows + 1);
            rows += g.num_rows() as u64;
        }
        // Row groups are decoded in parallel, and each row group's batches converted in
        // parallel. With fewer row groups than threads (a file written as one big row
        // group), each row group's columns are also split into sets decoded in
        // parallel, so decoding such a file, too, uses every core.
        let threads = rayon::current_num_threads();
        let sets_per_group = if groups.len() < threads { threads.div_ceil(groups.len().max(1)) } else { 1 };
        let sets = column_sets(meta, names, &roots, sets_per_group);
        let slot = positions
            .iter()
            .map(|p| {
                p.map(|p| {
                    let s = sets.iter().position(|s| s.contains(&p)).expect("selected");
                    (s, sets[s].iter().position(|&r| r == p).expect("selected"))
                })
            })
            .collect();
        let masks = sets.iter().map(|s| ProjectionMask::roots(meta.parquet_schema(), s.iter().copied())).collect();
        ReadPlan { file, batch_rows, slot, masks, int96, first_rows, rows }
    }

    /// Row group `g` decoded into raw batches and converted: all its rows, or only the
    /// data rows `only` (ascending, all in this row group), whose batches then list their
    /// row numbers. Read as one column set, each batch is converted as it is decoded, so
    /// only one raw batch is held (a decoded row group of certificates is ~60 MB, and
    /// every thread held one); read as several sets (fewer row groups than threads), the
    /// sets are decoded whole in parallel and their batches converted in parallel.
    fn row_group<T: Send>(
        &self,
        path: &Path,
        meta: &ArrowReaderMetadata,
        g: usize,
        only: Option<&[u64]>,
        convert: &(impl Fn(RawBatch) -> T + Sync),
    ) -> Result<Vec<T>> {
        let selection = only.map(|rows| {
            let mut selectors = Vec::new();
            let mut at = self.first_rows[g];
            for &r in rows {
                if r > at {
                    selectors.push(RowSelector::skip((r - at) as usize));
                }
                selectors.push(RowSelector::select(1));
                at = r + 1;
            }
            RowSelection::from(selectors)
        });
        let decoder = |mask: &ProjectionMask| {
            // A file of its own: clones of one handle share the read position, and
            // parquet's File reader seeks, so parallel readers would corrupt each other.
            let f = File::open(path).map_err(|e| Error::io(path, e))?;
            let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
                .with_row_groups(vec![g])
                .with_projection(mask.clone())
                .with_batch_size(self.batch_rows);
            if let Some(selection) = &selection {
                builder = builder.with_row_selection(selection.clone());
            }
            let reader = builder.build().map_err(|e| Error::input(path, format!("cannot read row group {g}: {e}")))?;
            Ok(reader.map(|b| b.map_err(|e| Error::input(path, format!("corrupt or truncated Parquet: {e}")))))
        };
        let mut rows = RowsRead { next_row: self.first_rows[g], next_listed: 0, only };
        let converted: Vec<T> = if let [mask] = &self.masks[..] {
            let mut out = Vec::new();
            for b in decoder(mask)? {
                let b = b?;
                let len = b.num_rows();
                let numbers = rows.take(len).ok_or_else(|| more_rows(path, g))?;
                out.push(convert(self.raw(|_, c| b.column(c).clone(), numbers, len)));
            }
            out
        } else {
            let decoded: Vec<Vec<RecordBatch>> =
                self.masks.par_iter().map(|m| decoder(m)?.collect::<Result<_>>()).collect::<Result<_>>()?;
            // Every set read the same rows in the same batch sizes.
            let lens: Vec<usize> = decoded[0].iter().map(RecordBatch::num_rows).collect();
            if decoded.iter().any(|d| !d.iter().map(RecordBatch::num_rows).eq(lens.iter().copied())) {
                return Err(Error::input(path, format!("row group {g}: columns of different lengths")));
            }
            let raw: Vec<RawBatch> = lens
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let numbers = rows.take(len).ok_or_else(|| more_rows(path, g))?;
                    Ok(self.raw(|s, c| decoded[s][i].column(c).clone(), numbers, len))
                })
                .collect::<Result<_>>()?;
            drop(decoded);
            raw.into_par_iter().map(convert).collect()
        };
        if only.is_some_and(|listed| listed.len() != rows.next_listed) {
            return Err(Error::input(path, format!("row group {g}: not every row asked for was read")));
        }
        Ok(converted)
    }

    /// A raw batch of `len` rows numbered `rows`, each table column from its set's
    /// decoded batch (`column(set, place in the set)`).
    fn raw(&self, column: impl Fn(usize, usize) -> arrow_array::ArrayRef, rows: RowNumbers, len: usize) -> RawBatch {
        let columns = self.slot.iter().map(|s| s.map(|(set, c)| column(set, c))).collect();
        RawBatch { file: self.file, len, rows, columns, int96: self.int96.clone() }
    }
}

fn more_rows(path: &Path, g: usize) -> Error {
    Error::input(path, format!("row group {g}: more rows than were asked for"))
}

/// The row numbers of a row group's batches, in order as they are decoded.
struct RowsRead<'a> {
    next_row: u64,
    next_listed: usize,
    only: Option<&'a [u64]>,
}

impl RowsRead<'_> {
    /// The numbers of the next `len` rows read; `None` past the rows asked for.
    fn take(&mut self, len: usize) -> Option<RowNumbers> {
        let rows = match self.only {
            None => RowNumbers::From(self.next_row),
            Some(listed) => RowNumbers::Listed(listed.get(self.next_listed..self.next_listed + len)?.to_vec()),
        };
        self.next_row += len as u64;
        self.next_listed += len;
        Some(rows)
    }
}

/// The wanted root columns in up to `n` sets of about equal compressed size (over all
/// row groups), each set in schema order; one set (all of them) when `n` is 1.
fn column_sets(meta: &ArrowReaderMetadata, names: &[String], roots: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.clamp(1, roots.len().max(1));
    if n == 1 {
        return vec![roots.to_vec()];
    }
    let mut size = vec![0i64; roots.len()];
    for g in meta.metadata().row_groups() {
        for c in g.columns() {
            let root = c.column_descr().path().parts()[0].as_str();
            if let Some(i) = roots.iter().position(|&r| names[r] == root) {
                size[i] += c.compressed_size();
            }
        }
    }
    // Largest first, each into the lightest set so far.
    let mut order: Vec<usize> = (0..roots.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(size[i]), i));
    let mut sets: Vec<(i64, Vec<usize>)> = vec![(0, Vec::new()); n];
    for i in order {
        let lightest = (0..n).min_by_key(|&k| (sets[k].0, k)).expect("n >= 1");
        sets[lightest].0 += size[i];
        sets[lightest].1.push(roots[i]);
    }
    sets.into_iter()
        .map(|(_, mut s)| {
            s.sort_unstable();
            s
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    use super::*;

    #[test]
    fn column_sets_split_the_wanted_columns_by_size() {
        let file = tempfile::tempfile().unwrap();
        let n = 5_000;
        let big: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("{i:0>40}-{}", i * 7919))));
        let small = |k: i32| -> ArrayRef { Arc::new(Int32Array::from_iter_values((0..n).map(|i| i % (k + 2)))) };
        let batch = RecordBatch::try_from_iter([
            ("a", small(1)),
            ("big", big),
            ("b", small(2)),
            ("skipped", small(3)),
            ("c", small(4)),
        ])
        .unwrap();
        let mut w = ArrowWriter::try_new(file.try_clone().unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).unwrap();
        let names: Vec<String> = ["a", "big", "b", "skipped", "c"].map(String::from).to_vec();
        let wanted = [0, 1, 2, 4];
        assert_eq!(column_sets(&meta, &names, &wanted, 1), vec![vec![0, 1, 2, 4]]);
        // The big column outweighs the rest: it is decoded alone beside the others.
        assert_eq!(column_sets(&meta, &names, &wanted, 2), vec![vec![1], vec![0, 2, 4]]);
        // Never more sets than columns, every wanted column in exactly one, in order.
        for k in 1..8 {
            let sets = column_sets(&meta, &names, &wanted, k);
            assert_eq!(sets.len(), k.min(wanted.len()));
            assert!(sets.iter().all(|s| s.is_sorted() && !s.is_empty()));
            let mut all: Vec<usize> = sets.concat();
            all.sort_unstable();
            assert_eq!(all, wanted);
        }
    }
}
