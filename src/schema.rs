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
    /// The column whose value names a quarantined row (its `key`): the table's key, or
    /// none for `id_admins`, whose rows carry personal data.
    pub named_by: Option<usize>,
}

const fn col(name: &'static str, kind: ColumnKind, required: bool) -> InputColumn {
    InputColumn { name, kind, required, interned: false }
}

/// Low-cardinality text (an organisation per card, an issuer per certificate).
const fn interned(name: &'static str, required: bool) -> InputColumn {
    InputColumn { name, kind: ColumnKind::Text, required, interned: true }
}

use ColumnKind::{Bool, Label, Text, Time};

pub const ORGANISATIONS: InputTable = InputTable {
    name: "organisations",
    columns: &[col("org_id", Text, true), col("org_name", Text, false)],
    named_by: Some(0),
};

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
    named_by: None,
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
    named_by: Some(0),
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
    named_by: Some(0),
};

/// A column of an input table as the pipeline reads it: its table, its place and, in
/// its type, what it holds once read (one of the markers in [`held`]), so that reading
/// it with the wrong accessor does not compile. The handles are the constants in
/// [`cols`]; each is checked against its table's declaration when the crate compiles.
#[derive(Debug)]
pub struct Col<K> {
    pub table: &'static str,
    pub name: &'static str,
    pub index: usize,
    held: std::marker::PhantomData<K>,
}

impl<K> Clone for Col<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Col<K> {}

/// What a column holds once read.
pub mod held {
    use super::ColumnKind;

    /// A marker's column declaration: its kind and whether it is interned.
    pub trait Held {
        const KIND: ColumnKind;
        const INTERNED: bool;
    }

    /// Text whose rows are read one by one (identifiers, names).
    #[derive(Debug)]
    pub struct Text;
    /// Few distinct texts, held as ids into a dictionary.
    #[derive(Debug)]
    pub struct Interned;
    /// A label, held as its vocabulary's index.
    #[derive(Debug)]
    pub struct Label;
    #[derive(Debug)]
    pub struct Time;
    #[derive(Debug)]
    pub struct Bool;
    /// A certificate's card_id, held as its card's row in `cards` once read.
    #[derive(Debug)]
    pub struct CardRow;

    macro_rules! held {
        ($($marker:ident: $kind:ident, $interned:literal;)+) => {
            $(impl Held for $marker {
                const KIND: ColumnKind = ColumnKind::$kind;
                const INTERNED: bool = $interned;
            })+
        };
    }
    held! {
        Text: Text, false;
        Interned: Text, true;
        Label: Label, false;
        Time: Time, false;
        Bool: Bool, false;
        CardRow: Text, false;
    }

    /// Markers whose rows read as text ([`crate::ingest::Table::str`]).
    pub trait Textual {}
    impl Textual for Text {}
    impl Textual for Interned {}
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The handle of column `name` of `table`. Evaluated at compile time: a name the table
/// does not declare, or a declaration that does not hold `K`, fails the build.
const fn column<K: held::Held>(table: &InputTable, name: &'static str) -> Col<K> {
    let mut index = 0;
    while index < table.columns.len() {
        let c = &table.columns[index];
        if same(c.name, name) {
            assert!(c.kind as u8 == K::KIND as u8 && c.interned == K::INTERNED, "the column does not hold that");
            return Col { table: table.name, name, index, held: std::marker::PhantomData };
        }
        index += 1;
    }
    panic!("the table has no such column")
}

/// The handle of every input column the pipeline reads after conversion.
pub mod cols {
    use super::held::{Bool, CardRow, Interned, Label, Text, Time};
    use super::{CARDS, CERTIFICATES, Col, ID_ADMINS, ORGANISATIONS, column};

    pub mod organisations {
        use super::*;
        pub const ORG_ID: Col<Text> = column(&ORGANISATIONS, "org_id");
        pub const ORG_NAME: Col<Text> = column(&ORGANISATIONS, "org_name");
    }

    pub mod id_admins {
        use super::*;
        pub const ORG_ID: Col<Text> = column(&ID_ADMINS, "org_id");
        pub const NAME: Col<Text> = column(&ID_ADMINS, "name");
        pub const PERSONNUMMER: Col<Text> = column(&ID_ADMINS, "personnummer");
        pub const EMAIL: Col<Text> = column(&ID_ADMINS, "email");
        pub const CARE_PROVIDER: Col<Text> = column(&ID_ADMINS, "care_provider");
        pub const CARE_UNIT: Col<Text> = column(&ID_ADMINS, "care_unit");
        pub const REGISTERED_AT: Col<Time> = column(&ID_ADMINS, "registered_at");
        pub const TRAINED_AT: Col<Time> = column(&ID_ADMINS, "trained_at");
    }

    pub mod cards {
        use super::*;
        pub const CARD_ID: Col<Text> = column(&CARDS, "card_id");
        pub const ORG_ID: Col<Interned> = column(&CARDS, "org_id");
        pub const CARE_UNIT: Col<Interned> = column(&CARDS, "care_unit");
        pub const CARD_TYPE: Col<Label> = column(&CARDS, "card_type");
        pub const STATUS: Col<Label> = column(&CARDS, "status");
        pub const ORDERED_AT: Col<Time> = column(&CARDS, "ordered_at");
        pub const SENT_AT: Col<Time> = column(&CARDS, "sent_at");
        pub const RECEIVED_AT: Col<Time> = column(&CARDS, "received_at");
        pub const UPGRADED_AT: Col<Time> = column(&CARDS, "upgraded_at");
        pub const HAS_AUTH_CODE: Col<Bool> = column(&CARDS, "has_auth_code");
        pub const HAS_SIGN_CODE: Col<Bool> = column(&CARDS, "has_sign_code");
    }

    pub mod certificates {
        use super::*;
        pub const CERT_SERIAL: Col<Text> = column(&CERTIFICATES, "cert_serial");
        pub const CARD: Col<CardRow> = column(&CERTIFICATES, "card_id");
        pub const ISSUER: Col<Interned> = column(&CERTIFICATES, "issuer");
        pub const NOT_AFTER: Col<Time> = column(&CERTIFICATES, "not_after");
        pub const REVOKED: Col<Bool> = column(&CERTIFICATES, "revoked");
    }
}

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
    owned_fields(cols)
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

pub fn revocation_changes() -> SchemaRef {
    use DataType::*;
    fields(&[("card_id", Utf8), ("org_id", Utf8), ("change", Utf8), ("rule", Utf8), ("first_seen", Date32)])
}

pub fn verdict_changes() -> SchemaRef {
    use DataType::*;
    fields(&[("card_id", Utf8), ("org_id", Utf8), ("verdict_before", Utf8), ("verdict_after", Utf8)])
}

/// An output table, declared once: its file name, columns, sort order, the columns too
/// distinct to dictionary-encode, and whether operators get a CSV companion. The writers,
/// the readers (`diff`, the org reports) and the tests name files through these.
#[derive(Clone, Copy, Debug)]
pub struct OutputTable {
    /// The file stem (`NAME.parquet`, `NAME.csv`), also `query`'s table name.
    pub name: &'static str,
    pub schema: fn() -> SchemaRef,
    /// SPEC's sort key, recorded as the Parquet file's sort order.
    pub sorted_by: &'static [&'static str],
    /// Columns with (nearly) one value per row: no dictionary encoding.
    pub unique: &'static [&'static str],
    /// Also written as `NAME.csv` for operators.
    pub csv: bool,
}

impl OutputTable {
    pub fn parquet_file(&self) -> String {
        format!("{}.parquet", self.name)
    }

    pub fn csv_file(&self) -> String {
        format!("{}.csv", self.name)
    }
}

pub const CARD_DECISIONS: OutputTable = OutputTable {
    name: "card_decisions",
    schema: card_decisions,
    sorted_by: &["org_id", "card_id"],
    unique: &["card_id"],
    csv: false,
};

pub const REVOCATION_CANDIDATES: OutputTable = OutputTable {
    name: "revocation_candidates",
    schema: revocation_candidates,
    sorted_by: &["org_id", "card_id"],
    unique: &["card_id", "ordered_at", "received_at", "upgraded_at"],
    csv: true,
};

pub const REVOCATION_CERTIFICATES: OutputTable = OutputTable {
    name: "revocation_certificates",
    schema: revocation_certificates,
    sorted_by: &["org_id", "card_id", "cert_serial", "issuer"],
    unique: &["cert_serial"],
    csv: true,
};

pub const ORG_COMPLIANCE: OutputTable = OutputTable {
    name: "org_compliance",
    schema: org_compliance,
    sorted_by: &["org_id"],
    unique: &["org_id", "cleared_at"],
    csv: true,
};

pub const ADMIN_REVIEW: OutputTable = OutputTable {
    name: "admin_review",
    schema: admin_review,
    sorted_by: &["org_id"],
    unique: &["email", "registered_at", "trained_at"],
    csv: false,
};

pub const QUARANTINE: OutputTable = OutputTable {
    name: "quarantine",
    schema: quarantine,
    sorted_by: &["table", "file", "row"],
    unique: &["row"],
    csv: false,
};

/// `run --previous`: what changed since last night (SPEC "Nightly diff").
pub const REVOCATION_CHANGES: OutputTable = OutputTable {
    name: "revocation_changes",
    schema: revocation_changes,
    sorted_by: &["org_id", "card_id"],
    unique: &["card_id"],
    csv: true,
};

pub const VERDICT_CHANGES: OutputTable = OutputTable {
    name: "verdict_changes",
    schema: verdict_changes,
    sorted_by: &["org_id", "card_id"],
    unique: &["card_id"],
    csv: false,
};

/// Every table a sweep can write.
pub const OUTPUT_TABLES: [&OutputTable; 8] = [
    &CARD_DECISIONS,
    &REVOCATION_CANDIDATES,
    &REVOCATION_CERTIFICATES,
    &ORG_COMPLIANCE,
    &ADMIN_REVIEW,
    &QUARANTINE,
    &REVOCATION_CHANGES,
    &VERDICT_CHANGES,
];

/// The counts a night gives of the country or of one organisation, after `as_of` (and
/// `org_id`): cards_total, one column per verdict, upgraded_total, remaining.
fn campaign_counts(cols: &mut Vec<(String, DataType)>) {
    use crate::rules::Verdict;
    cols.push(("cards_total".into(), DataType::Int64));
    cols.extend(Verdict::ALL.iter().map(|v| (v.code().to_lowercase(), DataType::Int64)));
    cols.push(("upgraded_total".into(), DataType::Int64));
    cols.push(("remaining".into(), DataType::Int64));
}

fn owned_fields(cols: Vec<(String, DataType)>) -> SchemaRef {
    Arc::new(Schema::new(cols.into_iter().map(|(n, t)| Field::new(n, t, true)).collect::<Vec<_>>()))
}

pub fn national_trend() -> SchemaRef {
    let mut cols = vec![("as_of".to_string(), DataType::Date32)];
    campaign_counts(&mut cols);
    for n in ["orgs_total", "orgs_cleared", "orgs_compliant", "orgs_at_risk", "orgs_non_compliant"] {
        cols.push((n.to_string(), DataType::Int64));
    }
    owned_fields(cols)
}

pub fn org_trend() -> SchemaRef {
    let mut cols = vec![("org_id".to_string(), DataType::Utf8), ("as_of".into(), DataType::Date32)];
    campaign_counts(&mut cols);
    cols.push(("upgrade_progress".into(), DataType::Float64));
    cols.push(("compliance".into(), DataType::Utf8));
    cols.push(("cleared".into(), DataType::Boolean));
    // Whom the issuer can call about an organisation that falls behind.
    cols.push(("admins_listed".into(), DataType::Int32));
    cols.push(("admins_qualified".into(), DataType::Int32));
    owned_fields(cols)
}

pub fn org_forecast() -> SchemaRef {
    use DataType::*;
    fields(&[
        ("org_id", Utf8),
        ("as_of", Date32),
        ("remaining", Int64),
        ("upgraded_total", Int64),
        ("window_days", Int32),
        ("rate_per_day", Float64),
        ("projected_done", Date32),
        ("days_left", Int64),
        ("shortfall", Int64),
        ("on_track", Boolean),
    ])
}

/// `trend`: the country night by night.
pub const NATIONAL_TREND: OutputTable = OutputTable {
    name: "national_trend",
    schema: national_trend,
    sorted_by: &["as_of"],
    unique: &["as_of"],
    csv: true,
};

/// `trend`: each organisation night by night.
pub const ORG_TREND: OutputTable =
    OutputTable { name: "org_trend", schema: org_trend, sorted_by: &["org_id", "as_of"], unique: &[], csv: false };

/// `trend`: the forecast per organisation and for the country (org_id null). Sorted by
/// shortfall descending, then org_id with the country first: not an ascending key, so
/// no sort order is recorded in the file.
pub const ORG_FORECAST: OutputTable =
    OutputTable { name: "org_forecast", schema: org_forecast, sorted_by: &[], unique: &["org_id"], csv: true };

/// Every table `trend` writes.
pub const TREND_TABLES: [&OutputTable; 3] = [&NATIONAL_TREND, &ORG_TREND, &ORG_FORECAST];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantined_rows_are_named_by_their_tables_key() {
        let named: Vec<Option<&str>> = INPUT_TABLES.iter().map(|t| t.named_by.map(|i| t.columns[i].name)).collect();
        assert_eq!(named, [Some("org_id"), None, Some("card_id"), Some("cert_serial")]);
    }

    #[test]
    fn output_declarations_name_their_own_columns() {
        let mut names = std::collections::HashSet::new();
        for t in OUTPUT_TABLES.iter().chain(&TREND_TABLES) {
            assert!(names.insert(t.name), "{} declared twice", t.name);
            let schema = (t.schema)();
            for c in t.sorted_by.iter().chain(t.unique) {
                assert!(schema.field_with_name(c).is_ok(), "{}: no column {c}", t.name);
            }
        }
    }
}
