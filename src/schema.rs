//! Every input and output column name and type, in one place (SPEC "Input", "Output").

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// How an input column is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// An identifier or free text, taken as it is (only empty is null).
    Text,
    /// An enum label: trimmed, NFC-normalised, lowercased.
    Label,
    /// A timestamp or a date.
    Time,
    /// A boolean.
    Bool,
}

#[derive(Clone, Copy, Debug)]
pub struct InputColumn {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub required: bool,
    /// Few distinct values: kept as ids into a dictionary.
    pub interned: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct InputTable {
    pub name: &'static str,
    /// In SPEC's order, which is also the order row errors are looked for.
    pub columns: &'static [InputColumn],
}

impl InputTable {
    pub fn column_index(&self, name: &str) -> usize {
        self.columns.iter().position(|c| c.name == name).expect("known column")
    }
}

const fn col(name: &'static str, kind: ColumnKind, required: bool) -> InputColumn {
    InputColumn { name, kind, required, interned: false }
}

/// Low-cardinality text (an organisation per card, an issuer per certificate).
const fn interned(name: &'static str, required: bool) -> InputColumn {
    InputColumn { name, kind: ColumnKind::Text, required, interned: true }
}

use ColumnKind::{Bool, Label, Text, Time};

pub const ORGANISATIONS: InputTable =
    InputTable { name: "organisations", columns: &[col("org_id", Text, true), col("org_name", Text, false)] };

pub const ID_ADMINS: InputTable = InputTable {
    name: "id_admins",
    columns: &[
        col("org_id", Text, true),
        col("name", Text, false),
        col("personnummer", Text, false),
        col("email", Text, false),
        col("care_provider", Text, false),
        col("care_unit", Text, false),
        col("registered_at", Time, false),
        col("trained_at", Time, false),
    ],
};

pub const CARDS: InputTable = InputTable {
    name: "cards",
    columns: &[
        col("card_id", Text, true),
        interned("org_id", true),
        interned("care_unit", false),
        col("card_type", Label, true),
        col("status", Label, true),
        col("ordered_at", Time, true),
        col("sent_at", Time, false),
        col("received_at", Time, false),
        col("upgraded_at", Time, false),
        col("has_auth_code", Bool, false),
        col("has_sign_code", Bool, false),
    ],
};

pub const CERTIFICATES: InputTable = InputTable {
    name: "certificates",
    columns: &[
        col("cert_serial", Text, true),
        col("card_id", Text, true),
        interned("issuer", true),
        col("not_after", Time, false),
        col("revoked", Bool, false),
    ],
};

/// The four input tables in the order they are read.
pub const INPUT_TABLES: [InputTable; 4] = [ORGANISATIONS, ID_ADMINS, CARDS, CERTIFICATES];

/// The plainest Arrow schema of an input table, as `generate` writes it: text and labels
/// as Utf8, times as UTC timestamps, booleans as Boolean.
pub fn input_arrow_schema(t: &InputTable) -> SchemaRef {
    let fields: Vec<Field> = t
        .columns
        .iter()
        .map(|c| {
            let dt = match c.kind {
                ColumnKind::Text | ColumnKind::Label => DataType::Utf8,
                ColumnKind::Time => utc_timestamp(),
                ColumnKind::Bool => DataType::Boolean,
            };
            Field::new(c.name, dt, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

// ---- outputs ----

pub fn utc_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn string_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

fn fields(cols: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(cols.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>()))
}

pub fn card_decisions() -> SchemaRef {
    use DataType::*;
    fields(&[
        ("card_id", Utf8),
        ("org_id", Utf8),
        ("care_unit", Utf8),
        ("card_type", Utf8),
        ("status", Utf8),
        ("verdict", Utf8),
        ("action", Utf8),
        ("findings", string_list()),
        ("cert_count", Int32),
        ("telia_certs", Int32),
        ("third_party_certs", Int32),
        ("issuance_due", Date32),
    ])
}

pub fn revocation_candidates() -> SchemaRef {
    use DataType::*;
    fields(&[
        ("card_id", Utf8),
        ("org_id", Utf8),
        ("care_unit", Utf8),
        ("card_type", Utf8),
        ("status", Utf8),
        ("rule", Utf8),
        ("ordered_at", utc_timestamp()),
        ("received_at", utc_timestamp()),
        ("upgraded_at", utc_timestamp()),
        ("issuance_due", Date32),
        ("cert_serials", string_list()),
    ])
}

pub fn revocation_certificates() -> SchemaRef {
    use DataType::*;
    fields(&[("org_id", Utf8), ("card_id", Utf8), ("issuer", Utf8), ("cert_serial", Utf8), ("rule", Utf8)])
}

pub fn org_compliance() -> SchemaRef {
    use crate::rules::{Finding, Verdict};
    use DataType::*;
    let mut cols = vec![
        ("org_id".to_string(), Utf8),
        ("org_name".into(), Utf8),
        ("admins_listed".into(), Int32),
        ("admins_qualified".into(), Int32),
        ("cleared".into(), Boolean),
        ("cleared_at".into(), utc_timestamp()),
        ("cards_total".into(), Int64),
    ];
    cols.extend(Verdict::ALL.iter().map(|v| (v.code().to_lowercase(), Int64)));
    cols.extend(Finding::ALL.iter().map(|f| (f.code().to_lowercase(), Int64)));
    cols.push(("upgrade_progress".into(), Float64));
    cols.push(("compliance".into(), Utf8));
    Arc::new(Schema::new(cols.into_iter().map(|(n, t)| Field::new(n, t, true)).collect::<Vec<_>>()))
}

pub fn admin_review() -> SchemaRef {
    use DataType::*;
    fields(&[
        ("org_id", Utf8),
        ("name", Utf8),
        ("personnummer_masked", Utf8),
        ("email", Utf8),
        ("registered_at", utc_timestamp()),
        ("trained_at", utc_timestamp()),
        ("qualified", Boolean),
        ("problems", string_list()),
    ])
}

pub fn quarantine() -> SchemaRef {
    use DataType::*;
    fields(&[
        ("table", Utf8),
        ("file", Utf8),
        ("row", Int64),
        ("key", Utf8),
        ("column", Utf8),
        ("error", Utf8),
        ("detail", Utf8),
    ])
}
