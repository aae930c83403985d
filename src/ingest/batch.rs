//! What a file reader hands to conversion: a batch of raw Arrow columns in the table's
//! column order, with the data row number of each row.

use std::path::Path;

use arrow_array::ArrayRef;

use crate::error::{Error, Result};
use crate::schema::InputTable;

/// Data row numbers of a batch: consecutive for Parquet, listed for CSV (malformed
/// records are not in the batch).
#[derive(Debug, Clone)]
pub enum RowNumbers {
    From(u64),
    Listed(Vec<u64>),
}

impl RowNumbers {
    pub fn get(&self, i: usize) -> u64 {
        match self {
            RowNumbers::From(first) => first + i as u64,
            RowNumbers::Listed(v) => v[i],
        }
    }
}

/// A batch as read: one optional Arrow column per table column, in table order.
#[derive(Debug, Clone)]
pub struct RawBatch {
    pub file: u32,
    pub len: usize,
    pub rows: RowNumbers,
    pub columns: Vec<Option<ArrayRef>>,
    /// Per column: a Parquet INT96 timestamp (a UTC instant).
    pub int96: Vec<bool>,
}

/// Maps a file's column names onto the table's columns. A duplicate name or a missing
/// required column is fatal.
pub fn map_columns(table: &InputTable, path: &Path, names: &[String]) -> Result<Vec<Option<usize>>> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(Error::input(path, format!("duplicate column name {n:?}")));
        }
    }
    table
        .columns
        .iter()
        .map(|c| {
            let p = names.iter().position(|n| n == c.name);
            if p.is_none() && c.required {
                return Err(Error::MissingColumn {
                    table: table.name,
                    file: path.display().to_string(),
                    column: c.name,
                });
            }
            Ok(p)
        })
        .collect()
}
