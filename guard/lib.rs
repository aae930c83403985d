//! Empty: this package exists for `benches/hotloop.rs` (see its doc comment).
