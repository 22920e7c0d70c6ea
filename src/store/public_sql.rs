//! SQL of the public face (search index, one disclosure's changes, the feed
//! newest first), shared by both backends like `sql.rs`.
//!
//! A name search probes how many records each looked-up bigram has (counting
//! at most [`super::public::GRAM_PROBE`]), then walks the rarest bigram's
//! records in id order, testing the normalised name for the whole query: the
//! work is bounded by the rarest bigram, not by the register.

/// A search page's statement: the columns `$columns` from `$from_where`
/// (ending in `AND `), walking `$key` after the cursor bound at
/// `$cursor` in ascending order or, newest first, before it in descending
/// order, `$limit` rows at most.
macro_rules! walk_sql {
    ($newest_first:expr, [$($columns:tt)+], [$($from_where:tt)+], $key:literal, $cursor:literal, $limit:literal) => {
        if $newest_first {
            concat!("SELECT ", $($columns)+, $($from_where)+, $key, " < ", $cursor, " ORDER BY ", $key, " DESC LIMIT CAST(", $limit, " AS BIGINT)")
        } else {
            concat!("SELECT ", $($columns)+, $($from_where)+, $key, " > ", $cursor, " ORDER BY ", $key, " LIMIT CAST(", $limit, " AS BIGINT)")
        }
    };
}

pub(crate) use walk_sql;

/// Implements [`super::public::PublicStore`] for one backend, the index
/// upkeep `index_for_search` on its transaction (called by every insert and
/// update of a disclosure in `sql.rs`), and `backfill_search` on its store
/// (called by `migrate`).
///
/// - `contains`: the substring function taking (haystack, needle) and
///   answering a position > 0 when found (`instr` / `strpos`).
/// - `distinct`: the null-safe inequality (`IS NOT` / `IS DISTINCT FROM`).
/// - `unindexed_index`: what names the partial index of the disclosures
///   still to index (`INDEXED BY disclosures_unindexed` on SQLite, nothing on
///   PostgreSQL), for the reason `sql_store!`'s `expiry_index` gives: without
///   it SQLite reads every active disclosure at each start.
macro_rules! sql_public {
    (
        store = $store:ident, tx = $tx:ident, db = $db:ty,
        contains = $contains:literal, distinct = $distinct:literal, unindexed_index = $unindexed_index:literal $(,)?
    ) => {
        /// Above every ULID: the start of a newest-first walk.
        const SEARCH_TOP: &str = "ZZZZZZZZZZZZZZZZZZZZZZZZZZZ";

        #[async_trait::async_trait]
        impl $crate::store::public::PublicStore for $store {
            async fn search_disclosures(
                &self,
                term: &$crate::domain::search::SearchTerm,
                cursor: &str,
                limit: i64,
                newest_first: bool,
            ) -> $crate::store::Result<Vec<$crate::store::DisclosureRow>> {
                use $crate::domain::search::{SearchTerm, query_bigrams};
                use $crate::store::public::{GRAM_PROBE, QUERY_GRAMS};
                let cursor = match (cursor.is_empty(), newest_first) {
                    (true, true) => SEARCH_TOP,
                    _ => cursor,
                };
                let mut conn = self.pool.acquire().await.map_err(classify)?;
                match term {
                    SearchTerm::All => {
                        let sql = $crate::store::public_sql::walk_sql!(
                            newest_first,
                            [$crate::store::sql::disclosure_columns!()],
                            [" FROM disclosures WHERE state = 'ACTIVE' AND "],
                            "id", "$1", "$2"
                        );
                        sqlx::query_as::<$db, RawDisclosure>(sql)
                            .bind(cursor)
                            .bind(limit)
                            .fetch_all(&mut *conn)
                            .await
                    }
                    SearchTerm::CreditCode(code) => {
                        let sql = $crate::store::public_sql::walk_sql!(
                            newest_first,
                            [$crate::store::sql::disclosure_columns!()],
                            [" FROM disclosures WHERE party_credit_code = $1 AND state = 'ACTIVE' AND "],
                            "id", "$2", "$3"
                        );
                        sqlx::query_as::<$db, RawDisclosure>(sql)
                            .bind(code)
                            .bind(cursor)
                            .bind(limit)
                            .fetch_all(&mut *conn)
                            .await
                    }
                    SearchTerm::Name(name) => {
                        // The rarest looked-up bigram drives; one without
                        // records means no name can match.
                        let mut driver: Option<(i64, String)> = None;
                        for gram in query_bigrams(name, QUERY_GRAMS) {
                            let n: i64 = sqlx::query_scalar::<$db, i64>(
                                "SELECT COUNT(*) FROM (SELECT 1 FROM disclosure_grams WHERE gram = $1 LIMIT CAST($2 AS BIGINT)) t",
                            )
                            .bind(&gram)
                            .bind(GRAM_PROBE)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(classify)?;
                            if n == 0 {
                                return Ok(Vec::new());
                            }
                            if driver.as_ref().is_none_or(|(best, _)| n < *best) {
                                driver = Some((n, gram));
                            }
                        }
                        let Some((_, gram)) = driver else {
                            return Ok(Vec::new());
                        };
                        let sql = $crate::store::public_sql::walk_sql!(
                            newest_first,
                            // Unqualified: disclosure_grams has none of these columns.
                            [$crate::store::sql::disclosure_columns!()],
                            [
                                " FROM disclosure_grams g JOIN disclosures d ON d.id = g.disclosure_id \
                                 WHERE g.gram = $1 AND d.state = 'ACTIVE' AND ",
                                $contains,
                                "(d.search_name, $3) > 0 AND "
                            ],
                            "g.disclosure_id", "$2", "$4"
                        );
                        sqlx::query_as::<$db, RawDisclosure>(sql)
                            .bind(&gram)
                            .bind(cursor)
                            .bind(name)
                            .bind(limit)
                            .fetch_all(&mut *conn)
                            .await
                    }
                }
                .into_rows()
            }

            async fn changes_of(&self, disclosure_id: &str) -> $crate::store::Result<Vec<$crate::store::ChangeView>> {
                sqlx::query_as::<$db, RawChange>($crate::store::sql::change_view_sql!(
                    "WHERE c.disclosure_id = $1 ORDER BY c.sequence"
                ))
                .bind(disclosure_id)
                .fetch_all(&self.pool)
                .await
                .into_rows()
            }

            async fn list_changes_before(
                &self,
                before: i64,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::ChangeView>> {
                sqlx::query_as::<$db, RawChange>($crate::store::sql::change_view_sql!(
                    "WHERE c.sequence < $1 ORDER BY c.sequence DESC LIMIT CAST($2 AS BIGINT)"
                ))
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .into_rows()
            }
        }

        impl $tx {
            /// Brings the search index of one disclosure in line with `row`,
            /// in this transaction: its normalised name and bigrams while it
            /// is ACTIVE, nothing otherwise. A write that changes neither the
            /// name nor whether it is active costs one UPDATE matching no row.
            async fn index_for_search(&mut self, row: &$crate::store::DisclosureRow) -> $crate::store::Result<()> {
                use $crate::domain::lifecycle::DisclosureState;
                use $crate::domain::search::{bigrams, normalize};
                let want = (row.state == DisclosureState::Active).then(|| normalize(&row.content.party_name));
                let changed = sqlx::query(concat!(
                    "UPDATE disclosures SET search_name = $2 WHERE id = $1 AND search_name ",
                    $distinct,
                    " $2"
                ))
                .bind(&row.id)
                .bind(&want)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                if changed.rows_affected() == 0 {
                    return Ok(());
                }
                sqlx::query("DELETE FROM disclosure_grams WHERE disclosure_id = $1")
                    .bind(&row.id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(classify)?;
                let grams = want.as_deref().map(bigrams).unwrap_or_default();
                if !grams.is_empty() {
                    sqlx::QueryBuilder::<$db>::new("INSERT INTO disclosure_grams (gram, disclosure_id) ")
                        .push_values(&grams, |mut b, g| {
                            b.push_bind(g.clone()).push_bind(row.id.clone());
                        })
                        .push(" ON CONFLICT DO NOTHING")
                        .build()
                        .execute(&mut *self.tx)
                        .await
                        .map_err(classify)?;
                }
                Ok(())
            }
        }

        impl $store {
            /// The search index's backfill statement: the next 500 active
            /// disclosures not yet indexed for search.
            pub const UNINDEXED_SQL: &'static str = concat!(
                "SELECT ",
                $crate::store::sql::disclosure_columns!(),
                " FROM disclosures ",
                $unindexed_index,
                " WHERE search_name IS NULL AND state = 'ACTIVE' ORDER BY id LIMIT 500"
            );

            /// Indexes active disclosures written before the search index
            /// existed (migration 0007); returns how many.
            async fn backfill_search(&self) -> $crate::store::Result<u64> {
                self.backfill(Self::UNINDEXED_SQL, "search index built", |tx, row| {
                    Box::pin(async move { tx.index_for_search(&row).await })
                })
                .await
            }

            /// Stores the `Disclosure` encoding of disclosures written before
            /// it was kept (migration 0008); returns how many. A row an act
            /// rewrote meanwhile already has its encoding and is left alone.
            async fn backfill_encoded(&self) -> $crate::store::Result<u64> {
                const SQL: &str = concat!(
                    "SELECT ",
                    $crate::store::sql::disclosure_columns!(),
                    " FROM disclosures WHERE encoded IS NULL ORDER BY id LIMIT 500"
                );
                self.backfill(SQL, "encodings stored", |tx, row| {
                    Box::pin(async move {
                        sqlx::query("UPDATE disclosures SET encoded = $2 WHERE id = $1 AND encoded IS NULL")
                            .bind(&row.id)
                            .bind($crate::store::encode_disclosure(&row))
                            .execute(&mut *tx.tx)
                            .await
                            .map_err(classify)?;
                        Ok(())
                    })
                })
                .await
            }

            /// Runs `each` over the disclosures `sql` selects (at most 500 a
            /// batch, each batch in one transaction) until it selects none,
            /// with progress in the log every 10,000; returns how many.
            async fn backfill<F>(&self, sql: &'static str, what: &'static str, mut each: F) -> $crate::store::Result<u64>
            where
                F: for<'t> FnMut(
                    &'t mut $tx,
                    $crate::store::DisclosureRow,
                ) -> futures::future::BoxFuture<'t, $crate::store::Result<()>>,
            {
                let mut done: u64 = 0;
                loop {
                    let rows = sqlx::query_as::<$db, RawDisclosure>(sql)
                        .fetch_all(&self.pool)
                        .await
                        .into_rows()?;
                    if rows.is_empty() {
                        if done > 0 {
                            tracing::info!(disclosures = done, "{what} for existing disclosures");
                        }
                        return Ok(done);
                    }
                    let mut tx = $tx {
                        tx: self.pool.begin().await.map_err(classify)?,
                    };
                    for row in rows {
                        each(&mut tx, row).await?;
                        done += 1;
                        if done % 10_000 == 0 {
                            tracing::info!(disclosures = done, "{what} for existing disclosures, so far");
                        }
                    }
                    tx.tx.commit().await.map_err(classify)?;
                }
            }
        }
    };
}

pub(crate) use sql_public;
