//! siths-sweep as a library: ingest → evaluate → aggregate → write, each stage a module
//! that takes the previous stage's output. The binary in `main.rs` is a thin CLI over it.

pub mod personnummer;
pub mod rules;
pub mod time;
pub mod error;
pub mod ingest;
pub mod schema;
pub mod aggregate;
pub mod evaluate;
pub mod output;
pub mod sweep;
