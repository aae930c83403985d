//! The one way the notice's closed vocabularies are declared: findings, verdicts,
//! actions, administrator problems, quarantine errors, compliance levels.
//!
//! A vocabulary is a list of entries, each a variant, the code that appears in outputs
//! and, where the vocabulary has them, its facts (a `const` struct value). Everything
//! that follows from the list is generated here so that it cannot drift: the enum (in
//! the list's order, which is the order of output columns and lists), `ALL`, `COUNT`,
//! `code`, `from_code` and `facts`. Any other per-entry fact is an exhaustive `match`
//! written where the fact belongs, with no `_` arm, so a new entry does not compile
//! until every such fact is decided for it.

/// Declares a vocabulary:
///
/// ```text
/// vocabulary! {
///     /// Doc.
///     pub enum Verdict {
///         Ready = "READY",
///         ...
///     }
/// }
/// vocabulary! {
///     pub enum Finding: FindingFacts {
///         UnissuedOver3Months = "UNISSUED_OVER_3_MONTHS" => FindingFacts { ... },
///         ...
///     }
/// }
/// ```
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// How many entries the vocabulary has.
            pub const COUNT: usize = [$($code),+].len();
            /// Every entry in declaration order: `ALL[x as usize] == x`.
            pub const ALL: [$name; Self::COUNT] = [$($name::$variant),+];

            /// The code written in the outputs.
            pub const fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The entry whose code is `code`, exactly.
            pub fn from_code(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The entry at `index` in `ALL` (how a table column holds it as a byte).
            pub const fn from_index(index: u8) -> Option<$name> {
                if (index as usize) < Self::COUNT { Some(Self::ALL[index as usize]) } else { None }
            }

            /// The entry's position in `ALL`, and in every output list or column set
            /// that follows the vocabulary's order.
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $facts:ty {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal => $value:expr),+ $(,)?
        }
    ) => {
        $crate::vocabulary::vocabulary! {
            $(#[$meta])*
            $vis enum $name { $($(#[$vmeta])* $variant = $code),+ }
        }

        impl $name {
            const FACTS: [$facts; Self::COUNT] = [$($value),+];

            /// What the declaration says of this entry.
            pub const fn facts(self) -> $facts {
                Self::FACTS[self as usize]
            }
        }
    };
}

pub(crate) use vocabulary;

#[cfg(test)]
mod tests {
    vocabulary! {
        enum Colour: &'static str {
            Red = "RED" => "röd",
            Blue = "BLUE" => "blå",
        }
    }

    #[test]
    fn everything_follows_from_the_list() {
        assert_eq!(Colour::COUNT, 2);
        assert_eq!(Colour::ALL, [Colour::Red, Colour::Blue]);
        assert_eq!(Colour::Blue.code(), "BLUE");
        assert_eq!(Colour::Blue.index(), 1);
        assert_eq!(Colour::from_index(1), Some(Colour::Blue));
        assert_eq!(Colour::from_index(2), None);
        assert_eq!(Colour::Blue.facts(), "blå");
        assert_eq!(Colour::from_code("RED"), Some(Colour::Red));
        assert_eq!(Colour::from_code("red"), None);
    }
}
