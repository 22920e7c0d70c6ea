//! Identifiers of the parties to a penalty decision (DOMAIN.md §2).
//!
//! Both identifiers are parsed, not merely validated: once a value of type [`CreditCode`] or
//! [`IdNumber`] exists, its length, character set and check character are known to be right, so
//! the rest of the service never re-checks them.
//!
//! Errors ([`IdError`]) name the failing position and character but never echo the whole input,
//! because the input may be a resident ID number, which must never reach a log.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// Number of characters in both a credit code and a resident ID number.
const LEN: usize = 18;

/// The 31 characters a unified social credit code may contain, in value order
/// (GB 32100-2015 Table 1: the digits and the upper-case Latin letters without I, O, S, V, Z).
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1..=17 of a credit code: `3^(i-1) mod 31` (GB 32100-2015 §5).
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Weights of positions 1..=17 of a resident ID number (GB 11643-1999, ISO 7064 MOD 11-2).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check characters of a resident ID number, indexed by the weighted sum mod 11
/// (GB 11643-1999 §7.1).
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Why a string is not a valid identifier.
///
/// Positions are 1-based, as in the standards. The messages never contain the whole input,
/// because ID numbers are personal data (DOMAIN.md §3 "Personal data").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The trimmed input does not have the length the standard prescribes.
    #[error("wrong length: expected {expected} characters, got {got}")]
    Length {
        /// The required number of characters (18 for both identifiers).
        expected: usize,
        /// The number of characters found after trimming.
        got: usize,
    },
    /// A character outside the permitted set for its position.
    #[error("character {ch:?} is not allowed at position {position}")]
    Charset {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character (after upper-casing).
        ch: char,
    },
    /// Positions 1..=17 are well formed but the 18th character is not their check character.
    #[error("check character mismatch: expected {expected:?}, got {got:?}")]
    CheckCharacter {
        /// The check character computed from positions 1..=17.
        expected: char,
        /// The 18th character of the input.
        got: char,
    },
    /// Positions 7..=14 of an ID number are not a real calendar date (GB 11643-1999 §6.2).
    #[error("positions 7-14 are not a valid birth date (YYYYMMDD)")]
    BirthDate,
}

/// Value (0..=30) of a credit-code character, or `None` if it is not in the GB 32100 set.
fn credit_value(ch: char) -> Option<u32> {
    let byte = u8::try_from(ch).ok()?;
    CREDIT_CHARSET
        .iter()
        .position(|&c| c == byte)
        .and_then(|i| u32::try_from(i).ok())
}

/// Check character for 17 values already known to be in 0..=30.
fn credit_check_from_values(values: &[u32; 17]) -> char {
    let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    let idx = (31 - sum % 31) % 31;
    // `idx` is in 0..=30, so the index is always in bounds; fall back to '0' only to avoid a
    // panic path.
    CREDIT_CHARSET.get(idx as usize).map_or('0', |&b| char::from(b))
}

/// Computes the check character (position 18) of a unified social credit code from its first 17
/// characters, per GB 32100-2015 §5: `charset[(31 - Σ value_i·w_i mod 31) mod 31]`.
///
/// Public so that tests and demo-data generators can make valid codes. `first17` must be exactly
/// 17 characters from `0123456789ABCDEFGHJKLMNPQRTUWXY` (upper case, no trimming); anything else
/// gives `None`.
pub fn compute_check_char(first17: &str) -> Option<char> {
    let mut values = [0u32; 17];
    let mut chars = first17.chars();
    for slot in &mut values {
        *slot = credit_value(chars.next()?)?;
    }
    if chars.next().is_some() {
        return None;
    }
    Some(credit_check_from_values(&values))
}

/// Trims, upper-cases ASCII letters and checks the character count; shared by both parsers.
fn normalise(s: &str) -> Result<Vec<char>, IdError> {
    let chars: Vec<char> = s.trim().chars().map(|c| c.to_ascii_uppercase()).collect();
    if chars.len() != LEN {
        return Err(IdError::Length {
            expected: LEN,
            got: chars.len(),
        });
    }
    Ok(chars)
}

/// 统一社会信用代码 — unified social credit code of an organisation or individual business
/// (GB 32100-2015).
///
/// Always 18 upper-case characters with a correct check character. Unknown registering
/// department (position 1) and organisation class (position 2) codes are accepted, because later
/// amendments to the code scheme added new ones (DOMAIN.md §2). A credit code is public
/// information, so `Debug` prints it in full.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses a credit code: trims surrounding whitespace, upper-cases, then checks length (18),
    /// the GB 32100-2015 character set and the check character.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let chars = normalise(s)?;
        let mut values = [0u32; 17];
        for (i, &ch) in chars.iter().enumerate() {
            let value = credit_value(ch).ok_or(IdError::Charset { position: i + 1, ch })?;
            if let Some(slot) = values.get_mut(i) {
                *slot = value;
            }
        }
        let expected = credit_check_from_values(&values);
        let got = chars.get(LEN - 1).copied().unwrap_or_default();
        if expected != got {
            return Err(IdError::CheckCharacter { expected, got });
        }
        Ok(Self(chars.into_iter().collect()))
    }

    /// The normalised (upper-case) code, e.g. for storage and the CF_XDR_SHXYM export column.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the code belongs to a 个体工商户 (individual business): registering department 9
    /// (market regulation) and class 2, i.e. the code starts with `92` (GB 32100-2015 Table 2).
    /// Such parties are exported with CF_XDR_LB = 个体工商户.
    pub fn is_individual_business(&self) -> bool {
        self.0.starts_with("92")
    }
}

impl fmt::Display for CreditCode {
    /// Prints the bare code, as it appears on decisions and in exports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CreditCode {
    type Err = IdError;

    /// Same as [`CreditCode::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Computes the check character (position 18) of a resident ID number from its first 17
/// characters, per GB 11643-1999 (ISO 7064 MOD 11-2): `"10X98765432"[Σ digit_i·w_i mod 11]`.
///
/// Public so that tests and demo-data generators can make valid numbers. `first17` must be
/// exactly 17 ASCII digits, otherwise `None`. The birth date is **not** checked here; see
/// [`IdNumber::parse`].
pub fn compute_id_check_char(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut chars = first17.chars();
    for w in ID_WEIGHTS {
        sum += chars.next()?.to_digit(10)? * w;
    }
    if chars.next().is_some() {
        return None;
    }
    ID_CHECK_CHARS.get((sum % 11) as usize).map(|&b| char::from(b))
}

/// 居民身份证号码 — resident identity card number of a natural person (GB 11643-1999).
///
/// Always 18 characters: 17 digits (whose positions 7..=14 are a real birth date) and a check
/// character `0-9` or `X` (a lower-case `x` is accepted and normalised). ID numbers are personal
/// data that must never appear in logs or public output (DOMAIN.md §3), so `Debug` is redacted.
/// `Display` and [`IdNumber::as_str`] give the full number for the few places that need it
/// (storage, role-restricted and audited reads) — never format one into a log line.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses an ID number: trims, upper-cases `x`, then checks length (18), that positions
    /// 1..=17 are digits and 18 is a digit or `X`, that positions 7..=14 are a real date
    /// (YYYYMMDD), and the MOD 11-2 check character.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let chars = normalise(s)?;
        for (i, &ch) in chars.iter().enumerate() {
            let ok = ch.is_ascii_digit() || (i == LEN - 1 && ch == 'X');
            if !ok {
                return Err(IdError::Charset { position: i + 1, ch });
            }
        }
        let value: String = chars.iter().collect();
        // All 18 characters are ASCII here, so byte slicing is on character boundaries.
        let birth = value.get(6..14).ok_or(IdError::BirthDate)?;
        if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
            return Err(IdError::BirthDate);
        }
        let first17 = value.get(..LEN - 1).ok_or(IdError::BirthDate)?;
        let expected = compute_id_check_char(first17).ok_or(IdError::Length {
            expected: LEN,
            got: chars.len(),
        })?;
        let got = chars.get(LEN - 1).copied().unwrap_or_default();
        if expected != got {
            return Err(IdError::CheckCharacter { expected, got });
        }
        Ok(Self(value))
    }

    /// The full normalised number. Only for storage and audited, role-restricted reads.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdNumber {
    /// Prints the full number (for the internal, audited uses that need it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IdNumber {
    /// Redacted: `{:?}` ends up in logs and panic messages, where ID numbers must never appear.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdNumber(<redacted>)")
    }
}

impl FromStr for IdNumber {
    type Err = IdError;

    /// Same as [`IdNumber::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_examples_parse() {
        for s in ["91350100M000100Y43", "91310000MA1K000006", "11230500001755309F"] {
            let code = CreditCode::parse(s).unwrap();
            assert_eq!(code.as_str(), s);
            assert_eq!(code.to_string(), s);
            assert_eq!(s.parse::<CreditCode>().unwrap(), code);
        }
    }

    #[test]
    fn credit_code_is_trimmed_and_upper_cased() {
        let code = CreditCode::parse("  91310000ma1k000006\t").unwrap();
        assert_eq!(code.as_str(), "91310000MA1K000006");
    }

    #[test]
    fn compute_check_char_matches_examples() {
        assert_eq!(compute_check_char("91350100M000100Y4"), Some('3'));
        assert_eq!(compute_check_char("91310000MA1K00000"), Some('6'));
        assert_eq!(compute_check_char("11230500001755309"), Some('F'));
        assert_eq!(compute_check_char("91310000MA1K0000"), None);
        assert_eq!(compute_check_char("91310000MA1K000000"), None);
        assert_eq!(compute_check_char("91310000MA1K0000I"), None);
        assert_eq!(compute_check_char("91310000ma1k00000"), None);
    }

    #[test]
    fn credit_code_length_error() {
        assert_eq!(
            CreditCode::parse("91310000MA1K00000"),
            Err(IdError::Length { expected: 18, got: 17 })
        );
        assert_eq!(CreditCode::parse(""), Err(IdError::Length { expected: 18, got: 0 }));
        // Non-ASCII input is counted in characters, not bytes.
        assert_eq!(
            CreditCode::parse("統一社會信用代碼"),
            Err(IdError::Length { expected: 18, got: 8 })
        );
    }

    #[test]
    fn credit_code_charset_error() {
        // 'O' is excluded from the GB 32100 set (it looks like '0').
        assert_eq!(
            CreditCode::parse("91310000MA1KO00006"),
            Err(IdError::Charset { position: 13, ch: 'O' })
        );
        assert_eq!(
            CreditCode::parse("I1310000MA1K000006"),
            Err(IdError::Charset { position: 1, ch: 'I' })
        );
    }

    #[test]
    fn credit_code_check_error() {
        assert_eq!(
            CreditCode::parse("91310000MA1K000007"),
            Err(IdError::CheckCharacter {
                expected: '6',
                got: '7'
            })
        );
    }

    #[test]
    fn unknown_department_and_class_are_accepted() {
        // Department 'Y', class 'Y' exist in no edition of the standard's tables.
        let first17 = "YY310000MA1K00000";
        let check = compute_check_char(first17).unwrap();
        let code = CreditCode::parse(&format!("{first17}{check}")).unwrap();
        assert!(!code.is_individual_business());
    }

    #[test]
    fn individual_business_prefix() {
        let first17 = "92310000MA1K00000";
        let check = compute_check_char(first17).unwrap();
        let code = CreditCode::parse(&format!("{first17}{check}")).unwrap();
        assert!(code.is_individual_business());
        assert!(
            !CreditCode::parse("91310000MA1K000006")
                .unwrap()
                .is_individual_business()
        );
    }

    #[test]
    fn credit_code_debug_is_plain() {
        let code = CreditCode::parse("91310000MA1K000006").unwrap();
        assert_eq!(format!("{code:?}"), "CreditCode(\"91310000MA1K000006\")");
    }

    #[test]
    fn id_number_example_parses() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.to_string(), "11010519491231002X");
        assert_eq!(compute_id_check_char("11010519491231002"), Some('X'));
    }

    #[test]
    fn id_number_lower_case_x_is_normalised() {
        let id: IdNumber = " 11010519491231002x ".parse().unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn id_number_debug_is_redacted() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        let dbg = format!("{id:?}");
        assert_eq!(dbg, "IdNumber(<redacted>)");
        assert!(!dbg.contains("110105"));
        assert!(!format!("{:?}", Some(id)).contains("1949"));
    }

    #[test]
    fn id_number_bad_date() {
        // 1949-02-31 does not exist.
        let first17 = "11010519490231002";
        let check = compute_id_check_char(first17).unwrap();
        assert_eq!(IdNumber::parse(&format!("{first17}{check}")), Err(IdError::BirthDate));
        // Month 13.
        let first17 = "11010519491331002";
        let check = compute_id_check_char(first17).unwrap();
        assert_eq!(IdNumber::parse(&format!("{first17}{check}")), Err(IdError::BirthDate));
    }

    #[test]
    fn id_number_bad_check() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdError::CheckCharacter {
                expected: 'X',
                got: '1'
            })
        );
    }

    #[test]
    fn id_number_charset_and_length() {
        assert_eq!(
            IdNumber::parse("1101051949123100X2"),
            Err(IdError::Charset { position: 17, ch: 'X' })
        );
        assert_eq!(
            IdNumber::parse("11010519491231002Y"),
            Err(IdError::Charset { position: 18, ch: 'Y' })
        );
        assert_eq!(
            IdNumber::parse("110105194912310"),
            Err(IdError::Length { expected: 18, got: 15 })
        );
        assert_eq!(compute_id_check_char("1101051949123100X"), None);
        assert_eq!(compute_id_check_char("1101051949123100"), None);
    }

    #[test]
    fn error_messages_never_contain_the_input() {
        let inputs = [
            "110105194912310021",
            "11010519490231002X",
            "1101051949123100X2",
            "11010519491231002",
            "91310000MA1K000007",
        ];
        for input in inputs {
            let msgs = [
                IdNumber::parse(input).err().map(|e| e.to_string()),
                CreditCode::parse(input).err().map(|e| e.to_string()),
            ];
            for msg in msgs.into_iter().flatten() {
                assert!(!msg.contains(input), "{msg}");
                assert!(!msg.contains(&input[..10]), "{msg}");
            }
        }
    }

    /// A strategy for 17 characters from the GB 32100 set.
    fn credit_prefix() -> impl Strategy<Value = String> {
        proptest::collection::vec(0usize..31, 17)
            .prop_map(|ix| ix.into_iter().map(|i| char::from(CREDIT_CHARSET[i])).collect())
    }

    /// A strategy for the first 17 digits of an ID number with a real birth date.
    fn id_prefix() -> impl Strategy<Value = String> {
        (0u32..1_000_000, 1900i32..2100, 1u32..=12, 1u32..=31, 0u32..1000).prop_filter_map(
            "real date",
            |(area, y, m, d, seq)| {
                NaiveDate::from_ymd_opt(y, m, d).map(|date| format!("{area:06}{}{seq:03}", date.format("%Y%m%d")))
            },
        )
    }

    proptest! {
        #[test]
        fn credit_check_char_round_trips(prefix in credit_prefix(), other in 0usize..31) {
            let check = compute_check_char(&prefix).unwrap();
            let code = CreditCode::parse(&format!("{prefix}{check}")).unwrap();
            prop_assert_eq!(code.as_str(), format!("{prefix}{check}"));
            let wrong = char::from(CREDIT_CHARSET[other]);
            if wrong != check {
                prop_assert_eq!(
                    CreditCode::parse(&format!("{prefix}{wrong}")),
                    Err(IdError::CheckCharacter { expected: check, got: wrong })
                );
            }
        }

        #[test]
        fn id_check_char_round_trips(prefix in id_prefix(), other in 0usize..11) {
            let check = compute_id_check_char(&prefix).unwrap();
            let id = IdNumber::parse(&format!("{prefix}{check}")).unwrap();
            prop_assert_eq!(id.as_str(), format!("{prefix}{check}"));
            let wrong = char::from(ID_CHECK_CHARS[other]);
            if wrong != check {
                prop_assert_eq!(
                    IdNumber::parse(&format!("{prefix}{wrong}")),
                    Err(IdError::CheckCharacter { expected: check, got: wrong })
                );
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = CreditCode::parse(&s);
            let _ = IdNumber::parse(&s);
        }
    }
}
