//! The store conformance suite: one body of assertions about the `Store`
//! contract, run unchanged against SQLite and PostgreSQL.

use std::sync::Arc;

use gongshi::domain::lifecycle::{
    Actor, ChangeKind, DecisionState, DisclosureState, EventKind, Role, TerminationReason,
};
use gongshi::domain::record::{DecisionDoc, IdType, LegalRepresentative, Org, PublicDates, PublicRecord};
use gongshi::store::{
    self, DecisionFilter, DecisionRow, DisclosureFilter, DisclosureRow, ExportItem, KeyRow, NewChange, NewEvent, Store,
    StoreOptions,
};
use serde_json::json;

use crate::support::bulk_seed::bulk_doc;
use crate::support::{self, credit_code, d};

fn doc(number: &str, party: &str, decided_on: &str) -> DecisionDoc {
    let bureau = Org {
        name: "局".into(),
        credit_code: support::authority_code(),
    };
    let mut doc = bulk_doc(number, "上海某某有限公司 \u{1F3ED}", party, d(decided_on), &bureau, 0);
    doc.party.legal_representative = LegalRepresentative {
        name: "李四".into(),
        id_type: IdType::ResidentIdCard,
        id_number: support::KNOWN_ID.into(),
    };
    doc.party.address = "上海市".into();
    doc.violation_type = "t".into();
    doc.violation_facts = "f".into();
    doc.legal_basis = "b".into();
    doc.penalty_content = "c".into();
    doc.fine_fen = 123_456;
    doc
}

fn actor() -> Actor {
    Actor {
        key_id: "k1".into(),
        label: "officer".into(),
        role: Role::Officer,
        on_behalf_of: None,
    }
}

fn decision_row(id: &str, number: &str, party: &str, decided_on: &str) -> DecisionRow {
    DecisionRow::recorded(id.into(), doc(number, party, decided_on), actor(), 1)
}

fn disclosure_row(id: &str, decision: &DecisionRow, ends: &str) -> DisclosureRow {
    let content = PublicRecord::from_decision(
        &decision.doc,
        &PublicDates {
            min_ends_on: d("2026-08-06"),
            repair_eligible_on: d("2026-08-07"),
            publicity_ends_on: d(ends),
            rule_set: "NDRC_36".into(),
        },
    );
    DisclosureRow {
        id: id.into(),
        decision_id: decision.id.clone(),
        state: DisclosureState::Active,
        version: 1,
        content_sha256: content.content_sha256(),
        content,
        repair_pending: false,
        published_at: Some(10),
        terminated_at: None,
        termination_reason: None,
        update_time: 10,
    }
}

fn change(disclosure: &DisclosureRow, kind: ChangeKind) -> NewChange {
    NewChange {
        disclosure_id: disclosure.id.clone(),
        kind,
        reason: (kind == ChangeKind::Terminated).then_some(TerminationReason::Withdrawn),
        version: disclosure.version,
        content_sha256: disclosure.content_sha256.clone(),
        public_reason: None,
        effective_time: 20,
    }
}

async fn open(url: &str) -> Arc<dyn Store> {
    let s = store::connect(url, &StoreOptions::default()).await.expect("connect");
    s.migrate().await.expect("migrate");
    s.migrate().await.expect("migrations are idempotent");
    s
}

/// The whole contract, for one backend.
async fn suite(s: Arc<dyn Store>) {
    let b = s.backend();
    s.ping().await.expect("ping");
    let p1 = credit_code("91310115", 11);
    let p2 = credit_code("91310115", 12);

    // Insert, read back exactly, unique rules, idempotency key.
    let r1 = decision_row("01A", "沪应急罚〔2026〕1号", &p1, "2026-05-06");
    let mut tx = s.begin().await.unwrap();
    assert!(tx.insert_decision(&r1, Some("k1:req-1")).await.unwrap(), "{b}");
    let dup_number = decision_row("01B", "沪应急罚〔2026〕1号", &p2, "2026-05-07");
    assert!(
        !tx.insert_decision(&dup_number, None).await.unwrap(),
        "{b}: same number at same authority"
    );
    let dup_request = decision_row("01C", "沪应急罚〔2026〕2号", &p2, "2026-05-07");
    assert!(
        !tx.insert_decision(&dup_request, Some("k1:req-1")).await.unwrap(),
        "{b}: same request key"
    );
    assert_eq!(
        tx.decision_by_request_key("k1:req-1").await.unwrap().map(|r| r.id),
        Some("01A".to_string())
    );
    tx.commit().await.unwrap();
    assert_eq!(
        s.get_decision("01A").await.unwrap().as_ref(),
        Some(&r1),
        "{b}: round trip"
    );
    assert!(s.get_decision("01B").await.unwrap().is_none(), "{b}");
    assert!(s.get_decision("nope").await.unwrap().is_none(), "{b}");

    // A transaction dropped without commit writes nothing.
    {
        let mut tx = s.begin().await.unwrap();
        let r = decision_row("01Z", "沪应急罚〔2026〕99号", &p2, "2026-05-06");
        assert!(tx.insert_decision(&r, None).await.unwrap());
        drop(tx);
    }
    assert!(s.get_decision("01Z").await.unwrap().is_none(), "{b}: rollback on drop");

    // More decisions for filters and keyset pages.
    let mut tx = s.begin().await.unwrap();
    for (i, (party, date)) in [(&p2, "2026-01-10"), (&p1, "2026-02-10"), (&p2, "2026-03-10")]
        .iter()
        .enumerate()
    {
        let r = decision_row(
            &format!("01D{i}"),
            &format!("沪应急罚〔2026〕{}号", 10 + i),
            party,
            date,
        );
        assert!(tx.insert_decision(&r, None).await.unwrap());
    }
    tx.commit().await.unwrap();
    let all = s.list_decisions(&DecisionFilter::default(), "", 100).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["01A", "01D0", "01D1", "01D2"],
        "{b}: id order"
    );
    let page1 = s.list_decisions(&DecisionFilter::default(), "", 2).await.unwrap();
    let page2 = s
        .list_decisions(&DecisionFilter::default(), &page1[1].id, 2)
        .await
        .unwrap();
    assert_eq!(
        page2.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["01D1", "01D2"],
        "{b}: keyset"
    );
    let f = DecisionFilter {
        party_credit_code: p2.clone(),
        ..Default::default()
    };
    assert_eq!(
        s.list_decisions(&f, "", 100).await.unwrap().len(),
        2,
        "{b}: party filter"
    );
    let f = DecisionFilter {
        decided_from: Some(d("2026-02-10")),
        decided_to: Some(d("2026-03-10")),
        ..Default::default()
    };
    assert_eq!(
        s.list_decisions(&f, "", 100).await.unwrap().len(),
        2,
        "{b}: date range inclusive"
    );
    let f = DecisionFilter {
        state: Some(DecisionState::Published),
        ..Default::default()
    };
    assert!(
        s.list_decisions(&f, "", 100).await.unwrap().is_empty(),
        "{b}: state filter"
    );

    // Update under lock.
    let mut tx = s.begin().await.unwrap();
    let mut r = tx.decision_for_update("01A").await.unwrap().unwrap();
    r.state = DecisionState::Published;
    r.version = 2;
    r.disclosure_id = Some("02A".into());
    r.update_time = 5;
    tx.update_decision(&r).await.unwrap();

    // Disclosure, its versions, and the feed.
    let d1 = disclosure_row("02A", &r, "2027-05-06");
    tx.insert_disclosure(&d1).await.unwrap();
    let s1 = tx.append_change(&change(&d1, ChangeKind::Published)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.get_decision("01A").await.unwrap().unwrap().version, 2, "{b}");
    assert_eq!(
        s.get_disclosure("02A").await.unwrap().as_ref(),
        Some(&d1),
        "{b}: disclosure round trip"
    );

    let mut tx = s.begin().await.unwrap();
    let mut d1b = tx.disclosure_for_update("02A").await.unwrap().unwrap();
    d1b.content.violation_facts = "corrected".into();
    d1b.content_sha256 = d1b.content.content_sha256();
    d1b.version = 2;
    tx.update_disclosure(&d1b, true).await.unwrap();
    let s2 = tx.append_change(&change(&d1b, ChangeKind::Corrected)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(s2 > s1, "{b}: sequences increase");

    let changes = s.list_changes(0, 100).await.unwrap();
    assert_eq!(changes.len(), 2, "{b}");
    assert_eq!(
        changes[0].record.as_ref().map(|r| r.violation_facts.as_str()),
        Some("f"),
        "{b}: version 1 content"
    );
    assert_eq!(
        changes[1].record.as_ref().map(|r| r.violation_facts.as_str()),
        Some("corrected"),
        "{b}: version 2 content"
    );
    assert_eq!(changes[0].decision_id, "01A");
    assert!(s.list_changes(s2, 100).await.unwrap().is_empty(), "{b}: after the last");
    assert_eq!(s.list_changes(s1, 100).await.unwrap().len(), 1, "{b}: strictly after");

    // Disclosure filters.
    let f = DisclosureFilter {
        state: Some(DisclosureState::Active),
        ..Default::default()
    };
    assert_eq!(s.list_disclosures(&f, "", 10).await.unwrap().len(), 1, "{b}");
    let f = DisclosureFilter {
        party_credit_code: p2.clone(),
        ..Default::default()
    };
    assert!(s.list_disclosures(&f, "", 10).await.unwrap().is_empty(), "{b}");

    // Expiry candidates: strictly before today.
    assert!(
        s.expiry_candidates(d("2027-05-06"), 10).await.unwrap().is_empty(),
        "{b}: last day still public"
    );
    assert_eq!(
        s.expiry_candidates(d("2027-05-07"), 10).await.unwrap(),
        vec!["02A".to_string()],
        "{b}"
    );

    // Export: a snapshot with its feed position.
    let (tx_out, mut rx) = tokio::sync::mpsc::channel(4);
    s.export_active(1, tx_out).await.unwrap();
    let mut rows = 0;
    let mut as_of = None;
    while let Some(item) = rx.recv().await {
        match item.unwrap() {
            ExportItem::Start { as_of_sequence } => as_of = Some(as_of_sequence),
            ExportItem::Rows(r) => rows += r.len(),
        }
    }
    assert_eq!((as_of, rows), (Some(s2), 1), "{b}: export");

    // Termination: no content for any change of it, ever again.
    let mut tx = s.begin().await.unwrap();
    let mut d1c = tx.disclosure_for_update("02A").await.unwrap().unwrap();
    d1c.state = DisclosureState::Withdrawn;
    d1c.terminated_at = Some(30);
    d1c.termination_reason = Some(TerminationReason::Withdrawn);
    tx.update_disclosure(&d1c, false).await.unwrap();
    tx.append_change(&change(&d1c, ChangeKind::Terminated)).await.unwrap();
    tx.commit().await.unwrap();
    let changes = s.list_changes(0, 100).await.unwrap();
    assert_eq!(changes.len(), 3, "{b}");
    assert!(
        changes.iter().all(|c| c.record.is_none()),
        "{b}: terminated content served"
    );
    assert_eq!(changes[2].reason, Some(TerminationReason::Withdrawn));
    assert!(
        s.expiry_candidates(d("2030-01-01"), 10).await.unwrap().is_empty(),
        "{b}: only active expire"
    );

    // Events: append-only, ordered, paged.
    let mut tx = s.begin().await.unwrap();
    let mut ids = vec![];
    for i in 0..3 {
        ids.push(
            tx.append_event(&NewEvent {
                decision_id: "01A".into(),
                kind: EventKind::Corrected,
                actor: actor(),
                at: i,
                summary: format!("e{i}"),
                details: json!({"i": i}),
                document_sha256: vec!["ab".into()],
            })
            .await
            .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{b}");
    let ev = s.list_events("01A", 0, 2).await.unwrap();
    assert_eq!(
        ev.iter().map(|e| e.summary.as_str()).collect::<Vec<_>>(),
        ["e0", "e1"],
        "{b}"
    );
    let ev = s.list_events("01A", ev[1].id, 2).await.unwrap();
    assert_eq!(ev.len(), 1, "{b}");
    assert_eq!(ev[0].details, json!({"i": 2}));
    assert_eq!(ev[0].actor, actor());

    // Keys.
    let k = KeyRow {
        id: "key1".into(),
        secret_hash: "h".into(),
        role: Role::Enterprise,
        label: "企业".into(),
        credit_code: Some(p1.clone()),
        expires_on: Some(d("2027-01-01")),
        created_at: 1,
        revoked_at: None,
    };
    s.insert_key(&k).await.unwrap();
    assert_eq!(s.get_key("key1").await.unwrap().as_ref(), Some(&k), "{b}");
    assert_eq!(s.list_keys().await.unwrap().len(), 1);
    assert!(s.revoke_key("key1", 9).await.unwrap());
    assert!(!s.revoke_key("key1", 10).await.unwrap(), "{b}: revoke twice");
    assert!(!s.revoke_key("nokey", 10).await.unwrap());
    assert_eq!(s.get_key("key1").await.unwrap().unwrap().revoked_at, Some(9));
}

#[tokio::test]
async fn store_conformance_on_every_backend() {
    for db in support::backends().await {
        let s = open(&db.url).await;
        assert_eq!(s.backend(), db.backend);
        suite(s).await;
    }
}

#[tokio::test]
async fn unknown_url_scheme_is_refused_without_leaking_the_password() {
    let e = store::connect("mysql://u:secret@h/db", &StoreOptions::default())
        .await
        .err()
        .expect("refused");
    let msg = e.to_string();
    assert!(msg.contains("unsupported"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
}
