//! The targets: each makes an input and feeds it to one public parser or
//! validator of the library. Besides "does not panic", a few cheap
//! properties are asserted (a failed one counts as a panic): what parses
//! re-parses to itself, a token minted for another scope is refused, an
//! ID number never appears in a reason.

use chrono::{Datelike, NaiveDate};
use gongshi::api::convert::{self, Violations};
use gongshi::api::{page, pb};
use gongshi::app::AppError;
use gongshi::domain::calendar::WorkingCalendar;
use gongshi::domain::ids::{self, CreditCode, IdNumber};
use gongshi::domain::policy::{
    self, PartyKind, PenaltyKind, PolicyInput, Procedure, PublicityPolicy, Sector, Severity,
};
use gongshi::domain::{clock, record, repair};
use gongshi::import::{self, ImportOptions, Layout};
use prost::Message;

use crate::input::{Gen, seeds, show_bytes, show_str};
use crate::sample::sample_decision;

/// A fuzz target: how to make an input, check it, and show it.
pub trait Fuzz {
    /// One input.
    type Input;
    /// Makes an input.
    fn input(&self, g: &mut Gen) -> Self::Input;
    /// Feeds it to the code under test; panics on a bug.
    fn check(&self, input: &Self::Input);
    /// The input, escaped, for the report.
    fn show(&self, input: &Self::Input) -> String;
}

/// The day the validators take as today.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default()
}

fn valid_credit_codes(g: &mut Gen) -> Vec<String> {
    const SET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut v: Vec<String> = ["91350100M000100Y43", "91310000MA1K000006", "11230500001755309F"]
        .map(String::from)
        .to_vec();
    for _ in 0..20 {
        let body: String = (0..17).map(|_| char::from(*g.pick(SET))).collect();
        if let Some(c) = ids::compute_check_char(&body) {
            v.push(format!("{body}{c}"));
        }
    }
    v
}

fn valid_id_numbers(g: &mut Gen) -> Vec<String> {
    let mut v: Vec<String> = ["11010519491231002X", "110105194912310038"].map(String::from).to_vec();
    for _ in 0..20 {
        let date = NaiveDate::from_ymd_opt(
            1900 + g.below(200) as i32,
            1 + g.below(12) as u32,
            1 + g.below(28) as u32,
        )
        .unwrap_or_default();
        let body = format!("{:06}{}{:03}", g.below(1_000_000), date.format("%Y%m%d"), g.below(1000));
        if let Some(c) = ids::compute_id_check_char(&body) {
            v.push(format!("{body}{c}"));
        }
    }
    v
}

// ---------------------------------------------------------------- credit code

/// `CreditCode::parse` and `compute_check_char`.
pub struct CreditCodeTarget {
    seeds: Vec<Vec<u8>>,
}

impl CreditCodeTarget {
    pub fn new(g: &mut Gen) -> Self {
        let mut s = valid_credit_codes(g);
        s.push(" 91310000ma1k000006\t".into());
        CreditCodeTarget { seeds: seeds(s) }
    }
}

impl Fuzz for CreditCodeTarget {
    type Input = String;

    fn input(&self, g: &mut Gen) -> String {
        g.string(&self.seeds)
    }

    fn check(&self, s: &String) {
        let parsed = CreditCode::parse(s);
        assert_eq!(parsed, s.parse::<CreditCode>());
        if let Ok(code) = &parsed {
            assert_eq!(code.as_str().len(), 18);
            assert_eq!(CreditCode::parse(code.as_str()).as_ref(), Ok(code), "re-parse");
            let _ = code.is_individual_business();
        }
        let _ = ids::compute_check_char(s);
    }

    fn show(&self, s: &String) -> String {
        show_str(s)
    }
}

// ---------------------------------------------------------------- ID number

/// `IdNumber::parse` and `compute_id_check_char`.
pub struct IdNumberTarget {
    seeds: Vec<Vec<u8>>,
}

impl IdNumberTarget {
    pub fn new(g: &mut Gen) -> Self {
        IdNumberTarget {
            seeds: seeds(valid_id_numbers(g)),
        }
    }
}

impl Fuzz for IdNumberTarget {
    type Input = String;

    fn input(&self, g: &mut Gen) -> String {
        g.string(&self.seeds)
    }

    fn check(&self, s: &String) {
        match IdNumber::parse(s) {
            Ok(id) => {
                assert_eq!(id.as_str().len(), 18);
                assert!(IdNumber::parse(id.as_str()).is_ok_and(|again| again == id), "re-parse");
                assert_eq!(format!("{id:?}"), "IdNumber(<redacted>)");
            }
            Err(e) => {
                // Errors never echo the number (DOMAIN.md §3).
                let t = s.trim();
                if t.len() >= 10 && t.is_char_boundary(10) && t[..10].bytes().all(|b| b.is_ascii_digit()) {
                    assert!(!e.to_string().contains(&t[..10]), "error echoes the input");
                }
            }
        }
        let _ = ids::compute_id_check_char(s);
    }

    fn show(&self, s: &String) -> String {
        show_str(s)
    }
}

// ---------------------------------------------------------------- page token

/// What a token is expected to give.
pub enum Expect {
    /// Anything but a panic.
    Any,
    /// Exactly this position.
    Position(String),
    /// A refusal.
    Refused,
}

/// `page::position` (tokens random, mutated, or minted for another scope) and `page::size`.
pub struct PageTokenTarget {
    scopes: Vec<Vec<u8>>,
    afters: Vec<Vec<u8>>,
}

impl PageTokenTarget {
    pub fn new() -> Self {
        PageTokenTarget {
            scopes: seeds([
                "key01J0000000000000000000|party=91310000MA1K000006",
                "key01J0000000000000000001|state=PUBLISHED|from=2024-01-01",
                "disclosures|auditor|terminated",
                "",
            ]),
            afters: seeds([
                "01J9ZQ4Y5KX3N2M8W7V6T5S4R3",
                "2024-03-05|01J9ZQ4Y5KX3N2M8W7V6T5S4R3",
                "12345",
                "a.b.c",
            ]),
        }
    }
}

impl Fuzz for PageTokenTarget {
    type Input = (String, String, Expect, i32);

    fn input(&self, g: &mut Gen) -> Self::Input {
        let scope = g.string(&self.scopes);
        let size = g.int() as i32;
        let after = g.string(&self.afters);
        let (token, expect) = match g.below(6) {
            0 => {
                let t = page::token(&scope, &after);
                let expect = if after.is_empty() {
                    Expect::Any
                } else if t.len() <= 512 {
                    Expect::Position(after)
                } else {
                    Expect::Refused
                };
                (t, expect)
            }
            1 => {
                // Minted for another caller or filter.
                let other = format!("{scope}{}", g.char());
                (page::token(&other, &after), Expect::Refused)
            }
            2 => {
                let t = page::token(&scope, &after);
                (
                    String::from_utf8_lossy(&g.mutate(t.as_bytes(), &[])).into_owned(),
                    Expect::Any,
                )
            }
            3 => (hex::encode(g.random_bytes()), Expect::Any),
            _ => (g.random_string(), Expect::Any),
        };
        (scope, token, expect, size)
    }

    fn check(&self, (scope, token, expect, size): &Self::Input) {
        let got = page::position(scope, token);
        match expect {
            Expect::Any => {}
            Expect::Position(p) => assert_eq!(got.ok().as_ref(), Some(p), "own token refused"),
            Expect::Refused => assert!(got.is_err(), "token of another scope accepted"),
        }
        match page::size(*size) {
            Ok(n) => assert!((1..=i64::from(page::MAX)).contains(&n)),
            Err(_) => assert!(*size < 0),
        }
    }

    fn show(&self, (scope, token, _, size): &Self::Input) -> String {
        format!("scope {}, token {}, page_size {size}", show_str(scope), show_str(token))
    }
}

// ---------------------------------------------------------------- field validation

/// The `convert::Violations` helpers (text, credit code, date) as list
/// filters and request fields use them, then `finish`.
pub struct ViolationsTarget {
    seeds: Vec<Vec<u8>>,
}

impl ViolationsTarget {
    pub fn new(g: &mut Gen) -> Self {
        let mut s = valid_credit_codes(g);
        s.extend(
            [
                "2024-03-05",
                "2024-02-29",
                " 2025-06-01 ",
                "上海某某化工有限公司",
                "line\nbreak",
            ]
            .map(String::from),
        );
        ViolationsTarget { seeds: seeds(s) }
    }
}

impl Fuzz for ViolationsTarget {
    type Input = Vec<(usize, String, String, usize, bool)>;

    fn input(&self, g: &mut Gen) -> Self::Input {
        (0..1 + g.below(5))
            .map(|_| {
                let field = if g.chance(90) {
                    "penalty_decision.party.name".to_string()
                } else {
                    g.random_string()
                };
                let max = *g.pick(&[0usize, 1, 18, 64, 200, 5000, usize::MAX]);
                (g.below(3), field, g.string(&self.seeds), max, g.chance(50))
            })
            .collect()
    }

    fn check(&self, calls: &Self::Input) {
        let mut v = Violations::default();
        for (kind, field, value, max, required) in calls {
            match kind {
                0 => {
                    let out = v.text(field, value, *max, *required);
                    assert_eq!(out, value.trim());
                }
                1 => {
                    let out = v.credit_code(field, value, *required);
                    if !out.is_empty() {
                        assert!(CreditCode::parse(&out).is_ok());
                    }
                }
                _ => {
                    if let Some(d) = v.date(field, value, *required) {
                        assert_eq!(value.trim().len(), 10);
                        let _ = d.year();
                    }
                }
            }
        }
        let empty = v.is_empty();
        match v.finish() {
            Ok(()) => assert!(empty),
            Err(AppError::Invalid { violations, .. }) => assert!(!empty && !violations.is_empty()),
            Err(e) => panic!("finish gave {e:?}"),
        }
    }

    fn show(&self, calls: &Self::Input) -> String {
        calls
            .iter()
            .map(|(k, f, v, m, r)| {
                let what = ["text", "credit_code", "date"][*k];
                format!("{what}({}, {}, max {m}, required {r})", show_str(f), show_str(v))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

// ---------------------------------------------------------------- decision_doc

/// A complete, valid decision (the tests' sample: tests/testkit/sample.rs).
pub fn seed_decision() -> pb::PenaltyDecision {
    sample_decision(
        "浦应急罚〔2024〕12号",
        "2024-03-05",
        "91310000MA1K000006",
        "11230500001755309F",
    )
}

/// `convert::decision_doc` on decoded random bytes, mutated encodings of a
/// valid decision, and valid encodings with hostile field values; what it
/// accepts must come back unchanged through `doc_out`.
pub struct DecisionDocTarget {
    encodings: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
}

impl DecisionDocTarget {
    pub fn new(g: &mut Gen) -> Self {
        let d = seed_decision();
        let natural = pb::PenaltyDecision {
            party: Some(pb::Party {
                kind: pb::PartyKind::NaturalPerson as i32,
                name: "李四".into(),
                id_type: pb::IdType::ResidentIdCard as i32,
                id_number: "11010519491231002X".into(),
                ..Default::default()
            }),
            penalty_kinds: vec![pb::PenaltyKind::Warning as i32],
            fine_fen: 0,
            ..d.clone()
        };
        let request = pb::CreatePenaltyDecisionRequest {
            request_id: "r-1".into(),
            penalty_decision: Some(d.clone()),
        };
        let mut values = valid_credit_codes(g);
        values.extend(valid_id_numbers(g));
        values.extend(["2024-03-05", "2025-06-01", "2025-06-02", "护照 E12345678", "处罚"].map(String::from));
        DecisionDocTarget {
            encodings: vec![d.encode_to_vec(), natural.encode_to_vec(), request.encode_to_vec()],
            values: seeds(values),
        }
    }

    /// Sets one to four fields of a valid decision to hostile values.
    fn hostile(&self, g: &mut Gen) -> pb::PenaltyDecision {
        let mut d = seed_decision();
        for _ in 0..1 + g.below(4) {
            let s = g.string(&self.values);
            let n = g.int();
            let party = d.party.get_or_insert_with(Default::default);
            match g.below(22) {
                0 => d.decision_number = s,
                1 => party.kind = n as i32,
                2 => party.name = s,
                3 => party.credit_code = s,
                4 => party.id_type = n as i32,
                5 => party.id_number = s,
                6 => {
                    let rep = party.legal_representative.get_or_insert_with(Default::default);
                    rep.id_type = n as i32;
                    rep.id_number = s;
                }
                7 => party.address = s,
                8 => party.business_registration_number = s,
                9 => d.violation_facts = s,
                10 => d.penalty_kinds = (0..g.below(20)).map(|_| g.int() as i32 % 20).collect(),
                11 => d.fine_fen = n,
                12 => d.confiscation_fen = n,
                13 => d.procedure = n as i32,
                14 => d.sector = n as i32,
                15 => d.severity = n as i32,
                16 => d.decided_on = s,
                17 => d.effective_until = s,
                18 => {
                    d.authority = if g.chance(30) {
                        None
                    } else {
                        Some(pb::Organization {
                            name: s.clone(),
                            credit_code: s,
                        })
                    }
                }
                19 => {
                    d.data_source = Some(pb::Organization {
                        name: if g.chance(50) { String::new() } else { s.clone() },
                        credit_code: s,
                    })
                }
                20 => d.party = None,
                _ => d.remarks = s,
            }
        }
        d
    }
}

impl Fuzz for DecisionDocTarget {
    type Input = Vec<u8>;

    fn input(&self, g: &mut Gen) -> Vec<u8> {
        if g.chance(50) {
            self.hostile(g).encode_to_vec()
        } else {
            g.bytes(&self.encodings)
        }
    }

    fn check(&self, bytes: &Vec<u8>) {
        let decoded = pb::PenaltyDecision::decode(bytes.as_slice()).ok().or_else(|| {
            pb::CreatePenaltyDecisionRequest::decode(bytes.as_slice())
                .ok()?
                .penalty_decision
        });
        let Some(p) = decoded else { return };
        match convert::decision_doc(&p, "penalty_decision.", today()) {
            Ok(doc) => {
                let again = convert::decision_doc(&convert::doc_out(&doc, true), "penalty_decision.", today());
                assert!(
                    again.as_ref().is_ok_and(|d| *d == doc),
                    "doc_out does not round-trip: {again:?}"
                );
            }
            Err(AppError::Invalid { violations, .. }) => assert!(!violations.is_empty()),
            Err(e) => panic!("decision_doc gave {e:?}"),
        }
    }

    fn show(&self, bytes: &Vec<u8>) -> String {
        show_bytes(bytes)
    }
}

// ---------------------------------------------------------------- protobuf decoding

type Decode = fn(&[u8]) -> bool;

macro_rules! decoders {
    ($($t:ident),* $(,)?) => {
        &[$((stringify!($t), (|b: &[u8]| pb::$t::decode(b).is_ok()) as Decode)),*]
    };
}

/// Every request message of gongshi.v1 (and the messages clients decode).
const DECODERS: &[(&str, Decode)] = decoders!(
    CreatePenaltyDecisionRequest,
    GetPenaltyDecisionRequest,
    ListPenaltyDecisionsRequest,
    ReviewPenaltyDecisionRequest,
    PublishPenaltyDecisionRequest,
    CorrectPenaltyDecisionRequest,
    WithdrawPenaltyDecisionRequest,
    RecordFulfillmentRequest,
    ListPenaltyDecisionEventsRequest,
    GetDisclosureRequest,
    ListDisclosuresRequest,
    ListDisclosureChangesRequest,
    WatchDisclosureChangesRequest,
    ExportDisclosuresRequest,
    CheckRepairEligibilityRequest,
    SubmitRepairApplicationRequest,
    GetRepairApplicationRequest,
    ListRepairApplicationsRequest,
    LookupRepairApplicationRequest,
    AcceptRepairApplicationRequest,
    DeclineRepairApplicationRequest,
    RequestSupplementRequest,
    SupplementRepairApplicationRequest,
    ApproveRepairApplicationRequest,
    RejectRepairApplicationRequest,
    WithdrawRepairApplicationRequest,
    RevokeRepairRequest,
    ListRepairApplicationEventsRequest,
    GetNoticeBundleRequest,
    ListNoticeBundlesRequest,
    RecordNoticeDeliveryRequest,
    RecordNoticeReceiptRequest,
    GetAnnualReportRequest,
    PenaltyDecision,
    Disclosure,
    DisclosureChange,
    RepairApplication,
    NoticeBundle,
    AnnualReport,
);

/// `prost::Message::decode` of every request message on random and mutated
/// bytes, including deep nesting and huge length prefixes.
pub struct ProtobufTarget {
    encodings: Vec<Vec<u8>>,
}

impl ProtobufTarget {
    pub fn new() -> Self {
        let d = seed_decision();
        let mut nested = Vec::new();
        for _ in 0..150 {
            // Field 3 (party) of field 2 (penalty_decision) … as deep as it goes.
            let mut outer = vec![0x12];
            prost::encoding::encode_varint(nested.len() as u64, &mut outer);
            outer.extend_from_slice(&nested);
            nested = outer;
        }
        let huge_len = {
            let mut b = vec![0x0a];
            prost::encoding::encode_varint(u64::MAX >> 1, &mut b);
            b.extend_from_slice(b"abc");
            b
        };
        ProtobufTarget {
            encodings: vec![
                d.encode_to_vec(),
                pb::CreatePenaltyDecisionRequest {
                    request_id: "r".into(),
                    penalty_decision: Some(d),
                }
                .encode_to_vec(),
                pb::ListPenaltyDecisionsRequest {
                    page_size: 10,
                    page_token: page::token("s", "01J"),
                    party_credit_code: "91310000MA1K000006".into(),
                    decided_on_from: "2024-01-01".into(),
                    ..Default::default()
                }
                .encode_to_vec(),
                nested,
                huge_len,
                vec![0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                vec![0x0b, 0x0c],
                vec![0x0f],
            ],
        }
    }
}

impl Fuzz for ProtobufTarget {
    type Input = (usize, Vec<u8>);

    fn input(&self, g: &mut Gen) -> Self::Input {
        (g.below(DECODERS.len()), g.bytes(&self.encodings))
    }

    fn check(&self, (i, bytes): &Self::Input) {
        let (_, decode) = DECODERS[*i];
        let _ = decode(bytes);
    }

    fn show(&self, (i, bytes): &Self::Input) -> String {
        format!("as {}: {}", DECODERS[*i].0, show_bytes(bytes))
    }
}

// ---------------------------------------------------------------- times and amounts

/// Timestamps and instants (`convert::from_ts`, `convert::ts`,
/// `clock::from_micros`), amounts (`fen_to_wanyuan`) and month arithmetic
/// (`policy::add_months`) at the edges of their ranges.
pub struct TimeTarget;

impl Fuzz for TimeTarget {
    type Input = (i64, i32, i64, i32, u32, u32);

    fn input(&self, g: &mut Gen) -> Self::Input {
        (
            g.int(),
            g.int() as i32,
            g.int(),
            g.int() as i32,
            g.next() as u32 % 400,
            g.int() as u32,
        )
    }

    fn check(&self, &(seconds, nanos, micros, days, ordinal, months): &Self::Input) {
        let _ = convert::from_ts(&prost_types::Timestamp { seconds, nanos });
        let t = convert::ts(micros);
        assert!((0..1_000_000_000).contains(&t.nanos));
        let instant = clock::from_micros(micros);
        let _ = clock::cst_date(instant);
        let _ = record::fen_to_wanyuan(micros);
        if micros != i64::MIN {
            assert_eq!(import::wanyuan_to_fen(&record::fen_to_wanyuan(micros)), Ok(micros));
        }
        let date =
            NaiveDate::from_num_days_from_ce_opt(days).or_else(|| NaiveDate::from_yo_opt(days % 10_000, ordinal));
        if let Some(d) = date {
            let _ = policy::add_months(d, months);
            let _ = clock::cst_midnight(d);
        }
    }

    fn show(&self, input: &Self::Input) -> String {
        format!("{input:?}")
    }
}

// ---------------------------------------------------------------- import

/// The extras after the 30 national columns.
const EXTRAS: [&str; 3] = ["程序", "行业", "信息类别"];

fn national_header() -> Vec<String> {
    record::CSV_HEADER
        .iter()
        .chain(EXTRAS.iter())
        .map(|s| s.to_string())
        .collect()
}

/// A valid data row for [`national_header`].
fn seed_row() -> Vec<String> {
    [
        "上海某某化工有限公司",
        "法人及非法人组织",
        "91310000MA1K000006",
        "",
        "",
        "",
        "",
        "",
        "张三",
        "身份证",
        "110105194912310038",
        "",
        "",
        "浦应急罚〔2024〕12号",
        "未按规定开展安全生产教育和培训",
        "经查，该公司未如实记录安全生产教育和培训情况。",
        "《中华人民共和国安全生产法》第九十七条第三项",
        "罚款",
        "罚款人民币贰万元整",
        "2.000000",
        "",
        "",
        "2024/3/5",
        "",
        "2027-03-05",
        "上海市浦东新区应急管理局",
        "11230500001755309F",
        "",
        "",
        "",
        "普通程序",
        "安全生产",
        "一般",
    ]
    .map(String::from)
    .to_vec()
}

/// A natural person's row (ID number in 证件号码).
fn seed_row_person() -> Vec<String> {
    let mut r = seed_row();
    r[0] = "李四".into();
    r[1] = "自然人".into();
    r[2] = String::new();
    r[8] = String::new();
    r[9] = String::new();
    r[10] = String::new();
    r[11] = "身份证".into();
    r[12] = "11010519491231002X".into();
    r[17] = "警告".into();
    r[19] = String::new();
    r
}

/// `import::validate_row`: the row check `gongshi import` applies, with the
/// national layout; an ID number never appears in a reason.
pub struct ImportRowTarget {
    layout: Layout,
    rows: Vec<Vec<String>>,
    cells: Vec<Vec<u8>>,
    opts: ImportOptions,
}

impl ImportRowTarget {
    pub fn new(g: &mut Gen) -> Self {
        let rows = vec![seed_row(), seed_row_person()];
        let mut cells: Vec<String> = rows.iter().flatten().cloned().collect();
        cells.extend(valid_credit_codes(g));
        cells.extend(valid_id_numbers(g));
        cells.extend(
            [
                "2024年3月5日",
                "2024.03.05",
                "2024-03-05 00:00:00",
                "0.000001",
                "-0.5",
                "9223372036854.775807",
                "罚款；没收违法所得",
                "罚款,警告,罚款",
                "暂扣许可证",
                "SPECIAL-EQUIPMENT",
                "护照",
                "个体工商户",
            ]
            .map(String::from),
        );
        ImportRowTarget {
            layout: Layout::from_header(&national_header()).unwrap_or_else(|e| panic!("national header: {e}")),
            rows,
            cells: seeds(cells),
            opts: ImportOptions::default(),
        }
    }
}

impl Fuzz for ImportRowTarget {
    type Input = (Vec<String>, Vec<(usize, String)>);

    fn input(&self, g: &mut Gen) -> Self::Input {
        let mut row = g.pick(&self.rows).clone();
        for _ in 0..1 + g.below(4) {
            let i = g.below(row.len());
            row[i] = g.string(&self.cells);
        }
        match g.below(10) {
            0 => row.truncate(g.below(row.len())),
            1 => row.extend((0..g.below(5)).map(|_| g.random_string())),
            _ => {}
        }
        let errors = if g.chance(5) {
            vec![(g.below(40), "the cell holds the spreadsheet error #N/A".to_string())]
        } else {
            Vec::new()
        };
        (row, errors)
    }

    fn check(&self, (row, errors): &Self::Input) {
        match import::validate_row(&self.layout, row, errors, &self.opts, today()) {
            Ok(_) => {}
            Err(problems) => {
                assert!(!problems.is_empty(), "refused without a problem");
                for (col, reason) in &problems {
                    let Some(col) = col.filter(|c| c.is_id_number()) else {
                        continue;
                    };
                    let i = record::CSV_HEADER
                        .iter()
                        .position(|h| h.ends_with(&format!("({})", col.code())));
                    let value = i.and_then(|i| row.get(i)).map(|v| v.trim()).unwrap_or("");
                    if value.chars().count() >= 8 && value.bytes().filter(u8::is_ascii_digit).count() >= 6 {
                        assert!(!reason.contains(value), "an ID number in a reason: {reason}");
                    }
                }
            }
        }
    }

    fn show(&self, (row, errors): &Self::Input) -> String {
        let cells: Vec<String> = row.iter().map(|c| show_str(c)).collect();
        format!("cells [{}], cell errors {errors:?}", cells.join(", "))
    }
}

/// `import::Layout::from_header` (header detection) on random and mutated
/// headers, then the valid row through the layout found.
pub struct ImportHeaderTarget {
    names: Vec<Vec<u8>>,
    opts: ImportOptions,
}

impl ImportHeaderTarget {
    pub fn new() -> Self {
        let mut names = national_header();
        names.extend(
            [
                "CF_XDR_MC",
                "cf_sy",
                "行政相对人代码_1(统一社会信用代码)",
                "*行政相对人名称",
                "罚款金额",
            ]
            .map(String::from),
        );
        ImportHeaderTarget {
            names: seeds(names),
            opts: ImportOptions::default(),
        }
    }
}

impl Fuzz for ImportHeaderTarget {
    type Input = Vec<String>;

    fn input(&self, g: &mut Gen) -> Vec<String> {
        let mut h = national_header();
        if g.chance(20) {
            h = (0..g.below(40)).map(|_| g.string(&self.names)).collect();
        } else {
            for _ in 0..1 + g.below(4) {
                let i = g.below(h.len());
                match g.below(3) {
                    0 => h[i] = g.string(&self.names),
                    1 => {
                        h.remove(i);
                    }
                    _ => {
                        let j = g.below(h.len());
                        h.swap(i, j);
                    }
                }
            }
        }
        h
    }

    fn check(&self, header: &Vec<String>) {
        if let Ok(layout) = Layout::from_header(header) {
            let _ = import::validate_row(&layout, &seed_row(), &[], &self.opts, today());
        }
    }

    fn show(&self, header: &Vec<String>) -> String {
        let cells: Vec<String> = header.iter().map(|c| show_str(c)).collect();
        format!("[{}]", cells.join(", "))
    }
}

/// `import::parse_csv` (UTF-8/GB18030 detection, CSV) on random and mutated
/// file bytes, then header detection and every row, as `gongshi import` does.
pub struct ImportCsvTarget {
    files: Vec<Vec<u8>>,
    opts: ImportOptions,
}

fn csv_line(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl ImportCsvTarget {
    pub fn new() -> Self {
        let text = [national_header(), seed_row(), seed_row_person()]
            .iter()
            .map(|r| csv_line(r))
            .collect::<Vec<_>>()
            .join("\r\n");
        let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        ImportCsvTarget {
            files: vec![
                text.clone().into_bytes(),
                gbk.into_owned(),
                bom,
                b"\"a\",\"b\nc\",\"d\"\"\"\n".to_vec(),
            ],
            opts: ImportOptions::default(),
        }
    }
}

impl Fuzz for ImportCsvTarget {
    type Input = Vec<u8>;

    fn input(&self, g: &mut Gen) -> Vec<u8> {
        g.bytes(&self.files)
    }

    fn check(&self, bytes: &Vec<u8>) {
        let Ok(rows) = import::parse_csv(bytes.clone()) else {
            return;
        };
        let mut rows = rows.into_iter().filter(|r| r.iter().any(|c| !c.trim().is_empty()));
        let Some(header) = rows.next() else { return };
        let Ok(layout) = Layout::from_header(&header) else {
            return;
        };
        for row in rows {
            if let Err(problems) = import::validate_row(&layout, &row, &[], &self.opts, today()) {
                assert!(!problems.is_empty());
            }
        }
    }

    fn show(&self, bytes: &Vec<u8>) -> String {
        show_bytes(bytes)
    }
}

/// The import's value parsers: `wanyuan_to_fen`, `parse_sector`,
/// `parse_severity`, `parse_procedure`.
pub struct ImportValuesTarget {
    seeds: Vec<Vec<u8>>,
}

impl ImportValuesTarget {
    pub fn new() -> Self {
        ImportValuesTarget {
            seeds: seeds([
                "0.200000",
                "1500",
                ".5",
                "5.",
                "-0.5",
                "+1",
                "9223372036854.775807",
                "0.1000000",
                "食品",
                "special-equipment",
                "严重",
                "简易",
                "ORDINARY",
            ]),
        }
    }
}

impl Fuzz for ImportValuesTarget {
    type Input = String;

    fn input(&self, g: &mut Gen) -> String {
        g.string(&self.seeds)
    }

    fn check(&self, s: &String) {
        if let Ok(fen) = import::wanyuan_to_fen(s) {
            // What parses is exactly what the export writes back (up to zeros).
            if fen != i64::MIN {
                assert_eq!(import::wanyuan_to_fen(&record::fen_to_wanyuan(fen)), Ok(fen));
            }
        }
        let _ = import::parse_sector(s);
        let _ = import::parse_severity(s);
        let _ = import::parse_procedure(s);
    }

    fn show(&self, s: &String) -> String {
        show_str(s)
    }
}

// ---------------------------------------------------------------- receipt codes

/// `repair::normalize_receipt` (what `LookupRepairApplication` takes, no key
/// needed) and `repair::receipt_code`.
pub struct ReceiptTarget {
    seeds: Vec<Vec<u8>>,
}

impl ReceiptTarget {
    pub fn new() -> Self {
        ReceiptTarget {
            seeds: seeds(["23456-789AZ", "23456789az", " 23456 789AZ ", "ABCDE-FGHJK"]),
        }
    }
}

impl Fuzz for ReceiptTarget {
    type Input = (String, [u8; repair::RECEIPT_LEN]);

    fn input(&self, g: &mut Gen) -> Self::Input {
        let mut random = [0u8; repair::RECEIPT_LEN];
        random.iter_mut().for_each(|b| *b = g.next() as u8);
        (g.string(&self.seeds), random)
    }

    fn check(&self, (s, random): &Self::Input) {
        if let Some(code) = repair::normalize_receipt(s) {
            assert_eq!(code.len(), repair::RECEIPT_LEN + 1);
            assert_eq!(repair::normalize_receipt(&code).as_ref(), Some(&code));
        }
        let minted = repair::receipt_code(random);
        assert_eq!(repair::normalize_receipt(&minted).as_ref(), Some(&minted));
        assert_eq!(
            repair::normalize_receipt(&minted.to_lowercase()).as_ref(),
            Some(&minted)
        );
    }

    fn show(&self, (s, random): &Self::Input) -> String {
        format!("{} (receipt_code of {})", show_str(s), show_bytes(random))
    }
}

// ---------------------------------------------------------------- the public search

/// `search::SearchTerm::parse` (the public `q`, no key needed), with the
/// index's promise: a name query's looked-up bigrams are all bigrams of any
/// name that contains it.
pub struct SearchQueryTarget {
    seeds: Vec<Vec<u8>>,
}

impl SearchQueryTarget {
    pub fn new() -> Self {
        SearchQueryTarget {
            seeds: seeds([
                "浦江",
                "上海浦江化工有限公司",
                "91350100M000100Y43",
                "ＡＢＣ Trading",
                " 浦 江 ",
                "a",
            ]),
        }
    }
}

impl Fuzz for SearchQueryTarget {
    type Input = String;

    fn input(&self, g: &mut Gen) -> Self::Input {
        g.string(&self.seeds)
    }

    fn check(&self, q: &String) {
        use gongshi::domain::search::{self, SearchTerm};
        match SearchTerm::parse(q) {
            Ok(SearchTerm::Name(n)) => {
                assert!(n.chars().count() >= search::MIN_NAME_QUERY);
                assert_eq!(search::normalize(&n), n, "normalising is idempotent");
                let name = format!("上海{n}有限公司");
                let indexed = search::bigrams(&search::normalize(&name));
                for g in search::query_bigrams(&n, 6) {
                    assert!(indexed.contains(&g), "{g:?} of {n:?} not indexed for {name:?}");
                }
            }
            Ok(SearchTerm::CreditCode(c)) => assert!(CreditCode::parse(&c).is_ok()),
            Ok(SearchTerm::All) => assert!(q.trim().is_empty()),
            Err(_) => {}
        }
    }

    fn show(&self, s: &String) -> String {
        show_str(s)
    }
}

// ---------------------------------------------------------------- calendar and policy

/// `WorkingCalendar::from_csv` on mutations of `data/cn-holidays.csv`, then
/// working-day arithmetic on what loads.
pub struct CalendarTarget {
    seeds: Vec<Vec<u8>>,
}

impl CalendarTarget {
    pub fn new() -> Self {
        let builtin = include_str!("../../data/cn-holidays.csv");
        let short: String = builtin.lines().take(12).collect::<Vec<_>>().join("\n");
        CalendarTarget {
            seeds: seeds([
                builtin.to_string(),
                short,
                "date,kind,name\n2024-01-01,holiday,元旦\n".into(),
            ]),
        }
    }
}

impl Fuzz for CalendarTarget {
    type Input = (String, i32, u32);

    fn input(&self, g: &mut Gen) -> Self::Input {
        (g.string(&self.seeds), g.below(800) as i32 - 400, g.below(60) as u32)
    }

    fn check(&self, (text, offset, n): &Self::Input) {
        let Ok(cal) = WorkingCalendar::from_csv(text) else {
            return;
        };
        let Some(&first) = cal.official_years().first() else {
            return;
        };
        let start = NaiveDate::from_ymd_opt(first, 1, 1)
            .and_then(|d| d.checked_add_signed(chrono::Duration::days(i64::from(*offset))));
        if let Some(d) = start {
            let _ = cal.is_working_day(d);
            if let Ok(end) = cal.add_working_days_counted(d, *n) {
                assert!(end.value >= d);
                let back = cal.working_days_between_counted(d, end.value);
                assert_eq!(back.map(|b| (b.value, b.provisional)), Ok((*n, end.provisional)));
            }
        }
    }

    fn show(&self, (text, offset, n): &Self::Input) -> String {
        format!(
            "{} (then day {offset} of the first year, +{n} working days)",
            show_str(text)
        )
    }
}

/// `PublicityPolicy::from_toml` on mutations of `policy/publicity.toml`.
pub struct PolicyTomlTarget {
    seeds: Vec<Vec<u8>>,
}

impl PolicyTomlTarget {
    pub fn new() -> Self {
        PolicyTomlTarget {
            seeds: seeds([include_str!("../../policy/publicity.toml")]),
        }
    }
}

impl Fuzz for PolicyTomlTarget {
    type Input = String;

    fn input(&self, g: &mut Gen) -> String {
        g.string(&self.seeds)
    }

    fn check(&self, text: &String) {
        if let Ok(p) = PublicityPolicy::from_toml(text) {
            let _ = p.decide(&PolicyInput {
                decided_on: today(),
                severity: Severity::Serious,
                sector: Sector::Food,
                procedure: Procedure::Ordinary,
                penalty_kinds: vec![PenaltyKind::Fine],
                party_kind: PartyKind::LegalPerson,
            });
        }
    }

    fn show(&self, text: &String) -> String {
        show_str(text)
    }
}

/// `PublicityPolicy::decide` (the built-in policy) on any decision date and
/// combination of enums, including dates at the edge of chrono's range.
pub struct PolicyDecideTarget {
    policy: PublicityPolicy,
}

impl PolicyDecideTarget {
    pub fn new() -> Self {
        PolicyDecideTarget {
            policy: PublicityPolicy::builtin().unwrap_or_else(|e| panic!("built-in policy: {e}")),
        }
    }
}

impl Fuzz for PolicyDecideTarget {
    type Input = (i32, usize, usize, usize, Vec<usize>, usize);

    fn input(&self, g: &mut Gen) -> Self::Input {
        let days = match g.below(3) {
            0 => g.int() as i32,
            1 => 738_000 + g.below(3000) as i32,
            _ => *g.pick(&[i32::MIN, i32::MAX, 0, 1, 95_000_000, -95_000_000]),
        };
        let kinds = (0..g.below(5)).map(|_| g.below(PenaltyKind::ALL.len())).collect();
        (
            days,
            g.below(3),
            g.below(Sector::ALL.len()),
            g.below(2),
            kinds,
            g.below(3),
        )
    }

    fn check(&self, (days, sev, sector, proc_, kinds, party): &Self::Input) {
        let Some(decided_on) = NaiveDate::from_num_days_from_ce_opt(*days) else {
            return;
        };
        let input = PolicyInput {
            decided_on,
            severity: Severity::ALL[*sev % Severity::ALL.len()],
            sector: Sector::ALL[*sector],
            procedure: Procedure::ALL[*proc_ % Procedure::ALL.len()],
            penalty_kinds: kinds.iter().map(|k| PenaltyKind::ALL[*k]).collect(),
            party_kind: PartyKind::ALL[*party % PartyKind::ALL.len()],
        };
        if let Ok(policy::PublicationDecision::Publish(p)) = self.policy.decide(&input) {
            assert!(
                p.min_ends_on >= decided_on && p.publicity_ends_on >= p.min_ends_on,
                "{p:?}"
            );
        }
    }

    fn show(&self, input: &Self::Input) -> String {
        format!("{input:?}")
    }
}

/// The seeds must be valid, or the mutations explore only the first check;
/// and what these targets once found stays fixed.
pub fn check_seeds() -> Result<(), String> {
    // decision_doc: chrono's %Y took a sign or a fifth digit, so "-024-03-05"
    // passed as year -24 and came back as "-0024-03-05", which is refused.
    for bad in ["-024-03-05", "+024-03-05", "02024-3-05", "2024-3-005"] {
        if Violations::default().date("decided_on", bad, true).is_some() {
            return Err(format!("the date {bad:?} is accepted"));
        }
    }
    convert::decision_doc(&seed_decision(), "penalty_decision.", today())
        .map_err(|e| format!("seed decision: {e:?}"))?;
    let layout = Layout::from_header(&national_header())?;
    for row in [seed_row(), seed_row_person()] {
        import::validate_row(&layout, &row, &[], &ImportOptions::default(), today())
            .map_err(|p| format!("seed row: {p:?}"))?;
    }
    Ok(())
}
