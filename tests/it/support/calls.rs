//! One function per API call the tests make again and again: each builds
//! the request, sends it with a key and hands back the answer (or the
//! status, for calls whose refusals a test checks).

use gongshi::api::pb;
use pb::disclosure_service_client::DisclosureServiceClient;
use pb::enforcement_service_client::EnforcementServiceClient;
use tonic::Status;
use tonic::transport::Channel;

use super::req;

pub type Enf = EnforcementServiceClient<Channel>;
pub type Dis = DisclosureServiceClient<Channel>;
pub type Notices = pb::notice_service_client::NoticeServiceClient<Channel>;

/// Records a decision under a request id ("" for none).
pub async fn create(
    c: &mut Enf,
    key: &str,
    request_id: &str,
    d: pb::PenaltyDecision,
) -> Result<pb::PenaltyDecision, Status> {
    c.create_penalty_decision(req(
        pb::CreatePenaltyDecisionRequest {
            request_id: request_id.to_string(),
            penalty_decision: Some(d),
        },
        key,
    ))
    .await
    .map(|r| r.into_inner())
}

/// A decision, which must be readable.
pub async fn get(c: &mut Enf, key: &str, name: &str) -> pb::PenaltyDecision {
    c.get_penalty_decision(req(pb::GetPenaltyDecisionRequest { name: name.to_string() }, key))
        .await
        .expect("get decision")
        .into_inner()
}

/// Publishes a decision at an etag.
pub async fn publish(c: &mut Enf, key: &str, name: &str, etag: &str) -> Result<pb::PenaltyDecision, Status> {
    c.publish_penalty_decision(req(publication(name, etag), key))
        .await
        .map(|r| r.into_inner())
}

/// A publication request at `etag` ("" for none).
pub fn publication(name: &str, etag: &str) -> pb::PublishPenaltyDecisionRequest {
    pb::PublishPenaltyDecisionRequest {
        name: name.to_string(),
        etag: etag.to_string(),
    }
}

/// Reviews a decision.
pub async fn review(
    c: &mut Enf,
    key: &str,
    name: &str,
    etag: &str,
    opinion: pb::ReviewOpinion,
    checklist: pb::ReviewChecklist,
    comment: &str,
) -> Result<pb::PenaltyDecision, Status> {
    c.review_penalty_decision(req(review_of(name, etag, opinion, checklist, comment), key))
        .await
        .map(|r| r.into_inner())
}

/// A legal review's request: `opinion` with `checklist` and `comment`, at
/// `etag` ("" for none).
pub fn review_of(
    name: &str,
    etag: &str,
    opinion: pb::ReviewOpinion,
    checklist: pb::ReviewChecklist,
    comment: &str,
) -> pb::ReviewPenaltyDecisionRequest {
    pb::ReviewPenaltyDecisionRequest {
        name: name.to_string(),
        opinion: opinion as i32,
        checklist: Some(checklist),
        comment: comment.to_string(),
        etag: etag.to_string(),
    }
}

/// Corrects the fields named by `paths` to those of `patch`.
pub async fn correct(
    c: &mut Enf,
    key: &str,
    name: &str,
    etag: &str,
    patch: pb::PenaltyDecision,
    paths: &[&str],
    why: &str,
) -> Result<pb::PenaltyDecision, Status> {
    c.correct_penalty_decision(req(correction(name, patch, paths, why, etag), key))
        .await
        .map(|r| r.into_inner())
}

/// A correction request: the fields `paths` of `patch`, for `why`, at
/// `etag` ("" for none).
pub fn correction(
    name: &str,
    patch: pb::PenaltyDecision,
    paths: &[&str],
    why: &str,
    etag: &str,
) -> pb::CorrectPenaltyDecisionRequest {
    pb::CorrectPenaltyDecisionRequest {
        name: name.to_string(),
        penalty_decision: Some(patch),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        reason: why.to_string(),
        etag: etag.to_string(),
    }
}

/// A decision with only one text field set: "violation_facts" or "remarks".
pub fn patch_of(field: &str, value: impl Into<String>) -> pb::PenaltyDecision {
    let mut p = pb::PenaltyDecision::default();
    match field {
        "violation_facts" => p.violation_facts = value.into(),
        "remarks" => p.remarks = value.into(),
        other => panic!("no one-field patch for {other}"),
    }
    p
}

/// The correction of a slip of the pen (笔误) in one text field (see
/// [`patch_of`]), at `etag` ("" for none).
pub fn slip_correction(
    name: &str,
    field: &str,
    value: impl Into<String>,
    etag: &str,
) -> pb::CorrectPenaltyDecisionRequest {
    correction(name, patch_of(field, value), &[field], "笔误", etag)
}

/// Withdraws a decision for a legal event.
pub async fn withdraw(
    c: &mut Enf,
    key: &str,
    name: &str,
    etag: &str,
    event: pb::WithdrawalEvent,
    public_reason: &str,
) -> Result<pb::PenaltyDecision, Status> {
    c.withdraw_penalty_decision(req(withdrawal(name, etag, event, public_reason), key))
        .await
        .map(|r| r.into_inner())
}

/// A withdrawal for a legal event (its date not given), at `etag` ("" for none).
pub fn withdrawal(
    name: &str,
    etag: &str,
    event: pb::WithdrawalEvent,
    public_reason: &str,
) -> pb::WithdrawPenaltyDecisionRequest {
    pb::WithdrawPenaltyDecisionRequest {
        name: name.to_string(),
        legal_event: event as i32,
        public_reason: public_reason.to_string(),
        etag: etag.to_string(),
        legal_event_on: String::new(),
    }
}

/// Records the fulfilment of a decision.
pub async fn fulfil(
    c: &mut Enf,
    key: &str,
    name: &str,
    etag: &str,
    on: &str,
    evidence: &str,
) -> Result<pb::PenaltyDecision, Status> {
    c.record_fulfillment(req(fulfilment(name, etag, on, evidence), key))
        .await
        .map(|r| r.into_inner())
}

/// A fulfilment record: fulfilled `on` a date with `evidence`, at `etag` ("" for none).
pub fn fulfilment(name: &str, etag: &str, on: &str, evidence: &str) -> pb::RecordFulfillmentRequest {
    pb::RecordFulfillmentRequest {
        name: name.to_string(),
        fulfilled_on: on.to_string(),
        evidence: evidence.to_string(),
        etag: etag.to_string(),
    }
}

/// Every event of a decision (one big page).
pub async fn events(c: &mut Enf, key: &str, name: &str) -> Vec<pb::PenaltyDecisionEvent> {
    let r = c
        .list_penalty_decision_events(req(
            pb::ListPenaltyDecisionEventsRequest {
                name: name.to_string(),
                page_size: 1000,
                page_token: String::new(),
            },
            key,
        ))
        .await
        .expect("list events")
        .into_inner();
    assert!(r.next_page_token.is_empty(), "fewer than 1000 events fit one page");
    r.events
}

/// Every event of a decision, in pages of 100 following the page tokens.
pub async fn all_events(c: &mut Enf, key: &str, name: &str) -> Vec<pb::PenaltyDecisionEvent> {
    all_pages(|token| {
        let r = pb::ListPenaltyDecisionEventsRequest {
            name: name.to_string(),
            page_size: 100,
            page_token: token,
        };
        let mut c = c.clone();
        async move {
            let page = c.list_penalty_decision_events(req(r, key)).await?.into_inner();
            Ok((page.events, page.next_page_token))
        }
    })
    .await
    .expect("ListPenaltyDecisionEvents")
}

/// The events of a decision of one kind.
pub async fn events_of(
    c: &mut Enf,
    key: &str,
    name: &str,
    kind: pb::DecisionEventKind,
) -> Vec<pb::PenaltyDecisionEvent> {
    events(c, key, name)
        .await
        .into_iter()
        .filter(|e| e.kind == kind as i32)
        .collect()
}

/// The first event of a decision of one kind, which must be there.
pub async fn event_of(c: &mut Enf, key: &str, name: &str, kind: pb::DecisionEventKind) -> pb::PenaltyDecisionEvent {
    let ev = events_of(c, key, name, kind).await;
    ev.into_iter().next().unwrap_or_else(|| panic!("no {kind:?} event"))
}

/// The kinds of events, leaving out sensitive-data reads.
pub fn kinds(ev: &[pb::PenaltyDecisionEvent]) -> Vec<pb::DecisionEventKind> {
    ev.iter()
        .map(|e| pb::DecisionEventKind::try_from(e.kind).expect("known event kind"))
        .filter(|k| *k != pb::DecisionEventKind::SensitiveDataRead)
        .collect()
}

/// A request for version `version` (0: the current one) of a decision's
/// notice bundle.
pub fn notice_bundle(decision: &str, version: i32) -> pb::GetNoticeBundleRequest {
    pb::GetNoticeBundleRequest {
        name: format!("{decision}/noticeBundle"),
        version,
    }
}

/// A notice bundle's delivery in person (直接送达) to `recipient`, of
/// `relation` to the party, at `at`, at `etag` ("" for none).
pub fn direct_delivery(
    bundle: &str,
    recipient: &str,
    relation: &str,
    at: prost_types::Timestamp,
    etag: &str,
) -> pb::RecordNoticeDeliveryRequest {
    pb::RecordNoticeDeliveryRequest {
        name: bundle.to_string(),
        method: pb::DeliveryMethod::Direct as i32,
        recipient: recipient.to_string(),
        recipient_relation: relation.to_string(),
        delivered_at: Some(at),
        consent_ref: String::new(),
        witnesses: Vec::new(),
        etag: etag.to_string(),
    }
}

/// A notice bundle's receipt signed by `signed_by` at `at`, at `etag` ("" for none).
pub fn receipt(
    bundle: &str,
    signed_by: &str,
    at: prost_types::Timestamp,
    etag: &str,
) -> pb::RecordNoticeReceiptRequest {
    pb::RecordNoticeReceiptRequest {
        name: bundle.to_string(),
        signed_by: signed_by.to_string(),
        signed_at: Some(at),
        etag: etag.to_string(),
    }
}

/// Records a notice bundle's delivery in person (see [`direct_delivery`]),
/// which must be accepted; answers the bundle.
pub async fn deliver_in_person(
    n: &mut Notices,
    key: &str,
    bundle: &str,
    recipient: &str,
    relation: &str,
    at: prost_types::Timestamp,
) -> pb::NoticeBundle {
    n.record_notice_delivery(req(direct_delivery(bundle, recipient, relation, at, ""), key))
        .await
        .expect("RecordNoticeDelivery")
        .into_inner()
}

/// Records a notice bundle's receipt (see [`receipt`]), which must be
/// accepted; answers the bundle.
pub async fn sign_receipt(
    n: &mut Notices,
    key: &str,
    bundle: &str,
    signed_by: &str,
    at: prost_types::Timestamp,
) -> pb::NoticeBundle {
    n.record_notice_receipt(req(receipt(bundle, signed_by, at, ""), key))
        .await
        .expect("RecordNoticeReceipt")
        .into_inner()
}

/// The first page of notice bundles a key may list (all of a test's).
pub async fn notice_bundles(n: &mut Notices, key: &str) -> pb::ListNoticeBundlesResponse {
    n.list_notice_bundles(req(pb::ListNoticeBundlesRequest::default(), key))
        .await
        .expect("ListNoticeBundles")
        .into_inner()
}

/// One page of the decisions a request asks for.
pub async fn list_page(
    c: &mut Enf,
    key: &str,
    r: pb::ListPenaltyDecisionsRequest,
) -> Result<pb::ListPenaltyDecisionsResponse, Status> {
    c.list_penalty_decisions(req(r, key)).await.map(|r| r.into_inner())
}

/// Every decision matching a request's filters, following page tokens.
pub async fn list_all(c: &mut Enf, key: &str, r: pb::ListPenaltyDecisionsRequest) -> Vec<pb::PenaltyDecision> {
    all_pages(|page_token| {
        let r = pb::ListPenaltyDecisionsRequest {
            page_token,
            ..r.clone()
        };
        let mut c = c.clone();
        async move {
            let page = list_page(&mut c, key, r).await?;
            Ok((page.penalty_decisions, page.next_page_token))
        }
    })
    .await
    .expect("list decisions")
}

/// Every decision the key may list.
pub async fn all_decisions(c: &mut Enf, key: &str) -> Vec<pb::PenaltyDecision> {
    list_all(
        c,
        key,
        pb::ListPenaltyDecisionsRequest {
            page_size: 1000,
            ..Default::default()
        },
    )
    .await
}

/// The whole change feed.
pub async fn feed(d: &mut Dis, key: &str) -> Vec<pb::DisclosureChange> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = d
            .list_disclosure_changes(req(
                pb::ListDisclosureChangesRequest {
                    after_sequence: after,
                    page_size: 1000,
                },
                key,
            ))
            .await
            .expect("list changes")
            .into_inner();
        if r.changes.is_empty() {
            return out;
        }
        assert!(
            r.last_sequence > after,
            "the feed moves forward: {} after {after}",
            r.last_sequence
        );
        after = r.last_sequence;
        out.extend(r.changes);
    }
}

/// The disclosures a key may list, in one page (of up to 1000: all of a test's).
pub async fn list_disclosures(d: &mut Dis, key: &str) -> pb::ListDisclosuresResponse {
    let r = d
        .list_disclosures(req(
            pb::ListDisclosuresRequest {
                page_size: 1000,
                ..Default::default()
            },
            key,
        ))
        .await
        .expect("ListDisclosures")
        .into_inner();
    assert!(r.next_page_token.is_empty(), "fewer than 1000 disclosures fit one page");
    r
}

/// The CSV export's stream of chunks, as a key opens it.
pub async fn export_csv(d: &mut Dis, key: &str) -> tonic::Streaming<pb::ExportChunk> {
    let csv = pb::ExportDisclosuresRequest {
        format: pb::ExportFormat::Csv as i32,
    };
    d.export_disclosures(req(csv, key))
        .await
        .expect("ExportDisclosures")
        .into_inner()
}

/// The TERMINATED entries of a feed.
pub fn terminated(feed: &[pb::DisclosureChange]) -> Vec<&pb::DisclosureChange> {
    feed.iter()
        .filter(|c| c.kind == pb::ChangeKind::Terminated as i32)
        .collect()
}

/// A disclosure, or the status it is refused with.
pub async fn get_disclosure(d: &mut Dis, key: &str, name: &str) -> Result<pb::Disclosure, Status> {
    d.get_disclosure(req(pb::GetDisclosureRequest { name: name.to_string() }, key))
        .await
        .map(|r| r.into_inner())
}

/// Every item of a paged listing: `page(token)` answers one page's items and
/// the next page token, from "" until the token is empty (at most 100 pages:
/// a listing that does not end fails the test).
pub async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, Status>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), Status>>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    for _ in 0..100 {
        let (items, next) = page(token).await?;
        out.extend(items);
        if next.is_empty() {
            return Ok(out);
        }
        token = next;
    }
    panic!("the listing did not end within 100 pages");
}
