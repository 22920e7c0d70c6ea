//! Page sizes and opaque page tokens (AIP-158).
//!
//! A token carries the keyset position and a fingerprint of the caller and
//! the filter it was minted for; a token presented by another caller or with
//! another filter is refused, so a token is no way around a filter.

use sha2::{Digest, Sha256};

use crate::app::AppError;

/// Default page size.
pub const DEFAULT: i32 = 50;
/// Largest page size; larger values are clamped.
pub const MAX: i32 = 1000;

/// Validates and clamps a page size.
pub fn size(page_size: i32) -> Result<i64, AppError> {
    match page_size {
        n if n < 0 => Err(AppError::invalid_field(
            "INVALID_PAGE_SIZE",
            "page_size",
            "must not be negative",
        )),
        0 => Ok(DEFAULT as i64),
        n => Ok(n.min(MAX) as i64),
    }
}

fn fingerprint(scope: &str) -> String {
    hex::encode(&Sha256::digest(scope.as_bytes())[..8])
}

/// Mints a token for the position `after`, bound to `scope` (caller + filter).
pub fn token(scope: &str, after: &str) -> String {
    hex::encode(format!("{}.{}", fingerprint(scope), after))
}

/// Reads a token; empty gives the start position.
pub fn position(scope: &str, token: &str) -> Result<String, AppError> {
    if token.is_empty() {
        return Ok(String::new());
    }
    let bad = || {
        AppError::invalid_field(
            "INVALID_PAGE_TOKEN",
            "page_token",
            "is not a token this server issued for this caller and filter",
        )
    };
    if token.len() > 512 {
        return Err(bad());
    }
    let raw = hex::decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (fp, after) = text.split_once('.').ok_or_else(bad)?;
    if fp != fingerprint(scope) || after.is_empty() {
        return Err(bad());
    }
    Ok(after.to_string())
}

/// Reads a token whose position is a sequence number (the event lists);
/// empty gives 0.
pub fn sequence_position(scope: &str, token: &str) -> Result<i64, AppError> {
    let after = position(scope, token)?;
    if after.is_empty() {
        return Ok(0);
    }
    after
        .parse()
        .map_err(|_| AppError::invalid_field("INVALID_PAGE_TOKEN", "page_token", "is not a token this server issued"))
}

/// The token of the page after `rows`, positioned at the last row's `key`;
/// empty when the page was not full (the list has ended).
pub fn next<T, K: std::fmt::Display + ?Sized>(scope: &str, rows: &[T], limit: i64, key: impl Fn(&T) -> &K) -> String {
    match rows.last() {
        Some(last) if rows.len() as i64 == limit => token(scope, &key(last).to_string()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_scope() {
        let t = token("key1|party=A", "01J");
        assert_eq!(position("key1|party=A", &t).unwrap(), "01J");
        assert!(position("key2|party=A", &t).is_err());
        assert!(position("key1|party=B", &t).is_err());
        assert!(position("key1|party=A", "zz").is_err());
        assert_eq!(position("x", "").unwrap(), "");
    }

    #[test]
    fn sizes_clamp() {
        assert_eq!(size(0).unwrap(), 50);
        assert_eq!(size(5000).unwrap(), 1000);
        assert!(size(-1).is_err());
    }
}
