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
    siths_sweep::cli::main(release_freed_memory)
}

/// Called as each stage of a sweep starts: returns the memory the last stage freed to
/// the system at once. mimalloc keeps freed pages for a second before it does (its
/// purge delay), so the next stage's allocations came on top of the last one's garbage:
/// at 10M cards the evaluate stage peaked ~290 MiB higher for it (BENCHMARKS.md).
/// Shortening the delay for every free instead cost the CSV sweep ~20% of its time.
#[allow(unsafe_code)]
fn release_freed_memory() {
    // SAFETY: mi_collect takes no pointers and has no preconditions; it walks
    // mimalloc's own structures under its own synchronisation, from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
