//! Certificates (SPEC "Per card" and the revocation lists): which are active, how they
//! count on their card, and which ones the CA must revoke.

use super::{IssuerKind, Verdict};

/// A certificate as the rules see it: its issuer kind and whether it is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertState {
    pub kind: IssuerKind,
    pub active: bool,
}

impl CertState {
    /// One byte, as a certificate part keeps it (`Table::derived`): the kind in the low
    /// two bits, activity in the third.
    pub const fn to_byte(self) -> u8 {
        let kind = match self.kind {
            IssuerKind::CardIssuer => 0,
            IssuerKind::Telia => 1,
            IssuerKind::ThirdParty => 2,
        };
        kind | (self.active as u8) << 2
    }

    pub fn from_byte(b: u8) -> CertState {
        let kind = match b & 3 {
            0 => IssuerKind::CardIssuer,
            1 => IssuerKind::Telia,
            2 => IssuerKind::ThirdParty,
            _ => panic!("{b:#04x} is not a certificate state"),
        };
        CertState { kind, active: b & 4 != 0 }
    }
}

/// Active as of D: "not revoked, and not_after null or its local date ≥ D", where
/// `start_of_as_of` is the local midnight that starts D (so a not_after at that very
/// instant is still active).
pub fn is_active(revoked: Option<bool>, not_after: Option<i64>, start_of_as_of: i64) -> bool {
    revoked != Some(true) && not_after.is_none_or(|t| t >= start_of_as_of)
}

/// The CA revokes an active card-issuer certificate of a REVOKE card; other issuers'
/// certificates and inactive ones are not the card issuer's to revoke.
pub fn ca_revokes(verdict: Verdict, cert: CertState) -> bool {
    verdict == Verdict::Revoke && cert.kind == IssuerKind::CardIssuer && cert.active
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [IssuerKind; 3] = [IssuerKind::CardIssuer, IssuerKind::Telia, IssuerKind::ThirdParty];

    #[test]
    fn states_survive_their_byte() {
        for kind in KINDS {
            for active in [false, true] {
                let s = CertState { kind, active };
                assert_eq!(CertState::from_byte(s.to_byte()), s);
            }
        }
    }

    #[test]
    fn active_until_the_midnight_starting_d() {
        let midnight = 1_000;
        assert!(is_active(None, None, midnight));
        assert!(is_active(Some(false), None, midnight));
        assert!(is_active(None, Some(midnight), midnight), "not_after at the midnight starting D");
        assert!(!is_active(None, Some(midnight - 1), midnight), "one microsecond before it");
        assert!(!is_active(Some(true), None, midnight));
        assert!(!is_active(Some(true), Some(midnight + 1), midnight));
    }

    #[test]
    fn the_ca_revokes_only_active_card_issuer_certificates_of_revoke_cards() {
        for verdict in Verdict::ALL {
            for kind in KINDS {
                for active in [false, true] {
                    let expected = verdict == Verdict::Revoke && kind == IssuerKind::CardIssuer && active;
                    assert_eq!(
                        ca_revokes(verdict, CertState { kind, active }),
                        expected,
                        "{verdict:?} {kind:?} {active}"
                    );
                }
            }
        }
    }
}
