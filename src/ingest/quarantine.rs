//! The rows a sweep leaves out, and why (SPEC "Bad rows never stop a sweep"): the error
//! codes, the row as `quarantine.parquet` reports it, and the bookkeeping that keeps
//! only a row's first error when a batch is converted.

use super::values::TextAccess;
use super::{RawBatch, Table};
use crate::schema::InputTable;
use crate::vocabulary::vocabulary;

vocabulary! {
    /// SPEC's quarantine error codes.
    pub enum QError {
        MalformedRow = "MALFORMED_ROW",
        MissingRequired = "MISSING_REQUIRED",
        BadValue = "BAD_VALUE",
        DuplicateKey = "DUPLICATE_KEY",
        UnknownCard = "UNKNOWN_CARD",
    }
}

/// A row left out of the evaluation, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineRow {
    pub table: &'static str,
    pub file: u32,
    pub row: u64,
    pub key: Option<String>,
    pub column: Option<&'static str>,
    pub error: QError,
    /// Short and human; never echoes personal data.
    pub detail: String,
}

impl QuarantineRow {
    pub fn new(table: &'static str, file: u32, row: u64, error: QError, detail: impl Into<String>) -> Self {
        QuarantineRow { table, file, row, key: None, column: None, error, detail: detail.into() }
    }
}

/// A value for an error message: quoted, at most 40 characters.
pub fn quote_short(v: &str) -> String {
    let mut s: String = v.chars().take(40).collect();
    if s.len() < v.len() {
        s.push('…');
    }
    format!("{s:?}")
}

/// The first error of each row of a batch being converted. Columns are converted in
/// table order, so the first error recorded for a row is the one SPEC reports.
pub struct FirstErrors {
    /// Per row: its error's index in `errors`, or [`FirstErrors::NONE`].
    first: Vec<u32>,
    errors: Vec<(&'static str, QError, String)>,
}

impl FirstErrors {
    const NONE: u32 = u32::MAX;

    pub fn new(rows: usize) -> Self {
        FirstErrors { first: vec![Self::NONE; rows], errors: Vec::new() }
    }

    /// Records that `column` of row `i` failed, unless the row failed before.
    pub fn fail(&mut self, i: usize, column: &'static str, error: QError, detail: String) {
        if self.first[i] == Self::NONE {
            self.first[i] = self.errors.len() as u32;
            self.errors.push((column, error, detail));
        }
    }

    /// Splits the converted batch `all` into the rows without error and the quarantine
    /// rows of the others (each named by its key column's raw text, if it has one).
    pub fn separate(self, all: Table, batch: &RawBatch, table: &InputTable) -> (Table, Vec<QuarantineRow>) {
        if self.errors.is_empty() {
            return (all, Vec::new());
        }
        let key = table.named_by.map(|k| TextAccess::new(batch.columns[k].as_ref().expect("keys are required")));
        let mut errors: Vec<_> = self.errors.into_iter().map(Some).collect();
        let mut quarantine = Vec::with_capacity(errors.len());
        for (i, &e) in self.first.iter().enumerate().filter(|(_, e)| **e != Self::NONE) {
            let (column, error, detail) = errors[e as usize].take().expect("each error belongs to one row");
            quarantine.push(QuarantineRow {
                table: table.name,
                file: batch.file,
                row: batch.rows.get(i),
                key: key.as_ref().and_then(|k| k.get(i)).filter(|k| !k.trim().is_empty()).map(|k| k.into_owned()),
                column: Some(column),
                error,
                detail,
            });
        }
        let keep: Vec<bool> = self.first.iter().map(|&e| e == Self::NONE).collect();
        (all.filter(&keep), quarantine)
    }
}
