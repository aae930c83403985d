//! Parquet input: only the columns a table needs, one reader per row group in parallel,
//! 64k-row batches (arrow-rs's default of 1024 is several times slower).

use std::fs::File;
use std::path::Path;

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::Type as PhysicalType;
use rayon::prelude::*;

use super::values::check_type;
use super::{RawBatch, RowNumbers};
use crate::error::{Error, Result};
use crate::schema::{ColumnKind, InputTable};
use arrow_schema::DataType;

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
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
        .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?;
    let schema = meta.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let positions = super::map_columns(table, path, &names)?;
    for (col, p) in table.columns.iter().zip(&positions) {
        if let Some(p) = p {
            check_type(col.kind, schema.field(*p).data_type())
                .map_err(|why| Error::input(path, format!("column {:?} of table {} {why}", col.name, table.name)))?;
        }
    }
    // Low-cardinality strings (labels, interned text) are asked for as dictionaries:
    // arrow-rs then hands over a dictionary page's values and keys as they are instead
    // of copying a string per row, and conversion looks at each distinct value once.
    let wanted =
        |c: &crate::schema::InputColumn| c.kind == ColumnKind::Label || (c.kind == ColumnKind::Text && c.interned);
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    let mut changed = false;
    for (col, p) in table.columns.iter().zip(&positions) {
        if let Some(p) = *p
            && wanted(col)
            && matches!(fields[p].data_type(), DataType::Utf8 | DataType::LargeUtf8)
        {
            let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(fields[p].data_type().clone()));
            fields[p] = std::sync::Arc::new(fields[p].as_ref().clone().with_data_type(dict));
            changed = true;
        }
    }
    let meta = if changed {
        let hinted = std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()));
        ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new().with_schema(hinted))
            .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?
    } else {
        meta
    };
    // Arrow reads INT96 as a zone-less timestamp; SPEC takes them as UTC instants.
    let int96: Vec<bool> = positions
        .iter()
        .map(|p| {
            p.is_some_and(|p| {
                meta.parquet_schema()
                    .columns()
                    .iter()
                    .any(|c| c.physical_type() == PhysicalType::INT96 && c.path().parts()[0] == names[p])
            })
        })
        .collect();
    let mut roots: Vec<usize> = positions.iter().flatten().copied().collect();
    roots.sort_unstable();
    // After projection the batch holds the selected roots in schema order.
    let slot: Vec<Option<usize>> =
        positions.iter().map(|p| p.map(|p| roots.iter().position(|&r| r == p).expect("selected"))).collect();
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots.iter().copied());
    let groups = meta.metadata().row_groups();
    let mut first_rows = Vec::with_capacity(groups.len());
    let mut total = 0u64;
    for g in groups {
        first_rows.push(total + 1);
        total += g.num_rows() as u64;
    }
    let per_group: Vec<Result<Vec<T>>> = (0..groups.len())
        .into_par_iter()
        .map(|g| {
            // A file of its own: clones of one handle share the read position, and
            // parquet's File reader seeks, so parallel row groups would corrupt each other.
            let f = File::open(path).map_err(|e| Error::io(path, e))?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
                .with_row_groups(vec![g])
                .with_projection(mask.clone())
                .with_batch_size(batch_rows)
                .build()
                .map_err(|e| Error::input(path, format!("cannot read row group {g}: {e}")))?;
            // Decoding a row group is sequential; converting its batches is not, so a
            // file with one big row group still uses every core.
            let mut next_row = first_rows[g];
            let mut raw = Vec::new();
            for batch in reader {
                let batch = batch.map_err(|e| Error::input(path, format!("corrupt or truncated Parquet: {e}")))?;
                let columns = slot.iter().map(|s| s.map(|s| batch.column(s).clone())).collect();
                raw.push(RawBatch {
                    file,
                    len: batch.num_rows(),
                    rows: RowNumbers::From(next_row),
                    columns,
                    int96: int96.clone(),
                });
                next_row += batch.num_rows() as u64;
            }
            Ok(raw.into_par_iter().map(&convert).collect())
        })
        .collect();
    let mut batches = Vec::new();
    for g in per_group {
        batches.extend(g?);
    }
    Ok((batches, total))
}
