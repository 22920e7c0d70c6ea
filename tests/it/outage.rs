//! Database outage (issue 7 item 2): PostgreSQL stopped for 10 s under load.
//! The server stays up, answers UNAVAILABLE with RetryInfo meanwhile, health
//! goes NOT_SERVING, and it serves again within 2 s of the database
//! returning, without a restart.
//!
//! The server runs in this process on a PostgreSQL cluster of the test's own
//! (`support::pg::own_cluster`), which is stopped with `pg_ctl stop -m
//! immediate` (connections cut as in a crash) and started again on the same
//! port.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use gongshi::server::ServerOptions;
use tokio::sync::Mutex;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use crate::overload::serve;
use crate::support::{credit_code, decision, labelled_key, pg, reason, req};

/// One call's outcome: when it ended (since the test start) and its code.
#[derive(Debug, Clone)]
struct Outcome {
    at: Duration,
    code: Code,
    reason: String,
    retry_info: bool,
}

#[tokio::test]
async fn postgres_outage_answers_unavailable_then_recovers_without_restart() {
    let Some(cluster) = tokio::task::spawn_blocking(pg::own_cluster).await.expect("join") else {
        return;
    };
    let cluster = Arc::new(cluster);
    let url = cluster.create_database().await;
    let s = serve(
        &url,
        ServerOptions {
            db_check_interval: Duration::from_millis(500),
            // One key drives all the load here (hundreds of calls a second):
            // the per-key limit is tested in `overload`, not here.
            key_rate: gongshi::app::guard::KeyRate::OFF,
            ..ServerOptions::default()
        },
    )
    .await;
    let officer = labelled_key(&s.app, Role::Officer, "officer").await;
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", s.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = pb::enforcement_service_client::EnforcementServiceClient::new(ch.clone());
    let party = credit_code("91", 42);
    let first = client
        .create_penalty_decision(req(
            pb::CreatePenaltyDecisionRequest {
                request_id: String::new(),
                penalty_decision: Some(decision("沪应急罚〔2026〕100号", "2026-05-20", &party)),
            },
            &officer,
        ))
        .await
        .expect("create before the outage")
        .into_inner();

    // Load: 4 clients alternating a read and a write, until told to stop.
    let t0 = Instant::now();
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..4 {
        let mut c = client.clone();
        let (officer, outcomes, stop, name, party) = (
            officer.clone(),
            outcomes.clone(),
            stop.clone(),
            first.name.clone(),
            party.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let r = if n.is_multiple_of(2) {
                    c.get_penalty_decision(req(pb::GetPenaltyDecisionRequest { name: name.clone() }, &officer))
                        .await
                        .map(|_| ())
                } else {
                    let number = format!("沪应急罚〔2026〕{}号", 1000 + w * 100_000 + n);
                    c.create_penalty_decision(req(
                        pb::CreatePenaltyDecisionRequest {
                            request_id: String::new(),
                            penalty_decision: Some(decision(&number, "2026-05-20", &party)),
                        },
                        &officer,
                    ))
                    .await
                    .map(|_| ())
                };
                let o = match r {
                    Ok(()) => Outcome {
                        at: t0.elapsed(),
                        code: Code::Ok,
                        reason: String::new(),
                        retry_info: false,
                    },
                    Err(e) => Outcome {
                        at: t0.elapsed(),
                        code: e.code(),
                        reason: reason(&e),
                        retry_info: e.get_details_retry_info().is_some(),
                    },
                };
                let failed = o.code != Code::Ok;
                outcomes.lock().await.push(o);
                if failed {
                    // A client honouring RetryInfo would wait; keep the load up anyway.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    // Health, polled every 50 ms.
    let health_log = Arc::new(Mutex::new(Vec::<(Duration, i32)>::new()));
    let health_task = {
        let (ch, log, stop) = (ch.clone(), health_log.clone(), stop.clone());
        tokio::spawn(async move {
            let mut h = HealthClient::new(ch);
            while !stop.load(Ordering::Relaxed) {
                let st = h
                    .check(HealthCheckRequest { service: String::new() })
                    .await
                    .map(|r| r.into_inner().status)
                    .unwrap_or(-1);
                log.lock().await.push((t0.elapsed(), st));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopping_at = t0.elapsed();
    set_cluster_up(&cluster, false).await;
    let down_at = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(10)).await;
    set_cluster_up(&cluster, true).await;
    let up_at = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.expect("load task");
    }
    health_task.await.expect("health task");
    assert!(!s.handle.is_finished(), "the server kept running through the outage");

    let outcomes = outcomes.lock().await.clone();
    let health = health_log.lock().await.clone();
    // Before the outage: everything served.
    let before: Vec<_> = outcomes.iter().filter(|o| o.at < stopping_at).collect();
    assert!(before.len() > 10, "load before the outage: {}", before.len());
    assert!(before.iter().all(|o| o.code == Code::Ok), "before: {before:?}");
    // Every failure at any time is UNAVAILABLE with RetryInfo and its reason.
    let failures: Vec<_> = outcomes.iter().filter(|o| o.code != Code::Ok).collect();
    assert!(!failures.is_empty(), "the outage was noticed");
    for f in &failures {
        assert_eq!(f.code, Code::Unavailable, "{f:?}");
        assert_eq!(f.reason, "DATABASE_UNAVAILABLE", "{f:?}");
        assert!(f.retry_info, "RetryInfo: {f:?}");
    }
    // During the outage (after a moment to notice), nothing succeeds.
    let during: Vec<_> = outcomes
        .iter()
        .filter(|o| o.at > down_at + Duration::from_secs(1) && o.at < up_at)
        .collect();
    assert!(
        during.len() > 10,
        "calls were answered during the outage: {}",
        during.len()
    );
    assert!(during.iter().all(|o| o.code == Code::Unavailable), "{during:?}");
    // Health: NOT_SERVING during the outage, SERVING again after.
    let not_serving = health
        .iter()
        .find(|(at, st)| *at > down_at && *st == ServingStatus::NotServing as i32)
        .map(|(at, _)| *at)
        .expect("health went NOT_SERVING");
    let serving_again = health
        .iter()
        .find(|(at, st)| *at > up_at && *st == ServingStatus::Serving as i32)
        .map(|(at, _)| *at)
        .expect("health SERVING again");
    let first_ok_after = outcomes
        .iter()
        .filter(|o| o.at > up_at && o.code == Code::Ok)
        .map(|o| o.at)
        .min()
        .expect("a call succeeded after the database returned");
    let last_failure = failures.iter().map(|o| o.at).max().unwrap_or_default();
    eprintln!(
        "outage: database stopping at {:.2} s, down at {:.2} s, started at {:.2} s; health NOT_SERVING after {:.2} s; \
         {} calls UNAVAILABLE (last at {:.2} s); first success {:.2} s and health SERVING {:.2} s \
         after the database returned",
        stopping_at.as_secs_f64(),
        down_at.as_secs_f64(),
        up_at.as_secs_f64(),
        (not_serving - down_at).as_secs_f64(),
        failures.len(),
        last_failure.as_secs_f64(),
        (first_ok_after - up_at).as_secs_f64(),
        (serving_again - up_at).as_secs_f64(),
    );
    assert!(
        not_serving - down_at <= Duration::from_secs(3),
        "NOT_SERVING took {:?}",
        not_serving - down_at
    );
    assert!(
        first_ok_after - up_at <= Duration::from_secs(2),
        "served after {:?}",
        first_ok_after - up_at
    );
    assert!(
        serving_again - up_at <= Duration::from_secs(2),
        "SERVING after {:?}",
        serving_again - up_at
    );
    // After recovery, everything is served again.
    let after: Vec<_> = outcomes
        .iter()
        .filter(|o| o.at > up_at + Duration::from_secs(2))
        .collect();
    assert!(
        after.len() > 10 && after.iter().all(|o| o.code == Code::Ok),
        "{after:?}"
    );
}

/// Starts (`up`) or stops (`pg_ctl stop -m immediate`) the test's own
/// cluster, off the runtime's threads.
async fn set_cluster_up(cluster: &Arc<pg::OwnCluster>, up: bool) {
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || if up { c.start() } else { c.stop() })
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{} PostgreSQL: {e}", if up { "start" } else { "stop" }));
}
