//! Where each input row came from, for the manifest and the quarantine: every input
//! file with its SHA-256 and row counts.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What ingest records of one input file for the manifest.
#[derive(Clone, Debug)]
pub struct InputFileInfo {
    pub table: &'static str,
    /// Relative to `--input`, with `/` separators.
    pub rel: String,
    pub path: PathBuf,
    pub sha256: String,
    pub rows: u64,
    pub quarantined: u64,
}

/// Lower-case hexadecimal, as the manifest writes digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes in memory (a manifest read whole).
pub fn bytes_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}
