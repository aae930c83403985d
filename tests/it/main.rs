//! The integration tests, in one binary: each links the whole crate (Polars included),
//! so one binary links once instead of six times.
//!
//! They run the real `siths-sweep` binary on fixtures in `testdata/` and read what it
//! writes with their own readers (`common`), never with the crate's writers.

// Each module uses only some of the shared helpers.
#[allow(dead_code)]
mod common;

mod bad_input;
mod campaign;
mod cli;
mod faults;
mod parquet_variants;
mod properties;
mod reports;
