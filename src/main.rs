//! siths-sweep: the command line over the library.
//!
//! Exit codes (also in the README): 0 success; 1 error (message on stderr, nothing
//! written); 2 command-line misuse; 3 `--strict` and some input rows were quarantined
//! (results still written).

use std::process::ExitCode;

// The sweep allocates many small strings from several threads at once; mimalloc's
// per-thread heaps keep that from contending the way glibc's arenas do.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    siths_sweep::cli::main()
}
