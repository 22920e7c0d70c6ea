//! Set-ups that several test modules share.

use gongshi::domain::lifecycle::Role;

use super::{TestDb, TestServer, clock_at};

/// A server on `db`, its clock at noon CST of `today`, and a new key of each
/// of `roles`, in order.
pub async fn server_with_keys<const N: usize>(db: &TestDb, today: &str, roles: [Role; N]) -> (TestServer, [String; N]) {
    let server = TestServer::start(&db.url, clock_at(today)).await;
    let keys = server.keys(roles).await;
    (server, keys)
}
