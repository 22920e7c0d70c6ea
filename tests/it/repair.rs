//! Credit repair (信用修复, DOMAIN.md §4 and §8; API.md CreditRepairService)
//! through the real gRPC API on SQLite and PostgreSQL: the state machine
//! (property test against the diagram), concurrent approvals on two
//! instances, eligibility with every unmet condition, working-day due dates
//! across the 2026 holiday blocks, enterprise isolation, the receipt-code
//! look-up and its rate limit, the disclosure's fate on approval and
//! revocation, materials, and idempotent submission.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use gongshi::api::pb;
use gongshi::domain::record::sha256_hex;
use gongshi::domain::repair::{RepairAction, RepairState, transition};
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::repair_support::{
    As, Case, DECIDED, Env, FULFILLED, RepairClient, act_with, call, commitment, domain_state, material, pb_state,
    proof, sorted, submit_with, violation_kinds,
};
use crate::support::calls;
use crate::support::{self, TestDb, TestServer, bad_fields, clock_at, reason};

/// Decided 2025-06-10 ([`DECIDED`]), sector OTHER, general class, Shanghai
/// under 令第58号: minimum 3 months ends 2025-09-10, maximum 3 years ends 2028-06-10.
const MIN_ENDS: &str = "2025-09-10";
const ELIGIBLE_ON: &str = "2025-09-11";
const PUBLICITY_ENDS: &str = "2028-06-10";
/// A Monday when the fulfilled sample cases may be applied for.
const APPLYING: &str = "2026-03-09";

const MIN: &str = "MIN_PUBLICITY_NOT_REACHED";
const NOT_FULFILLED: &str = "PENALTY_NOT_FULFILLED";
const NO_COMMITMENT: &str = "COMMITMENT_MISSING";
const NOT_ACTIVE: &str = "DISCLOSURE_NOT_ACTIVE";
const OPEN: &str = "APPLICATION_ALREADY_OPEN";

/// A server with `N` fulfilled cases, its clock moved on to [`APPLYING`].
async fn with_cases<const N: usize>(db: &TestDb) -> (Env, [Case; N]) {
    let env = Env::start(db, "2025-06-12").await;
    let cases = env.cases(1, Some(FULFILLED)).await;
    env.set_date(APPLYING);
    (env, cases)
}

fn unmet(e: &pb::RepairEligibility) -> Vec<String> {
    sorted(&e.unmet.iter().map(|u| u.reason.clone()).collect::<Vec<_>>())
}

/// Asserts a submission failed with FAILED_PRECONDITION naming exactly
/// `expected` (in any order) as PreconditionFailure violations about the
/// disclosure, the ErrorInfo reason being one of them.
fn assert_unmet(r: Result<pb::RepairApplication, Status>, expected: &[&str], disclosure: &str, ctx: &str) {
    let s = match r {
        Ok(a) => panic!("{ctx}: submission succeeded ({}) despite {expected:?}", a.name),
        Err(s) => s,
    };
    assert_eq!(s.code(), Code::FailedPrecondition, "{ctx}: {s:?}");
    assert_eq!(
        sorted(&violation_kinds(&s)),
        sorted(expected),
        "{ctx}: violations of {s:?}"
    );
    assert!(
        expected.contains(&reason(&s).as_str()),
        "{ctx}: ErrorInfo reason {} not among {expected:?}",
        reason(&s)
    );
    let pf = s.get_details_precondition_failure().expect("PreconditionFailure");
    for v in pf.violations {
        assert_eq!(v.subject, disclosure, "{ctx}: subject of {}", v.r#type);
        assert!(!v.description.is_empty());
    }
}

fn assert_code(r: &Result<impl std::fmt::Debug, Status>, code: Code, why: &str, ctx: &str) {
    match r {
        Ok(v) => panic!("{ctx}: expected {code:?} ({why}), got {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "{ctx}: {s:?}");
            assert_eq!(reason(s), why, "{ctx}: {s:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// The state machine: random sequences of the 8 transition RPCs against the
// model of DOMAIN.md §4.
// ---------------------------------------------------------------------------

/// The arrows of DOMAIN.md §4's diagram, written out independently of the
/// model under test.
const DIAGRAM: [(RepairState, RepairState); 10] = {
    use RepairState::*;
    [
        (Submitted, Accepted),
        (Submitted, NotAccepted),
        (Accepted, SupplementRequested),
        (SupplementRequested, Accepted),
        (Accepted, Approved),
        (Accepted, Rejected),
        (Submitted, Withdrawn),
        (Accepted, Withdrawn),
        (SupplementRequested, Withdrawn),
        (Approved, Revoked),
    ]
};

/// Final for the application (DOMAIN.md §4).
const FINAL: [RepairState; 4] = [
    RepairState::NotAccepted,
    RepairState::Rejected,
    RepairState::Withdrawn,
    RepairState::Revoked,
];

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Drives one fresh application through `actions`, comparing every outcome
/// with `gongshi::domain::repair::transition`. Returns the arrows taken.
async fn run_sequence(env: &Env, n: u64, actions: &[RepairAction]) -> Result<Vec<(RepairState, RepairState)>, String> {
    let b = env.backend;
    let case = env.case(n, DECIDED, Some(FULFILLED)).await;
    // Applicant calls alternate between the enterprise key and the portal.
    let applicant = if n.is_multiple_of(2) {
        case.ent.clone()
    } else {
        env.portal_for(&case.code)
    };
    let app = env
        .submit(&applicant, &format!("prop-{n}"), case.application())
        .await
        .map_err(|s| format!("{b}: submit: {s:?}"))?;
    ensure!(
        app.state == pb_state(RepairState::Submitted),
        "{b}: submitted in state {}",
        app.state
    );
    let mut state = RepairState::Submitted;
    let mut etag = app.etag.clone();
    let mut path = Vec::new();
    for (i, &action) in actions.iter().enumerate() {
        let ctx = format!("{b}: step {i} {action} from {state} (sequence {actions:?})");
        let got = env.act(action, &app.name, &etag, &applicant).await;
        match (transition(state, action), got) {
            (Some(next), Ok(resp)) => {
                ensure!(
                    !state.is_final() && !FINAL.contains(&state),
                    "{ctx}: left the final state"
                );
                ensure!(
                    DIAGRAM.contains(&(state, next)),
                    "{ctx}: {state} → {next} is not in the diagram"
                );
                ensure!(
                    resp.state == pb_state(next),
                    "{ctx}: answered state {:?}, model {next}",
                    domain_state(resp.state)
                );
                ensure!(resp.etag != etag, "{ctx}: etag unchanged by a transition");
                path.push((state, next));
                state = next;
                etag = resp.etag;
            }
            (Some(next), Err(s)) => {
                return Err(format!("{ctx}: the model allows → {next} but the API said {s:?}"));
            }
            (None, Ok(resp)) => {
                return Err(format!(
                    "{ctx}: no such arrow, yet the API moved to {:?}",
                    domain_state(resp.state)
                ));
            }
            (None, Err(s)) => {
                ensure!(s.code() == Code::FailedPrecondition, "{ctx}: refused with {s:?}");
                ensure!(reason(&s) == "INVALID_STATE_TRANSITION", "{ctx}: reason {}", reason(&s));
                ensure!(
                    s.message().contains(state.as_str()),
                    "{ctx}: message {:?} does not name {state}",
                    s.message()
                );
            }
        }
        let now = env
            .get(&env.reviewer, &app.name)
            .await
            .map_err(|s| format!("{ctx}: get: {s:?}"))?;
        ensure!(
            now.state == pb_state(state),
            "{ctx}: stored state {:?}, model {state}",
            domain_state(now.state)
        );
        ensure!(
            now.etag == etag,
            "{ctx}: etag {} after the step, expected {etag}",
            now.etag
        );
    }

    // One event per successful transition, plus the submission, along the path.
    let events = env.events(&app.name).await;
    ensure!(
        events.len() == path.len() + 1,
        "{b}: {} events for {} transitions + submission",
        events.len(),
        path.len()
    );
    ensure!(
        events[0].from_state == 0 && events[0].to_state == pb_state(RepairState::Submitted),
        "{b}: first event {:?}",
        events[0]
    );
    for (e, (from, to)) in events[1..].iter().zip(&path) {
        ensure!(
            e.from_state == pb_state(*from) && e.to_state == pb_state(*to),
            "{b}: event {:?} → {:?}, path {from} → {to}",
            domain_state(e.from_state),
            domain_state(e.to_state)
        );
    }

    // The disclosure follows: taken down while APPROVED, public otherwise;
    // repair_pending exactly while the application is open.
    let dis = env.disclosure(&case.disclosure).await;
    let expected = if state == RepairState::Approved {
        pb::DisclosureState::Repaired
    } else {
        pb::DisclosureState::Active
    };
    ensure!(
        dis.state == expected as i32,
        "{b}: disclosure {} with the application {state}",
        dis.state
    );
    ensure!(
        dis.repair_pending == state.is_open(),
        "{b}: repair_pending {} with the application {state}",
        dis.repair_pending
    );
    let changes = env.feed_of(&case.disclosure).await;
    let approvals = path.iter().filter(|(_, to)| *to == RepairState::Approved).count();
    let revocations = path.iter().filter(|(_, to)| *to == RepairState::Revoked).count();
    let terminated = calls::terminated(&changes);
    let published = changes
        .iter()
        .filter(|c| c.kind == pb::ChangeKind::Published as i32)
        .count();
    ensure!(
        terminated.len() == approvals,
        "{b}: {} TERMINATED changes for {approvals} approvals",
        terminated.len()
    );
    ensure!(
        terminated
            .iter()
            .all(|c| c.reason == pb::TerminationReason::Repaired as i32 && c.record.is_none()),
        "{b}: {terminated:?}"
    );
    ensure!(
        published == 1 + revocations,
        "{b}: {published} PUBLISHED changes for {revocations} revocations"
    );
    Ok(path)
}

#[test]
fn random_transition_sequences_never_leave_the_diagram() {
    use RepairAction as A;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dbs = rt.block_on(support::backends());
    let counter = AtomicU64::new(0);
    for db in &dbs {
        let env = rt.block_on(Env::start(db, "2025-09-15"));
        // Fixed sequences first, so every arrow of the diagram is taken and
        // every state is tried with every action at least once.
        let fixed: Vec<Vec<RepairAction>> = vec![
            vec![A::Accept, A::RequestSupplement, A::Supplement, A::Approve, A::Revoke],
            vec![A::Decline],
            vec![A::Accept, A::Reject],
            vec![A::Withdraw],
            vec![A::Accept, A::Withdraw],
            vec![A::Accept, A::RequestSupplement, A::Withdraw],
            vec![
                A::Accept,
                A::RequestSupplement,
                A::Supplement,
                A::RequestSupplement,
                A::Supplement,
                A::Reject,
            ],
        ];
        let mut arrows = HashSet::new();
        for seq in fixed {
            // After the sequence every action is tried again (final states stay final).
            let mut seq = seq;
            seq.extend_from_slice(RepairAction::ALL);
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let path = rt
                .block_on(run_sequence(&env, n, &seq))
                .unwrap_or_else(|e| panic!("{e}"));
            arrows.extend(path);
        }
        // Each open state (and APPROVED) is then tried with every action that
        // has no arrow from it; they must all be refused and change nothing.
        for prefix in [
            vec![],
            vec![A::Accept],
            vec![A::Accept, A::RequestSupplement],
            vec![A::Accept, A::Approve],
        ] {
            let at = prefix.iter().fold(RepairState::Submitted, |s, a| {
                transition(s, *a).expect("prefix on the diagram")
            });
            let mut seq = prefix.clone();
            seq.extend(
                RepairAction::ALL
                    .iter()
                    .copied()
                    .filter(|a| transition(at, *a).is_none()),
            );
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let path = rt
                .block_on(run_sequence(&env, n, &seq))
                .unwrap_or_else(|e| panic!("{e}"));
            arrows.extend(path);
        }
        let diagram: HashSet<_> = DIAGRAM.iter().copied().collect();
        assert_eq!(
            arrows, diagram,
            "{}: the fixed sequences must take every arrow of the diagram",
            db.backend
        );

        let mut runner = TestRunner::new(ProptestConfig {
            cases: 24,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..ProptestConfig::default()
        });
        let strategy = proptest::collection::vec(proptest::sample::select(RepairAction::ALL), 1..20);
        let result = runner.run(&strategy, |actions| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            rt.block_on(run_sequence(&env, n, &actions))
                .map(|_| ())
                .map_err(TestCaseError::fail)
        });
        if let Err(e) = result {
            panic!("{}: {e}", db.backend);
        }
        rt.block_on(env.server.stop());
    }
}

// ---------------------------------------------------------------------------
// Concurrency: 20 approvals of one application over two instances.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_approvals_on_two_instances_approve_exactly_once() {
    let Some(db) = support::pg_db().await else {
        return;
    };
    let clock = clock_at("2025-06-12");
    let a = Env::on(db.backend, TestServer::start(&db.url, clock.clone()).await).await;
    let b = TestServer::start(&db.url, clock.clone()).await;
    let b_client: RepairClient = RepairClient::new(b.channel().await);
    let cases: [Case; 2] = a.cases(0, Some(FULFILLED)).await;
    a.set_date(APPLYING);

    for (with_etag, case) in [(false, &cases[0]), (true, &cases[1])] {
        let ctx = if with_etag { "same etag" } else { "empty etag" };
        let accepted = a.accepted(case).await;
        let etag = if with_etag {
            accepted.etag.clone()
        } else {
            String::new()
        };
        let mut tasks = Vec::new();
        for i in 0..20 {
            let mut client = if i % 2 == 0 { a.repair.clone() } else { b_client.clone() };
            let (reviewer, ent, name, etag) = (
                a.reviewer.clone(),
                case.ent.clone(),
                accepted.name.clone(),
                etag.clone(),
            );
            tasks.push(tokio::spawn(async move {
                act_with(&mut client, &reviewer, &ent, RepairAction::Approve, &name, &etag).await
            }));
        }
        let mut ok = Vec::new();
        let mut refused = Vec::new();
        for t in tasks {
            match t.await.expect("task") {
                Ok(r) => ok.push(r),
                Err(s) => refused.push(s),
            }
        }
        assert_eq!(
            ok.len(),
            1,
            "{ctx}: {} approvals succeeded; refusals {refused:?}",
            ok.len()
        );
        assert_eq!(ok[0].state, pb::RepairState::Approved as i32);
        for s in &refused {
            match s.code() {
                Code::Aborted => assert!(
                    ["ETAG_MISMATCH", "CONCURRENT_UPDATE"].contains(&reason(s).as_str()),
                    "{ctx}: {s:?}"
                ),
                Code::FailedPrecondition => {
                    assert!(!with_etag, "{ctx}: a stale etag must be ABORTED, got {s:?}");
                    assert_eq!(reason(s), "INVALID_STATE_TRANSITION", "{ctx}: {s:?}");
                }
                _ => panic!("{ctx}: a losing approval got {s:?}"),
            }
        }

        let changes = a.feed_of(&case.disclosure).await;
        let terminated = calls::terminated(&changes);
        assert_eq!(terminated.len(), 1, "{ctx}: TERMINATED changes {terminated:?}");
        assert_eq!(terminated[0].reason, pb::TerminationReason::Repaired as i32);
        assert!(
            terminated[0].record.is_none(),
            "{ctx}: a repaired record's removal carries content"
        );
        let events = a.events(&accepted.name).await;
        let approvals = events
            .iter()
            .filter(|e| e.to_state == pb::RepairState::Approved as i32)
            .count();
        assert_eq!(approvals, 1, "{ctx}: {events:?}");
        assert_eq!(events.len(), 3, "{ctx}: submitted, accepted, approved: {events:?}");
        let dis = a.disclosure(&case.disclosure).await;
        assert_eq!(dis.state, pb::DisclosureState::Repaired as i32);
        assert!(!dis.repair_pending);

        // Afterwards the etag the racers shared is stale, and approval is no longer an arrow.
        let stale = a
            .act(RepairAction::Approve, &accepted.name, &accepted.etag, &case.ent)
            .await;
        assert_code(&stale, Code::Aborted, "ETAG_MISMATCH", ctx);
        let again = a.act(RepairAction::Approve, &accepted.name, "", &case.ent).await;
        assert_code(&again, Code::FailedPrecondition, "INVALID_STATE_TRANSITION", ctx);
        assert_eq!(
            a.feed_of(&case.disclosure).await.len(),
            changes.len(),
            "{ctx}: a refused approval fed a change"
        );
    }
    b.stop().await;
    a.server.stop().await;
}

// ---------------------------------------------------------------------------
// Eligibility (DOMAIN.md §4 conditions 1-5), Check and Submit alike.
// ---------------------------------------------------------------------------

/// Asserts Check and Submit alike find exactly `expected` unmet for a case,
/// asked by its enterprise; returns the eligibility Check answered.
async fn assert_ineligible(env: &Env, case: &Case, expected: &[&str], ctx: &str) -> pb::RepairEligibility {
    let e = env.check(&case.ent, &case.disclosure).await.expect("check");
    assert!(!e.eligible, "{ctx}: eligible despite {expected:?}");
    assert_eq!(unmet(&e), sorted(expected), "{ctx}: unmet of Check");
    let r = env.submit(&case.ent, "", case.application()).await;
    assert_unmet(r, expected, &case.disclosure, ctx);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligibility_reports_every_unmet_condition() {
    for db in support::backends().await {
        let env = Env::start(&db, "2025-06-12").await;
        let b = env.backend;
        let [early, open, withdrawn, repaired, expired, expired_open, no_commitment] =
            env.cases(1, Some(FULFILLED)).await;
        let [unfulfilled, both] = env.cases(8, None).await;

        let dis = env.disclosure(&early.disclosure).await;
        assert_eq!(dis.min_publicity_ends_on, MIN_ENDS, "{b}");
        assert_eq!(dis.repair_eligible_on, ELIGIBLE_ON, "{b}");
        assert_eq!(dis.publicity_ends_on, PUBLICITY_ENDS, "{b}");

        // The last day of the minimum period: too early.
        env.set_date(MIN_ENDS);
        let e = assert_ineligible(&env, &early, &[MIN], &format!("{b}: too early")).await;
        assert_eq!(
            e.earliest_date, dis.repair_eligible_on,
            "{b}: earliest_date is repair_eligible_on"
        );
        assert!(e.unmet.iter().all(|u| !u.description.is_empty()));
        // The portal sees the same.
        let e = env
            .check(&env.portal_for(&early.code), &early.disclosure)
            .await
            .expect("check");
        assert_eq!(unmet(&e), [MIN], "{b}");

        // Too early and not fulfilled: both, in Check and in Submit; without a
        // commitment Submit adds COMMITMENT_MISSING.
        let e = assert_ineligible(&env, &both, &[MIN, NOT_FULFILLED], &format!("{b}: too early, unpaid")).await;
        assert_eq!(e.earliest_date, ELIGIBLE_ON, "{b}");
        let bare = pb::RepairApplication {
            commitment: None,
            ..both.application()
        };
        assert_unmet(
            env.submit(&both.ent, "", bare).await,
            &[MIN, NOT_FULFILLED, NO_COMMITMENT],
            &both.disclosure,
            b,
        );

        // From repair_eligible_on the time condition holds.
        env.set_date(ELIGIBLE_ON);
        let e = env.check(&early.ent, &early.disclosure).await.expect("check");
        assert!(e.eligible, "{b}: {e:?}");
        assert!(e.unmet.is_empty(), "{b}");
        assert_eq!(e.earliest_date, ELIGIBLE_ON, "{b}");
        // Since 国办发〔2025〕22号: proof of fulfilment and the commitment, nothing else.
        let mut kinds = e.required_materials.clone();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                pb::MaterialKind::FulfillmentProof as i32,
                pb::MaterialKind::CreditCommitment as i32
            ],
            "{b}"
        );

        // Not fulfilled until an officer records it.
        assert_ineligible(&env, &unfulfilled, &[NOT_FULFILLED], &format!("{b}: unpaid")).await;
        env.fulfil(&unfulfilled.decision.name, "2025-09-01")
            .await
            .expect("record fulfilment");
        let e = env
            .check(&unfulfilled.ent, &unfulfilled.disclosure)
            .await
            .expect("check");
        assert!(e.eligible && e.unmet.is_empty(), "{b}: {e:?}");
        env.submit(&unfulfilled.ent, "", unfulfilled.application())
            .await
            .expect("eligible once fulfilled");

        // No commitment: refused (a blank one is no commitment); Check does not ask for it.
        let blank = pb::CreditCommitment {
            content: "  ".into(),
            ..commitment()
        };
        for (label, commitment) in [("no commitment", None), ("a blank commitment", Some(blank))] {
            let app = pb::RepairApplication {
                commitment,
                ..no_commitment.application()
            };
            assert_unmet(
                env.submit(&no_commitment.ent, "", app).await,
                &[NO_COMMITMENT],
                &no_commitment.disclosure,
                &format!("{b}: {label}"),
            );
        }
        assert!(
            env.check(&no_commitment.ent, &no_commitment.disclosure)
                .await
                .expect("check")
                .eligible,
            "{b}"
        );
        assert!(
            all_listed(&env, &no_commitment.ent).await.is_empty(),
            "{b}: refused yet created"
        );

        // One open application per disclosure, whoever applies.
        let first = env
            .submit(&env.portal_for(&open.code), "", open.application())
            .await
            .expect("submit");
        assert_ineligible(&env, &open, &[OPEN], &format!("{b}: open")).await;
        assert_unmet(
            env.submit(&env.portal_for(&open.code), "again", open.application())
                .await,
            &[OPEN],
            &open.disclosure,
            b,
        );
        // A withdrawn (final) application no longer blocks a new one.
        env.step(RepairAction::Withdraw, &first, &open.ent).await;
        assert!(
            env.check(&open.ent, &open.disclosure).await.expect("check").eligible,
            "{b}"
        );
        let second = env.submitted(&open).await;
        assert_ne!(second.name, first.name);

        // Withdrawn decision: the disclosure is not active.
        env.withdraw(
            &withdrawn,
            pb::WithdrawalEvent::Revoked,
            "经行政复议，原行政处罚决定被撤销",
        )
        .await;
        assert_eq!(
            env.disclosure(&withdrawn.disclosure).await.state,
            pb::DisclosureState::Withdrawn as i32
        );
        assert_ineligible(&env, &withdrawn, &[NOT_ACTIVE], &format!("{b}: withdrawn")).await;

        // Already repaired by an earlier application.
        let app = env.accepted(&repaired).await;
        env.step(RepairAction::Approve, &app, &repaired.ent).await;
        assert_ineligible(&env, &repaired, &[NOT_ACTIVE], &format!("{b}: repaired")).await;

        // An application accepted before the disclosure expires.
        let pending = env.accepted(&expired_open).await;

        // Expired: the day after publicity_ends_on the expiry job takes it down.
        // The application open when its disclosure expired was closed with it
        // (修复终止, issue 14): only the expiry is unmet now.
        env.set_date("2028-06-11");
        for (label, c) in [("expired", &expired), ("expired while applied for", &expired_open)] {
            env.wait_expired(&c.disclosure).await;
            assert_ineligible(&env, c, &[NOT_ACTIVE], &format!("{b}: {label}")).await;
        }
        let closed = env.get(&env.reviewer, &pending.name).await.expect("get");
        assert_eq!(closed.state, pb::RepairState::Closed as i32, "{b}");
        assert_eq!(closed.last_reason, "DISCLOSURE_EXPIRED", "{b}");
        // And it can no longer take down what already expired.
        let r = env
            .act(RepairAction::Approve, &pending.name, &closed.etag, &expired_open.ent)
            .await;
        assert_code(&r, Code::FailedPrecondition, "INVALID_STATE_TRANSITION", b);
        let changes = env.feed_of(&expired_open.disclosure).await;
        assert!(
            !changes
                .iter()
                .any(|c| c.reason == pb::TerminationReason::Repaired as i32),
            "{b}: an expired disclosure was terminated as repaired: {changes:?}"
        );
        env.server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// Working-day due dates (DOMAIN.md §4, §8) across the 2026 holiday blocks.
// ---------------------------------------------------------------------------

fn dues(a: &pb::RepairApplication) -> (&str, &str, &str) {
    (
        a.accept_due_on.as_str(),
        a.decide_due_on.as_str(),
        a.overall_due_on.as_str(),
    )
}

/// The applications `who` lists with `overdue_only`, in pages of `page_size`.
async fn overdue_listing(env: &Env, who: &As, page_size: i32) -> Vec<pb::RepairApplication> {
    let only_overdue = pb::ListRepairApplicationsRequest {
        overdue_only: true,
        page_size,
        ..Default::default()
    };
    env.list(who, only_overdue).await.expect("list overdue")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_dates_follow_the_official_calendar() {
    use RepairAction as A;
    for db in support::backends().await {
        let env = Env::start(&db, "2025-06-12").await;
        let b = env.backend;
        let [
            spring,
            idle,
            paused,
            sat_accept,
            sat_work,
            fresh,
            saturday,
            national,
            oct_sat,
            beyond,
        ] = env.cases(1, Some(FULFILLED)).await;
        let get = |name: String| {
            let env = &env;
            async move { env.get(&env.reviewer, &name).await.expect("get") }
        };

        // Fri 2026-02-13: the working days after it are Sat 02-14 (调休上班),
        // then 02-15..23 off (春节), Tue 02-24, Wed 02-25.
        env.set_date("2026-02-13");
        let s = env.submitted(&spring).await;
        assert_eq!(dues(&s), ("2026-02-25", "", "2026-03-05"), "{b}");
        assert!(!s.overdue);
        let i = env.submitted(&idle).await;
        let p = env.submitted(&paused).await;
        let sa = env.submitted(&sat_accept).await;

        // Accepted on the adjusted working Saturday 02-14: 02-24, 25, 26.
        env.set_date("2026-02-14");
        let sa = env.step(A::Accept, &sa, &sat_accept.ent).await;
        assert_eq!(dues(&sa), ("2026-02-25", "2026-02-26", "2026-03-05"), "{b}");

        // Accepted Tue 02-24: decision due 02-27.
        env.set_date("2026-02-24");
        let s = env.step(A::Accept, &s, &spring.ent).await;
        assert_eq!(dues(&s), ("2026-02-25", "2026-02-27", "2026-03-05"), "{b}");
        let p = env.step(A::Accept, &p, &paused.ent).await;

        // The due day itself is not overdue; the day after it is.
        env.set_date("2026-02-25");
        assert!(!get(i.name.clone()).await.overdue, "{b}: overdue on its due day");
        env.set_date("2026-02-26");
        assert!(
            get(i.name.clone()).await.overdue,
            "{b}: not accepted by 02-25 yet not overdue"
        );
        assert!(!get(sa.name.clone()).await.overdue, "{b}: overdue on its decision day");

        // Supplement requested Thu 02-26: the clock stops.
        let s = env.step(A::RequestSupplement, &s, &spring.ent).await;
        assert_eq!(dues(&s), ("2026-02-25", "", "2026-03-05"), "{b}: clock not stopped");
        assert!(!s.overdue);
        let p = env.step(A::RequestSupplement, &p, &paused.ent).await;
        assert_eq!(p.decide_due_on, "", "{b}");

        // Submitted on the adjusted working Saturday 02-28: 03-02, 03, 04.
        env.set_date("2026-02-28");
        let w = env.submitted(&sat_work).await;
        assert_eq!(dues(&w), ("2026-03-04", "", "2026-03-13"), "{b}");

        // The supplement arrives Mon 03-02: paused 02-27, 02-28 (调休), 03-02 =
        // 3 working days; decision due afresh 03-05; overall 10 + 3 after 02-13.
        env.set_date("2026-03-02");
        let s = env.step(A::Supplement, &s, &env.portal_for(&spring.code)).await;
        assert_eq!(s.state, pb::RepairState::Accepted as i32);
        assert_eq!(dues(&s), ("2026-02-25", "2026-03-05", "2026-03-10"), "{b}");
        let l = listed(&env, &s.name).await;
        assert_eq!(dues(&l), dues(&s), "{b}: stored due dates differ from the answer");

        env.set_date("2026-03-05");
        assert!(!get(s.name.clone()).await.overdue, "{b}");

        // Fri 03-06: past the decision date.
        env.set_date("2026-03-06");
        let now = get(s.name.clone()).await;
        assert!(now.overdue, "{b}: {now:?}");
        let f = env.submitted(&fresh).await;
        assert_eq!(dues(&f), ("2026-03-11", "", "2026-03-20"), "{b}");
        assert!(!f.overdue);
        // Waiting for a supplement never counts as overdue, even past the old dates.
        let paused_now = get(p.name.clone()).await;
        assert!(!paused_now.overdue, "{b}: overdue while the clock is stopped");
        assert_eq!(paused_now.decide_due_on, "");

        let overdue: BTreeSet<String> = overdue_listing(&env, &env.reviewer, 2)
            .await
            .into_iter()
            .map(|a| {
                assert!(a.overdue, "{b}: listed as overdue but not: {a:?}");
                a.name
            })
            .collect();
        let expected: BTreeSet<String> = [&s.name, &i.name, &sa.name, &w.name].into_iter().cloned().collect();
        assert_eq!(overdue, expected, "{b}: overdue_only");
        assert!(!overdue.contains(&f.name) && !overdue.contains(&p.name));
        let all = all_listed(&env, &env.reviewer).await;
        assert_eq!(all.len(), 6, "{b}");
        // An enterprise lists only its own overdue applications.
        let own = overdue_listing(&env, &spring.ent, 0).await;
        assert_eq!(
            own.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            [s.name.as_str()],
            "{b}"
        );
        let own = overdue_listing(&env, &fresh.ent, 0).await;
        assert!(own.is_empty(), "{b}: a fresh application listed as overdue");

        // A Saturday submission counts from Monday: 03-09, 10, 11.
        env.set_date("2026-03-07");
        let sat = env.submitted(&saturday).await;
        assert_eq!(dues(&sat), ("2026-03-11", "", "2026-03-20"), "{b}");

        // National Day. Submitted Fri 09-18: Sun 09-20 (调休), 21, 22.
        // Overall: 20, 21, 22, 23, 24, 28, 29, 30, 10-08, 10-09.
        env.set_date("2026-09-18");
        let nd = env
            .submit(&env.portal_for(&national.code), "", national.application())
            .await
            .expect("submit");
        assert_eq!(dues(&nd), ("2026-09-22", "", "2026-10-09"), "{b}");
        // Accepted Wed 09-23: 09-24, (25-27 中秋), 28, 29.
        env.set_date("2026-09-23");
        let nd = env.step(A::Accept, &nd, &national.ent).await;
        assert_eq!(dues(&nd), ("2026-09-22", "2026-09-29", "2026-10-09"), "{b}");
        env.set_date("2026-09-28");
        let nd = env.step(A::RequestSupplement, &nd, &national.ent).await;
        assert_eq!(nd.decide_due_on, "", "{b}");
        // Supplement Thu 10-08 (after 10-01..07): 10-09, Sat 10-10 (调休), Mon 10-12.
        // Paused 09-29, 09-30, 10-08: overall 13 working days after 09-18 → 10-13.
        env.set_date("2026-10-08");
        let nd = env.step(A::Supplement, &nd, &national.ent).await;
        assert_eq!(dues(&nd), ("2026-09-22", "2026-10-12", "2026-10-13"), "{b}");
        // Submitted on the adjusted working Saturday 10-10: 10-12, 13, 14.
        env.set_date("2026-10-10");
        let o = env.submitted(&oct_sat).await;
        assert_eq!(o.accept_due_on, "2026-10-14", "{b}");
        env.set_date("2026-10-12");
        assert!(!get(nd.name.clone()).await.overdue, "{b}");
        env.set_date("2026-10-13");
        assert!(get(nd.name.clone()).await.overdue, "{b}");

        // A deadline beyond the official calendar (2026) is counted on the
        // provisional 2027 (DOMAIN.md §8): accepted, and marked provisional
        // (tests/it/calendar.rs has the rest).
        env.set_date("2026-12-28");
        let late = env.submitted(&beyond).await;
        assert_eq!(dues(&late), ("2026-12-31", "", "2027-01-12"), "{b}");
        assert!(late.due_dates_provisional, "{b}");
        assert!(
            !s.due_dates_provisional && !o.due_dates_provisional,
            "{b}: official-year dates"
        );
        assert!(env.disclosure(&beyond.disclosure).await.repair_pending, "{b}");
        env.server.stop().await;
    }
}

/// Every application `who` may list, unfiltered.
async fn all_listed(env: &Env, who: &As) -> Vec<pb::RepairApplication> {
    env.list(who, Default::default()).await.expect("list")
}

/// An application as the reviewer's listing shows it (a second read path).
async fn listed(env: &Env, name: &str) -> pb::RepairApplication {
    all_listed(env, &env.reviewer)
        .await
        .into_iter()
        .find(|x| x.name == name)
        .expect("listed")
}

// ---------------------------------------------------------------------------
// Isolation: an enterprise (or the portal acting for one) sees and touches
// only its own applications.
// ---------------------------------------------------------------------------

/// A call's answer rendered with `{:?}`, or its refusal.
fn answered<T: std::fmt::Debug>(r: Result<T, Status>) -> Result<String, Status> {
    r.map(|v| format!("{v:?}"))
}

/// Every keyed CreditRepairService RPC aimed at `victim`'s resources, each
/// named, with its [`answered`] result.
async fn every_rpc(
    env: &Env,
    who: &As,
    victim: &Case,
    app: &pb::RepairApplication,
) -> Vec<(String, Result<String, Status>)> {
    let mut c = env.repair.clone();
    let name = app.name.clone();
    let impostor = pb::RepairApplication {
        applicant: Some(pb::Organization {
            name: "冒名".into(),
            credit_code: String::new(),
        }),
        ..victim.application()
    };
    let its_code = pb::ListRepairApplicationsRequest {
        applicant_credit_code: victim.code.clone(),
        ..Default::default()
    };
    let mut out = vec![
        (
            "CheckRepairEligibility".into(),
            answered(env.check(who, &victim.disclosure).await),
        ),
        (
            "SubmitRepairApplication (for its disclosure)".into(),
            answered(env.submit(who, "steal", impostor).await),
        ),
        ("GetRepairApplication".into(), answered(env.get(who, &name).await)),
        (
            "ListRepairApplicationEvents".into(),
            answered(env.events_as(who, &name).await),
        ),
        (
            "ListRepairApplications (its credit code)".into(),
            answered(env.list(who, its_code).await),
        ),
    ];
    for &action in RepairAction::ALL {
        // `who` in both seats: as the reviewer too, so a role slip would show.
        for (etag, label) in [(app.etag.as_str(), "its etag"), ("", "no etag")] {
            let r = act_with(&mut c, who, who, action, &name, etag).await;
            out.push((format!("the {action:?} transition with {label}"), answered(r)));
        }
    }
    out
}

/// A submitted application, accepted and then asked for a supplement.
async fn awaiting_supplement(env: &Env, app: &pb::RepairApplication, applicant: &As) -> pb::RepairApplication {
    let app = env.step(RepairAction::Accept, app, applicant).await;
    env.step(RepairAction::RequestSupplement, &app, applicant).await
}

/// Asserts a refusal carries none of the victim's data.
fn assert_no_leak(s: &Status, secrets: &[&str], ctx: &str) {
    let text = format!(
        "{} {} {:?}",
        s.message(),
        String::from_utf8_lossy(s.details()),
        s.metadata()
    );
    for secret in secrets {
        assert!(!text.contains(secret), "{ctx}: the refusal leaks {secret:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprises_see_and_touch_only_their_own_applications() {
    for db in support::backends().await {
        let (env, [victim, other]) = with_cases(&db).await;
        let b = env.backend;
        let mut va = victim.application();
        va.applicant = Some(pb::Organization {
            name: "受害人科技有限公司".into(),
            credit_code: victim.code.clone(),
        });
        va.contact = Some(pb::Contact {
            name: "王五".into(),
            phone: "13800138000".into(),
        });
        let app = env.submit(&victim.ent, "", va).await.expect("victim submits");
        // Waiting for a supplement: both Supplement and Withdraw would be valid for the owner.
        let app = awaiting_supplement(&env, &app, &victim.ent).await;
        let own = env.submitted(&other).await;
        let victim_events = env.events(&app.name).await.len();
        let secrets = [
            victim.code.as_str(),
            app.receipt_code.as_str(),
            "受害人科技有限公司",
            "13800138000",
            "王五",
        ];

        let intruders = [
            ("enterprise key of another code", other.ent.clone()),
            ("portal for another code", env.portal_for(&other.code)),
        ];
        for (label, who) in &intruders {
            for (rpc, r) in every_rpc(&env, who, &victim, &app).await {
                let ctx = format!("{b}: {label}: {rpc}");
                match r {
                    Ok(v) => panic!("{ctx}: answered {v}"),
                    Err(s) => {
                        assert!(
                            matches!(s.code(), Code::NotFound | Code::PermissionDenied),
                            "{ctx}: refused with {s:?}"
                        );
                        assert_no_leak(&s, &secrets, &ctx);
                    }
                }
            }
            // Its own listing holds only its own application.
            let listed = env.list(who, Default::default()).await.expect("list own");
            assert_eq!(
                listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
                [own.name.as_str()],
                "{b}: {label}"
            );
            for a in &listed {
                let text = format!("{a:?}");
                for secret in &secrets {
                    assert!(!text.contains(secret), "{b}: {label}: listing leaks {secret}");
                }
            }
            let listed = env
                .list(
                    who,
                    pb::ListRepairApplicationsRequest {
                        overdue_only: true,
                        ..Default::default()
                    },
                )
                .await
                .expect("list");
            assert!(
                listed
                    .iter()
                    .all(|a| a.applicant.as_ref().unwrap().credit_code == other.code),
                "{b}: {label}"
            );
        }

        // Claiming the victim as applicant on the intruder's own disclosure.
        for (label, who) in &intruders {
            let mut claim = other.application();
            claim.applicant = Some(pb::Organization {
                name: "冒名".into(),
                credit_code: victim.code.clone(),
            });
            let r = env.submit(who, "claim", claim).await;
            let s = r.expect_err("claiming another enterprise as applicant");
            assert!(
                matches!(
                    s.code(),
                    Code::PermissionDenied | Code::NotFound | Code::InvalidArgument
                ),
                "{b}: {label}: {s:?}"
            );
            assert_eq!(reason(&s), "ENTERPRISE_MISMATCH", "{b}: {label}: {s:?}");
        }

        // An enterprise key cannot act for another code through on-behalf-of.
        let spoof = As {
            key: other.ent.key.clone(),
            obo: Some(victim.code.clone()),
        };
        for (rpc, r) in every_rpc(&env, &spoof, &victim, &app).await {
            let s = r.expect_err(&rpc);
            assert_eq!(
                s.code(),
                Code::PermissionDenied,
                "{b}: spoofed on-behalf-of: {rpc}: {s:?}"
            );
            assert_eq!(reason(&s), "ENTERPRISE_MISMATCH", "{b}: {rpc}");
            assert_no_leak(&s, &secrets, &rpc);
        }
        let r = env.list(&spoof, Default::default()).await;
        assert_code(&r, Code::PermissionDenied, "ENTERPRISE_MISMATCH", b);
        // Naming its own code is fine.
        let self_named = As {
            key: other.ent.key.clone(),
            obo: Some(other.code.clone()),
        };
        env.get(&self_named, &own.name)
            .await
            .expect("enterprise naming its own code");

        // A portal key must say whom it acts for.
        let bare = As::key(&env.portal);
        let (name, disclosure) = (app.name.as_str(), victim.disclosure.as_str());
        for (rpc, r, code, why) in [
            (
                "Get",
                answered(env.get(&bare, name).await),
                Code::InvalidArgument,
                "ON_BEHALF_OF_REQUIRED",
            ),
            (
                "List",
                answered(env.list(&bare, Default::default()).await),
                Code::InvalidArgument,
                "ON_BEHALF_OF_REQUIRED",
            ),
            (
                "Check",
                answered(env.check(&bare, disclosure).await),
                Code::InvalidArgument,
                "ON_BEHALF_OF_REQUIRED",
            ),
            (
                "Submit",
                answered(env.submit(&bare, "", victim.application()).await),
                Code::InvalidArgument,
                "ON_BEHALF_OF_REQUIRED",
            ),
            (
                "Withdraw",
                answered(env.act(RepairAction::Withdraw, name, "", &bare).await),
                Code::InvalidArgument,
                "ON_BEHALF_OF_REQUIRED",
            ),
        ] {
            assert_code(&r, code, why, &format!("{b}: a portal key without on-behalf-of: {rpc}"));
        }
        // No key at all.
        let r = env
            .repair
            .clone()
            .get_repair_application(pb::GetRepairApplicationRequest { name: app.name.clone() })
            .await;
        assert_eq!(r.expect_err("no key").code(), Code::Unauthenticated, "{b}");

        // Nothing the intruders did changed the victim's application.
        let after = env.get(&env.reviewer, &app.name).await.expect("get");
        assert_eq!(after.state, pb::RepairState::SupplementRequested as i32, "{b}");
        assert_eq!(after.etag, app.etag, "{b}: the victim's application changed");
        assert_eq!(after.materials.len(), 1, "{b}");
        assert_eq!(env.events(&app.name).await.len(), victim_events, "{b}");
        assert_eq!(
            all_listed(&env, &env.reviewer).await.len(),
            2,
            "{b}: something was created"
        );

        // The owner, directly or through the portal, may do what was refused.
        let mine = env
            .get(&env.portal_for(&victim.code), &app.name)
            .await
            .expect("portal for the owner");
        assert_eq!(
            mine.contact.as_ref().map(|c| c.phone.as_str()),
            Some("13800138000"),
            "{b}"
        );
        env.get(&victim.ent, &app.name).await.expect("owner reads");
        env.events_as(&victim.ent, &app.name).await.expect("owner reads events");
        let listed = all_listed(&env, &victim.ent).await;
        assert_eq!(listed.len(), 1);
        let done = env
            .step(RepairAction::Supplement, &app, &env.portal_for(&victim.code))
            .await;
        assert_eq!(done.state, pb::RepairState::Accepted as i32, "{b}");
        // Staff see every enterprise's.
        let all = all_listed(&env, &As::key(&env.auditor)).await;
        assert_eq!(all.len(), 2, "{b}");
        env.server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// Receipt-code look-up: no key, identical NOT_FOUNDs, rate limited.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_by_receipt_code_answers_alike_and_is_rate_limited() {
    for db in support::backends().await {
        // A server of its own: the limiter counts per instance and address.
        let (env, [mine, other]) = with_cases(&db).await;
        let b = env.backend;
        let app = env.submitted(&mine).await;
        let theirs = env.submitted(&other).await;
        let attempts = std::cell::Cell::new(0);
        let lookup = |receipt: &str, code: &str| {
            attempts.set(attempts.get() + 1);
            let r = pb::LookupRepairApplicationRequest {
                receipt_code: receipt.to_string(),
                applicant_credit_code: code.to_string(),
            };
            let mut c = env.repair.clone();
            async move { c.lookup_repair_application(r).await.map(|r| r.into_inner()) }
        };

        let found = lookup(&app.receipt_code, &mine.code).await.expect("look-up");
        assert_eq!(found.state, pb::RepairState::Submitted as i32, "{b}");
        assert_eq!(found.update_time, app.update_time, "{b}");
        assert_eq!(
            (
                found.accept_due_on.as_str(),
                found.decide_due_on.as_str(),
                found.overall_due_on.as_str()
            ),
            dues(&app),
            "{b}"
        );
        assert_eq!(
            (found.accept_due_on.as_str(), found.overall_due_on.as_str()),
            ("2026-03-12", "2026-03-23"),
            "{b}"
        );
        // Typed in lower case without the hyphen; the credit code in lower case too.
        let typed = app.receipt_code.to_lowercase().replace('-', "");
        assert_eq!(lookup(&typed, &mine.code).await.expect("typed code"), found, "{b}");
        assert_eq!(
            lookup(&app.receipt_code, &mine.code.to_lowercase())
                .await
                .expect("lower-case credit code"),
            found,
            "{b}"
        );

        // After a transition the look-up shows it.
        env.set_date("2026-03-10");
        let accepted = env.step(RepairAction::Accept, &app, &mine.ent).await;
        let now = lookup(&app.receipt_code, &mine.code).await.expect("look-up");
        assert_eq!(now.state, pb::RepairState::Accepted as i32, "{b}");
        assert_eq!(now.update_time, accepted.update_time, "{b}");
        assert_eq!(now.decide_due_on, "2026-03-13", "{b}");

        // Wrong receipt code, wrong credit code (another applicant's, with its own
        // application), malformed receipt: byte-identical NOT_FOUND.
        let wrong_receipt = {
            let alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
            let first = app.receipt_code.chars().next().unwrap();
            let swap = alphabet.chars().find(|c| *c != first).unwrap();
            format!("{swap}{}", &app.receipt_code[1..])
        };
        assert_ne!(wrong_receipt, theirs.receipt_code);
        let by_receipt = lookup(&wrong_receipt, &mine.code)
            .await
            .expect_err("wrong receipt code");
        let by_code = lookup(&app.receipt_code, &other.code)
            .await
            .expect_err("wrong credit code");
        let crossed = lookup(&theirs.receipt_code, &mine.code)
            .await
            .expect_err("another's receipt code");
        let malformed = lookup("O0I1L-00000", &mine.code).await.expect_err("malformed receipt");
        let no_code = lookup(&app.receipt_code, "").await.expect_err("no credit code");
        for s in [&by_receipt, &by_code, &crossed, &malformed, &no_code] {
            assert_eq!(s.code(), Code::NotFound, "{b}: {s:?}");
            assert_eq!(s.code(), by_receipt.code());
            assert_eq!(s.message(), by_receipt.message(), "{b}");
            assert_eq!(s.details(), by_receipt.details(), "{b}: details differ");
            assert_no_leak(
                s,
                &[&app.receipt_code, &theirs.receipt_code, &other.code, &mine.code],
                b,
            );
        }
        assert_eq!(attempts.get(), 9);
        lookup(&theirs.receipt_code, &other.code)
            .await
            .expect("the tenth attempt is allowed");

        // The eleventh within the minute from this address is refused, right or wrong.
        let limited = lookup(&app.receipt_code, &mine.code).await.expect_err("rate limited");
        assert_eq!(limited.code(), Code::ResourceExhausted, "{b}: {limited:?}");
        assert_eq!(reason(&limited), "RATE_LIMITED", "{b}");
        let retry = limited
            .get_details_retry_info()
            .expect("RetryInfo")
            .retry_delay
            .expect("retry_delay");
        assert!(
            retry > std::time::Duration::ZERO && retry <= std::time::Duration::from_secs(60),
            "{b}: {retry:?}"
        );
        let limited = lookup(&wrong_receipt, &mine.code).await.expect_err("still limited");
        assert_eq!(limited.code(), Code::ResourceExhausted, "{b}");
        // Keyed calls are not limited.
        env.get(&mine.ent, &app.name).await.expect("keyed call");
        env.server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// What approval and revocation do to the disclosure and its feed.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_takes_the_disclosure_down_and_revocation_restores_it() {
    for db in support::backends().await {
        let (env, [case, declined, rejected, withdrawn, annulled]) = with_cases(&db).await;
        let b = env.backend;
        let before = env.feed_of(&case.disclosure).await;
        assert_eq!(before.len(), 1);
        let published_seq = before[0].sequence;
        assert!(before[0].record.is_some());
        let d0 = env.disclosure(&case.disclosure).await;
        assert!(
            !d0.repair_pending && d0.state == pb::DisclosureState::Active as i32,
            "{b}"
        );

        let portal = env.portal_for(&case.code);
        let app = env.submit(&portal, "", case.application()).await.expect("submit");
        assert!(
            env.disclosure(&case.disclosure).await.repair_pending,
            "{b}: pending after submission"
        );
        let app = env.step(RepairAction::Accept, &app, &portal).await;
        assert!(
            env.disclosure(&case.disclosure).await.repair_pending,
            "{b}: pending after acceptance"
        );
        // Still public while the application is under review.
        env.public_disclosure(&case.disclosure)
            .await
            .expect("public while pending");

        let app = env.step(RepairAction::Approve, &app, &portal).await;
        assert_eq!(app.state, pb::RepairState::Approved as i32);
        assert_eq!(app.last_reason, "符合修复条件，同意修复");
        let d1 = env.disclosure(&case.disclosure).await;
        assert_eq!(d1.state, pb::DisclosureState::Repaired as i32, "{b}");
        assert!(!d1.repair_pending, "{b}: pending after approval");
        assert!(d1.terminated_at.is_some(), "{b}");
        let r = env.public_disclosure(&case.disclosure).await;
        assert_eq!(r.expect_err("repaired is not public").code(), Code::NotFound, "{b}");
        let feed = env.feed_of(&case.disclosure).await;
        assert_eq!(feed.len(), 2, "{b}: {feed:?}");
        let t = &feed[1];
        assert_eq!(t.kind, pb::ChangeKind::Terminated as i32, "{b}");
        assert_eq!(t.reason, pb::TerminationReason::Repaired as i32, "{b}");
        assert!(t.record.is_none(), "{b}: the removal event carries content");
        assert!(t.sequence > published_seq);
        assert!(t.effective_time.is_some());
        assert!(
            feed[0].record.is_none(),
            "{b}: the earlier PUBLISHED change still shares the repaired record"
        );
        let active = env
            .dis
            .clone()
            .list_disclosures(support::req(
                pb::ListDisclosuresRequest {
                    party_credit_code: case.code.clone(),
                    ..Default::default()
                },
                &env.discloser,
            ))
            .await
            .expect("list disclosures")
            .into_inner();
        assert!(active.disclosures.is_empty(), "{b}: a repaired record is still listed");

        // Revoked (fraud): public again, with a new PUBLISHED change carrying the record.
        let app = env.step(RepairAction::Revoke, &app, &portal).await;
        assert_eq!(app.state, pb::RepairState::Revoked as i32);
        let d2 = env.disclosure(&case.disclosure).await;
        assert_eq!(d2.state, pb::DisclosureState::Active as i32, "{b}");
        assert!(!d2.repair_pending);
        env.public_disclosure(&case.disclosure).await.expect("public again");
        let feed = env.feed_of(&case.disclosure).await;
        assert_eq!(feed.len(), 3, "{b}: {feed:?}");
        let p = &feed[2];
        assert_eq!(p.kind, pb::ChangeKind::Published as i32, "{b}");
        assert!(p.sequence > feed[1].sequence);
        let record = p.record.as_ref().expect("the re-publication carries the record");
        assert_eq!(record.name, case.disclosure);
        assert_eq!(record.state, pb::DisclosureState::Active as i32);
        assert_eq!(record.party_credit_code, case.code);
        assert_eq!(p.content_sha256, d0.content_sha256, "{b}");
        assert_eq!(
            env.feed_of(&case.disclosure)
                .await
                .iter()
                .filter(|c| c.kind == pb::ChangeKind::Terminated as i32)
                .count(),
            1
        );

        // Every transition recorded: who, when, why, from and to.
        let events = env.events(&app.name).await;
        let steps: Vec<_> = events
            .iter()
            .map(|e| (domain_state(e.from_state), domain_state(e.to_state)))
            .collect();
        assert_eq!(
            steps,
            [
                (None, Some(RepairState::Submitted)),
                (Some(RepairState::Submitted), Some(RepairState::Accepted)),
                (Some(RepairState::Accepted), Some(RepairState::Approved)),
                (Some(RepairState::Approved), Some(RepairState::Revoked)),
            ],
            "{b}"
        );
        let submitter = events[0].actor.as_ref().expect("actor");
        assert_eq!(
            (submitter.role.as_str(), submitter.on_behalf_of.as_str()),
            ("portal", case.code.as_str()),
            "{b}"
        );
        assert!(
            events[1..]
                .iter()
                .all(|e| e.actor.as_ref().unwrap().role == "repair_reviewer"),
            "{b}"
        );
        assert!(events.iter().all(|e| e.time.is_some()));
        assert_eq!(events[2].reason, "符合修复条件，同意修复");
        assert_eq!(events[3].reason, "发现申请材料虚假，撤销修复");
        // REVOKED is final, and the disclosure may be applied for again.
        assert!(
            env.check(&case.ent, &case.disclosure).await.expect("check").eligible,
            "{b}"
        );

        // Approved, then the decision itself is withdrawn (行政处罚法 Art. 48), then
        // the approval is revoked: the withdrawn decision must not be published again.
        let a = env.accepted(&annulled).await;
        let a = env.step(RepairAction::Approve, &a, &annulled.ent).await;
        env.withdraw(
            &annulled,
            pb::WithdrawalEvent::ConfirmedIllegal,
            "经行政诉讼，原行政处罚决定被确认违法",
        )
        .await;
        let feed_before = env.feed_of(&annulled.disclosure).await;
        let a = env.step(RepairAction::Revoke, &a, &annulled.ent).await;
        assert_eq!(a.state, pb::RepairState::Revoked as i32);
        let d = env.disclosure(&annulled.disclosure).await;
        assert_ne!(
            d.state,
            pb::DisclosureState::Active as i32,
            "{b}: a withdrawn decision was published again"
        );
        assert_eq!(
            env.public_disclosure(&annulled.disclosure)
                .await
                .expect_err("not public")
                .code(),
            Code::NotFound,
            "{b}"
        );
        let feed_after = env.feed_of(&annulled.disclosure).await;
        assert_eq!(
            feed_after.len(),
            feed_before.len(),
            "{b}: a withdrawn decision was fed again: {feed_after:?}"
        );

        // Declining, rejecting and withdrawing close the application: not pending.
        let a = env.submitted(&declined).await;
        env.step(RepairAction::Decline, &a, &declined.ent).await;
        let a = env.accepted(&rejected).await;
        env.step(RepairAction::Reject, &a, &rejected.ent).await;
        let a = env.submitted(&withdrawn).await;
        let a = awaiting_supplement(&env, &a, &withdrawn.ent).await;
        assert!(env.disclosure(&withdrawn.disclosure).await.repair_pending);
        env.step(RepairAction::Withdraw, &a, &withdrawn.ent).await;
        for c in [&declined, &rejected, &withdrawn] {
            let d = env.disclosure(&c.disclosure).await;
            assert!(!d.repair_pending, "{b}: still pending after the application closed");
            assert_eq!(d.state, pb::DisclosureState::Active as i32, "{b}");
            assert_eq!(
                env.feed_of(&c.disclosure).await.len(),
                1,
                "{b}: a closed application fed a change"
            );
        }
        env.server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// Materials.
// ---------------------------------------------------------------------------

const MIB: usize = 1024 * 1024;

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A case's application with `materials` instead of the sample's.
fn with_materials(case: &Case, materials: Vec<pb::Material>) -> pb::RepairApplication {
    pb::RepairApplication {
        materials,
        ..case.application()
    }
}

/// SupplementRepairApplication with `materials`, at the application's etag.
async fn supplement(
    env: &Env,
    who: &As,
    app: &pb::RepairApplication,
    materials: Vec<pb::Material>,
) -> Result<pb::RepairApplication, Status> {
    let r = pb::SupplementRepairApplicationRequest {
        name: app.name.clone(),
        materials,
        etag: app.etag.clone(),
    };
    let mut c = env.repair.clone();
    c.supplement_repair_application(call(r, who))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materials_are_hashed_and_bounded() {
    for db in support::backends().await {
        let (env, [first, largest, bounded]) = with_cases(&db).await;
        let b = env.backend;

        // SHA-256 and size of each file come back; the bytes do not.
        let proof_bytes = b"%PDF-1.4 \xe7\xbc\xb4\xe6\xac\xbe\xe5\x87\xad\xe8\xaf\x81 0001".to_vec();
        let scan = blob(300_000, 7);
        let a = with_materials(
            &first,
            vec![
                material(pb::MaterialKind::FulfillmentProof, "缴款凭证.pdf", proof_bytes.clone()),
                pb::Material {
                    media_type: "image/jpeg".into(),
                    ..material(pb::MaterialKind::CreditCommitment, "承诺书.jpg", scan.clone())
                },
            ],
        );
        let app = env.submit(&first.ent, "", a).await.expect("submit");
        let expect = |m: &[pb::Material]| {
            assert_eq!(m.len(), 2, "{b}");
            assert_eq!(m[0].sha256, sha256_hex(&proof_bytes), "{b}");
            assert_eq!(m[0].size_bytes, proof_bytes.len() as i64);
            assert_eq!(m[0].file_name, "缴款凭证.pdf");
            assert_eq!(m[0].kind, pb::MaterialKind::FulfillmentProof as i32);
            assert_eq!(m[1].sha256, sha256_hex(&scan), "{b}");
            assert_eq!(m[1].size_bytes, 300_000);
            assert_eq!(m[1].media_type, "image/jpeg");
            assert_eq!(m[1].kind, pb::MaterialKind::CreditCommitment as i32);
            assert!(m.iter().all(|m| m.content.is_empty()), "{b}: content echoed back");
        };
        expect(&app.materials);
        expect(&env.get(&first.ent, &app.name).await.expect("get").materials);

        // A supplement adds to them; an oversize one is refused.
        let app = awaiting_supplement(&env, &app, &first.ent).await;
        let too_large = vec![material(pb::MaterialKind::Other, "大文件.pdf", blob(5 * MIB + 1, 1))];
        let r = supplement(&env, &first.ent, &app, too_large).await;
        assert_code(&r, Code::InvalidArgument, "MATERIAL_TOO_LARGE", b);
        assert_eq!(bad_fields(r.as_ref().unwrap_err()), ["materials[0].content"], "{b}");
        let extra = blob(1000, 9);
        let report = vec![material(
            pb::MaterialKind::FulfillmentProof,
            "整改报告.pdf",
            extra.clone(),
        )];
        let r = supplement(&env, &first.ent, &app, report).await.expect("supplement");
        assert_eq!(r.materials.len(), 3, "{b}");
        assert_eq!(r.materials[2].sha256, sha256_hex(&extra));
        assert_eq!(r.materials[2].size_bytes, 1000);

        // Exactly 5 MiB is allowed; one byte more is not.
        let big = blob(5 * MIB, 3);
        let a = with_materials(
            &largest,
            vec![material(pb::MaterialKind::FulfillmentProof, "5MiB.pdf", big.clone())],
        );
        let app = env.submit(&largest.ent, "", a).await.expect("a 5 MiB file");
        assert_eq!(app.materials[0].size_bytes, (5 * MIB) as i64);
        assert_eq!(app.materials[0].sha256, sha256_hex(&big));

        let too_large = material(pb::MaterialKind::Other, "大文件.pdf", blob(5 * MIB + 1, 4));
        let r = env
            .submit(&bounded.ent, "", with_materials(&bounded, vec![proof(), too_large]))
            .await;
        assert_code(&r, Code::InvalidArgument, "MATERIAL_TOO_LARGE", b);
        assert_eq!(
            bad_fields(r.as_ref().unwrap_err()),
            ["repair_application.materials[1].content"],
            "{b}"
        );

        // At most 10 files.
        let files = |n: usize| -> Vec<pb::Material> {
            let mut v = vec![proof()];
            v.extend((1..n).map(|i| material(pb::MaterialKind::Other, &format!("附件{i}.pdf"), blob(100, i as u8))));
            v
        };
        let r = env.submit(&bounded.ent, "", with_materials(&bounded, files(11))).await;
        assert_code(&r, Code::InvalidArgument, "TOO_MANY_MATERIALS", b);
        assert!(
            bad_fields(r.as_ref().unwrap_err()).contains(&"repair_application.materials".to_string()),
            "{b}"
        );
        // Proof of fulfilment is required.
        let other_only = vec![material(pb::MaterialKind::Other, "其他.pdf", blob(10, 0))];
        assert_code(
            &env.submit(&bounded.ent, "", with_materials(&bounded, other_only)).await,
            Code::InvalidArgument,
            "MATERIALS_MISSING",
            b,
        );
        // Nothing was created by the refusals.
        assert!(all_listed(&env, &bounded.ent).await.is_empty(), "{b}");
        assert!(!env.disclosure(&bounded.disclosure).await.repair_pending, "{b}");

        let app = env
            .submit(&bounded.ent, "", with_materials(&bounded, files(10)))
            .await
            .expect("ten files");
        assert_eq!(app.materials.len(), 10);
        // The bound is per application: a supplement may not make it 11.
        let app = awaiting_supplement(&env, &app, &bounded.ent).await;
        let r = env
            .act(RepairAction::Supplement, &app.name, &app.etag, &bounded.ent)
            .await;
        assert_code(&r, Code::InvalidArgument, "TOO_MANY_MATERIALS", b);
        let now = env.get(&bounded.ent, &app.name).await.expect("get");
        assert_eq!(now.state, pb::RepairState::SupplementRequested as i32, "{b}");
        assert_eq!(now.materials.len(), 10, "{b}");
        assert_eq!(now.etag, app.etag, "{b}");
        env.server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// Idempotent submission and one open application per disclosure, under
// concurrency.
// ---------------------------------------------------------------------------

/// Who submits, each with a request id.
type Callers = Vec<(As, String)>;

/// Submits a case's application once per (caller, request id), all at once;
/// the answers in that order.
async fn submit_all_at_once(env: &Env, case: &Case, callers: Callers) -> Vec<Result<pb::RepairApplication, Status>> {
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|(who, request_id)| {
            let (mut repair, app) = (env.repair.clone(), case.application());
            tokio::spawn(async move { submit_with(&mut repair, &who, &request_id, app).await })
        })
        .collect();
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submission_is_idempotent_and_one_at_a_time() {
    for db in support::backends().await {
        let (env, cases) = with_cases::<8>(&db).await;
        let b = env.backend;

        // Sequential retry: the first result, nothing new.
        let c = &cases[0];
        let first = env.submit(&c.ent, "req-1", c.application()).await.expect("submit");
        let again = env.submit(&c.ent, "req-1", c.application()).await.expect("retry");
        assert_eq!(
            (&again.name, &again.receipt_code, &again.etag, &again.create_time),
            (&first.name, &first.receipt_code, &first.etag, &first.create_time),
            "{b}"
        );
        assert_eq!(all_listed(&env, &c.ent).await.len(), 1, "{b}");
        assert_eq!(env.events(&first.name).await.len(), 1, "{b}");
        // Still the same one after it was withdrawn: the key names that request.
        env.step(RepairAction::Withdraw, &first, &c.ent).await;
        let late = env.submit(&c.ent, "req-1", c.application()).await.expect("late retry");
        assert_eq!(late.name, first.name, "{b}");
        assert_eq!(all_listed(&env, &c.ent).await.len(), 1, "{b}: a retry created another");

        // Concurrent retries of one request: all answer the same application.
        let c = &cases[1];
        let mut names = BTreeSet::new();
        for r in submit_all_at_once(&env, c, vec![(c.ent.clone(), "req-2".into()); 8]).await {
            let r = r.unwrap_or_else(|s| panic!("{b}: a concurrent retry failed: {s:?}"));
            names.insert(r.name);
        }
        assert_eq!(names.len(), 1, "{b}: retries answered {names:?}");
        let listed = all_listed(&env, &c.ent).await;
        assert_eq!(listed.len(), 1, "{b}");
        assert_eq!(listed[0].materials.len(), 1, "{b}");
        assert_eq!(env.events(&listed[0].name).await.len(), 1, "{b}");

        // Different requests at once for one disclosure: exactly one wins,
        // whether the enterprise key and the portal race or eight requests of
        // the enterprise do.
        let mut races: Vec<(&str, &Case, Callers)> = cases[2..7]
            .iter()
            .map(|c| {
                let both = vec![
                    (c.ent.clone(), "race-0".into()),
                    (env.portal_for(&c.code), "race-1".into()),
                ];
                ("the enterprise and the portal", c, both)
            })
            .collect();
        let c = &cases[7];
        races.push((
            "eight at once",
            c,
            (0..8).map(|i| (c.ent.clone(), format!("many-{i}"))).collect(),
        ));
        for (label, c, callers) in races {
            let results = submit_all_at_once(&env, c, callers).await;
            let won = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "{b}: {label}: {results:?}");
            for s in results.iter().filter_map(|r| r.as_ref().err()) {
                assert_eq!(s.code(), Code::FailedPrecondition, "{b}: {label}: {s:?}");
                assert_eq!(violation_kinds(s), [OPEN], "{b}: {label}: {s:?}");
            }
            assert_eq!(all_listed(&env, &c.ent).await.len(), 1, "{b}: {label}");
            assert!(env.disclosure(&c.disclosure).await.repair_pending, "{b}: {label}");
        }
        env.server.stop().await;
    }
}
