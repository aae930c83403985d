//! File names derived from input data (an organisation's report, `org_reports/<org>.html`)
//! must never escape the output folder or collide: an org_id is data, not a path.

use sha2::{Digest, Sha256};

/// Windows' reserved device names: a file called `CON.html` cannot be opened there.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A file name stem for `id`: its safe characters (ASCII letters, digits, `-`, `_`; at
/// most 64), then `-` and eight hex digits of the SHA-256 of the whole id, so that
/// different ids never share a name even when their safe characters agree (`../x` and
/// `x`, `SE-1` and `SE/1`). Never empty, never starts with a dot, never a reserved name.
pub fn safe_stem(id: &str) -> String {
    let mut stem: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(64).collect();
    let bare = stem.trim_matches('_');
    if bare.is_empty() || RESERVED.contains(&bare.to_ascii_uppercase().as_str()) {
        stem.insert_str(0, "org_");
    }
    let hash = Sha256::digest(id.as_bytes());
    format!("{stem}-{:02x}{:02x}{:02x}{:02x}", hash[0], hash[1], hash[2], hash[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hostile_ids_stay_in_the_folder() {
        for id in
            ["../../x", "/etc/passwd", "..", ".", "", "a/b\\c", "CON", "con", "Lpt1", "nul.txt", "x\0y", "🙂", " "]
        {
            let s = safe_stem(id);
            assert!(!s.contains(['/', '\\', '\0']) && !s.starts_with('.'), "{id:?} -> {s}");
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{id:?} -> {s}");
            let bare = s.rsplit_once('-').unwrap().0;
            assert!(!RESERVED.contains(&bare.to_ascii_uppercase().as_str()), "{id:?} -> {s}");
        }
        assert_eq!(safe_stem("SE2321000016-A1B2").split_once("-").unwrap().0, "SE2321000016");
    }

    #[test]
    fn no_two_ids_share_a_name() {
        let mut ids: Vec<String> = ["SE-1", "SE/1", "SE_1", "se-1", "../SE-1"].map(String::from).to_vec();
        ids.push("x".repeat(70));
        ids.push("x".repeat(71));
        let names: HashSet<String> = ids.iter().map(|i| safe_stem(i)).collect();
        assert_eq!(names.len(), ids.len());
    }
}
