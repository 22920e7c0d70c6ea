//! The public search (issue 16): what a query means and how a party name is
//! indexed.
//!
//! A query is either a unified social credit code, matched exactly, or part of
//! a party name, matched anywhere in the name. Names are indexed by their
//! character **bigrams** (`上海浦江化工` → `上海`, `海浦`, `浦江`, `江化`, `化工`):
//! every substring of two or more characters of a name has all its bigrams
//! among the name's, so the index narrows the candidates and a substring test
//! on the normalised name decides. Bigrams rather than trigrams because
//! Chinese company names are usually searched by two characters (a brand such
//! as `浦江`), which a trigram index cannot serve. A name query needs at least
//! two characters: one character matches most of the register and is no
//! search at all.
//!
//! Normalisation (the same for names and queries) folds full-width ASCII to
//! half-width, lower-cases, and drops white space, so `ＡＢＣ 贸易` finds
//! `abc贸易`.

use super::ids::CreditCode;

/// Shortest name query, in characters.
pub const MIN_NAME_QUERY: usize = 2;
/// Longest query, in characters (the longest party name is 200).
pub const MAX_QUERY: usize = 200;

/// What a public query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// No query: every active record.
    All,
    /// A valid credit code: the records of that party.
    CreditCode(String),
    /// Part of a party name, normalised (at least [`MIN_NAME_QUERY`] characters).
    Name(String),
}

/// Why a query cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Fewer than two characters of a name.
    #[error("give at least {MIN_NAME_QUERY} characters of a name, or an 18-character unified social credit code")]
    TooShort,
    /// Longer than any name.
    #[error("must be at most {MAX_QUERY} characters")]
    TooLong,
    /// Control characters.
    #[error("contains control characters")]
    ControlCharacters,
}

impl QueryError {
    /// The ErrorInfo reason, in the style of the gRPC field errors.
    pub fn reason(&self) -> &'static str {
        match self {
            QueryError::TooShort => "FIELD_TOO_SHORT",
            QueryError::TooLong => "FIELD_TOO_LONG",
            QueryError::ControlCharacters => "INVALID_CHARACTERS",
        }
    }
}

impl SearchTerm {
    /// Parses a query: empty is [`SearchTerm::All`], a valid credit code is
    /// exact, anything else is part of a name.
    pub fn parse(q: &str) -> Result<SearchTerm, QueryError> {
        let q = q.trim();
        if q.is_empty() {
            return Ok(SearchTerm::All);
        }
        if q.chars().count() > MAX_QUERY {
            return Err(QueryError::TooLong);
        }
        if q.chars().any(char::is_control) {
            return Err(QueryError::ControlCharacters);
        }
        if let Ok(code) = CreditCode::parse(q) {
            return Ok(SearchTerm::CreditCode(code.as_str().to_string()));
        }
        let name = normalize(q);
        if name.chars().count() < MIN_NAME_QUERY {
            return Err(QueryError::TooShort);
        }
        Ok(SearchTerm::Name(name))
    }
}

/// The normalised form of a name or query: full-width ASCII (U+FF01–U+FF5E)
/// folded to ASCII, lower case, white space removed.
pub fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The distinct bigrams of a normalised string, in order of first appearance.
/// A string of fewer than two characters has none.
pub fn bigrams(normalized: &str) -> Vec<String> {
    let chars: Vec<char> = normalized.chars().collect();
    let mut out: Vec<String> = Vec::with_capacity(chars.len().saturating_sub(1));
    for w in chars.windows(2) {
        let g: String = w.iter().collect();
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// The bigrams of a name query that the index looks up: all of them when
/// few, else `max` spread over the query from first to last (the substring
/// test decides anyway; fewer look-ups keep a long query cheap).
pub fn query_bigrams(normalized: &str, max: usize) -> Vec<String> {
    let all = bigrams(normalized);
    if all.len() <= max || max < 2 {
        return all.into_iter().take(max.max(1)).collect();
    }
    let last = all.len() - 1;
    let mut picked: Vec<String> = Vec::with_capacity(max);
    for i in 0..max {
        let g = &all[i * last / (max - 1)];
        if !picked.contains(g) {
            picked.push(g.clone());
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn queries_parse() {
        assert_eq!(SearchTerm::parse("  "), Ok(SearchTerm::All));
        assert_eq!(
            SearchTerm::parse("91350100m000100y43"),
            Ok(SearchTerm::CreditCode("91350100M000100Y43".into()))
        );
        assert_eq!(SearchTerm::parse("浦江"), Ok(SearchTerm::Name("浦江".into())));
        assert_eq!(SearchTerm::parse("浦"), Err(QueryError::TooShort));
        assert_eq!(SearchTerm::parse("a\u{7}b"), Err(QueryError::ControlCharacters));
        assert_eq!(SearchTerm::parse(&"名".repeat(201)), Err(QueryError::TooLong));
        // An 18-character string that is not a valid code is part of a name.
        assert!(matches!(
            SearchTerm::parse("91350100M000100Y44"),
            Ok(SearchTerm::Name(_))
        ));
    }

    #[test]
    fn normalisation_folds_width_case_and_space() {
        assert_eq!(normalize("ＡＢＣ 贸易（上海）"), "abc贸易(上海)");
        assert_eq!(normalize("Abc\u{3000}Trading"), "abctrading");
    }

    #[test]
    fn bigrams_are_distinct_and_ordered() {
        assert_eq!(bigrams("上海浦江"), vec!["上海", "海浦", "浦江"]);
        assert_eq!(bigrams("哈哈哈"), vec!["哈哈"]);
        assert!(bigrams("上").is_empty());
        assert_eq!(query_bigrams("abcdefgh", 3), vec!["ab", "de", "gh"]);
    }

    proptest! {
        /// Every substring of two or more characters of a name has each of its
        /// looked-up bigrams among the name's: the index never loses a match.
        #[test]
        fn a_substring_is_always_found(name in "[a-c上海浦江化工 ]{0,12}", start_pick in 0usize..1000, len_pick in 0usize..1000) {
            let n = normalize(&name);
            let chars: Vec<char> = n.chars().collect();
            // Pick the substring inside the normalized name directly instead of
            // rejecting draws (`prop_assume!` rejected too many and failed at random).
            prop_assume!(chars.len() >= 2);
            let len = 2 + len_pick % (chars.len() - 1).min(6);
            let start = start_pick % (chars.len() - len + 1);
            let sub: String = chars[start..start + len].iter().collect();
            let indexed = bigrams(&n);
            for g in query_bigrams(&sub, 4) {
                prop_assert!(indexed.contains(&g), "{g} of {sub} not in {indexed:?}");
            }
            prop_assert!(n.contains(&sub));
        }
    }
}
