//! siths-sweep as a library: ingest → evaluate → aggregate → write, each stage a module
//! that takes the previous stage's output. The binary in `main.rs` is a thin CLI over it.

pub mod aggregate;
pub mod cli;
pub mod diff;
pub mod error;
pub mod evaluate;
pub mod generate;
pub mod hashing;
pub mod ingest;
pub mod memory;
pub mod output;
pub mod personnummer;
#[cfg(feature = "query")]
pub mod query;
pub mod rules;
pub mod schema;
pub mod stage;
pub mod sweep;
pub mod time;
pub mod trend;
pub mod vocabulary;
