//! The issuer's rules as pure functions over plain values (SPEC "Rules"). Codes,
//! severities and their order live in the tables here and nowhere else.

pub mod admin;
pub mod card;
pub mod policy;

pub use admin::{AdminFacts, AdminProblem, AdminVerdict, OrgClearance};
pub use card::{CardFacts, CardOutcome, SweepDates, evaluate_card};
pub use policy::{IssuerKind, Policy, PolicyFile};

/// Card type as entered in SITHS Admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CardType {
    /// An old card, to be upgraded.
    Siths = 0,
    /// A new SITHS e-id card.
    SithsEid = 1,
}

impl CardType {
    pub const fn label(self) -> &'static str {
        match self {
            CardType::Siths => "SITHS",
            CardType::SithsEid => "SITHS_EID",
        }
    }

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

/// Card status in SITHS Admin, canonical English.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Status {
    Ordered = 0,
    Sent = 1,
    Received = 2,
    Revoked = 3,
}

impl Status {
    pub const fn label(self) -> &'static str {
        match self {
            Status::Ordered => "ordered",
            Status::Sent => "sent",
            Status::Received => "received",
            Status::Revoked => "revoked",
        }
    }

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

/// The twelve card findings, in the order of SPEC's table (which is also the order of
/// the `findings` list and of `org_compliance`'s finding columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Finding {
    UnissuedOver3Months = 0,
    UpgradedBeforeReceived,
    UpgradedAfterDeadline,
    UpgradedBeforeOrgCleared,
    DeadlinePassed,
    AwaitingIssuance,
    OrgNotCleared,
    CodesMissing,
    TooManyCerts,
    ThirdPartyReorder,
    InconsistentDates,
    UnknownOrg,
}

impl Finding {
    pub const ALL: [Finding; 12] = [
        Finding::UnissuedOver3Months,
        Finding::UpgradedBeforeReceived,
        Finding::UpgradedAfterDeadline,
        Finding::UpgradedBeforeOrgCleared,
        Finding::DeadlinePassed,
        Finding::AwaitingIssuance,
        Finding::OrgNotCleared,
        Finding::CodesMissing,
        Finding::TooManyCerts,
        Finding::ThirdPartyReorder,
        Finding::InconsistentDates,
        Finding::UnknownOrg,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Finding::UnissuedOver3Months => "UNISSUED_OVER_3_MONTHS",
            Finding::UpgradedBeforeReceived => "UPGRADED_BEFORE_RECEIVED",
            Finding::UpgradedAfterDeadline => "UPGRADED_AFTER_DEADLINE",
            Finding::UpgradedBeforeOrgCleared => "UPGRADED_BEFORE_ORG_CLEARED",
            Finding::DeadlinePassed => "DEADLINE_PASSED",
            Finding::AwaitingIssuance => "AWAITING_ISSUANCE",
            Finding::OrgNotCleared => "ORG_NOT_CLEARED",
            Finding::CodesMissing => "CODES_MISSING",
            Finding::TooManyCerts => "TOO_MANY_CERTS",
            Finding::ThirdPartyReorder => "THIRD_PARTY_REORDER",
            Finding::InconsistentDates => "INCONSISTENT_DATES",
            Finding::UnknownOrg => "UNKNOWN_ORG",
        }
    }

    pub const fn severity(self) -> Severity {
        match self {
            Finding::UnissuedOver3Months | Finding::UpgradedBeforeReceived => Severity::Revoke,
            Finding::UpgradedAfterDeadline | Finding::UpgradedBeforeOrgCleared => Severity::Violation,
            Finding::DeadlinePassed => Severity::Replace,
            Finding::AwaitingIssuance | Finding::OrgNotCleared | Finding::CodesMissing => Severity::Blocker,
            Finding::TooManyCerts => Severity::Warning,
            Finding::ThirdPartyReorder => Severity::Action,
            Finding::InconsistentDates | Finding::UnknownOrg => Severity::Data,
        }
    }

    const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// A set of findings as a bit mask; iterates in the table's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Findings(pub u16);

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

/// SPEC "Verdict", in output order for the org report columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Verdict {
    Ready = 0,
    Blocked,
    Upgraded,
    Violation,
    Revoke,
    Replace,
    OutOfScope,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Ready,
        Verdict::Blocked,
        Verdict::Upgraded,
        Verdict::Violation,
        Verdict::Revoke,
        Verdict::Replace,
        Verdict::OutOfScope,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Verdict::Ready => "READY",
            Verdict::Blocked => "BLOCKED",
            Verdict::Upgraded => "UPGRADED",
            Verdict::Violation => "VIOLATION",
            Verdict::Revoke => "REVOKE",
            Verdict::Replace => "REPLACE",
            Verdict::OutOfScope => "OUT_OF_SCOPE",
        }
    }
}

/// The organisation's next step for a card (SPEC "`action`").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Action {
    Revoke,
    Review,
    ReorderThirdPartyCerts,
    None,
    OrderNewCard,
    HandOutCard,
    TrainIdAdmins,
    OrderNewCodes,
    RemoveCertsThenUpgrade,
    Upgrade,
}

impl Action {
    /// Every action, in declaration order (`ALL[a as usize] == a`).
    pub const ALL: [Action; 10] = [
        Action::Revoke,
        Action::Review,
        Action::ReorderThirdPartyCerts,
        Action::None,
        Action::OrderNewCard,
        Action::HandOutCard,
        Action::TrainIdAdmins,
        Action::OrderNewCodes,
        Action::RemoveCertsThenUpgrade,
        Action::Upgrade,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Action::Revoke => "revoke",
            Action::Review => "review",
            Action::ReorderThirdPartyCerts => "reorder_third_party_certs",
            Action::None => "none",
            Action::OrderNewCard => "order_new_card",
            Action::HandOutCard => "hand_out_card",
            Action::TrainIdAdmins => "train_id_admins",
            Action::OrderNewCodes => "order_new_codes",
            Action::RemoveCertsThenUpgrade => "remove_certs_then_upgrade",
            Action::Upgrade => "upgrade",
        }
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
