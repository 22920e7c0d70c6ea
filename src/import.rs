//! `gongshi import FILE`: historical penalty decisions from a CSV or XLSX file
//! in the national 双公示 column order (DOMAIN.md §3), as the 信用中国 templates
//! lay them out.
//!
//! Columns are found by their header — the Chinese name (`行政相对人名称`), the
//! field code (`CF_XDR_MC`), the export's combined form
//! (`行政相对人名称(CF_XDR_MC)`) or the template's (`行政相对人代码_1(统一社会信用代码)`)
//! — so their order and exact spelling do not matter. Optional extra columns
//! `程序`, `行业` and `信息类别` carry what the national columns do not; the
//! command line gives their defaults. `公示截止期` is not read: the policy
//! computes it. The optional `公示日期` (also `公示时间`, `CF_GSRQ`) is the day
//! the decision was published; without it that day is unknown — never the
//! day of the import — and the annual report counts such decisions apart.
//!
//! Each row becomes the application's [`DecisionInput`] and is validated by
//! [`decision_doc`], the same code that validates `CreatePenaltyDecision`,
//! then recorded and published by [`App::import_decision`]. A row whose
//! authority already has its decision number counts as already present, so
//! importing a file again creates nothing twice. Bad rows are listed in
//! `FILE.errors.csv` (row, column, reason — never the value of an ID-number
//! column).
//!
//! It uses nothing of the API layer: it builds application inputs and calls
//! the application; it writes no SQL.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::app::import::{ImportItem, ImportSource, import_caller};
use crate::app::input::{Choice, DecisionInput, OrgInput, PartyInput, RepresentativeInput, decision_doc};
use crate::app::{App, AppError, FieldViolation};
use crate::domain::policy::{PartyKind, PenaltyKind, Procedure, Sector, Severity};
use crate::domain::record::{DecisionDoc, IdType};

/// Decisions per transaction: one transaction per row spends most of the
/// import's time committing (measured: about twice as slow on SQLite).
const BATCH: usize = 100;

/// A column gongshi reads: the 30 national ones in order, then the extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// 行政相对人名称 (CF_XDR_MC).
    PartyName,
    /// 行政相对人类别 (CF_XDR_LB).
    PartyKind,
    /// 统一社会信用代码 (CF_XDR_SHXYM).
    PartyCreditCode,
    /// 工商注册号 (CF_XDR_GSZC).
    BusinessRegistration,
    /// 组织机构代码 (CF_XDR_ZZJG).
    OrganizationCode,
    /// 税务登记号 (CF_XDR_SWDJ).
    TaxRegistration,
    /// 事业单位证书号 (CF_XDR_SYDW).
    PublicInstitution,
    /// 社会组织登记证号 (CF_XDR_SHZZ).
    SocialOrganization,
    /// 法定代表人 (CF_FRDB).
    RepName,
    /// 法定代表人证件类型 (CF_FR_ZJLX).
    RepIdType,
    /// 法定代表人证件号码 (CF_FR_ZJHM): sensitive.
    RepIdNumber,
    /// 证件类型 (CF_XDR_ZJLX).
    PartyIdType,
    /// 证件号码 (CF_XDR_ZJHM): sensitive.
    PartyIdNumber,
    /// 行政处罚决定书文号 (CF_WSH).
    DecisionNumber,
    /// 违法行为类型 (CF_WFXW).
    ViolationType,
    /// 违法事实 (CF_SY).
    ViolationFacts,
    /// 处罚依据 (CF_YJ).
    LegalBasis,
    /// 处罚类别 (CF_CFLB).
    PenaltyKinds,
    /// 处罚内容 (CF_NR).
    PenaltyContent,
    /// 罚款金额（万元） (CF_NR_FK).
    Fine,
    /// 没收违法所得、没收非法财物的金额（万元） (CF_NR_WFFF).
    Confiscation,
    /// 暂扣或吊销证照名称及编号 (CF_NR_ZKDX).
    LicenseAction,
    /// 处罚决定日期 (CF_JDRQ).
    DecidedOn,
    /// 处罚有效期 (CF_YXQ).
    EffectiveUntil,
    /// 公示截止期 (CF_GSJZQ): not read, the policy computes it.
    PublicityEndsOn,
    /// 处罚机关 (CF_CFJG).
    AuthorityName,
    /// 处罚机关统一社会信用代码 (CF_CFJGDM).
    AuthorityCreditCode,
    /// 数据来源单位 (CF_SJLY).
    SourceName,
    /// 数据来源单位统一社会信用代码 (CF_SJLYDM).
    SourceCreditCode,
    /// 备注 (BZ).
    Remarks,
    /// 程序 (extra): 简易程序 / 普通程序.
    Procedure,
    /// 行业 (extra): 安全生产 / 消防 / 食品 / 药品 / 特种设备 / 其他.
    Sector,
    /// 信息类别 (extra): 轻微 / 一般 / 严重.
    Severity,
    /// 公示日期 (extra): the day the decision was published, if known.
    PublishedOn,
}

struct Spec {
    col: Column,
    name: &'static str,
    code: &'static str,
    aliases: &'static [&'static str],
    required: bool,
}

const fn spec(
    col: Column,
    name: &'static str,
    code: &'static str,
    aliases: &'static [&'static str],
    required: bool,
) -> Spec {
    Spec {
        col,
        name,
        code,
        aliases,
        required,
    }
}

/// The national columns (DOMAIN.md §3, in order) and the extras. A file
/// without a required column is refused before anything is imported.
const SPECS: &[Spec] = &[
    spec(Column::PartyName, "行政相对人名称", "CF_XDR_MC", &[], true),
    spec(Column::PartyKind, "行政相对人类别", "CF_XDR_LB", &[], true),
    spec(
        Column::PartyCreditCode,
        "统一社会信用代码",
        "CF_XDR_SHXYM",
        &["行政相对人代码_1"],
        true,
    ),
    spec(
        Column::BusinessRegistration,
        "工商注册号",
        "CF_XDR_GSZC",
        &["行政相对人代码_2"],
        false,
    ),
    spec(
        Column::OrganizationCode,
        "组织机构代码",
        "CF_XDR_ZZJG",
        &["行政相对人代码_3"],
        false,
    ),
    spec(
        Column::TaxRegistration,
        "税务登记号",
        "CF_XDR_SWDJ",
        &["行政相对人代码_4"],
        false,
    ),
    spec(
        Column::PublicInstitution,
        "事业单位证书号",
        "CF_XDR_SYDW",
        &["行政相对人代码_5"],
        false,
    ),
    spec(
        Column::SocialOrganization,
        "社会组织登记证号",
        "CF_XDR_SHZZ",
        &["行政相对人代码_6"],
        false,
    ),
    spec(Column::RepName, "法定代表人", "CF_FRDB", &[], false),
    spec(Column::RepIdType, "法定代表人证件类型", "CF_FR_ZJLX", &[], false),
    spec(Column::RepIdNumber, "法定代表人证件号码", "CF_FR_ZJHM", &[], false),
    spec(Column::PartyIdType, "证件类型", "CF_XDR_ZJLX", &[], false),
    spec(Column::PartyIdNumber, "证件号码", "CF_XDR_ZJHM", &[], false),
    spec(Column::DecisionNumber, "行政处罚决定书文号", "CF_WSH", &[], true),
    spec(Column::ViolationType, "违法行为类型", "CF_WFXW", &[], true),
    spec(Column::ViolationFacts, "违法事实", "CF_SY", &[], true),
    spec(Column::LegalBasis, "处罚依据", "CF_YJ", &[], true),
    spec(Column::PenaltyKinds, "处罚类别", "CF_CFLB", &[], true),
    spec(Column::PenaltyContent, "处罚内容", "CF_NR", &[], true),
    spec(Column::Fine, "罚款金额（万元）", "CF_NR_FK", &["罚款金额"], true),
    spec(
        Column::Confiscation,
        "没收违法所得、没收非法财物的金额（万元）",
        "CF_NR_WFFF",
        &["没收违法所得、没收非法财物的金额"],
        false,
    ),
    spec(
        Column::LicenseAction,
        "暂扣或吊销证照名称及编号",
        "CF_NR_ZKDX",
        &[],
        false,
    ),
    spec(Column::DecidedOn, "处罚决定日期", "CF_JDRQ", &[], true),
    spec(Column::EffectiveUntil, "处罚有效期", "CF_YXQ", &[], false),
    spec(Column::PublicityEndsOn, "公示截止期", "CF_GSJZQ", &[], false),
    spec(Column::AuthorityName, "处罚机关", "CF_CFJG", &[], true),
    spec(
        Column::AuthorityCreditCode,
        "处罚机关统一社会信用代码",
        "CF_CFJGDM",
        &[],
        true,
    ),
    spec(Column::SourceName, "数据来源单位", "CF_SJLY", &[], false),
    spec(
        Column::SourceCreditCode,
        "数据来源单位统一社会信用代码",
        "CF_SJLYDM",
        &[],
        false,
    ),
    spec(Column::Remarks, "备注", "BZ", &[], false),
    spec(Column::Procedure, "程序", "PROCEDURE", &["处罚程序"], false),
    spec(Column::Sector, "行业", "SECTOR", &["所属行业"], false),
    spec(Column::Severity, "信息类别", "SEVERITY", &[], false),
    spec(Column::PublishedOn, "公示日期", "CF_GSRQ", &["公示时间"], false),
];

impl Column {
    fn spec(self) -> &'static Spec {
        SPECS.iter().find(|s| s.col == self).unwrap_or(&SPECS[0])
    }

    /// The Chinese name, e.g. `行政相对人名称`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The field code, e.g. `CF_XDR_MC` (extras: `PROCEDURE`, `SECTOR`,
    /// `SEVERITY`, `CF_GSRQ`).
    pub fn code(self) -> &'static str {
        self.spec().code
    }

    /// Whether the column holds an ID number (personal data): its values are
    /// never written to the error report.
    pub fn is_id_number(self) -> bool {
        matches!(self, Column::RepIdNumber | Column::PartyIdNumber)
    }
}

/// Header text as compared: no whitespace, BOM or `*` (required-column
/// marks), ASCII parentheses, upper-case ASCII.
fn normalize_header(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}' && *c != '*')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '＿' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn header_names() -> HashMap<String, Column> {
    let mut m = HashMap::new();
    for s in SPECS {
        for n in [s.name, s.code].iter().chain(s.aliases) {
            m.insert(normalize_header(n), s.col);
        }
    }
    m
}

/// The column a header names, if any: the whole text, or else the part in
/// or before its last parentheses (`名称(CODE)`, `代码_1(名称)`, `名称（万元）`).
fn match_header(h: &str, names: &HashMap<String, Column>) -> Option<Column> {
    let n = normalize_header(h);
    if let Some(c) = names.get(&n) {
        return Some(*c);
    }
    let inside = n.strip_suffix(')')?;
    let open = inside.rfind('(')?;
    let (outer, inner) = (&inside[..open], &inside[open + 1..]);
    match (names.get(inner), names.get(outer)) {
        (Some(a), Some(b)) if a != b => None,
        (Some(a), _) | (None, Some(a)) => Some(*a),
        (None, None) => None,
    }
}

/// Where each column is in the file, and its header as written there.
#[derive(Debug)]
pub struct Layout {
    index: HashMap<Column, usize>,
    header: HashMap<Column, String>,
    ignored: Vec<String>,
}

impl Layout {
    /// Finds the columns in a header row; `Err` names the missing or doubled ones.
    pub fn from_header(header: &[String]) -> Result<Layout, String> {
        let names = header_names();
        let mut layout = Layout {
            index: HashMap::new(),
            header: HashMap::new(),
            ignored: Vec::new(),
        };
        for (i, h) in header.iter().enumerate() {
            if h.trim().is_empty() {
                continue;
            }
            match match_header(h, &names) {
                Some(col) => {
                    if let Some(prev) = layout.header.get(&col) {
                        return Err(format!(
                            "columns {prev:?} and {:?} both hold {} ({})",
                            h.trim(),
                            col.name(),
                            col.code()
                        ));
                    }
                    layout.index.insert(col, i);
                    layout.header.insert(col, h.trim().to_string());
                }
                None => layout.ignored.push(h.trim().to_string()),
            }
        }
        let missing: Vec<String> = SPECS
            .iter()
            .filter(|s| s.required && !layout.index.contains_key(&s.col))
            .map(|s| format!("{} ({})", s.name, s.code))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing required column{} {}; the first row must be the header (national names or field codes, DOMAIN.md §3)",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ));
        }
        Ok(layout)
    }

    fn get<'a>(&self, cells: &'a [String], col: Column) -> &'a str {
        self.index
            .get(&col)
            .and_then(|&i| cells.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }

    /// The column's name in the report: its header as written in the file.
    fn label(&self, col: Column) -> String {
        self.header
            .get(&col)
            .cloned()
            .unwrap_or_else(|| format!("{}({})", col.name(), col.code()))
    }
}

/// 万元 (at most six decimals) → fen, exactly, with integer arithmetic:
/// 1 万元 = 1,000,000 fen, so `"0.200000"` (2,000 元) → 200,000. Empty is 0.
/// A leading `-` is kept (the validation then refuses a negative amount, as
/// the API does); more than six decimals is refused unless the extra ones
/// are zeros (no value is lost).
pub fn wanyuan_to_fen(s: &str) -> Result<i64, String> {
    const NOT_AMOUNT: &str = "is not an amount in 万元 (digits with at most six decimals, e.g. 0.200000)";
    let t = s.trim();
    if t.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(NOT_AMOUNT.into());
    }
    let frac = if frac.len() > 6 {
        if frac[6..].bytes().any(|b| b != b'0') {
            return Err("has more than six decimals: 万元 are exact to the fen (0.000001 万元)".into());
        }
        &frac[..6]
    } else {
        frac
    };
    let too_large = || "is too large".to_string();
    let int_part: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| too_large())?
    };
    let frac_part: i64 = format!("{frac:0<6}").parse().map_err(|_| NOT_AMOUNT.to_string())?;
    let fen = int_part
        .checked_mul(1_000_000)
        .and_then(|v| v.checked_add(frac_part))
        .ok_or_else(too_large)?;
    Ok(if negative { -fen } else { fen })
}

/// A date as `YYYY-MM-DD` if it is one written another common way
/// (`YYYY/M/D`, `YYYY.M.D`, `YYYY年M月D日`, with or without a time);
/// otherwise the text unchanged, for the validation to refuse.
fn normalize_date(s: &str) -> String {
    let t = s.trim();
    let date_part = t.split([' ', 'T']).next().unwrap_or(t);
    let rest = &t[date_part.len()..];
    let rest_is_time = rest.is_empty() || rest[1..].bytes().all(|b| b.is_ascii_digit() || b == b':' || b == b'.');
    if rest_is_time {
        let unified: String = date_part
            .trim_end_matches('日')
            .chars()
            .map(|c| if matches!(c, '/' | '.' | '年' | '月') { '-' } else { c })
            .collect();
        let parts: Vec<&str> = unified.split('-').collect();
        if let [y, m, d] = parts[..]
            && y.len() == 4
            && (1..=2).contains(&m.len())
            && (1..=2).contains(&d.len())
            && [y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && let (Ok(y), Ok(m), Ok(d)) = (y.parse(), m.parse(), d.parse())
            && let Some(date) = NaiveDate::from_ymd_opt(y, m, d)
        {
            return date.to_string();
        }
    }
    t.to_string()
}

/// A code or Chinese label of one of the policy enums.
fn by_label_or_code<T: Copy>(
    s: &str,
    all: &[T],
    label: fn(&T) -> &'static str,
    code: fn(&T) -> &'static str,
) -> Option<T> {
    let s = s.trim();
    let as_code = s.replace('-', "_");
    all.iter()
        .copied()
        .find(|v| label(v) == s || code(v).eq_ignore_ascii_case(&as_code))
}

/// `--sector`: a code (`OTHER`, `food`, …) or label (`食品`).
pub fn parse_sector(s: &str) -> Option<Sector> {
    by_label_or_code(s, Sector::ALL, Sector::label_zh, Sector::as_str)
}

/// `--severity`: `MINOR`/`GENERAL`/`SERIOUS` or 轻微/一般/严重.
pub fn parse_severity(s: &str) -> Option<Severity> {
    by_label_or_code(s, Severity::ALL, Severity::label_zh, Severity::as_str)
}

/// `--procedure`: `SIMPLE`/`ORDINARY` or 简易程序/普通程序 (also 简易/普通).
pub fn parse_procedure(s: &str) -> Option<Procedure> {
    match s.trim() {
        "简易" => Some(Procedure::Simple),
        "普通" => Some(Procedure::Ordinary),
        s => by_label_or_code(s, Procedure::ALL, Procedure::label_zh, Procedure::as_str),
    }
}

fn parse_party_kind(s: &str) -> Option<PartyKind> {
    match s.trim() {
        "法人" | "非法人组织" | "法人和非法人组织" => Some(PartyKind::LegalPerson),
        s => by_label_or_code(s, PartyKind::ALL, PartyKind::label_zh, PartyKind::as_str),
    }
}

fn parse_penalty_kind(s: &str) -> Option<PenaltyKind> {
    // Names of the 2017 law still found in historic data.
    match s {
        "暂扣许可证" | "暂扣执照" => Some(PenaltyKind::SuspendLicense),
        "吊销许可证" | "吊销执照" => Some(PenaltyKind::RevokeLicense),
        s => by_label_or_code(s, PenaltyKind::ALL, PenaltyKind::label_zh, PenaltyKind::as_str),
    }
}

fn parse_id_type(s: &str) -> Option<Choice<IdType>> {
    Some(Choice::Known(match s.trim() {
        "" => return Some(Choice::Unspecified),
        "身份证" | "居民身份证" | "RESIDENT_ID_CARD" => IdType::ResidentIdCard,
        "护照" | "PASSPORT" => IdType::Passport,
        "港澳居民来往内地通行证" | "HK_MACAO_PERMIT" => IdType::HkMacaoPermit,
        "台湾居民来往大陆通行证" | "TAIWAN_PERMIT" => IdType::TaiwanPermit,
        "外国人永久居留身份证" | "FOREIGN_PERMANENT_RESIDENT" => IdType::ForeignPermanentResident,
        "其他" | "OTHER" => IdType::Other,
        _ => return None,
    }))
}

/// Defaults for what the national columns do not carry.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Sector of rows without a `行业` value.
    pub sector: Sector,
    /// Information class of rows without a `信息类别` value.
    pub severity: Severity,
    /// Procedure of rows without a `程序` value.
    pub procedure: Procedure,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            sector: Sector::Other,
            severity: Severity::General,
            procedure: Procedure::Ordinary,
            progress: false,
        }
    }
}

/// One problem of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The row in the file (header = 1).
    pub row: u64,
    /// The column's header as written in the file.
    pub column: String,
    /// What is wrong (never an ID number).
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// Decisions recorded (and published as the policy decides).
    pub imported: u64,
    /// Rows whose authority already had their decision number.
    pub already_present: u64,
    /// Rows refused.
    pub failed: u64,
    /// Of the imported, those without a 公示日期: published on a day nobody
    /// recorded.
    pub published_date_unknown: u64,
    /// Every problem of the refused rows.
    pub problems: Vec<RowProblem>,
    /// The error report, written when a row failed.
    pub report: Option<PathBuf>,
    /// Headers matching no known column (their values were not imported).
    pub ignored_columns: Vec<String>,
    /// Time taken.
    pub elapsed: Duration,
}

impl ImportSummary {
    /// `imported 9950, already present 0, failed 50, publication date
    /// unknown 9950 (report: FILE.errors.csv)`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "imported {}, already present {}, failed {}, publication date unknown {}",
            self.imported, self.already_present, self.failed, self.published_date_unknown
        );
        if let Some(r) = &self.report {
            s.push_str(&format!(" (report: {})", r.display()));
        }
        s
    }

    /// Counts a failed row and keeps its problems, in the file's column
    /// order. No problems: the row did not fail.
    fn fail(&mut self, layout: &Layout, row: u64, mut problems: Vec<(Option<Column>, String)>) {
        if problems.is_empty() {
            return;
        }
        self.failed += 1;
        problems.sort_by_key(|(col, _)| col.and_then(|c| layout.index.get(&c).copied()).unwrap_or(usize::MAX));
        for (col, reason) in problems {
            self.problems.push(RowProblem {
                row,
                column: col.map(|c| layout.label(c)).unwrap_or_default(),
                reason,
            });
        }
    }

    /// Rows handled per second.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be used; nothing was imported.
    #[error("{file}: {message}")]
    File {
        /// The input file.
        file: String,
        /// Why.
        message: String,
    },
    /// The database failed part-way. Rows before `row` were handled and stay;
    /// running the import again resumes (those rows are then already present).
    #[error("{file}: stopped at row {row} after importing {imported} (run the import again to resume): {cause}")]
    Stopped {
        /// The input file.
        file: String,
        /// The row being imported.
        row: u64,
        /// Imported before it.
        imported: u64,
        /// The error.
        cause: AppError,
    },
    /// The error report could not be written.
    #[error("cannot write the error report {path}: {message}")]
    Report {
        /// The report's path.
        path: String,
        /// Why.
        message: String,
    },
}

/// One row of the file.
struct SheetRow {
    /// Its number in the file (header = 1).
    number: u64,
    /// Its cells as text.
    cells: Vec<String>,
    /// Cells a spreadsheet marked as errors: (index, reason).
    errors: Vec<(usize, String)>,
}

/// The rows of the file's first worksheet (or the CSV), header first.
struct Sheet {
    rows: Vec<SheetRow>,
}

/// The error report's path: `FILE.errors.csv` next to the input.
pub fn report_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".errors.csv");
    PathBuf::from(name)
}

fn is_spreadsheet(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(ext.as_str(), "xlsx" | "xlsm" | "xlsb" | "xls" | "ods")
}

fn read_sheet(path: &Path) -> Result<Sheet, String> {
    if is_spreadsheet(path) {
        read_spreadsheet(path)
    } else {
        read_csv(path)
    }
}

/// CSV text: UTF-8 (with or without BOM), else GB18030 (what Excel writes on
/// Chinese Windows as "CSV").
fn decode_text(bytes: Vec<u8>) -> Result<String, String> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(e.as_bytes());
            if had_errors {
                Err("is neither UTF-8 nor GB18030 text".into())
            } else {
                Ok(text.into_owned())
            }
        }
    }
}

fn read_csv(path: &Path) -> Result<Sheet, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let rows = parse_csv(bytes)?
        .into_iter()
        .enumerate()
        .map(|(i, cells)| SheetRow {
            number: i as u64 + 1,
            cells,
            errors: Vec::new(),
        })
        .collect();
    Ok(Sheet { rows })
}

/// The rows of a CSV file's bytes (UTF-8 with or without BOM, else GB18030),
/// header first. Public for the fuzz targets (`benches/fuzz`).
pub fn parse_csv(bytes: Vec<u8>) -> Result<Vec<Vec<String>>, String> {
    let text = decode_text(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("not valid CSV near row {}: {e}", i + 1))?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok(rows)
}

/// A spreadsheet cell as text: numbers as written (`0.2`, `12345`), dates as
/// `YYYY-MM-DD`; an Excel error value (`#N/A`) is a problem of its own.
fn cell_text(cell: &calamine::Data) -> Result<String, String> {
    use calamine::Data;
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if dt.is_datetime() => t.date().to_string(),
            _ => dt.as_f64().to_string(),
        },
        Data::Error(e) => return Err(format!("the cell holds the spreadsheet error {e}")),
    })
}

fn read_spreadsheet(path: &Path) -> Result<Sheet, String> {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(path).map_err(|e| format!("cannot open the spreadsheet: {e}"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or("the workbook has no worksheet")?
        .map_err(|e| format!("cannot read the first worksheet: {e}"))?;
    let first_row = range.start().map(|(r, _)| u64::from(r)).unwrap_or(0);
    let mut rows = Vec::with_capacity(range.height());
    for (i, r) in range.rows().enumerate() {
        let mut cells = Vec::with_capacity(r.len());
        let mut errors = Vec::new();
        for (j, c) in r.iter().enumerate() {
            match cell_text(c) {
                Ok(t) => cells.push(t),
                Err(e) => {
                    cells.push(String::new());
                    errors.push((j, e));
                }
            }
        }
        rows.push(SheetRow {
            number: first_row + i as u64 + 1,
            cells,
            errors,
        });
    }
    Ok(Sheet { rows })
}

/// An ID-number problem without any character of the number: the check
/// character and offending characters named by `IdError` are left out.
fn redact_id_reason(reason: &str) -> String {
    if reason.contains("check character") {
        "check character mismatch (GB 11643-1999)".into()
    } else if let Some(pos) = reason.split("at position ").nth(1) {
        format!("a character not allowed at position {pos}")
    } else if reason.contains('\'') || reason.contains('"') {
        "is not a valid ID number".into()
    } else {
        reason.to_string()
    }
}

/// The column a field path of `decision_doc` refers to.
fn column_of_path(path: &str) -> Option<Column> {
    let p = path.strip_prefix("penalty_decision.").unwrap_or(path);
    let p = p.split('[').next().unwrap_or(p);
    Some(match p {
        "party.kind" => Column::PartyKind,
        "party.name" => Column::PartyName,
        "party.credit_code" => Column::PartyCreditCode,
        "party.business_registration_number" => Column::BusinessRegistration,
        "party.organization_code" => Column::OrganizationCode,
        "party.tax_registration_number" => Column::TaxRegistration,
        "party.public_institution_certificate" => Column::PublicInstitution,
        "party.social_organization_certificate" => Column::SocialOrganization,
        "party.legal_representative.name" => Column::RepName,
        "party.legal_representative.id_type" => Column::RepIdType,
        "party.legal_representative.id_number" => Column::RepIdNumber,
        "party.id_type" => Column::PartyIdType,
        "party.id_number" => Column::PartyIdNumber,
        "decision_number" => Column::DecisionNumber,
        "violation_type" => Column::ViolationType,
        "violation_facts" => Column::ViolationFacts,
        "legal_basis" => Column::LegalBasis,
        "penalty_kinds" => Column::PenaltyKinds,
        "penalty_content" => Column::PenaltyContent,
        "fine_fen" => Column::Fine,
        "confiscation_fen" => Column::Confiscation,
        "license_action" => Column::LicenseAction,
        "procedure" => Column::Procedure,
        "sector" => Column::Sector,
        "severity" => Column::Severity,
        "decided_on" => Column::DecidedOn,
        "effective_until" => Column::EffectiveUntil,
        "authority.name" => Column::AuthorityName,
        "authority.credit_code" => Column::AuthorityCreditCode,
        "data_source.name" => Column::SourceName,
        "data_source.credit_code" => Column::SourceCreditCode,
        "remarks" => Column::Remarks,
        _ => return None,
    })
}

/// A validation message in the file's terms where the API's names a protobuf
/// field or unit.
fn file_terms(col: Option<Column>, description: &str) -> String {
    match (col, description) {
        (Some(Column::PartyKind), "must be LEGAL_PERSON, INDIVIDUAL_BUSINESS or NATURAL_PERSON") => {
            "is required: 法人及非法人组织, 个体工商户 or 自然人".into()
        }
        (Some(Column::Fine), "a FINE needs its amount in fen") => {
            "罚款 is among the 处罚类别 but no amount (万元) is given".into()
        }
        (Some(Column::Fine), "an amount is given but FINE is not among the penalty kinds") => {
            "an amount is given but 罚款 is not among the 处罚类别".into()
        }
        _ => description.to_string(),
    }
}

/// A cell naming one of a few values: its default when empty; an unknown
/// value is a problem of its column (and the default is used).
fn choice_cell<T: Copy>(
    cell: &str,
    col: Column,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
    problems: &mut Vec<(Column, String)>,
) -> Choice<T> {
    match cell {
        "" => Choice::Known(default),
        s => match parse(s) {
            Some(v) => Choice::Known(v),
            None => {
                problems.push((col, format!("unknown value {s:?}: use {expected}")));
                Choice::Known(default)
            }
        },
    }
}

/// One row as the application's decision input (what `CreatePenaltyDecision`
/// validates too), and the problems found reading it (cells that are not a
/// date, label or amount at all).
fn row_input(cells: &[String], layout: &Layout, opts: &ImportOptions) -> (DecisionInput, Vec<(Column, String)>) {
    let get = |c: Column| layout.get(cells, c);
    let mut problems: Vec<(Column, String)> = Vec::new();

    let kind = match get(Column::PartyKind) {
        "" => Choice::Unspecified,
        s => match parse_party_kind(s) {
            Some(k) => Choice::Known(k),
            None => {
                problems.push((
                    Column::PartyKind,
                    format!("unknown 行政相对人类别 {s:?}: use 法人及非法人组织, 个体工商户 or 自然人"),
                ));
                Choice::Unspecified
            }
        },
    };
    let mut id_type = |col: Column| match parse_id_type(get(col)) {
        Some(t) => t,
        None => {
            // Not echoed if it may be a misplaced ID number.
            let value = get(col);
            let shown = if value.bytes().any(|b| b.is_ascii_digit()) {
                String::new()
            } else {
                format!(" {value:?}")
            };
            problems.push((
                col,
                format!("unknown 证件类型{shown}: use 身份证, 护照, 港澳居民来往内地通行证, 台湾居民来往大陆通行证, 外国人永久居留身份证 or 其他"),
            ));
            Choice::Unspecified
        }
    };
    let rep_id_type = id_type(Column::RepIdType);
    let party_id_type = id_type(Column::PartyIdType);

    let mut penalty_kinds = Vec::new();
    let mut unknown = Vec::new();
    for label in get(Column::PenaltyKinds)
        .split([';', '；', '、', ',', '，'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match parse_penalty_kind(label) {
            Some(k) => penalty_kinds.push(Choice::Known(k)),
            None => unknown.push(format!("{label:?}")),
        }
    }
    if !unknown.is_empty() {
        let all: Vec<&str> = PenaltyKind::ALL.iter().map(|k| k.label_zh()).collect();
        problems.push((
            Column::PenaltyKinds,
            format!(
                "unknown 处罚类别 {}: use {} (行政处罚法 Art. 9)",
                unknown.join(", "),
                all.join(", ")
            ),
        ));
    }

    let mut amount = |col: Column| match wanyuan_to_fen(get(col)) {
        Ok(fen) => fen,
        Err(e) => {
            problems.push((col, e));
            0
        }
    };
    let fine_fen = amount(Column::Fine);
    let confiscation_fen = amount(Column::Confiscation);

    let procedure = choice_cell(
        get(Column::Procedure),
        Column::Procedure,
        opts.procedure,
        parse_procedure,
        "简易程序 or 普通程序",
        &mut problems,
    );
    let sector = choice_cell(
        get(Column::Sector),
        Column::Sector,
        opts.sector,
        parse_sector,
        "安全生产, 消防, 食品, 药品, 特种设备 or 其他",
        &mut problems,
    );
    let severity = choice_cell(
        get(Column::Severity),
        Column::Severity,
        opts.severity,
        parse_severity,
        "轻微, 一般 or 严重",
        &mut problems,
    );

    let text = |c: Column| get(c).to_string();
    let org = |name: Column, code: Column| OrgInput {
        name: text(name),
        credit_code: text(code),
    };
    let input = DecisionInput {
        decision_number: text(Column::DecisionNumber),
        party: PartyInput {
            kind,
            name: text(Column::PartyName),
            credit_code: text(Column::PartyCreditCode),
            business_registration_number: text(Column::BusinessRegistration),
            organization_code: text(Column::OrganizationCode),
            tax_registration_number: text(Column::TaxRegistration),
            public_institution_certificate: text(Column::PublicInstitution),
            social_organization_certificate: text(Column::SocialOrganization),
            legal_representative: RepresentativeInput {
                name: text(Column::RepName),
                id_type: rep_id_type,
                id_number: text(Column::RepIdNumber),
            },
            id_type: party_id_type,
            id_number: text(Column::PartyIdNumber),
            address: String::new(),
        },
        violation_type: text(Column::ViolationType),
        violation_facts: text(Column::ViolationFacts),
        legal_basis: text(Column::LegalBasis),
        penalty_kinds,
        penalty_content: text(Column::PenaltyContent),
        fine_fen,
        confiscation_fen,
        license_action: text(Column::LicenseAction),
        procedure,
        sector,
        severity,
        major: false,
        decided_on: normalize_date(get(Column::DecidedOn)),
        effective_until: normalize_date(get(Column::EffectiveUntil)),
        authority: org(Column::AuthorityName, Column::AuthorityCreditCode),
        data_source: org(Column::SourceName, Column::SourceCreditCode),
        remarks: text(Column::Remarks),
    };
    (input, problems)
}

/// The problems of `decision_doc`'s violations, leaving out those on a column
/// already reported and those that only follow from it (no 罚款 amount check
/// when the 处罚类别 could not be read; no credit-code requirement when the
/// 行政相对人类别 could not be read).
fn violation_problems(violations: &[FieldViolation], reported: &HashSet<Column>) -> Vec<(Option<Column>, String)> {
    let mut out = Vec::new();
    for v in violations {
        let col = column_of_path(&v.field);
        if let Some(c) = col {
            if reported.contains(&c) {
                continue;
            }
            let kinds_unread = reported.contains(&Column::PenaltyKinds);
            if kinds_unread && matches!(c, Column::Fine | Column::Confiscation) && v.description.contains("FINE") {
                continue;
            }
            if c == Column::PartyCreditCode
                && reported.contains(&Column::PartyKind)
                && v.description.contains("required")
            {
                continue;
            }
        }
        let reason = match col {
            Some(c) if c.is_id_number() => redact_id_reason(&v.description),
            _ => file_terms(col, &v.description),
        };
        out.push((col, reason));
    }
    out
}

/// Imports `path` (CSV or XLSX, first worksheet) into the application:
/// validates every row as `CreatePenaltyDecision` does, records and publishes
/// the valid ones, and writes `FILE.errors.csv` if any row failed (removing a
/// stale one otherwise).
pub async fn import_file(app: &App, path: &Path, opts: &ImportOptions) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let shown = path.display().to_string();
    let file_error = |message: String| ImportError::File {
        file: shown.clone(),
        message,
    };
    let owned = path.to_path_buf();
    let sheet = tokio::task::spawn_blocking(move || read_sheet(&owned))
        .await
        .map_err(|e| file_error(format!("reading failed: {e}")))?
        .map_err(&file_error)?;
    let mut rows = sheet
        .rows
        .into_iter()
        .filter(|r| !r.errors.is_empty() || r.cells.iter().any(|c| !c.trim().is_empty()));
    let Some(SheetRow { cells: header, .. }) = rows.next() else {
        return Err(file_error("is empty: the first row must be the header".into()));
    };
    let layout = Layout::from_header(&header).map_err(&file_error)?;
    let rows: Vec<_> = rows.collect();

    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let caller = import_caller(&file_name);
    let today = app.clock.today_cst();
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(rows.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, ETA {eta}  {msg}") {
        bar.set_style(style);
    }

    let mut summary = ImportSummary {
        rows: rows.len() as u64,
        imported: 0,
        already_present: 0,
        failed: 0,
        published_date_unknown: 0,
        problems: Vec::new(),
        report: None,
        ignored_columns: layout.ignored.clone(),
        elapsed: Duration::ZERO,
    };
    let mut batch: Vec<ImportItem> = Vec::with_capacity(BATCH);
    let total = rows.len();
    for (k, row) in rows.into_iter().enumerate() {
        let SheetRow {
            number,
            cells,
            errors: cell_errors,
        } = row;
        match validate_import_row(&layout, &cells, &cell_errors, opts, today) {
            Ok(ImportRow { doc, published_on }) => batch.push(ImportItem {
                doc,
                source: ImportSource {
                    file: file_name.clone(),
                    row: number,
                },
                published_on,
            }),
            Err(problems) => summary.fail(&layout, number, problems),
        }
        if batch.len() == BATCH || (k + 1 == total && !batch.is_empty()) {
            let items = std::mem::take(&mut batch);
            let first_row = items.first().map(|i| i.source.row).unwrap_or(number);
            let rows_of: Vec<(u64, bool)> = items.iter().map(|i| (i.source.row, i.published_on.is_none())).collect();
            let results = match app.import_decisions(&caller, items).await {
                Ok(r) => r,
                Err(cause) => {
                    bar.finish_and_clear();
                    return Err(ImportError::Stopped {
                        file: shown,
                        row: first_row,
                        imported: summary.imported,
                        cause,
                    });
                }
            };
            for ((row, date_unknown), result) in rows_of.into_iter().zip(results) {
                match result {
                    Ok(_) => {
                        summary.imported += 1;
                        summary.published_date_unknown += u64::from(date_unknown);
                    }
                    Err(AppError::AlreadyExists { .. }) => summary.already_present += 1,
                    Err(AppError::Invalid {
                        violations, message, ..
                    }) => {
                        let mut problems = violation_problems(&violations, &HashSet::new());
                        if problems.is_empty() {
                            problems.push((None, message));
                        }
                        summary.fail(&layout, row, problems);
                    }
                    Err(e) => summary.fail(&layout, row, vec![(None, e.to_string())]),
                }
            }
            bar.set_message(format!(
                "imported {}, present {}, failed {}",
                summary.imported, summary.already_present, summary.failed
            ));
        }
        bar.inc(1);
    }
    // Rows in order (a batch's failures are known after later rows' ones).
    summary.problems.sort_by_key(|p| p.row);
    bar.finish_and_clear();

    let report = report_path(path);
    let report_error = |e: std::io::Error| ImportError::Report {
        path: report.display().to_string(),
        message: e.to_string(),
    };
    if summary.problems.is_empty() {
        match std::fs::remove_file(&report) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(report_error(e)),
            _ => {}
        }
    } else {
        write_report(&report, &summary.problems).map_err(report_error)?;
        summary.report = Some(report);
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Validates one data row exactly as `CreatePenaltyDecision` validates: the
/// decision, or every problem of the row by column. `cell_errors` are the
/// cells a spreadsheet marked as errors (index, reason). Public for the fuzz
/// targets (`benches/fuzz`).
pub fn validate_row(
    layout: &Layout,
    cells: &[String],
    cell_errors: &[(usize, String)],
    opts: &ImportOptions,
    today: NaiveDate,
) -> Result<DecisionDoc, Vec<(Option<Column>, String)>> {
    validate_import_row(layout, cells, cell_errors, opts, today).map(|r| r.doc)
}

/// A valid row: the decision and its publication date.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The decision, validated as `CreatePenaltyDecision` validates.
    pub doc: DecisionDoc,
    /// Its 公示日期; `None` when the file does not give one.
    pub published_on: Option<NaiveDate>,
}

/// [`validate_row`], with the row's 公示日期: a date, not before the
/// decision date, not in the future.
pub fn validate_import_row(
    layout: &Layout,
    cells: &[String],
    cell_errors: &[(usize, String)],
    opts: &ImportOptions,
    today: NaiveDate,
) -> Result<ImportRow, Vec<(Option<Column>, String)>> {
    let mut problems: Vec<(Option<Column>, String)> = Vec::new();
    let mut reported = HashSet::new();
    for (i, e) in cell_errors {
        if let Some((&col, _)) = layout.index.iter().find(|(_, idx)| *idx == i) {
            reported.insert(col);
            problems.push((Some(col), e.clone()));
        }
    }
    let (input, read) = row_input(cells, layout, opts);
    for (col, reason) in read {
        if reported.insert(col) {
            problems.push((Some(col), reason));
        }
    }
    let published = get_published_on(layout, cells, today);
    let doc = match decision_doc(&input, "penalty_decision.", today) {
        Ok(doc) => Some(doc),
        Err(AppError::Invalid { violations, .. }) => {
            problems.extend(violation_problems(&violations, &reported));
            None
        }
        Err(e) => {
            problems.push((None, e.to_string()));
            None
        }
    };
    let published_on = match published {
        Ok(Some(day)) if doc.as_ref().is_some_and(|d| day < d.decided_on) => {
            problems.push((
                Some(Column::PublishedOn),
                "is before the decision date (处罚决定日期)".into(),
            ));
            None
        }
        Ok(p) => p,
        Err(reason) => {
            if !reported.contains(&Column::PublishedOn) {
                problems.push((Some(Column::PublishedOn), reason));
            }
            None
        }
    };
    match doc {
        Some(doc) if problems.is_empty() => Ok(ImportRow { doc, published_on }),
        _ => Err(problems),
    }
}

/// The row's 公示日期: `None` when the column is absent or the cell empty.
fn get_published_on(layout: &Layout, cells: &[String], today: NaiveDate) -> Result<Option<NaiveDate>, String> {
    let raw = layout.get(cells, Column::PublishedOn);
    if raw.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(&normalize_date(raw), "%Y-%m-%d")
        .map_err(|_| "is not a date (YYYY-MM-DD, YYYY/MM/DD or an Excel date)".to_string())?;
    if day > today {
        return Err("must not be in the future (China Standard Time)".into());
    }
    Ok(Some(day))
}

/// `FILE.errors.csv`: UTF-8 with BOM (so Excel reads it), CRLF, columns
/// 行号, 列, 原因. Written beside and then renamed over the old one.
fn write_report(path: &Path, problems: &[RowProblem]) -> std::io::Result<()> {
    let mut buf = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut buf);
        w.write_record(["行号", "列", "原因"])?;
        for p in problems {
            w.write_record([p.row.to_string().as_str(), &p.column, &p.reason])?;
        }
        w.flush()?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &buf)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::{CSV_HEADER, fen_to_wanyuan};

    #[test]
    fn wanyuan_to_fen_is_exact() {
        assert_eq!(wanyuan_to_fen("0.200000"), Ok(200_000));
        assert_eq!(wanyuan_to_fen("0.2"), Ok(200_000));
        assert_eq!(wanyuan_to_fen("1"), Ok(1_000_000));
        assert_eq!(wanyuan_to_fen(" 7.100001 "), Ok(7_100_001));
        assert_eq!(wanyuan_to_fen("0.000001"), Ok(1));
        assert_eq!(wanyuan_to_fen("1500.000000"), Ok(1_500_000_000));
        assert_eq!(wanyuan_to_fen(".5"), Ok(500_000));
        assert_eq!(wanyuan_to_fen("5."), Ok(5_000_000));
        assert_eq!(wanyuan_to_fen(""), Ok(0));
        assert_eq!(
            wanyuan_to_fen("0.1000000"),
            Ok(100_000),
            "extra zero decimals lose nothing"
        );
        // A float would give 0.1 + 0.2 = 0.30000000000000004; strings do not.
        assert_eq!(wanyuan_to_fen("0.3"), Ok(300_000));
        assert_eq!(wanyuan_to_fen("9223372036854.775807"), Ok(i64::MAX));
        assert_eq!(
            wanyuan_to_fen("-0.5"),
            Ok(-500_000),
            "kept for the validation to refuse"
        );
        assert!(wanyuan_to_fen("0.1234567").unwrap_err().contains("six decimals"));
        assert!(wanyuan_to_fen("9223372036855").unwrap_err().contains("too large"));
        for bad in ["abc", "1,000", "1.2.3", "-", ".", "1e3", "¥5", "--1", "0x10"] {
            assert!(wanyuan_to_fen(bad).is_err(), "{bad}");
        }
        // Round trip with the export's formatting.
        for fen in [0, 1, 199, 200_000, 7_100_001, 1_500_000_000, 123_456_789_012] {
            assert_eq!(wanyuan_to_fen(&fen_to_wanyuan(fen)), Ok(fen));
        }
    }

    #[test]
    fn headers_are_found_by_name_code_or_both() {
        let export: Vec<String> = CSV_HEADER.iter().map(|s| s.to_string()).collect();
        let l = Layout::from_header(&export).unwrap();
        assert_eq!(l.index.len(), 30);
        assert_eq!(l.index[&Column::Fine], 19);
        assert!(l.ignored.is_empty());

        let codes: Vec<String> = SPECS.iter().take(30).map(|s| s.code.to_lowercase()).collect();
        assert_eq!(Layout::from_header(&codes).unwrap().index.len(), 30);

        let names = header_names();
        for (h, col) in [
            ("行政相对人代码_1(统一社会信用代码)", Column::PartyCreditCode),
            ("行政相对人代码_2（工商注册号）", Column::BusinessRegistration),
            ("*行政相对人名称", Column::PartyName),
            (" 罚款金额(万元) ", Column::Fine),
            ("罚款金额", Column::Fine),
            ("没收违法所得、没收非法财物的金额（万元）", Column::Confiscation),
            ("处罚决定日期(CF_JDRQ)", Column::DecidedOn),
            ("处罚机关统一社会信用代码", Column::AuthorityCreditCode),
            ("\u{feff}行政相对人名称", Column::PartyName),
            ("信息类别", Column::Severity),
        ] {
            assert_eq!(match_header(h, &names), Some(col), "{h}");
        }
        assert_eq!(match_header("联系电话", &names), None);
        assert_eq!(match_header("处罚机关(统一社会信用代码)", &names), None, "ambiguous");
    }

    #[test]
    fn missing_or_doubled_columns_are_refused() {
        let mut h: Vec<String> = CSV_HEADER.iter().map(|s| s.to_string()).collect();
        h.remove(15); // 违法事实
        let e = Layout::from_header(&h).unwrap_err();
        assert!(
            e.contains("违法事实 (CF_SY)") && e.starts_with("missing required column "),
            "{e}"
        );
        h.push("CF_XDR_MC".into());
        h.push("CF_SY".into());
        let e = Layout::from_header(&h).unwrap_err();
        assert!(e.contains("both hold 行政相对人名称"), "{e}");
    }

    #[test]
    fn dates_written_other_ways_become_iso() {
        assert_eq!(normalize_date("2024-03-05"), "2024-03-05");
        assert_eq!(normalize_date("2024/3/5"), "2024-03-05");
        assert_eq!(normalize_date("2024/03/05"), "2024-03-05");
        assert_eq!(normalize_date("2024年3月5日"), "2024-03-05");
        assert_eq!(normalize_date("2024.03.05"), "2024-03-05");
        assert_eq!(normalize_date("2024-03-05 00:00:00"), "2024-03-05");
        assert_eq!(normalize_date("2024-03-05T00:00:00"), "2024-03-05");
        // Not dates: left for the validation to refuse.
        assert_eq!(normalize_date("2024-02-30"), "2024-02-30");
        assert_eq!(normalize_date("2024/02/30"), "2024/02/30");
        assert_eq!(normalize_date("长期"), "长期");
        assert_eq!(normalize_date("2024-03-05 下午"), "2024-03-05 下午");
        assert_eq!(normalize_date(""), "");
    }

    #[test]
    fn labels_and_codes_parse() {
        assert_eq!(parse_sector("食品"), Some(Sector::Food));
        assert_eq!(parse_sector("special-equipment"), Some(Sector::SpecialEquipment));
        assert_eq!(parse_severity("严重"), Some(Severity::Serious));
        assert_eq!(parse_severity("general"), Some(Severity::General));
        assert_eq!(parse_procedure("简易程序"), Some(Procedure::Simple));
        assert_eq!(parse_procedure("ORDINARY"), Some(Procedure::Ordinary));
        assert_eq!(parse_party_kind("个体工商户"), Some(PartyKind::IndividualBusiness));
        assert_eq!(parse_party_kind("企业"), None);
        assert_eq!(
            parse_penalty_kind("没收违法所得"),
            Some(PenaltyKind::ConfiscateIllegalGains)
        );
        assert_eq!(parse_penalty_kind("罚金"), None);
        assert_eq!(parse_id_type("身份证"), Some(Choice::Known(IdType::ResidentIdCard)));
    }

    #[test]
    fn field_paths_map_to_columns() {
        assert_eq!(
            column_of_path("penalty_decision.party.credit_code"),
            Some(Column::PartyCreditCode)
        );
        assert_eq!(
            column_of_path("penalty_decision.penalty_kinds[2]"),
            Some(Column::PenaltyKinds)
        );
        assert_eq!(
            column_of_path("penalty_decision.party.legal_representative.id_number"),
            Some(Column::RepIdNumber)
        );
        assert_eq!(
            column_of_path("penalty_decision.data_source.credit_code"),
            Some(Column::SourceCreditCode)
        );
        assert_eq!(column_of_path("penalty_decision.party.address"), None);
    }

    #[test]
    fn id_number_reasons_name_no_character() {
        let id_reasons = [
            crate::domain::ids::IdNumber::parse("110105194912310039")
                .unwrap_err()
                .to_string(),
            crate::domain::ids::IdNumber::parse("11010519491231003A")
                .unwrap_err()
                .to_string(),
            crate::domain::ids::IdNumber::parse("1101051949123100")
                .unwrap_err()
                .to_string(),
        ];
        assert!(
            id_reasons[0].contains("'9'") && id_reasons[1].contains("'A'"),
            "{id_reasons:?}"
        );
        for r in &id_reasons {
            let red = redact_id_reason(r);
            // IdError quotes the characters it names; nothing quoted is left.
            assert!(!red.contains('\'') && !red.contains('"'), "{r} → {red}");
        }
    }
}
