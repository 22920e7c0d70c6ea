//! Pure domain rules and types: identifiers, the publicity policy, the working-day calendar and
//! the injected clock (shared/design/DOMAIN.md).
//!
//! Nothing here does I/O: no files, network, database or system time. Rule data (the holiday
//! calendar, the publicity policy) is embedded with `include_str!` and parsed from strings, and
//! "now" comes from [`clock`], so every rule is deterministic and testable on its own.

pub mod calendar;
pub mod clock;
pub mod ids;
pub mod lifecycle;
pub mod notice;
pub mod policy;
pub mod record;
pub mod repair;
