//! Finding a table's files: `NAME.parquet`, `NAME.csv` or a folder `NAME/` of parts read
//! in file-name order (SPEC "Input").

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::schema::InputTable;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

#[derive(Clone, Debug)]
pub struct InputFile {
    pub path: PathBuf,
    /// Relative to `--input`, `/`-separated: how outputs name the file.
    pub rel: String,
    pub format: Format,
}

fn format_of(name: &str) -> Option<Format> {
    if name.ends_with(".parquet") {
        Some(Format::Parquet)
    } else if name.ends_with(".csv") {
        Some(Format::Csv)
    } else {
        None
    }
}

/// The files of one table. Exactly one form must exist; a folder may mix formats, and
/// anything else in it is skipped with a warning.
pub fn discover(input: &Path, table: &InputTable, warnings: &mut Vec<String>) -> Result<Vec<InputFile>> {
    if !input.is_dir() {
        return Err(Error::input(input, "input folder does not exist or is not a folder"));
    }
    let name = table.name;
    let forms: Vec<(String, PathBuf)> = [format!("{name}.parquet"), format!("{name}.csv"), name.to_string()]
        .into_iter()
        .map(|f| (f.clone(), input.join(&f)))
        .filter(|(_, p)| p.exists())
        .collect();
    match forms.len() {
        0 => Err(Error::input(
            input,
            format!("table {name} is missing: expected {name}.parquet, {name}.csv or a folder {name}/"),
        )),
        1 => {
            let (rel, path) = forms.into_iter().next().unwrap();
            match (format_of(&rel), path.is_dir()) {
                (None, true) => parts(&path, &rel, warnings),
                (None, false) => Err(Error::input(&path, format!("expected a folder of {name} parts"))),
                (Some(_), true) => Err(Error::input(&path, "is a folder, expected a file")),
                (Some(format), false) => Ok(vec![InputFile { path, rel, format }]),
            }
        }
        _ => Err(Error::input(
            input,
            format!(
                "table {name} is given more than once ({}): keep one form",
                forms.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

fn parts(dir: &Path, rel: &str, warnings: &mut Vec<String>) -> Result<Vec<InputFile>> {
    let mut entries: Vec<(Vec<u8>, PathBuf, String)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let file_name = e.file_name().to_string_lossy().into_owned();
        entries.push((file_name.as_bytes().to_vec(), e.path(), file_name));
    }
    entries.sort();
    let mut files = Vec::new();
    for (_, path, file_name) in entries {
        let rel = format!("{rel}/{file_name}");
        match format_of(&file_name) {
            Some(format) if path.is_file() => files.push(InputFile { path, rel, format }),
            _ => warnings.push(format!("{rel}: ignored (not a .parquet or .csv file)")),
        }
    }
    Ok(files)
}
