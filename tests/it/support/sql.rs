//! Statements run on a test database directly, outside the server, as an
//! operator or an older release would (to make stored rows look as a test
//! needs them, or to count them).

/// Evaluates `$body` with `$pool` bound to a pool of its own on the
/// database at `$url` (of `$backend`, "postgres" or "sqlite"), then closes
/// the pool; the value of `$body`.
macro_rules! with_pool {
    ($url:expr, $backend:expr, |$pool:ident| $body:expr) => {
        if $backend == "postgres" {
            let $pool = sqlx::PgPool::connect($url).await.expect("connect");
            let out = $body;
            $pool.close().await;
            out
        } else {
            let $pool = sqlx::SqlitePool::connect($url).await.expect("connect");
            let out = $body;
            $pool.close().await;
            out
        }
    };
}

/// Runs `statements` in order on the database at `url`; a statement that
/// fails panics with its text.
pub async fn run(url: &str, backend: &str, statements: &[&'static str]) {
    with_pool!(url, backend, |pool| for s in statements {
        sqlx::query(*s)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    })
}

/// Runs one statement on the database at `url`, binding `binds` as its
/// parameters `$1`, `$2`, …
pub async fn run_bound(url: &str, backend: &str, statement: &'static str, binds: &[&str]) {
    with_pool!(url, backend, |pool| {
        let q = binds.iter().fold(sqlx::query(statement), |q, v| q.bind(v.to_string()));
        q.execute(&pool).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    })
}

/// Runs a script (statements separated by `;`, unbound) on the database at
/// `url`.
pub async fn run_script(url: &str, backend: &str, script: &str) {
    let sql = sqlx::AssertSqlSafe(script.to_string());
    with_pool!(url, backend, |pool| {
        let done = sqlx::raw_sql(sql).execute(&pool).await;
        done.unwrap_or_else(|e| panic!("{script}: {e}"));
    })
}

/// The one integer a query (a `COUNT(*)`, say) answers on the database at
/// `url`.
pub async fn count(url: &str, backend: &str, query: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(query.to_string());
    with_pool!(url, backend, |pool| {
        let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await;
        n.unwrap_or_else(|e| panic!("{query}: {e}"))
    })
}

/// The text column a query answers, every row, on the database at `url`.
pub async fn strings(url: &str, backend: &str, query: &'static str) -> Vec<String> {
    with_pool!(url, backend, |pool| {
        let rows = sqlx::query_scalar::<_, String>(query).fetch_all(&pool).await;
        rows.unwrap_or_else(|e| panic!("{query}: {e}"))
    })
}
