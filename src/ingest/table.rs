//! An input table after conversion: one typed column per SPEC column, valid rows only,
//! in input (file-then-row) order, each row remembering where it came from.

use arrow_array::builder::LargeStringBuilder;
use arrow_array::{Array, BooleanArray, LargeStringArray};

use super::values::Value;
use crate::schema::{ColumnKind, InputTable};

/// Where a row came from: index into the sweep's input files, and 1-based data row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowRef {
    pub file: u32,
    pub row: u64,
}

/// One converted column.
#[derive(Debug, Clone)]
pub enum ColumnData {
    Text(LargeStringArray),
    Label(Vec<u8>),
    Time(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

#[derive(Debug, Clone)]
pub struct Table {
    pub def: InputTable,
    pub columns: Vec<ColumnData>,
    pub source: Vec<RowRef>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.source.len()
    }

    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    pub fn text(&self, name: &str) -> &LargeStringArray {
        match &self.columns[self.def.column_index(name)] {
            ColumnData::Text(a) => a,
            _ => panic!("{name} is not a text column"),
        }
    }

    /// A text value, `None` for null.
    pub fn str(&self, name: &str, i: usize) -> Option<&str> {
        let a = self.text(name);
        a.is_valid(i).then(|| a.value(i))
    }

    pub fn labels(&self, name: &str) -> &[u8] {
        match &self.columns[self.def.column_index(name)] {
            ColumnData::Label(v) => v,
            _ => panic!("{name} is not a label column"),
        }
    }

    pub fn times(&self, name: &str) -> &[Option<i64>] {
        match &self.columns[self.def.column_index(name)] {
            ColumnData::Time(v) => v,
            _ => panic!("{name} is not a time column"),
        }
    }

    pub fn bools(&self, name: &str) -> &[Option<bool>] {
        match &self.columns[self.def.column_index(name)] {
            ColumnData::Bool(v) => v,
            _ => panic!("{name} is not a boolean column"),
        }
    }

    /// The rows where `keep` is true, in order.
    pub fn filter(&self, keep: &[bool]) -> Table {
        let mask = BooleanArray::from(keep.to_vec());
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                ColumnData::Text(a) => {
                    let f = arrow_select::filter::filter(a, &mask).expect("same length");
                    ColumnData::Text(f.as_any().downcast_ref::<LargeStringArray>().expect("large utf8").clone())
                }
                ColumnData::Label(v) => ColumnData::Label(pick(keep, v)),
                ColumnData::Time(v) => ColumnData::Time(pick(keep, v)),
                ColumnData::Bool(v) => ColumnData::Bool(pick(keep, v)),
            })
            .collect();
        Table { def: self.def, columns, source: pick(keep, &self.source) }
    }

    /// Appends tables of the same definition, in order.
    pub fn concat(def: InputTable, parts: Vec<Table>) -> Table {
        let mut b = TableBuilder::new(def);
        for p in &parts {
            b.source.extend_from_slice(&p.source);
            for (dst, src) in b.columns.iter_mut().zip(&p.columns) {
                match (dst, src) {
                    (ColumnBuilder::Text(d), ColumnData::Text(s)) => {
                        for v in s.iter() {
                            d.append_option(v);
                        }
                    }
                    (ColumnBuilder::Label(d), ColumnData::Label(s)) => d.extend_from_slice(s),
                    (ColumnBuilder::Time(d), ColumnData::Time(s)) => d.extend_from_slice(s),
                    (ColumnBuilder::Bool(d), ColumnData::Bool(s)) => d.extend_from_slice(s),
                    _ => unreachable!("parts of one table have the same columns"),
                }
            }
        }
        b.finish()
    }
}

enum ColumnBuilder {
    Text(LargeStringBuilder),
    Label(Vec<u8>),
    Time(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

/// Collects converted rows of one table.
pub struct TableBuilder {
    def: InputTable,
    columns: Vec<ColumnBuilder>,
    source: Vec<RowRef>,
}

impl TableBuilder {
    pub fn new(def: InputTable) -> TableBuilder {
        let columns = def
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Text => ColumnBuilder::Text(LargeStringBuilder::new()),
                ColumnKind::Label => ColumnBuilder::Label(Vec::new()),
                ColumnKind::Time => ColumnBuilder::Time(Vec::new()),
                ColumnKind::Bool => ColumnBuilder::Bool(Vec::new()),
            })
            .collect();
        TableBuilder { def, columns, source: Vec::new() }
    }

    /// Appends one row whose values passed every check, one per column in table order.
    pub fn push(&mut self, values: &[Value<'_>], source: RowRef) {
        self.source.push(source);
        for (b, v) in self.columns.iter_mut().zip(values) {
            match (b, v) {
                (ColumnBuilder::Text(b), Value::Text(s)) => b.append_value(s),
                (ColumnBuilder::Text(b), _) => b.append_null(),
                (ColumnBuilder::Label(b), Value::Label(l)) => b.push(*l),
                (ColumnBuilder::Label(b), _) => b.push(u8::MAX),
                (ColumnBuilder::Time(b), Value::Time(t)) => b.push(Some(*t)),
                (ColumnBuilder::Time(b), _) => b.push(None),
                (ColumnBuilder::Bool(b), Value::Bool(x)) => b.push(Some(*x)),
                (ColumnBuilder::Bool(b), _) => b.push(None),
            }
        }
    }

    pub fn finish(self) -> Table {
        let columns = self
            .columns
            .into_iter()
            .map(|c| match c {
                ColumnBuilder::Text(mut b) => ColumnData::Text(b.finish()),
                ColumnBuilder::Label(v) => ColumnData::Label(v),
                ColumnBuilder::Time(v) => ColumnData::Time(v),
                ColumnBuilder::Bool(v) => ColumnData::Bool(v),
            })
            .collect();
        Table { def: self.def, columns, source: self.source }
    }
}

fn pick<T: Copy>(keep: &[bool], v: &[T]) -> Vec<T> {
    v.iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect()
}
