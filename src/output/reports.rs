//! The output tables as Arrow record batches, in SPEC's sort orders (strings by their
//! UTF-8 bytes). Built in parallel chunks whose boundaries depend only on row counts, so
//! the bytes written never depend on the thread count.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::UInt32Type;
use arrow_array::{ArrayRef, DictionaryArray, ListArray, RecordBatch, StringArray, UInt32Array};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use rayon::prelude::*;

use crate::aggregate::OrgCounts;
use crate::evaluate::{Evaluation, RevokedCertificates};
use crate::ingest::{Ingested, InputFileInfo, QuarantineRow, TextColumn};
use crate::rules::{Action, CardType, Finding, Severity, Status, Verdict};
use crate::schema;
use crate::schema::cols::{cards, certificates, id_admins};

/// Rows per output record batch.
const OUT_BATCH: usize = 65_536;

fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

fn batch(schema: arrow_schema::SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

/// The order of organisations by org_id bytes, and each organisation's rank in it.
pub fn org_order(e: &Evaluation) -> (Vec<u32>, Vec<u32>) {
    let mut order: Vec<u32> = (0..e.orgs.ids.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| e.orgs.ids[a as usize].as_bytes().cmp(e.orgs.ids[b as usize].as_bytes()));
    let mut rank = vec![0u32; order.len()];
    for (r, &o) in order.iter().enumerate() {
        rank[o as usize] = r as u32;
    }
    (order, rank)
}

/// Cards sorted by (org_id, card_id); card_ids are unique, so the order is total.
pub fn card_order(d: &Ingested, e: &Evaluation, org_rank: &[u32]) -> Vec<u32> {
    let rank: Vec<u32> = e.card_org.par_iter().map(|&o| org_rank[o as usize]).collect();
    sort_by_rank_then_id(d.cards.text(cards::CARD_ID), &rank)
}

/// Row indices sorted by (`rank[i]`, `ids[i]` bytes, i): counted into one bucket per
/// rank (organisations are few beside cards), then each bucket sorted on its own
/// ([`sort_by_id`]), the buckets in parallel. One sort of every card's key took 0.43 s
/// at 10M cards on two threads, its last passes on one.
fn sort_by_rank_then_id(ids: &TextColumn, rank: &[u32]) -> Vec<u32> {
    let buckets = rank.par_iter().max().map_or(0, |&m| m as usize + 1);
    let mut starts = vec![0usize; buckets + 1];
    for &r in rank {
        starts[r as usize + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    let mut order = vec![0u32; rank.len()];
    let mut next = starts.clone();
    for (i, &r) in rank.iter().enumerate() {
        order[next[r as usize]] = i as u32;
        next[r as usize] += 1;
    }
    let mut pieces = Vec::with_capacity(buckets);
    let mut rest = &mut order[..];
    for w in starts.windows(2) {
        let (piece, after) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
        pieces.push(piece);
        rest = after;
    }
    pieces.into_par_iter().for_each(|rows| sort_by_id(ids, rows));
    order
}

/// Sorts `rows` (ascending) by (`ids` bytes, index). Sorted as integers: the first
/// eight bytes of the card_id (big-endian, zero-padded, so integer order is byte order)
/// in one `u128` with the index, no indirection per comparison; rows whose keys tie
/// (card_ids sharing their first eight bytes) are then ordered by their whole card_id.
fn sort_by_id(ids: &TextColumn, rows: &mut [u32]) {
    let key = |i: u32| -> u128 {
        let mut prefix = [0u8; 8];
        let id = ids.value(i as usize).as_bytes();
        let n = id.len().min(8);
        prefix[..n].copy_from_slice(&id[..n]);
        (u128::from(u64::from_be_bytes(prefix)) << 32) | u128::from(i)
    };
    let mut keys: Vec<u128> = rows.iter().map(|&i| key(i)).collect();
    // A bucket of a few hundred thousand cards (one organisation's) sorts in parallel.
    if keys.len() > 1 << 16 {
        keys.par_sort_unstable();
    } else {
        keys.sort_unstable();
    }
    for (row, k) in rows.iter_mut().zip(&keys) {
        *row = *k as u32;
    }
    let mut start = 0;
    for run in keys.chunk_by(|a, b| a >> 32 == b >> 32) {
        if run.len() > 1 {
            // Stable, so equal ids stay in index order.
            rows[start..start + run.len()]
                .sort_by(|&a, &b| ids.value(a as usize).as_bytes().cmp(ids.value(b as usize).as_bytes()));
        }
        start += run.len();
    }
}

/// The values `card_decisions`' dictionary columns index, built once for all of its
/// batches: at 100M cards the organisations and care units are hundreds of thousands of
/// strings each, and built again for every window of cards they took seconds.
pub struct DecisionValues {
    schema: arrow_schema::SchemaRef,
    item: arrow_schema::FieldRef,
    orgs: ArrayRef,
    units: ArrayRef,
    types: ArrayRef,
    statuses: ArrayRef,
    verdicts: ArrayRef,
    actions: ArrayRef,
    findings: ArrayRef,
}

impl DecisionValues {
    pub fn new(d: &Ingested, e: &Evaluation) -> DecisionValues {
        let schema = card_decisions_batch_schema();
        let item = match schema.field_with_name("findings").expect("findings").data_type() {
            arrow_schema::DataType::List(item) => item.clone(),
            t => unreachable!("findings is {t}"),
        };
        let (_, units) = d.cards.interned(cards::CARE_UNIT);
        DecisionValues {
            schema,
            item,
            orgs: strings(e.orgs.ids.iter().map(String::as_str)),
            units: strings(units.iter().map(String::as_str)),
            types: strings(CardType::ALL.iter().map(|t| t.code())),
            statuses: strings(Status::ALL.iter().map(|s| s.code())),
            verdicts: strings(Verdict::ALL.iter().map(|v| v.code())),
            actions: strings(Action::ALL.iter().map(|a| a.code())),
            findings: strings(Finding::ALL.iter().map(|f| f.code())),
        }
    }
}

/// The card_decisions batches for `order`, in order, indexing `values` (made once by
/// [`DecisionValues::new`] from the same `d` and `e`).
///
/// The columns with few distinct values (org_id, care_unit, card_type, status, verdict,
/// action and the findings' items) are built as dictionary arrays: a key per card into
/// values built once, instead of copying ~60 bytes of text per card into builders. The
/// Parquet writer interns values row by row whichever way they come, so the file is
/// byte for byte the one plain strings give, and its schema
/// ([`schema::card_decisions`]) still says Utf8: the batches' own schema
/// ([`card_decisions_batch_schema`]) is for the writer only.
pub fn card_decisions(d: &Ingested, e: &Evaluation, values: &DecisionValues, order: &[u32]) -> Vec<RecordBatch> {
    let t = &d.cards;
    let ids = t.text(cards::CARD_ID);
    let (types, statuses) = (t.labels(cards::CARD_TYPE), t.labels(cards::STATUS));
    let (unit_ids, units) = t.interned(cards::CARE_UNIT);
    let DecisionValues {
        schema,
        item,
        orgs: org_values,
        units: unit_values,
        types: type_values,
        statuses: status_values,
        verdicts: verdict_values,
        actions: action_values,
        findings: finding_values,
    } = values;
    order
        .par_chunks(OUT_BATCH)
        .map(|chunk| {
            let n = chunk.len();
            let mut card_id = StringBuilder::with_capacity(n, n * 16);
            let (mut org, mut unit, mut unit_valid) =
                (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut ty, mut status) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut verdict, mut action) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut finding, mut finding_offsets) = (Vec::with_capacity(n), Vec::with_capacity(n + 1));
            finding_offsets.push(0i32);
            let (mut cc, mut tc, mut tp) =
                (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
            let mut due = Date32Builder::with_capacity(n);
            for &i in chunk {
                let i = i as usize;
                let o = &e.outcomes[i];
                card_id.append_value(ids.value(i));
                org.push(e.card_org[i]);
                let u = unit_ids[i];
                let known = (u as usize) < units.len();
                unit.push(if known { u } else { 0 });
                unit_valid.push(known);
                ty.push(u32::from(types[i]));
                status.push(u32::from(statuses[i]));
                verdict.push(o.verdict as u32);
                action.push(o.action as u32);
                finding.extend(o.findings.iter().map(|f| f as u32));
                finding_offsets.push(finding.len() as i32);
                let k = e.counts[i];
                cc.append_value(k.cert_count);
                tc.append_value(k.telia_certs);
                tp.append_value(k.third_party_certs);
                due.append_option(o.issuance_due);
            }
            let unit_nulls = unit_valid.contains(&false).then(|| NullBuffer::from(unit_valid));
            let findings = ListArray::new(
                item.clone(),
                OffsetBuffer::new(finding_offsets.into()),
                dictionary(finding, None, finding_values),
                None,
            );
            batch(
                schema.clone(),
                vec![
                    Arc::new(card_id.finish()),
                    dictionary(org, None, org_values),
                    dictionary(unit, unit_nulls, unit_values),
                    dictionary(ty, None, type_values),
                    dictionary(status, None, status_values),
                    dictionary(verdict, None, verdict_values),
                    dictionary(action, None, action_values),
                    Arc::new(findings),
                    Arc::new(cc.finish()),
                    Arc::new(tc.finish()),
                    Arc::new(tp.finish()),
                    Arc::new(due.finish()),
                ],
            )
        })
        .collect()
}

/// [`schema::card_decisions`] with its text columns other than card_id (and the
/// findings' items) as `Dictionary(UInt32, Utf8)`: the schema of the batches
/// [`card_decisions`] builds, never of a file.
pub fn card_decisions_batch_schema() -> arrow_schema::SchemaRef {
    use arrow_schema::{DataType, Field, Schema};
    let dict = || DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8));
    let fields: Vec<Field> = schema::card_decisions()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 if f.name() != "card_id" => f.as_ref().clone().with_data_type(dict()),
            DataType::List(item) => {
                let item = item.as_ref().clone().with_data_type(dict());
                f.as_ref().clone().with_data_type(DataType::List(Arc::new(item)))
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(values.map(Some).collect::<StringArray>())
}

fn dictionary(keys: Vec<u32>, nulls: Option<NullBuffer>, values: &ArrayRef) -> ArrayRef {
    let keys = UInt32Array::new(keys.into(), nulls);
    Arc::new(DictionaryArray::<UInt32Type>::try_new(keys, values.clone()).expect("every key indexes its values"))
}

/// A card_type label byte as its code (`labels` holds `CardType as u8`).
pub fn card_type_label(code: u8) -> &'static str {
    CardType::from_index(code).expect("card_type is required and checked on reading").code()
}

/// A status label byte as its code (`labels` holds `Status as u8`).
pub fn status_label(code: u8) -> &'static str {
    Status::from_index(code).expect("status is required and checked on reading").code()
}

/// What the two revocation lists are made of: the REVOKE cards in output order, each
/// with the certificates the CA must revoke, sorted by (serial, issuer) bytes.
pub struct Revocations<'a> {
    d: &'a Ingested,
    e: &'a Evaluation,
    revoked: &'a RevokedCertificates,
    cards: Vec<(u32, Vec<u32>)>,
}

impl<'a> Revocations<'a> {
    /// The REVOKE cards of `order` (the output order of cards) and their certificates.
    pub fn new(d: &'a Ingested, e: &'a Evaluation, revoked: &'a RevokedCertificates, order: &[u32]) -> Self {
        let (certs, pairs) = (&revoked.certificates, &revoked.by_card[..]);
        let serial = |c: u32| Self::serial_of(revoked, c);
        let issuer = |c: u32| certs.str(certificates::ISSUER, c as usize).unwrap_or("");
        // Collecting a filtered parallel iterator keeps `order`.
        let cards = order
            .par_iter()
            .filter(|&&card| e.outcomes[card as usize].verdict == Verdict::Revoke)
            .map(|&card| {
                let from = pairs.partition_point(|&(c, _)| c < card);
                let mut list: Vec<u32> =
                    pairs[from..].iter().take_while(|&&(c, _)| c == card).map(|&(_, cert)| cert).collect();
                list.sort_unstable_by(|&a, &b| {
                    (serial(a).as_bytes(), issuer(a).as_bytes()).cmp(&(serial(b).as_bytes(), issuer(b).as_bytes()))
                });
                (card, list)
            })
            .collect();
        Revocations { d, e, revoked, cards }
    }

    fn serial_of(revoked: &RevokedCertificates, c: u32) -> &str {
        revoked.certificates.str(certificates::CERT_SERIAL, c as usize).expect("required")
    }

    /// `revocation_candidates`, a batch of [`OUT_BATCH`] cards at a time, each made when
    /// the writer asks for it.
    pub fn candidates(&self) -> impl Iterator<Item = RecordBatch> + '_ {
        let (d, e) = (self.d, self.e);
        let t = &d.cards;
        let ids = t.text(cards::CARD_ID);
        self.cards.chunks(OUT_BATCH).map(move |chunk| {
            let mut b = (
                StringBuilder::new(),
                StringBuilder::new(),
                StringBuilder::new(),
                StringBuilder::new(),
                StringBuilder::new(),
                StringBuilder::new(),
            );
            let (mut ordered, mut received, mut upgraded) = (ts_builder(), ts_builder(), ts_builder());
            let mut due = Date32Builder::new();
            let mut serials = ListBuilder::new(StringBuilder::new());
            for (card, certs) in chunk {
                let i = *card as usize;
                b.0.append_value(ids.value(i));
                b.1.append_value(&e.orgs.ids[e.card_org[i] as usize]);
                b.2.append_option(t.str(cards::CARE_UNIT, i));
                b.3.append_value(card_type_label(t.labels(cards::CARD_TYPE)[i]));
                b.4.append_value(status_label(t.labels(cards::STATUS)[i]));
                b.5.append_value(revoke_rule(e, i));
                ordered.append_option(t.times(cards::ORDERED_AT).get(i));
                received.append_option(t.times(cards::RECEIVED_AT).get(i));
                upgraded.append_option(t.times(cards::UPGRADED_AT).get(i));
                due.append_option(e.outcomes[i].issuance_due);
                for &c in certs {
                    serials.values().append_value(Self::serial_of(self.revoked, c));
                }
                serials.append(true);
            }
            batch(
                schema::revocation_candidates(),
                vec![
                    Arc::new(b.0.finish()),
                    Arc::new(b.1.finish()),
                    Arc::new(b.2.finish()),
                    Arc::new(b.3.finish()),
                    Arc::new(b.4.finish()),
                    Arc::new(b.5.finish()),
                    Arc::new(ordered.finish()),
                    Arc::new(received.finish()),
                    Arc::new(upgraded.finish()),
                    Arc::new(due.finish()),
                    Arc::new(serials.finish()),
                ],
            )
        })
    }

    /// `revocation_certificates`, a batch of [`OUT_BATCH`] certificates at a time, each
    /// made when the writer asks for it.
    pub fn certificates(&self) -> impl Iterator<Item = RecordBatch> + '_ {
        let e = self.e;
        let ids = self.d.cards.text(cards::CARD_ID);
        let certs = &self.revoked.certificates;
        let rows = self.cards.iter().flat_map(|(card, certs)| certs.iter().map(move |&c| (*card as usize, c)));
        in_chunks(rows, OUT_BATCH).map(move |chunk| {
            let mut cols: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
            for &(card, c) in &chunk {
                cols[0].append_value(&e.orgs.ids[e.card_org[card] as usize]);
                cols[1].append_value(ids.value(card));
                cols[2].append_option(certs.str(certificates::ISSUER, c as usize));
                cols[3].append_value(Self::serial_of(self.revoked, c));
                cols[4].append_value(revoke_rule(e, card));
            }
            batch(
                schema::revocation_certificates(),
                cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect(),
            )
        })
    }
}

fn revoke_rule(e: &Evaluation, card: usize) -> &'static str {
    e.outcomes[card].findings.first_of(Severity::Revoke).map(Finding::code).expect("a REVOKE card has a revoke finding")
}

/// `items` in chunks of `n` (the last one shorter), each collected as it is asked for.
fn in_chunks<T>(items: impl Iterator<Item = T>, n: usize) -> impl Iterator<Item = Vec<T>> {
    let mut items = items.peekable();
    std::iter::from_fn(move || {
        items.peek()?;
        Some(items.by_ref().take(n).collect())
    })
}

pub fn org_compliance(e: &Evaluation, counts: &[OrgCounts], order: &[u32]) -> Vec<RecordBatch> {
    order
        .chunks(OUT_BATCH)
        .map(|chunk| {
            let mut id = StringBuilder::new();
            let mut name = StringBuilder::new();
            let (mut listed, mut qualified) = (Int32Builder::new(), Int32Builder::new());
            let mut cleared = BooleanBuilder::new();
            let mut cleared_at = ts_builder();
            let mut ints: Vec<Int64Builder> = (0..1 + 7 + 12).map(|_| Int64Builder::new()).collect();
            let mut progress = Float64Builder::new();
            let mut compliance = StringBuilder::new();
            for &o in chunk {
                let o = o as usize;
                let c = &counts[o];
                id.append_value(&e.orgs.ids[o]);
                name.append_option(e.orgs.names[o].as_deref());
                listed.append_value(e.orgs.admins_listed[o]);
                qualified.append_value(e.orgs.clearance[o].admins_qualified);
                cleared.append_value(e.orgs.clearance[o].cleared_at.is_some());
                cleared_at.append_option(e.orgs.clearance[o].cleared_at);
                let values = std::iter::once(c.cards_total).chain(c.verdicts).chain(c.findings);
                for (b, v) in ints.iter_mut().zip(values) {
                    b.append_value(v);
                }
                progress.append_option(c.upgrade_progress());
                compliance.append_value(c.compliance().code());
            }
            let mut cols: Vec<ArrayRef> = vec![
                Arc::new(id.finish()),
                Arc::new(name.finish()),
                Arc::new(listed.finish()),
                Arc::new(qualified.finish()),
                Arc::new(cleared.finish()),
                Arc::new(cleared_at.finish()),
            ];
            cols.extend(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            cols.push(Arc::new(progress.finish()));
            cols.push(Arc::new(compliance.finish()));
            batch(schema::org_compliance(), cols)
        })
        .collect()
}

/// Administrator rows sorted by (org_id, input order).
pub fn admin_review(d: &Ingested, e: &Evaluation, org_rank: &[u32]) -> Vec<RecordBatch> {
    let t = &d.id_admins;
    let mut order: Vec<u32> = (0..t.len() as u32).collect();
    order.sort_by_key(|&i| org_rank[e.admin_org[i as usize] as usize]);
    order
        .chunks(OUT_BATCH)
        .map(|chunk| {
            let mut s: Vec<StringBuilder> = (0..4).map(|_| StringBuilder::new()).collect();
            let (mut reg, mut trained) = (ts_builder(), ts_builder());
            let mut qualified = BooleanBuilder::new();
            let mut problems = ListBuilder::new(StringBuilder::new());
            for &i in chunk {
                let i = i as usize;
                let v = &e.admins[i];
                s[0].append_value(t.str(id_admins::ORG_ID, i).expect("required"));
                s[1].append_option(t.str(id_admins::NAME, i));
                s[2].append_option(v.masked.as_deref());
                s[3].append_option(t.str(id_admins::EMAIL, i));
                reg.append_option(t.times(id_admins::REGISTERED_AT).get(i));
                trained.append_option(t.times(id_admins::TRAINED_AT).get(i));
                qualified.append_value(v.qualified);
                for p in v.problems.iter() {
                    problems.values().append_value(p.code());
                }
                problems.append(true);
            }
            let mut cols: Vec<ArrayRef> = s.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
            cols.push(Arc::new(reg.finish()));
            cols.push(Arc::new(trained.finish()));
            cols.push(Arc::new(qualified.finish()));
            cols.push(Arc::new(problems.finish()));
            batch(schema::admin_review(), cols)
        })
        .collect()
}

/// Quarantined rows sorted by (table, file, row).
pub fn quarantine(rows: &[QuarantineRow], files: &[InputFileInfo]) -> Vec<RecordBatch> {
    let mut order: Vec<&QuarantineRow> = rows.iter().collect();
    order.sort_by(|a, b| {
        (a.table.as_bytes(), files[a.file as usize].rel.as_bytes(), a.row).cmp(&(
            b.table.as_bytes(),
            files[b.file as usize].rel.as_bytes(),
            b.row,
        ))
    });
    order
        .chunks(OUT_BATCH)
        .map(|chunk| {
            let mut s: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
            let mut row = Int64Builder::new();
            for q in chunk {
                s[0].append_value(q.table);
                s[1].append_value(&files[q.file as usize].rel);
                row.append_value(q.row as i64);
                s[2].append_option(q.key.as_deref());
                s[3].append_option(q.column);
                s[4].append_value(q.error.code());
                s[5].append_value(&q.detail);
            }
            let mut b = s.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
            let cols: Vec<ArrayRef> = vec![
                b.next().unwrap(),
                b.next().unwrap(),
                Arc::new(row.finish()),
                b.next().unwrap(),
                b.next().unwrap(),
                b.next().unwrap(),
                b.next().unwrap(),
            ];
            batch(schema::quarantine(), cols)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks are `n` long but the last, which is never empty; nothing is lost or repeated.
    #[test]
    fn chunks_cover_the_items_once_in_order() {
        for len in [0, 1, 2, 3, 4, 5, 6, 7, 9] {
            let chunks: Vec<Vec<usize>> = in_chunks(0..len, 3).collect();
            assert_eq!(chunks.len(), len.div_ceil(3), "{len} items");
            assert!(chunks.iter().rev().skip(1).all(|c| c.len() == 3), "{len} items");
            assert!(chunks.last().is_none_or(|c| !c.is_empty()), "{len} items");
            assert_eq!(chunks.concat(), (0..len).collect::<Vec<_>>());
        }
    }

    /// Row indices sorted by comparing (rank, card_id bytes, index) directly.
    fn plain_order(ids: &[impl AsRef<str>], rank: &[u32]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        order.sort_by_key(|&i| (rank[i as usize], ids[i as usize].as_ref().as_bytes(), i));
        order
    }

    /// The integer sort orders exactly as comparing (rank, card_id bytes) would: ids
    /// sharing their first eight bytes, ids shorter than eight bytes, an id that is a
    /// prefix of another, a NUL byte (zero-padding must not make "AB" equal "AB\0"),
    /// non-ASCII bytes, equal ids, and ranks that disagree with the ids' order.
    #[test]
    fn cards_sort_by_rank_then_card_id_bytes() {
        let ids = [
            "ABCDEFGH2",
            "ABCDEFGH10",
            "ABCDEFGH",
            "AB",
            "AB\0",
            "A",
            "",
            "ÖSTER-1",
            "OSTER-1",
            "ABCDEFGH10",
            "ZZZZZZZZZ",
            "ABCDEFGI",
            "AB\0\0\0\0\0\0X",
        ];
        let array = TextColumn::Large(arrow_array::LargeStringArray::from(ids.to_vec()));
        for rank in [vec![0u32; ids.len()], (0..ids.len() as u32).map(|i| (i * 7) % 3).collect()] {
            let got = sort_by_rank_then_id(&array, &rank);
            let want = plain_order(&ids, &rank);
            assert_eq!(got, want, "ranks {rank:?}");
        }
    }

    /// Ranks with gaps (some have no row), ids sharing prefixes, and a rank of more than
    /// 65,536 rows, whose bucket is sorted in parallel.
    #[test]
    fn many_ranks_and_shared_prefixes_sort_as_a_plain_sort_does() {
        let mut rng = crate::generate::rng::Rng::new(7, 0);
        for (rows, ranks) in [(3_000, 30), (150_000, 2)] {
            let ids: Vec<String> = (0..rows)
                .map(|_| {
                    let len = rng.below(13);
                    (0..len).map(|_| ['A', 'B', '0', '\u{e9}'][rng.below(4) as usize]).collect()
                })
                .collect();
            let rank: Vec<u32> = (0..ids.len()).map(|_| rng.below(ranks) as u32 * 2).collect();
            let array = TextColumn::Small(arrow_array::StringArray::from(ids.clone()));
            let got = sort_by_rank_then_id(&array, &rank);
            let want = plain_order(&ids, &rank);
            assert_eq!(got, want, "{rows} rows");
        }
        assert!(
            sort_by_rank_then_id(&TextColumn::Small(arrow_array::StringArray::from(Vec::<String>::new())), &[])
                .is_empty()
        );
    }
}
