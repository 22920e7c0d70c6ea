//! The access matrix (issue 7 item 5): one table with a row for every RPC of
//! every `gongshi.v1` service, naming the roles API.md's "Authentication and
//! roles" table allows and building a request on enterprise A's real
//! resources. The RPCs are read from the compiled descriptor set, so an RPC
//! added to the proto without a row (or a row naming an RPC that does not
//! exist) fails [`every_rpc_of_the_proto_has_a_row`], and the matrix too.
//!
//! Every row is called, on SQLite and PostgreSQL, by every role; with no key,
//! malformed and unknown keys; with a revoked and an expired key of every
//! role; by an enterprise key naming another enterprise; by a portal key
//! naming none or an invalid one; and by enterprise B (its own key, and the
//! portal acting for it) on A's resources, whose answer must equal the answer
//! for a resource that does not exist (existence does not leak). Then page
//! tokens, on every RPC that takes one: a token minted for one caller or one
//! filter is refused for any other.
//!
//! Calls go through one generic gRPC client with a bytes codec: the table is
//! the only place an RPC is named.

use std::collections::{BTreeMap, BTreeSet};

use gongshi::api::pb;
use gongshi::domain::clock::Clock;
use gongshi::domain::lifecycle::Role;
use gongshi::domain::repair::RepairAction;
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::repair_support::{As, act_with, application_for, material, submit_with};
use crate::support::calls::notice_bundle;
use crate::support::calls::{
    self, direct_delivery, fulfilment, publication, receipt, review_of, slip_correction, withdrawal,
};
use crate::support::raw::RawCodec;
use crate::support::{
    ROLES, TestDb, TestServer, backends, clock_at, create_and_publish, credit_code, d, decision, full_checklist,
    reason, req,
};

const PKG: &str = "gongshi.v1";
/// Decided 2025-06-10 (general class, sector OTHER): the minimum publicity
/// period ended 2025-09-10, so on TODAY a fulfilled decision may be repaired.
const TODAY: &str = "2025-09-15";
const DECIDED: &str = "2025-06-10";
const FULFILLED: &str = "2025-06-11";
/// An etag no resource here has: writes sent with it answer ABORTED
/// (ETAG_MISMATCH) once past authentication, the role check and enterprise
/// isolation — all of which come first (API.md: "Permission is checked before
/// existence and etag") — and change nothing.
const STALE: &str = "\"999\"";

/// A listing request that takes a page token: its RPC, the listing of one
/// subject, the one-item page at a token, and the next page token of its
/// response.
trait PageRequest: Message + Clone + Default + 'static {
    const METHOD: &'static str;
    /// The listing of one subject: an enterprise's data, or one resource's events.
    fn of(subject: &str) -> Self;
    /// This request for the page of `size` items at `token`.
    fn page(&self, size: i32, token: &str) -> Self;
    /// The `next_page_token` of an encoded response.
    fn next_token(response: &[u8]) -> String;
}

/// The RPCs that take a `page_token` (`PAGED`, checked against the
/// descriptor set), each with its request type (and the field naming its
/// subject) and its response type; each has page-token cases in
/// [`Fx::page_cases`].
macro_rules! paged_rpcs {
    ($($method:literal: $request:ident($subject:ident) => $response:ident,)*) => {
        const PAGED: &[&str] = &[$($method),*];
        $(impl PageRequest for pb::$request {
            const METHOD: &'static str = $method;
            fn of(subject: &str) -> Self {
                pb::$request {
                    $subject: subject.into(),
                    ..Default::default()
                }
            }
            fn page(&self, size: i32, token: &str) -> Self {
                pb::$request {
                    page_size: size,
                    page_token: token.into(),
                    ..self.clone()
                }
            }
            fn next_token(response: &[u8]) -> String {
                pb::$response::decode(response).expect("decode").next_page_token
            }
        })*
    };
}

paged_rpcs! {
    "gongshi.v1.EnforcementService/ListPenaltyDecisions":
        ListPenaltyDecisionsRequest(party_credit_code) => ListPenaltyDecisionsResponse,
    "gongshi.v1.EnforcementService/ListPenaltyDecisionEvents":
        ListPenaltyDecisionEventsRequest(name) => ListPenaltyDecisionEventsResponse,
    "gongshi.v1.DisclosureService/ListDisclosures": ListDisclosuresRequest(party_credit_code) => ListDisclosuresResponse,
    "gongshi.v1.CreditRepairService/ListRepairApplications":
        ListRepairApplicationsRequest(applicant_credit_code) => ListRepairApplicationsResponse,
    "gongshi.v1.CreditRepairService/ListRepairApplicationEvents":
        ListRepairApplicationEventsRequest(name) => ListRepairApplicationEventsResponse,
    "gongshi.v1.NoticeService/ListNoticeBundles": ListNoticeBundlesRequest(party_credit_code) => ListNoticeBundlesResponse,
}

/// An RPC and an encoded request.
type Call = (&'static str, Vec<u8>);

/// A listing's RPC and its whole first page (of up to 1000) by `R`.
fn whole_listing<R: PageRequest>() -> Call {
    (R::METHOD, R::default().page(1000, "").encode_to_vec())
}

// ---------------------------------------------------------------------------
// Calls: one generic client, encoded request messages, raw responses.
// ---------------------------------------------------------------------------

/// The response (the first message of a stream), or the status.
type Outcome = Result<Vec<u8>, Status>;

/// An encoded request and the Rust type it was built from (checked against
/// the RPC's input type).
struct Msg {
    rust_type: &'static str,
    bytes: Vec<u8>,
}

fn msg<M: Message>(m: M) -> Msg {
    Msg {
        rust_type: std::any::type_name::<M>(),
        bytes: m.encode_to_vec(),
    }
}

/// Who calls: the `authorization` header as sent, the on-behalf-of.
#[derive(Clone, Debug)]
struct Who {
    label: String,
    auth: Option<String>,
    obo: Option<String>,
}

impl Who {
    fn bearer(label: impl Into<String>, key: &str, obo: Option<&str>) -> Who {
        Who {
            label: label.into(),
            auth: Some(format!("Bearer {key}")),
            obo: obo.map(str::to_string),
        }
    }

    fn request(&self, body: Vec<u8>) -> tonic::Request<Vec<u8>> {
        let mut r = tonic::Request::new(body);
        if let Some(a) = &self.auth {
            r.metadata_mut()
                .insert("authorization", a.parse().expect("ascii header"));
        }
        if let Some(o) = &self.obo {
            r.metadata_mut()
                .insert("x-gongshi-on-behalf-of", o.parse().expect("ascii code"));
        }
        r
    }
}

async fn invoke(ch: &Channel, method: &str, streaming: bool, who: &Who, body: Vec<u8>) -> Outcome {
    let mut g = tonic::client::Grpc::new(ch.clone()).max_decoding_message_size(64 * 1024 * 1024);
    g.ready()
        .await
        .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
    let path: http::uri::PathAndQuery = format!("/{method}").parse().expect("path");
    if streaming {
        // Watch and export: the first message, or the status.
        let mut s = g
            .server_streaming(who.request(body), path, RawCodec)
            .await?
            .into_inner();
        Ok(s.message().await?.unwrap_or_default())
    } else {
        Ok(g.unary(who.request(body), path, RawCodec).await?.into_inner())
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Ok(_) => "OK".into(),
        Err(s) => format!("{:?} {} ({})", s.code(), reason(s), s.message()),
    }
}

// ---------------------------------------------------------------------------
// The proto
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ProtoMethod {
    /// Simple name of the input message.
    input: String,
    server_streaming: bool,
    client_streaming: bool,
    /// The input message has a `page_token`.
    paged: bool,
}

/// Every method of every `gongshi.v1` service, by full name
/// (`gongshi.v1.CreditRepairService/ApproveRepairApplication`).
fn proto_methods() -> BTreeMap<String, ProtoMethod> {
    let fds = prost_types::FileDescriptorSet::decode(gongshi::api::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let files: Vec<_> = fds.file.iter().filter(|f| f.package() == PKG).collect();
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &files {
        for m in &f.message_type {
            fields.insert(
                format!(".{PKG}.{}", m.name()),
                m.field.iter().map(|x| x.name().to_string()).collect(),
            );
        }
    }
    let mut out = BTreeMap::new();
    for f in &files {
        for s in &f.service {
            for m in &s.method {
                let input = m.input_type().to_string();
                out.insert(
                    format!("{PKG}.{}/{}", s.name(), m.name()),
                    ProtoMethod {
                        paged: fields.get(&input).is_some_and(|f| f.iter().any(|n| n == "page_token")),
                        input: input.rsplit('.').next().unwrap_or_default().to_string(),
                        server_streaming: m.server_streaming(),
                        client_streaming: m.client_streaming(),
                    },
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/// What a request refers to: enterprise A's real resources, or names that
/// exist nowhere (for the existence-leak comparison).
#[derive(Clone, Debug)]
struct Target {
    /// The enterprise whose data the request asks for (list filters, look-up).
    enterprise: String,
    /// Published, fulfilled, with events; its notice bundle is rendered.
    decision: String,
    /// Recorded only (for review, publication, fulfilment).
    recorded: String,
    /// The active disclosure of `decision`.
    disclosure: String,
    /// An active disclosure with no application (for submission).
    free_disclosure: String,
    /// An ACCEPTED application on `disclosure`.
    application: String,
    receipt_code: String,
    /// The server's clock (delivery and receipt times).
    now: prost_types::Timestamp,
}

impl Target {
    fn bundle(&self) -> String {
        format!("{}/noticeBundle", self.decision)
    }

    /// Names that exist nowhere; `enterprise` is a valid code with no data.
    fn missing(now: prost_types::Timestamp) -> Target {
        Target {
            enterprise: credit_code("91310115", 70_009),
            decision: "penaltyDecisions/01ZZNOSUCHDECISION00000000".into(),
            recorded: "penaltyDecisions/01ZZNOSUCHRECORDED00000000".into(),
            disclosure: "disclosures/01ZZNOSUCHDISCLOSURE000000".into(),
            free_disclosure: "disclosures/01ZZNOSUCHFREEDISCLOSURE00".into(),
            application: "repairApplications/01ZZNOSUCHAPPLICATION00".into(),
            receipt_code: "NOSUCHRECEIPT".into(),
            now,
        }
    }

    /// The names, each with a placeholder, longest first (the bundle
    /// contains the decision).
    fn placeholders(&self) -> Vec<(String, &'static str)> {
        vec![
            (self.bundle(), "<bundle>"),
            (self.decision.clone(), "<decision>"),
            (self.recorded.clone(), "<recorded>"),
            (self.free_disclosure.clone(), "<free_disclosure>"),
            (self.disclosure.clone(), "<disclosure>"),
            (self.application.clone(), "<application>"),
            (self.enterprise.clone(), "<enterprise>"),
            (self.receipt_code.clone(), "<receipt>"),
        ]
    }
}

/// An answer an allowed caller may get: a code and its ErrorInfo reason
/// (empty for OK).
type Pass = (Code, &'static str);

const OK: &[Pass] = &[(Code::Ok, "")];
/// A write with a [`STALE`] etag.
const STALE_ETAG: &[Pass] = &[(Code::Aborted, "ETAG_MISMATCH")];

/// One RPC: who may call it, and a request on a target.
struct Row {
    method: &'static str,
    /// The roles API.md's roles table allows.
    allowed: &'static [Role],
    /// Roles the server also lets in though API.md's roles table does not
    /// name them. Pinned so that a change either way is noticed, and
    /// reported for a decision (see the report of issue 7 item 5).
    beyond_api_md: &'static [Role],
    /// Needs no key (API.md: "no key").
    public: bool,
    /// What an allowed caller gets on A's resources.
    ok: &'static [Pass],
    build: fn(&Target) -> Msg,
}

impl Row {
    fn new(method: &'static str, allowed: &'static [Role], ok: &'static [Pass], build: fn(&Target) -> Msg) -> Row {
        Row {
            method,
            allowed,
            beyond_api_md: &[],
            public: false,
            ok,
            build,
        }
    }

    fn beyond_api_md(self, roles: &'static [Role]) -> Row {
        Row {
            beyond_api_md: roles,
            ..self
        }
    }

    fn public(self) -> Row {
        Row { public: true, ..self }
    }

    /// Whether a key of `role` gets past the role check.
    fn admits(&self, role: Role) -> bool {
        self.public || self.allowed.contains(&role) || self.beyond_api_md.contains(&role)
    }
}

/// The access matrix: one row per RPC of the proto. Roles from API.md
/// "Authentication and roles":
/// - officer: everything in EnforcementService except ReviewPenaltyDecision;
///   NoticeService writes; read decisions and events;
/// - legal_reviewer: ReviewPenaltyDecision; read decisions;
/// - repair_reviewer: the six reviewer transitions; read everything in
///   CreditRepairService;
/// - portal / enterprise: check eligibility, submit, supplement, withdraw,
///   get, list its applications, get its notice bundles;
/// - discloser: DisclosureService;
/// - auditor: read everything, no writes;
/// - no key: LookupRepairApplication.
fn rows() -> Vec<Row> {
    use Role::*;
    const DECISION_READERS: &[Role] = &[Officer, LegalReviewer, Auditor];
    const DISCLOSURE_READERS: &[Role] = &[Discloser, Auditor];
    const REPAIR_READERS: &[Role] = &[Portal, Enterprise, RepairReviewer, Auditor];
    const APPLICANT: &[Role] = &[Portal, Enterprise];
    const REVIEWER: &[Role] = &[RepairReviewer];
    vec![
        // EnforcementService
        Row::new(
            "gongshi.v1.EnforcementService/CreatePenaltyDecision",
            &[Officer],
            OK,
            |_| {
                msg(pb::CreatePenaltyDecisionRequest {
                    request_id: String::new(),
                    penalty_decision: Some(decision(
                        "沪应急罚〔2025〕矩阵-新1号",
                        DECIDED,
                        &credit_code("91310115", 70_100),
                    )),
                })
            },
        ),
        Row::new(
            "gongshi.v1.EnforcementService/GetPenaltyDecision",
            DECISION_READERS,
            OK,
            |t| {
                msg(pb::GetPenaltyDecisionRequest {
                    name: t.decision.clone(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.EnforcementService/ListPenaltyDecisions",
            DECISION_READERS,
            OK,
            |t| {
                msg(pb::ListPenaltyDecisionsRequest {
                    party_credit_code: t.enterprise.clone(),
                    ..Default::default()
                })
            },
        ),
        Row::new(
            "gongshi.v1.EnforcementService/ReviewPenaltyDecision",
            &[LegalReviewer],
            STALE_ETAG,
            |t| {
                msg(review_of(
                    &t.recorded,
                    STALE,
                    pb::ReviewOpinion::Approve,
                    full_checklist(),
                    "同意",
                ))
            },
        ),
        Row::new(
            "gongshi.v1.EnforcementService/PublishPenaltyDecision",
            &[Officer],
            STALE_ETAG,
            |t| msg(publication(&t.recorded, STALE)),
        ),
        Row::new(
            "gongshi.v1.EnforcementService/CorrectPenaltyDecision",
            &[Officer],
            STALE_ETAG,
            |t| msg(slip_correction(&t.decision, "remarks", "更正笔误", STALE)),
        ),
        Row::new(
            "gongshi.v1.EnforcementService/WithdrawPenaltyDecision",
            &[Officer],
            STALE_ETAG,
            |t| msg(withdrawal(&t.decision, STALE, pb::WithdrawalEvent::Revoked, "复议撤销")),
        ),
        Row::new(
            "gongshi.v1.EnforcementService/RecordFulfillment",
            &[Officer],
            STALE_ETAG,
            |t| msg(fulfilment(&t.recorded, STALE, FULFILLED, "缴款凭证")),
        ),
        Row::new(
            "gongshi.v1.EnforcementService/ListPenaltyDecisionEvents",
            &[Officer, Auditor],
            OK,
            |t| {
                msg(pb::ListPenaltyDecisionEventsRequest {
                    name: t.decision.clone(),
                    page_size: 0,
                    page_token: String::new(),
                })
            },
        ),
        // DisclosureService
        Row::new(
            "gongshi.v1.DisclosureService/GetDisclosure",
            DISCLOSURE_READERS,
            OK,
            |t| {
                msg(pb::GetDisclosureRequest {
                    name: t.disclosure.clone(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.DisclosureService/ListDisclosures",
            DISCLOSURE_READERS,
            OK,
            |t| {
                msg(pb::ListDisclosuresRequest {
                    party_credit_code: t.enterprise.clone(),
                    ..Default::default()
                })
            },
        ),
        Row::new(
            "gongshi.v1.DisclosureService/ListDisclosureChanges",
            DISCLOSURE_READERS,
            OK,
            |_| {
                msg(pb::ListDisclosureChangesRequest {
                    after_sequence: 0,
                    page_size: 0,
                })
            },
        ),
        Row::new(
            "gongshi.v1.DisclosureService/WatchDisclosureChanges",
            DISCLOSURE_READERS,
            OK,
            |_| msg(pb::WatchDisclosureChangesRequest { after_sequence: 0 }),
        ),
        Row::new(
            "gongshi.v1.DisclosureService/ExportDisclosures",
            DISCLOSURE_READERS,
            OK,
            |_| {
                msg(pb::ExportDisclosuresRequest {
                    format: pb::ExportFormat::Csv as i32,
                })
            },
        ),
        // CreditRepairService
        Row::new(
            "gongshi.v1.CreditRepairService/CheckRepairEligibility",
            REPAIR_READERS,
            OK,
            |t| {
                msg(pb::CheckRepairEligibilityRequest {
                    disclosure: t.disclosure.clone(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/SubmitRepairApplication",
            APPLICANT,
            // The first allowed caller submits; later ones find it open.
            &[(Code::Ok, ""), (Code::FailedPrecondition, "APPLICATION_ALREADY_OPEN")],
            |t| {
                msg(pb::SubmitRepairApplicationRequest {
                    request_id: String::new(),
                    repair_application: Some(application_for(&t.free_disclosure, "")),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/GetRepairApplication",
            REPAIR_READERS,
            OK,
            |t| {
                msg(pb::GetRepairApplicationRequest {
                    name: t.application.clone(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/ListRepairApplications",
            REPAIR_READERS,
            OK,
            |t| {
                msg(pb::ListRepairApplicationsRequest {
                    applicant_credit_code: t.enterprise.clone(),
                    ..Default::default()
                })
            },
        ),
        Row::new("gongshi.v1.CreditRepairService/LookupRepairApplication", &[], OK, |t| {
            msg(pb::LookupRepairApplicationRequest {
                receipt_code: t.receipt_code.clone(),
                applicant_credit_code: t.enterprise.clone(),
            })
        })
        .public(),
        Row::new(
            "gongshi.v1.CreditRepairService/AcceptRepairApplication",
            REVIEWER,
            STALE_ETAG,
            |t| {
                msg(pb::AcceptRepairApplicationRequest {
                    name: t.application.clone(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/DeclineRepairApplication",
            REVIEWER,
            STALE_ETAG,
            |t| {
                msg(pb::DeclineRepairApplicationRequest {
                    name: t.application.clone(),
                    reason: "不属于受理范围".into(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/RequestSupplement",
            REVIEWER,
            STALE_ETAG,
            |t| {
                msg(pb::RequestSupplementRequest {
                    name: t.application.clone(),
                    reason: "请补充缴款凭证".into(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/SupplementRepairApplication",
            APPLICANT,
            STALE_ETAG,
            |t| {
                msg(pb::SupplementRepairApplicationRequest {
                    name: t.application.clone(),
                    materials: vec![material(
                        pb::MaterialKind::FulfillmentProof,
                        "补充材料.pdf",
                        b"%PDF-1.4 supplement".to_vec(),
                    )],
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/ApproveRepairApplication",
            REVIEWER,
            STALE_ETAG,
            |t| {
                msg(pb::ApproveRepairApplicationRequest {
                    name: t.application.clone(),
                    opinion: "同意修复".into(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/RejectRepairApplication",
            REVIEWER,
            STALE_ETAG,
            |t| {
                msg(pb::RejectRepairApplicationRequest {
                    name: t.application.clone(),
                    reason: "整改不到位".into(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/WithdrawRepairApplication",
            APPLICANT,
            STALE_ETAG,
            |t| {
                msg(pb::WithdrawRepairApplicationRequest {
                    name: t.application.clone(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/RevokeRepair",
            REVIEWER,
            STALE_ETAG,
            |t| {
                msg(pb::RevokeRepairRequest {
                    name: t.application.clone(),
                    reason: "材料虚假".into(),
                    etag: STALE.into(),
                })
            },
        ),
        Row::new(
            "gongshi.v1.CreditRepairService/ListRepairApplicationEvents",
            &[RepairReviewer, Auditor],
            OK,
            |t| {
                msg(pb::ListRepairApplicationEventsRequest {
                    name: t.application.clone(),
                    page_size: 0,
                    page_token: String::new(),
                })
            },
        )
        // API.md lists no events among what portal and enterprise may do.
        .beyond_api_md(APPLICANT),
        // NoticeService
        Row::new(
            "gongshi.v1.NoticeService/GetNoticeBundle",
            &[Portal, Enterprise, Auditor],
            OK,
            |t| {
                msg(pb::GetNoticeBundleRequest {
                    name: t.bundle(),
                    version: 0,
                })
            },
        )
        // API.md gives officers NoticeService writes only.
        .beyond_api_md(&[Officer]),
        // Issue 19: the same roles and isolation as GetNoticeBundle.
        Row::new(
            "gongshi.v1.NoticeService/RenderNoticeDocument",
            &[Portal, Enterprise, Auditor],
            OK,
            |t| {
                msg(pb::RenderNoticeDocumentRequest {
                    name: t.bundle(),
                    kind: pb::DocumentKind::PenaltyDecision as i32,
                })
            },
        )
        .beyond_api_md(&[Officer]),
        Row::new("gongshi.v1.NoticeService/ListNoticeBundles", &[Auditor], OK, |t| {
            msg(pb::ListNoticeBundlesRequest {
                party_credit_code: t.enterprise.clone(),
                ..Default::default()
            })
        })
        // API.md: officers have NoticeService writes; portal and enterprise
        // "get" their bundles — listing is named for no role but the auditor.
        .beyond_api_md(&[Officer, Portal, Enterprise]),
        Row::new(
            "gongshi.v1.NoticeService/RecordNoticeDelivery",
            &[Officer],
            STALE_ETAG,
            |t| msg(direct_delivery(&t.bundle(), "张三", "法定代表人", t.now, STALE)),
        ),
        Row::new(
            "gongshi.v1.NoticeService/RecordNoticeReceipt",
            &[Officer],
            STALE_ETAG,
            |t| msg(receipt(&t.bundle(), "张三", t.now, STALE)),
        ),
        // ReportService
        Row::new("gongshi.v1.ReportService/GetAnnualReport", &[Auditor], OK, |_| {
            msg(pb::GetAnnualReportRequest {
                year: 2025,
                authority_credit_code: String::new(),
            })
        })
        // API.md names ReportService for no role; "read everything" covers the auditor.
        .beyond_api_md(&[Officer, LegalReviewer, RepairReviewer]),
    ]
}

/// Everything wrong with the table against the proto: missing rows, rows of
/// no RPC, duplicates, request types, roles, paging.
fn table_problems(methods: &BTreeMap<String, ProtoMethod>, rows: &[Row]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let probe = Target::missing(prost_types::Timestamp::default());
    for row in rows {
        if !seen.insert(row.method) {
            problems.push(format!("{}: more than one row", row.method));
        }
        let Some(m) = methods.get(row.method) else {
            problems.push(format!("{}: a row for an RPC the proto does not have", row.method));
            continue;
        };
        let built = (row.build)(&probe);
        let rust = built.rust_type.rsplit("::").next().unwrap_or_default();
        if rust != m.input {
            problems.push(format!(
                "{}: the row builds a {rust}, the RPC takes a {}",
                row.method, m.input
            ));
        }
        if m.client_streaming {
            problems.push(format!("{}: client streaming is not supported here", row.method));
        }
        if row.public != row.allowed.is_empty() {
            problems.push(format!("{}: a public row names no roles, others name some", row.method));
        }
        if let Some(r) = row.beyond_api_md.iter().find(|r| row.allowed.contains(r)) {
            problems.push(format!("{}: {r} both allowed and beyond API.md", row.method));
        }
    }
    for name in methods.keys() {
        if !seen.contains(name.as_str()) {
            problems.push(format!(
                "{name}: the RPC has no row in the access matrix (add one to rows() in tests/it/access_matrix.rs with the \
                 roles API.md allows)"
            ));
        }
    }
    let paged: BTreeSet<&str> = methods
        .iter()
        .filter(|(_, m)| m.paged)
        .map(|(n, _)| n.as_str())
        .collect();
    let listed: BTreeSet<&str> = PAGED.iter().copied().collect();
    for n in paged.difference(&listed) {
        problems.push(format!("{n}: takes a page_token but has no page-token cases (PAGED)"));
    }
    for n in listed.difference(&paged) {
        problems.push(format!("{n}: in PAGED but takes no page_token"));
    }
    let roles: BTreeSet<Role> = Role::ALL.iter().copied().filter(|r| *r != Role::System).collect();
    if roles != ROLES.into_iter().collect() {
        problems.push(format!(
            "the matrix's roles {ROLES:?} are not the roles a key can have {roles:?}"
        ));
    }
    problems
}

#[test]
fn every_rpc_of_the_proto_has_a_row() {
    let methods = proto_methods();
    assert!(methods.len() >= 33, "only {} RPCs in the descriptor set", methods.len());
    let problems = table_problems(&methods, &rows());
    assert!(
        problems.is_empty(),
        "the access matrix does not match the proto:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------

struct Fx {
    backend: &'static str,
    server: TestServer,
    ch: Channel,
    /// Enterprise A (owns every resource of `own`) and enterprise B.
    a: String,
    b: String,
    /// One key per role (the enterprise key bound to A).
    keys: BTreeMap<Role, String>,
    /// A second key per role: another caller of the same role.
    second: BTreeMap<Role, String>,
    /// An enterprise key bound to B.
    ent_b: String,
    revoked: Vec<(Role, String)>,
    expired: Vec<(Role, String)>,
    own: Target,
    missing: Target,
    /// Another decision and another application of A.
    decision2: String,
    application2: String,
    calls: usize,
}

async fn fulfil(
    enf: &mut pb::enforcement_service_client::EnforcementServiceClient<Channel>,
    officer: &str,
    name: &str,
) {
    calls::fulfil(enf, officer, name, "", FULFILLED, "罚款已缴入国库")
        .await
        .expect("record fulfilment");
}

impl Fx {
    async fn setup(db: &TestDb) -> Fx {
        let backend = db.backend;
        // Look-ups are limited per client address (10 a minute by default);
        // the matrix makes a few dozen.
        let server = TestServer::start_tuned(&db.url, clock_at(TODAY), |o| o.lookups_per_minute = 100_000).await;
        let ch = server.channel().await;
        let app = server.app.clone();
        let a = credit_code("91310115", 70_001);
        let b = credit_code("91310115", 70_002);
        let bound = |role: Role, code: &str| (role == Role::Enterprise).then(|| code.to_string());

        let mut keys = BTreeMap::new();
        let mut second = BTreeMap::new();
        let mut revoked = Vec::new();
        let mut expired = Vec::new();
        let yesterday = d(TODAY).pred_opt().expect("date");
        for role in ROLES {
            let code = bound(role, &a);
            let mk = |label: String, expires| {
                let app = app.clone();
                let code = code.clone();
                async move {
                    app.create_key(role, &label, code.as_deref(), expires)
                        .await
                        .expect("create key")
                }
            };
            keys.insert(role, mk(format!("matrix {role}"), None).await.secret);
            second.insert(role, mk(format!("matrix second {role}"), None).await.secret);
            let k = mk(format!("matrix revoked {role}"), None).await;
            assert!(
                app.store.revoke_key(&k.row.id, app.now_micros()).await.expect("revoke"),
                "{backend}: revoke"
            );
            revoked.push((role, k.secret));
            let k = mk(format!("matrix expired {role}"), Some(yesterday)).await;
            expired.push((role, k.secret));
        }
        let ent_b = app
            .create_key(Role::Enterprise, "matrix enterprise B", Some(&b), None)
            .await
            .expect("key")
            .secret;

        // A: three published, fulfilled decisions and one only recorded; B: one.
        let officer = keys[&Role::Officer].clone();
        let mut enf = pb::enforcement_service_client::EnforcementServiceClient::new(ch.clone());
        let mut published = Vec::new();
        for (i, code) in [(1, &a), (2, &a), (3, &a), (5, &b)] {
            let dec = create_and_publish(
                &mut enf,
                &officer,
                decision(&format!("沪应急罚〔2025〕矩阵-{i}号"), DECIDED, code),
            )
            .await;
            assert_eq!(
                dec.state,
                pb::DecisionState::Published as i32,
                "{backend}: {i} published"
            );
            fulfil(&mut enf, &officer, &dec.name).await;
            published.push(dec);
        }
        let unpublished = decision("沪应急罚〔2025〕矩阵-4号", DECIDED, &a);
        let recorded = calls::create(&mut enf, &officer, "", unpublished)
            .await
            .expect("create");

        // Applications: A's first (by its key, then accepted), A's second (by
        // the portal), B's own.
        let mut repair = pb::credit_repair_service_client::CreditRepairServiceClient::new(ch.clone());
        let ent_a = As::key(&keys[&Role::Enterprise]);
        let portal_for_a = As {
            key: keys[&Role::Portal].clone(),
            obo: Some(a.clone()),
        };
        let mut applications = Vec::new();
        for (who, dec, code) in [
            (&ent_a, &published[0], &a),
            (&portal_for_a, &published[2], &a),
            (&As::key(&ent_b), &published[3], &b),
        ] {
            let app = application_for(&dec.disclosure, code);
            applications.push(submit_with(&mut repair, who, "", app).await.expect("submit"));
        }
        let reviewer = As::key(&keys[&Role::RepairReviewer]);
        let (name, etag) = (&applications[0].name, &applications[0].etag);
        let first = act_with(&mut repair, &reviewer, &ent_a, RepairAction::Accept, name, etag)
            .await
            .expect("accept");
        let application2 = applications.swap_remove(1);

        // Every published decision's notice bundle, rendered.
        let mut notice = pb::notice_service_client::NoticeServiceClient::new(ch.clone());
        for dec in &published {
            notice
                .get_notice_bundle(req(notice_bundle(&dec.name, 0), &officer))
                .await
                .expect("render bundle");
        }

        let now = server.clock.now();
        let now = prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        };
        let own = Target {
            enterprise: a.clone(),
            decision: published[0].name.clone(),
            recorded: recorded.name.clone(),
            disclosure: published[0].disclosure.clone(),
            free_disclosure: published[1].disclosure.clone(),
            application: first.name.clone(),
            receipt_code: first.receipt_code.clone(),
            now,
        };
        Fx {
            backend,
            server,
            ch,
            a,
            b,
            keys,
            second,
            ent_b,
            revoked,
            expired,
            own,
            missing: Target::missing(now),
            decision2: published[2].name.clone(),
            application2: application2.name,
            calls: 0,
        }
    }

    async fn call(&mut self, method: &str, streaming: bool, who: &Who, body: &[u8]) -> Outcome {
        self.calls += 1;
        invoke(&self.ch, method, streaming, who, body.to_vec()).await
    }

    /// A key of `role`; the portal acts for A.
    fn role(&self, role: Role) -> Who {
        let obo = (role == Role::Portal).then_some(self.a.as_str());
        Who::bearer(role.to_string(), &self.keys[&role], obo)
    }

    fn second(&self, role: Role) -> Who {
        let obo = (role == Role::Portal).then_some(self.a.as_str());
        Who::bearer(format!("a second {role} key"), &self.second[&role], obo)
    }

    fn portal_for(&self, code: &str, label: &str) -> Who {
        Who::bearer(label, &self.keys[&Role::Portal], Some(code))
    }

    fn enterprise_b(&self) -> Who {
        Who::bearer("enterprise B", &self.ent_b, None)
    }

    /// Everyone who calls a row on A's resources, with what they must get.
    fn callers(&self, row: &Row) -> Vec<(Who, Want)> {
        let pass = Want::Pass(row.ok);
        let role_denied = Want::Refused(Code::PermissionDenied, "ROLE_NOT_ALLOWED");
        let keyless = |w: Want| if row.public { pass } else { w };
        let by_role = |r: Role| if row.admits(r) { pass } else { role_denied };
        let mut v = Vec::new();
        for r in ROLES {
            v.push((self.role(r), by_role(r)));
        }
        let unauth = keyless(Want::Refused(Code::Unauthenticated, "UNAUTHENTICATED"));
        let anonymous = |label: &str, auth: Option<String>| Who {
            label: label.into(),
            auth,
            obo: None,
        };
        let officer_id = self.keys[&Role::Officer].split('_').nth(1).expect("key id").to_string();
        v.push((anonymous("no key", None), unauth));
        v.push((anonymous("a malformed key", Some("Bearer not-a-key".into())), unauth));
        v.push((anonymous("an empty bearer", Some("Bearer ".into())), unauth));
        v.push((
            anonymous("a Basic authorization", Some("Basic b2ZmaWNlcjpzZWNyZXQ=".into())),
            unauth,
        ));
        v.push((
            anonymous(
                "an unknown key",
                Some(format!("Bearer gsk_{}_{}", "0".repeat(26), "0".repeat(64))),
            ),
            unauth,
        ));
        v.push((
            anonymous(
                "the officer's key id with a wrong secret",
                Some(format!("Bearer gsk_{officer_id}_{}", "0".repeat(64))),
            ),
            unauth,
        ));
        for (what, list) in [("a revoked", &self.revoked), ("an expired", &self.expired)] {
            for (r, k) in list {
                let obo = (*r == Role::Portal).then_some(self.a.as_str());
                v.push((Who::bearer(format!("{what} {r} key"), k, obo), unauth));
            }
        }
        let ent = &self.keys[&Role::Enterprise];
        v.push((
            Who::bearer("enterprise A naming enterprise B", ent, Some(self.b.as_str())),
            keyless(Want::Refused(Code::PermissionDenied, "ENTERPRISE_MISMATCH")),
        ));
        v.push((
            Who::bearer("enterprise A naming itself", ent, Some(self.a.as_str())),
            by_role(Role::Enterprise),
        ));
        let portal_wrong = |why| {
            if row.public {
                pass
            } else if row.admits(Role::Portal) {
                Want::Refused(Code::InvalidArgument, why)
            } else {
                role_denied
            }
        };
        let mut invalid = self.a.clone();
        let last = if invalid.ends_with('0') { "1" } else { "0" };
        invalid.replace_range(17.., last);
        let portal = &self.keys[&Role::Portal];
        v.push((
            Who::bearer("the portal naming no enterprise", portal, None),
            portal_wrong("ON_BEHALF_OF_REQUIRED"),
        ));
        v.push((
            Who::bearer(
                "the portal naming an invalid credit code",
                portal,
                Some(invalid.as_str()),
            ),
            portal_wrong("INVALID_CREDIT_CODE"),
        ));
        v
    }

    /// Callers other than `minter`'s key: a second key of its role, then a
    /// key of each of `roles` but its own.
    fn others(&self, minter: Role, roles: &[Role]) -> Vec<Who> {
        let roles = roles.iter().filter(|r| **r != minter);
        std::iter::once(self.second(minter))
            .chain(roles.map(|r| self.role(*r)))
            .collect()
    }

    /// `minter`'s token for the listing filtered by A, refused filtered by B
    /// and to the [`Fx::others`] of `roles`.
    fn filtered_by_a<R: PageRequest>(&self, minter: Role, roles: &[Role]) -> Paged {
        Paged::new(
            self.role(minter),
            R::of(&self.a),
            R::of(&self.b),
            self.others(minter, roles),
        )
    }

    /// Page-token cases of every RPC that takes a page token.
    fn page_cases(&self) -> Vec<Paged> {
        use Role::*;
        let (a, b) = (self.a.as_str(), self.b.as_str());
        let submitted = pb::ListRepairApplicationsRequest {
            state: pb::RepairState::Submitted as i32,
            ..Default::default()
        };
        let pending = pb::ListNoticeBundlesRequest {
            delivery_state: pb::DeliveryState::Pending as i32,
            ..Default::default()
        };
        let mut v = vec![
            // ListPenaltyDecisions: officer, A's decisions.
            Paged::new(
                self.role(Officer),
                pb::ListPenaltyDecisionsRequest::of(a),
                pb::ListPenaltyDecisionsRequest {
                    state: pb::DecisionState::Published as i32,
                    ..pb::ListPenaltyDecisionsRequest::of(a)
                },
                self.others(Officer, &[Auditor, LegalReviewer]),
            ),
        ];
        // ListPenaltyDecisionEvents: the officer's and the auditor's tokens.
        for minter in [Officer, Auditor] {
            v.push(Paged::new(
                self.role(minter),
                pb::ListPenaltyDecisionEventsRequest::of(&self.own.decision),
                pb::ListPenaltyDecisionEventsRequest::of(&self.decision2),
                self.others(minter, &[Officer, Auditor]),
            ));
        }
        v.extend([
            // ListDisclosures: a discloser's unfiltered listing; an auditor's of A.
            Paged::new(
                self.role(Discloser),
                pb::ListDisclosuresRequest::default(),
                pb::ListDisclosuresRequest::of(a),
                self.others(Discloser, &[Auditor]),
            ),
            Paged::new(
                self.role(Auditor),
                pb::ListDisclosuresRequest::of(a),
                pb::ListDisclosuresRequest {
                    decided_on_from: DECIDED.into(),
                    ..pb::ListDisclosuresRequest::of(a)
                },
                self.others(Auditor, &[Discloser]),
            ),
            // ListRepairApplications: the portal for A (unfiltered: A's own);
            // enterprise A; a reviewer filtering by A.
            Paged::new(
                self.role(Portal),
                pb::ListRepairApplicationsRequest::default(),
                submitted.clone(),
                vec![
                    self.portal_for(b, "the same portal key acting for B"),
                    self.role(Enterprise),
                    self.second(Enterprise),
                    self.role(RepairReviewer),
                    self.role(Auditor),
                ],
            ),
            Paged::new(
                self.role(Enterprise),
                pb::ListRepairApplicationsRequest::default(),
                submitted,
                vec![
                    self.second(Enterprise),
                    self.role(Portal),
                    self.enterprise_b(),
                    self.role(RepairReviewer),
                ],
            ),
            self.filtered_by_a::<pb::ListRepairApplicationsRequest>(RepairReviewer, &[Auditor, Portal, Enterprise]),
        ]);
        // ListRepairApplicationEvents: the portal for A, and a reviewer.
        for minter in [Portal, RepairReviewer] {
            let case = Paged::new(
                self.role(minter),
                pb::ListRepairApplicationEventsRequest::of(&self.own.application),
                pb::ListRepairApplicationEventsRequest::of(&self.application2),
                self.others(minter, &[Portal, Enterprise, RepairReviewer, Auditor]),
            );
            // B does not get as far as the token: A's application is not found.
            v.push(
                case.also_refusing(
                    self.portal_for(b, "the portal acting for B"),
                    Code::NotFound,
                    "NOT_FOUND",
                )
                .also_refusing(self.enterprise_b(), Code::NotFound, "NOT_FOUND"),
            );
        }
        v.extend([
            // ListNoticeBundles: the portal for A (unfiltered: A's own); an
            // officer filtering by A.
            Paged::new(
                self.role(Portal),
                pb::ListNoticeBundlesRequest::default(),
                pending,
                vec![
                    self.portal_for(b, "the same portal key acting for B"),
                    self.role(Enterprise),
                    self.second(Portal),
                    self.role(Officer),
                    self.role(Auditor),
                ],
            ),
            self.filtered_by_a::<pb::ListNoticeBundlesRequest>(Officer, &[Auditor, Portal, Enterprise]),
        ]);
        v
    }
}

/// What a call must get.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Past authentication and authorization: one of these answers.
    Pass(&'static [Pass]),
    /// Refused with this code and ErrorInfo reason.
    Refused(Code, &'static str),
}

fn judge(out: &Outcome, want: Want) -> Result<(), String> {
    let (code, why) = match out {
        Ok(_) => (Code::Ok, String::new()),
        Err(s) => (s.code(), reason(s)),
    };
    let fine = match want {
        Want::Pass(list) => list.iter().any(|(c, r)| *c == code && *r == why),
        Want::Refused(c, r) => c == code && r == why,
    };
    if fine {
        Ok(())
    } else {
        Err(format!("expected {want:?}, got {}", describe(out)))
    }
}

/// An answer with every name of `t` replaced by a placeholder, so answers
/// about different resources compare equal when they say the same.
fn fingerprint(out: &Outcome, t: &Target) -> String {
    let raw = match out {
        Ok(b) => format!("OK {}", String::from_utf8_lossy(b)),
        Err(s) => format!("{:?} {:?} {:?}", s.code(), s.message(), s.get_error_details()),
    };
    t.placeholders()
        .into_iter()
        .fold(raw, |acc, (name, ph)| acc.replace(&name, ph))
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The credit codes an encoded listing response names (see [`applicants`]).
type CodesOf = fn(&[u8]) -> Vec<String>;

/// The applicants' credit codes of an encoded ListRepairApplicationsResponse.
fn applicants(response: &[u8]) -> Vec<String> {
    pb::ListRepairApplicationsResponse::decode(response)
        .expect("decode")
        .repair_applications
        .into_iter()
        .map(|x| x.applicant.unwrap_or_default().credit_code)
        .collect()
}

/// The parties' credit codes of an encoded ListNoticeBundlesResponse.
fn bundle_parties(response: &[u8]) -> Vec<String> {
    pb::ListNoticeBundlesResponse::decode(response)
        .expect("decode")
        .notice_bundles
        .into_iter()
        .map(|x| x.party_credit_code)
        .collect()
}

/// Page-token cases of one listing.
struct Paged {
    method: &'static str,
    minter: Who,
    /// The request (page size 1) for the filter or resource the token is minted for.
    same: Box<dyn Fn(&str) -> Msg>,
    /// The same with another filter or resource.
    other: Box<dyn Fn(&str) -> Msg>,
    /// Other callers presenting the token with the same request, and what they get.
    strangers: Vec<(Who, Code, &'static str)>,
    next: fn(&[u8]) -> String,
}

impl Paged {
    /// `minter`'s token for the listing `same`, refused with `other` (another
    /// filter or resource) and, as INVALID_PAGE_TOKEN, to `strangers`.
    fn new<R: PageRequest>(minter: Who, same: R, other: R, strangers: Vec<Who>) -> Paged {
        Paged {
            method: R::METHOD,
            minter,
            same: Box::new(move |t| msg(same.page(1, t))),
            other: Box::new(move |t| msg(other.page(1, t))),
            strangers: strangers
                .into_iter()
                .map(|who| (who, Code::InvalidArgument, "INVALID_PAGE_TOKEN"))
                .collect(),
            next: R::next_token,
        }
    }

    /// The same, and `who` presenting the token is refused with `code` and `why`.
    fn also_refusing(mut self, who: Who, code: Code, why: &'static str) -> Paged {
        self.strangers.push((who, code, why));
        self
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_rpc_by_every_role_and_credential() {
    let methods = proto_methods();
    let rows = rows();
    let problems = table_problems(&methods, &rows);
    assert!(
        problems.is_empty(),
        "the access matrix does not match the proto:\n{}",
        problems.join("\n")
    );
    let mut failures = Vec::new();
    for db in backends().await {
        let mut fx = Fx::setup(&db).await;
        let b = fx.backend;

        // 1. Every row by every caller, on A's resources.
        for row in &rows {
            let streaming = methods[row.method].server_streaming;
            let own = (row.build)(&fx.own).bytes;
            for (who, want) in fx.callers(row) {
                let out = fx.call(row.method, streaming, &who, &own).await;
                if let Err(e) = judge(&out, want) {
                    failures.push(format!("{b}: {} by {}: {e}", row.method, who.label));
                }
            }
        }

        // 2. Enterprise B, by its key and through the portal, on A's
        //    resources: refused exactly as for resources that do not exist.
        for row in rows.iter().filter(|r| !r.public) {
            let streaming = methods[row.method].server_streaming;
            let own = (row.build)(&fx.own).bytes;
            let missing = (row.build)(&fx.missing).bytes;
            let names_a_resource = own != missing;
            let bs = [
                (fx.enterprise_b(), Role::Enterprise),
                (fx.portal_for(&fx.b.clone(), "the portal acting for B"), Role::Portal),
            ];
            for (who, role) in bs {
                let ctx = format!("{b}: {} by {}", row.method, who.label);
                let on_a = fx.call(row.method, streaming, &who, &own).await;
                let on_none = fx.call(row.method, streaming, &who, &missing).await;
                if !row.admits(role) {
                    let want = Want::Refused(Code::PermissionDenied, "ROLE_NOT_ALLOWED");
                    for (out, what) in [(&on_a, "A's resources"), (&on_none, "none")] {
                        if let Err(e) = judge(out, want) {
                            failures.push(format!("{ctx} on {what}: {e}"));
                        }
                    }
                    continue;
                }
                if names_a_resource
                    && !matches!(&on_a, Err(s) if matches!(s.code(), Code::NotFound | Code::PermissionDenied))
                {
                    failures.push(format!(
                        "{ctx}: A's resources answered {}, expected NOT_FOUND or PERMISSION_DENIED",
                        describe(&on_a)
                    ));
                }
                let (fa, fn_) = (fingerprint(&on_a, &fx.own), fingerprint(&on_none, &fx.missing));
                if fa != fn_ {
                    failures.push(format!(
                        "{ctx}: existence leaks: on A's resources `{fa}`, on none `{fn_}`"
                    ));
                }
                if let Ok(bytes) = &on_a {
                    let a_data = [&fx.a, &fx.own.decision, &fx.own.disclosure, &fx.own.application];
                    if let Some(x) = a_data.into_iter().find(|x| contains(bytes, x)) {
                        failures.push(format!("{ctx}: the answer holds A's {x}"));
                    }
                }
            }
        }

        // 3. B's own listings hold B's data only.
        let listings: [(Call, &str, CodesOf); 2] = [
            (
                whole_listing::<pb::ListRepairApplicationsRequest>(),
                "applicants",
                applicants,
            ),
            (
                whole_listing::<pb::ListNoticeBundlesRequest>(),
                "parties",
                bundle_parties,
            ),
        ];
        for who in [
            fx.enterprise_b(),
            fx.portal_for(&fx.b.clone(), "the portal acting for B"),
        ] {
            for ((method, body), whose, codes_of) in &listings {
                match fx.call(method, false, &who, body).await {
                    Ok(r) => {
                        let codes = codes_of(&r);
                        if codes.is_empty() || codes.iter().any(|c| *c != fx.b) {
                            failures.push(format!("{b}: {method} by {}: {whose} {codes:?}", who.label));
                        }
                    }
                    Err(s) => failures.push(format!("{b}: {method} by {}: {s:?}", who.label)),
                }
            }
        }

        // 4. Page tokens are bound to their caller and their filter.
        let cases = fx.page_cases();
        let covered: BTreeSet<&str> = cases.iter().map(|c| c.method).collect();
        assert_eq!(covered, PAGED.iter().copied().collect(), "{b}: page-token cases");
        for case in &cases {
            let ctx = format!("{b}: {} page token of {}", case.method, case.minter.label);
            let first = match fx.call(case.method, false, &case.minter, &(case.same)("").bytes).await {
                Ok(r) => r,
                Err(s) => {
                    failures.push(format!("{ctx}: first page: {s:?}"));
                    continue;
                }
            };
            let token = (case.next)(&first);
            if token.is_empty() {
                failures.push(format!("{ctx}: a page of 1 has no next_page_token (too little data)"));
                continue;
            }
            let same = (case.same)(&token).bytes;
            if let Err(s) = fx.call(case.method, false, &case.minter, &same).await {
                failures.push(format!("{ctx}: refused to the caller it was minted for: {s:?}"));
            }
            for (who, code, why) in &case.strangers {
                let out = fx.call(case.method, false, who, &same).await;
                if let Err(e) = judge(&out, Want::Refused(*code, why)) {
                    failures.push(format!("{ctx}, presented by {}: {e}", who.label));
                }
            }
            let other = (case.other)(&token).bytes;
            let out = fx.call(case.method, false, &case.minter, &other).await;
            if let Err(e) = judge(&out, Want::Refused(Code::InvalidArgument, "INVALID_PAGE_TOKEN")) {
                failures.push(format!("{ctx}, with another filter: {e}"));
            }
        }

        let beyond: Vec<String> = rows
            .iter()
            .filter(|r| !r.beyond_api_md.is_empty())
            .map(|r| format!("{} {:?}", r.method, r.beyond_api_md))
            .collect();
        eprintln!(
            "{b}: access matrix: {} RPCs, {} rows, {} page-token cases, {} calls; roles admitted beyond API.md: {}",
            methods.len(),
            rows.len(),
            cases.len(),
            fx.calls,
            beyond.join("; ")
        );
        fx.server.stop().await;
    }
    assert!(
        failures.is_empty(),
        "{} access failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
