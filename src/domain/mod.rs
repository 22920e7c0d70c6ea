//! Pure domain rules and types: identifiers, the publicity policy, the working-day calendar and
//! the injected clock (shared/design/DOMAIN.md).
//!
//! Nothing here does I/O: no files, network, database or system time. Rule data (the holiday
//! calendar, the publicity policy) is embedded with `include_str!` and parsed from strings, and
//! "now" comes from [`clock`], so every rule is deterministic and testable on its own.

/// An enum stored and sent by its SCREAMING_SNAKE spelling: `as_str`,
/// `parse`, `Display`, `ALL`, serde. One definition for every such enum.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The stored spelling.
            pub fn as_str(&self) -> &'static str { match self { $($name::$v => $s),+ } }
            /// Parses the stored spelling.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some($name::$v),)+ _ => None } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

pub mod calendar;
pub mod clock;

pub mod ids;
pub mod lifecycle;
pub mod notice;
pub mod policy;
pub mod record;
pub mod repair;
pub mod search;

/// A date from its parts: the domain's tests name their dates so.
#[cfg(test)]
pub(crate) fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}
