//! Self-test of the PostgreSQL test harness (`support::pg`).

use sqlx::PgPool;

use crate::support::pg;

async fn user_tables(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(pool)
    .await
    .expect("count tables")
}

async fn table_exists(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("to_regclass")
}

#[tokio::test]
async fn harness_gives_two_distinct_empty_databases() {
    let Some(url_a) = pg::fresh_database_url().await else {
        return; // skipped: the harness already said why on stderr
    };
    let url_b = pg::fresh_database_url()
        .await
        .expect("a second database on the same server");
    assert_ne!(url_a, url_b);

    let a = PgPool::connect(&url_a).await.expect("connect to database A");
    let b = PgPool::connect(&url_b).await.expect("connect to database B");

    let name_a: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&a)
        .await
        .unwrap();
    let name_b: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&b)
        .await
        .unwrap();
    assert_ne!(name_a, name_b);
    assert!(name_a.starts_with("gongshi_test_"), "{name_a}");
    assert!(url_a.contains(&name_a), "{url_a} is not for {name_a}");

    assert_eq!(user_tables(&a).await, 0, "database A is not empty");
    assert_eq!(user_tables(&b).await, 0, "database B is not empty");

    sqlx::query("CREATE TABLE harness_probe (id bigint PRIMARY KEY, note text)")
        .execute(&a)
        .await
        .expect("create table in A");
    sqlx::query("INSERT INTO harness_probe VALUES (1, 'only in A')")
        .execute(&a)
        .await
        .expect("insert into A");
    assert!(table_exists(&a, "harness_probe").await);
    assert!(
        !table_exists(&b, "harness_probe").await,
        "a table created in A is visible in B"
    );
    assert_eq!(user_tables(&b).await, 0, "database B is not empty");

    // The throw-away servers run without durability; a server given through
    // TEST_DATABASE_URL has whatever settings it has.
    match pg::server_kind() {
        Some(pg::ServerKind::LocalCluster | pg::ServerKind::Docker) => {
            let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(&a).await.unwrap();
            assert_eq!(fsync, "off");
        }
        Some(pg::ServerKind::EnvUrl) | None => {}
    }

    a.close().await;
    b.close().await;
}
