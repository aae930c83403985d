//! The library's error type. Row-level problems are not errors: they become quarantine
//! rows. These are the fatal ones, each naming the file (and column) to look at.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file or folder that cannot be used at all.
    #[error("{file}: {message}")]
    Input { file: String, message: String },
    /// An input table that lacks a required column.
    #[error("{file}: table {table} has no column {column:?} (required)")]
    MissingColumn { table: &'static str, file: String, column: &'static str },
    /// Reading or writing failed at the operating system.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Writing an output failed.
    #[error("{path}: cannot write output: {message}")]
    Output { path: String, message: String },
    /// A bad option or policy.
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub fn input(file: &Path, message: impl Into<String>) -> Error {
        Error::Input { file: file.display().to_string(), message: message.into() }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.display().to_string(), source }
    }

    pub fn output(path: &Path, message: impl std::fmt::Display) -> Error {
        Error::Output { path: path.display().to_string(), message: message.to_string() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
