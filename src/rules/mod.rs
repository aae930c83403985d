//! The issuer's rules as pure functions over plain values (SPEC "Rules"). Codes,
//! severities and their order live in the tables here and nowhere else.

// A new finding, verdict or action must not fall into an arm written for others.
#![deny(clippy::wildcard_enum_match_arm, clippy::match_wildcard_for_single_variants)]

pub mod admin;
pub mod card;
pub mod cert;
pub mod forecast;
pub mod org;
pub mod policy;

pub use admin::{AdminFacts, AdminProblem, AdminVerdict, OrgClearance};
pub use card::{CardFacts, CardOutcome, SweepDates, evaluate_card};
pub use org::Compliance;
pub use policy::{IssuerKind, Policy, PolicyFile};

use crate::vocabulary::vocabulary;

vocabulary! {
    /// Card type as entered in SITHS Admin; the code is the canonical label.
    pub enum CardType {
        /// An old card, to be upgraded.
        Siths = "SITHS",
        /// A new SITHS e-id card.
        SithsEid = "SITHS_EID",
    }
}

impl CardType {
    /// Accepts `SITHS`, `SITHS_EID` and `SITHS e-id` in any case (already NFC-lowercased
    /// and trimmed by the caller).
    pub fn from_label(label: &str) -> Option<CardType> {
        match label {
            "siths" => Some(CardType::Siths),
            "siths_eid" | "siths e-id" => Some(CardType::SithsEid),
            _ => None,
        }
    }
}

vocabulary! {
    /// Card status in SITHS Admin: canonical English code, and the Swedish word SITHS
    /// Admin shows (the organisation reports use it).
    pub enum Status: &'static str {
        Ordered = "ordered" => "beställt",
        Sent = "sent" => "skickat",
        Received = "received" => "mottaget",
        Revoked = "revoked" => "spärrat",
    }
}

impl Status {
    /// English or Swedish (beställt/beställd, skickat/skickad, mottaget/mottagen,
    /// spärrat/spärrad); the caller has NFC-normalised, lowercased and trimmed it.
    pub fn from_label(label: &str) -> Option<Status> {
        match label {
            "ordered" | "beställt" | "beställd" => Some(Status::Ordered),
            "sent" | "skickat" | "skickad" => Some(Status::Sent),
            "received" | "mottaget" | "mottagen" => Some(Status::Received),
            "revoked" | "spärrat" | "spärrad" => Some(Status::Revoked),
            _ => None,
        }
    }

    /// Ordered or sent: not yet handed out.
    pub const fn is_unissued(self) -> bool {
        matches!(self, Status::Ordered | Status::Sent)
    }
}

/// SPEC's severities of findings. Not written anywhere: they decide verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Revoke,
    Violation,
    Replace,
    Blocker,
    Warning,
    Action,
    Data,
}

/// What the notice says of a finding besides its code.
#[derive(Clone, Copy, Debug)]
pub struct FindingFacts {
    pub severity: Severity,
    /// The organisation's next step when this finding decides the card's action (the
    /// first blocker of a BLOCKED card, a warning on a READY one, …); `Action::None` for
    /// a finding that never decides it.
    pub action: Action,
    /// The finding in Swedish, for the organisation reports.
    pub swedish: Swedish,
}

/// A text in Swedish that may name one of the policy's thresholds.
#[derive(Clone, Copy, Debug)]
pub enum Swedish {
    Text(&'static str),
    /// `{n}` stands for the threshold in Swedish words (`neuter`: "ett", not "en", for
    /// one); `one` is the text when the threshold is 1, `many` otherwise.
    Counted {
        threshold: Threshold,
        one: &'static str,
        many: &'static str,
        neuter: bool,
    },
}

/// The policy values a text can name.
#[derive(Clone, Copy, Debug)]
pub enum Threshold {
    UnissuedMonths,
    MinTrainedAdmins,
    MaxCertsOnCard,
}

impl Threshold {
    pub const fn of(self, policy: &Policy) -> u32 {
        match self {
            Threshold::UnissuedMonths => policy.unissued_months,
            Threshold::MinTrainedAdmins => policy.min_trained_admins,
            Threshold::MaxCertsOnCard => policy.max_certs_on_card,
        }
    }
}

const fn finding(severity: Severity, action: Action, swedish: &'static str) -> FindingFacts {
    FindingFacts { severity, action, swedish: Swedish::Text(swedish) }
}

vocabulary! {
    /// The twelve card findings, in the order of SPEC's table, which is also the order
    /// of the `findings` list and of `org_compliance`'s finding columns.
    pub enum Finding: FindingFacts {
        UnissuedOver3Months = "UNISSUED_OVER_3_MONTHS" => FindingFacts {
            severity: Severity::Revoke,
            action: Action::Revoke,
            swedish: Swedish::Counted {
                threshold: Threshold::UnissuedMonths,
                one: "beställt men inte utlämnat inom {n} månad",
                many: "beställt men inte utlämnat inom {n} månader",
                neuter: false,
            },
        },
        UpgradedBeforeReceived = "UPGRADED_BEFORE_RECEIVED" =>
            finding(Severity::Revoke, Action::Revoke, "uppgraderat innan kortet var mottaget"),
        UpgradedAfterDeadline = "UPGRADED_AFTER_DEADLINE" =>
            finding(Severity::Violation, Action::Review, "uppgraderat efter sista dag"),
        UpgradedBeforeOrgCleared = "UPGRADED_BEFORE_ORG_CLEARED" =>
            finding(Severity::Violation, Action::Review, "uppgraderat innan organisationen uppfyllde kraven"),
        DeadlinePassed = "DEADLINE_PASSED" =>
            finding(Severity::Replace, Action::OrderNewCard, "sista dag för uppgradering har passerat"),
        AwaitingIssuance = "AWAITING_ISSUANCE" =>
            finding(Severity::Blocker, Action::HandOutCard, "väntar på utlämning"),
        OrgNotCleared = "ORG_NOT_CLEARED" => FindingFacts {
            severity: Severity::Blocker,
            action: Action::TrainIdAdmins,
            swedish: Swedish::Counted {
                threshold: Threshold::MinTrainedAdmins,
                one: "organisationen saknar {n} utbildad ID-administratör",
                many: "organisationen saknar {n} utbildade ID-administratörer",
                neuter: false,
            },
        },
        CodesMissing = "CODES_MISSING" =>
            finding(Severity::Blocker, Action::OrderNewCodes, "kortinnehavaren saknar någon av sina två koder"),
        TooManyCerts = "TOO_MANY_CERTS" => FindingFacts {
            severity: Severity::Warning,
            action: Action::RemoveCertsThenUpgrade,
            swedish: Swedish::Counted {
                threshold: Threshold::MaxCertsOnCard,
                one: "fler än {n} certifikat på kortet",
                many: "fler än {n} certifikat på kortet",
                neuter: true,
            },
        },
        ThirdPartyReorder = "THIRD_PARTY_REORDER" =>
            finding(Severity::Action, Action::ReorderThirdPartyCerts, "har certifikat från annan utfärdare"),
        InconsistentDates = "INCONSISTENT_DATES" => finding(Severity::Data, Action::None, "motstridiga datum"),
        UnknownOrg = "UNKNOWN_ORG" => finding(Severity::Data, Action::None, "okänd organisation"),
    }
}

impl Finding {
    pub const fn severity(self) -> Severity {
        self.facts().severity
    }

    pub const fn action(self) -> Action {
        self.facts().action
    }

    const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// A set of findings as a bit mask; iterates in the table's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Findings(pub u16);

// The mask has a bit for every finding.
const _: () = assert!(Finding::COUNT <= u16::BITS as usize);

impl Findings {
    pub fn insert(&mut self, f: Finding) {
        self.0 |= f.bit();
    }

    pub fn set(&mut self, f: Finding, on: bool) {
        if on {
            self.insert(f);
        }
    }

    pub const fn contains(self, f: Finding) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Finding> {
        Finding::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The first finding of a severity, in the table's order.
    pub fn first_of(self, severity: Severity) -> Option<Finding> {
        self.iter().find(|f| f.severity() == severity)
    }

    pub fn any_of(self, severity: Severity) -> bool {
        self.first_of(severity).is_some()
    }
}

vocabulary! {
    /// SPEC "Verdict", in output order for the org report columns, with the Swedish the
    /// organisation reports use.
    pub enum Verdict: &'static str {
        Ready = "READY" => "Klart att uppgradera",
        Blocked = "BLOCKED" => "Hindrat",
        Upgraded = "UPGRADED" => "Uppgraderat",
        Violation = "VIOLATION" => "Regelbrott",
        Revoke = "REVOKE" => "Spärras",
        Replace = "REPLACE" => "Byts ut",
        OutOfScope = "OUT_OF_SCOPE" => "Omfattas inte",
    }
}

vocabulary! {
    /// The organisation's next step for a card (SPEC "`action`"), with the instruction
    /// the organisation reports give in Swedish.
    pub enum Action: &'static str {
        Revoke = "revoke" => "Kortet spärras av utfärdaren",
        Review = "review" => "Granska kortet tillsammans med utfärdaren",
        ReorderThirdPartyCerts = "reorder_third_party_certs" =>
            "Beställ om certifikat från andra utfärdare (t.ex. EK-certifikat) efter uppgraderingen",
        None = "none" => "Ingen åtgärd",
        OrderNewCard = "order_new_card" => "Beställ nytt SITHS e-id-kort",
        HandOutCard = "hand_out_card" => "Lämna ut kortet enligt utlämningsrutinen (status ”mottaget”)",
        TrainIdAdmins = "train_id_admins" => "Utbilda ID-administratörer innan kortet uppgraderas",
        OrderNewCodes = "order_new_codes" => "Beställ nya koder hos Svensk e-identitet",
        RemoveCertsThenUpgrade = "remove_certs_then_upgrade" => "Rensa bort certifikat via Mina sidor och uppgradera sedan",
        Upgrade = "upgrade" => "Uppgradera kortet",
    }
}

/// Lowercases and NFC-normalises a trimmed label, as SPEC matches enum labels.
pub fn normalise_label(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    let t = text.trim();
    if t.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return std::borrow::Cow::Borrowed(t);
    }
    std::borrow::Cow::Owned(t.nfc().collect::<String>().to_lowercase())
}

/// Matches a label without allocating when it is short ASCII (the common case: every
/// row of a national export carries `SITHS` or `received`), else through
/// [`normalise_label`].
pub fn match_label<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let t = text.trim();
    let mut buf = [0u8; 16];
    if t.len() <= buf.len() && t.is_ascii() {
        let b = &mut buf[..t.len()];
        b.copy_from_slice(t.as_bytes());
        b.make_ascii_lowercase();
        return parse(std::str::from_utf8(b).expect("ASCII is UTF-8"));
    }
    parse(&normalise_label(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_both_languages_any_case() {
        for (text, status) in [
            ("ordered", Status::Ordered),
            ("BESTÄLLT", Status::Ordered),
            ("Beställd", Status::Ordered),
            (" sent ", Status::Sent),
            ("Skickat", Status::Sent),
            ("skickad", Status::Sent),
            ("RECEIVED", Status::Received),
            ("mottaget", Status::Received),
            ("Mottagen", Status::Received),
            ("revoked", Status::Revoked),
            ("SPÄRRAT", Status::Revoked),
            ("spa\u{308}rrad", Status::Revoked), // decomposed ä
        ] {
            assert_eq!(Status::from_label(&normalise_label(text)), Some(status), "{text}");
        }
        assert_eq!(Status::from_label(&normalise_label("delivered")), None);
        assert_eq!(CardType::from_label(&normalise_label("SITHS e-id")), Some(CardType::SithsEid));
        assert_eq!(CardType::from_label(&normalise_label("siths_EID")), Some(CardType::SithsEid));
        assert_eq!(CardType::from_label(&normalise_label(" Siths ")), Some(CardType::Siths));
        assert_eq!(CardType::from_label(&normalise_label("SITHS-EID")), None);
    }

    #[test]
    fn all_lists_are_indexed_by_discriminant() {
        // The card_decisions output keys its dictionaries by `x as u32` into `ALL`.
        for (k, f) in Finding::ALL.iter().enumerate() {
            assert_eq!(*f as usize, k, "{f:?}");
        }
        for (k, v) in Verdict::ALL.iter().enumerate() {
            assert_eq!(*v as usize, k, "{v:?}");
        }
        for (k, a) in Action::ALL.iter().enumerate() {
            assert_eq!(*a as usize, k, "{a:?}");
        }
    }

    #[test]
    fn each_finding_implies_the_action_of_its_severity() {
        for f in Finding::ALL {
            let actions: &[Action] = match f.severity() {
                Severity::Revoke => &[Action::Revoke],
                Severity::Violation => &[Action::Review],
                Severity::Replace => &[Action::OrderNewCard],
                Severity::Blocker => &[Action::HandOutCard, Action::TrainIdAdmins, Action::OrderNewCodes],
                Severity::Warning => &[Action::RemoveCertsThenUpgrade],
                Severity::Action => &[Action::ReorderThirdPartyCerts],
                Severity::Data => &[Action::None],
            };
            assert!(actions.contains(&f.action()), "{f:?} implies {:?}", f.action());
        }
        // Each blocker has its own next step.
        let blockers: Vec<Action> =
            Finding::ALL.into_iter().filter(|f| f.severity() == Severity::Blocker).map(Finding::action).collect();
        assert_eq!(blockers, [Action::HandOutCard, Action::TrainIdAdmins, Action::OrderNewCodes]);
    }

    #[test]
    fn codes_read_back_exactly() {
        for f in Finding::ALL {
            assert_eq!(Finding::from_code(f.code()), Some(f));
        }
        assert_eq!(Finding::from_code("unknown_org"), None);
        assert_eq!(Finding::COUNT, 12);
        assert_eq!(Verdict::COUNT, 7);
        assert_eq!(Action::COUNT, 10);
    }

    #[test]
    fn findings_iterate_in_table_order() {
        let mut f = Findings::default();
        f.insert(Finding::UnknownOrg);
        f.insert(Finding::UnissuedOver3Months);
        f.insert(Finding::CodesMissing);
        let codes: Vec<_> = f.iter().map(Finding::code).collect();
        assert_eq!(codes, ["UNISSUED_OVER_3_MONTHS", "CODES_MISSING", "UNKNOWN_ORG"]);
        assert_eq!(f.first_of(Severity::Blocker), Some(Finding::CodesMissing));
        assert!(!f.any_of(Severity::Violation));
    }
}
