//! Graceful shutdown: health turns NOT_SERVING, open watches end, the server
//! returns within its deadline.

use std::time::Duration;

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{self, TestServer, req};

#[tokio::test]
async fn shutdown_flips_health_and_ends_watches() {
    let db = support::sqlite_db();
    let server = TestServer::start(&db.url, support::clock_at("2026-11-29")).await;
    let discloser = server.key(Role::Discloser, None).await;
    let ch = server.channel().await;

    let mut health = HealthClient::new(ch.clone())
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .expect("health watch")
        .into_inner();
    let first = health.message().await.expect("health message").expect("some");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let mut feed = pb::disclosure_service_client::DisclosureServiceClient::new(ch)
        .watch_disclosure_changes(req(pb::WatchDisclosureChangesRequest { after_sequence: 0 }, &discloser))
        .await
        .expect("watch")
        .into_inner();

    let stopping = tokio::spawn(server.stop());

    let next = tokio::time::timeout(Duration::from_secs(5), health.message())
        .await
        .expect("health update before the deadline");
    let m = next.expect("health stream still open").expect("an update");
    assert_eq!(
        m.status,
        ServingStatus::NotServing as i32,
        "health flips to NOT_SERVING"
    );
    // The open watch ends (cleanly or with an error), it does not hang.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = feed.message().await {}
    })
    .await;
    assert!(ended.is_ok(), "the watch stream ended at shutdown");
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("server stopped within its grace period")
        .expect("join");
}

/// A key revoked while its watch is open stops receiving the feed.
#[tokio::test]
async fn watch_ends_when_its_key_is_revoked() {
    let db = support::sqlite_db();
    let server = TestServer::start(&db.url, support::clock_at("2026-11-29")).await;
    let key = server
        .app
        .create_key(Role::Discloser, "to be revoked", None, None)
        .await
        .expect("key");
    let mut feed = server
        .disclosures()
        .await
        .watch_disclosure_changes(req(
            pb::WatchDisclosureChangesRequest { after_sequence: 0 },
            &key.secret,
        ))
        .await
        .expect("watch")
        .into_inner();
    assert!(server.app.store.revoke_key(&key.row.id, 1).await.unwrap());
    let end = tokio::time::timeout(Duration::from_secs(15), feed.message())
        .await
        .expect("the watch ends within the re-check period");
    let status = end.expect_err("ended with an error");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}
