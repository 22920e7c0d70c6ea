//! Order of the authentication checks.

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;

use crate::support::{self, TestServer, req};

/// A wrong role is PERMISSION_DENIED even when a portal key also omits
/// `x-gongshi-on-behalf-of` (the role is checked first).
#[tokio::test]
async fn role_is_checked_before_on_behalf_of() {
    let db = support::sqlite_db();
    let server = TestServer::start(&db.url, support::clock_at("2026-11-29")).await;
    let portal = server.key(Role::Portal, None).await;
    let err = server
        .enforcement()
        .await
        .get_penalty_decision(req(
            pb::GetPenaltyDecisionRequest {
                name: "penaltyDecisions/X1".into(),
            },
            &portal,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(support::reason(&err), "ROLE_NOT_ALLOWED");
}
