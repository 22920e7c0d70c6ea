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

/// `gongshi keys revoke` is an application act: the key's record keeps who
/// revoked it, when and why, written with the revocation; a revocation that
/// cannot say who or why, or finds no active key, writes nothing. Both
/// backends.
#[tokio::test]
async fn a_revocation_through_the_app_is_recorded_with_who_and_why() {
    use gongshi::app::AppError;
    use gongshi::app::keys::KEY_REVOKED;

    for db in support::backends().await {
        let b = db.backend;
        let server = TestServer::start(&db.url, support::clock_at("2026-11-29")).await;
        let app = &server.app;
        let k = app
            .create_key(Role::Officer, "执法 王五", None, None)
            .await
            .expect("key");
        let other = app.create_key(Role::Auditor, "审计", None, None).await.expect("key");

        // Who and why are required; nothing is revoked or recorded without them.
        for (by, why, field) in [("", "离职", "by"), ("管理员 赵六", "  ", "reason")] {
            match app.revoke_key(&k.row.id, by, why).await {
                Err(AppError::Invalid { violations, .. }) => {
                    assert_eq!(violations[0].field, field, "{b}");
                }
                r => panic!("{b}: revocation without {field} must be refused, got {r:?}"),
            }
        }
        assert!(app.key_record(&k.row.id).await.expect("record").is_empty(), "{b}");

        app.revoke_key(&k.row.id, "管理员 赵六", "离职").await.expect("revoke");
        let record = app.key_record(&k.row.id).await.expect("record");
        assert_eq!(record.len(), 1, "{b}: {record:?}");
        assert_eq!(record[0].kind, KEY_REVOKED, "{b}");
        assert_eq!(record[0].by_whom, "管理员 赵六", "{b}");
        assert_eq!(record[0].reason, "离职", "{b}");
        assert_eq!(record[0].at, app.now_micros(), "{b}");

        let keys = app.list_keys().await.expect("list");
        let listed = keys.iter().find(|s| s.id == k.row.id).expect("listed");
        assert_eq!(listed.revoked_at, Some(record[0].at), "{b}");
        let untouched = keys.iter().find(|s| s.id == other.row.id).expect("listed");
        assert_eq!(untouched.revoked_at, None, "{b}: only the named key is revoked");
        assert!(app.key_record(&other.row.id).await.expect("record").is_empty(), "{b}");

        // Twice, or an unknown id: NotFound, and nothing more is recorded.
        for id in [k.row.id.as_str(), "nokey"] {
            match app.revoke_key(id, "管理员 赵六", "again").await {
                Err(AppError::NotFound(_)) => {}
                r => panic!("{b}: revoking {id:?} again must be NotFound, got {r:?}"),
            }
        }
        assert_eq!(app.key_record(&k.row.id).await.expect("record").len(), 1, "{b}");
        server.stop().await;
    }
}
