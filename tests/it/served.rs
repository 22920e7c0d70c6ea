//! Served from bytes (issue 18): `GetDisclosure` and `ListDisclosures` are
//! written from each record's stored `Disclosure` encoding. Over the demo
//! history (corrected, withdrawn, expired, repaired and repair-pending
//! records), on both backends, every answer of the bytes path equals the
//! decoded reference path (`DisclosureService` of `DisclosureApi`, which
//! reads and converts rows): every field, and the stored bytes equal the
//! reference's encoding byte for byte. The same holds after migration 0008's
//! fill of rows written without an encoding.

use gongshi::api::DisclosureApi;
use gongshi::api::disclosure_options::FeedOptions;
use gongshi::api::pb;
use gongshi::api::pb::disclosure_service_server::DisclosureService;
use gongshi::domain::lifecycle::{DisclosureState, Role};
use gongshi::store::DisclosureFilter;
use prost::Message;

use crate::support::kit::server_with_keys;
use crate::support::{self, TestServer, calls, clock_at, d, req, sql};

/// The decoded path, in process, over the server's application.
fn reference(server: &TestServer) -> DisclosureApi {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // Never shut down: a dropped sender would wake its watches at once.
    std::mem::forget(tx);
    DisclosureApi::new(server.app.clone(), FeedOptions::default(), rx)
}

/// The day the tests' demo histories end.
const TODAY: &str = "2026-06-01";

/// A server on `url` holding the demo history of `enterprises` enterprises
/// (`seed`), as of [`TODAY`].
async fn demo_server(url: &str, enterprises: usize, seed: u64) -> (TestServer, gongshi::demo::DemoSummary) {
    let server = TestServer::start(url, clock_at(TODAY)).await;
    let summary = gongshi::demo::run(&server.app, &server.clock, d(TODAY), enterprises, seed)
        .await
        .expect("demo history");
    (server, summary)
}

/// Walks every page of `r` on both paths, asserting each page equal;
/// returns the records.
async fn compare_list(
    server: &TestServer,
    refp: &DisclosureApi,
    key: &str,
    r: pb::ListDisclosuresRequest,
    what: &str,
) -> Vec<pb::Disclosure> {
    let mut client = server.disclosures().await;
    let mut all = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let q = pb::ListDisclosuresRequest {
            page_token: token.clone(),
            ..r.clone()
        };
        let bytes = client.list_disclosures(req(q.clone(), key)).await;
        let decoded = refp.list_disclosures(req(q, key)).await;
        let (bytes, decoded) = match (bytes, decoded) {
            (Ok(b), Ok(d)) => (b.into_inner(), d.into_inner()),
            (Err(b), Err(d)) => {
                assert_eq!(
                    (b.code(), support::reason(&b)),
                    (d.code(), support::reason(&d)),
                    "{what}"
                );
                return all;
            }
            (b, d) => panic!("{what}: bytes {b:?} vs decoded {d:?}"),
        };
        assert_eq!(bytes, decoded, "{what}: page {pages}");
        assert_eq!(bytes.encode_to_vec(), decoded.encode_to_vec(), "{what}: page {pages}");
        pages += 1;
        all.extend(bytes.disclosures);
        if bytes.next_page_token.is_empty() {
            return all;
        }
        token = bytes.next_page_token;
    }
}

/// Every record on both paths for both roles, and every listing.
async fn compare_all(server: &TestServer, b: &str, auditor: &str, discloser: &str) -> Vec<pb::Disclosure> {
    let refp = reference(server);
    let rows = server
        .app
        .store
        .list_disclosures(&DisclosureFilter::default(), "", 100_000)
        .await
        .expect("rows");
    assert!(rows.len() > 50, "{b}: the demo published {} records", rows.len());
    let mut client = server.disclosures().await;
    let mut out = Vec::new();
    for row in &rows {
        let name = format!("disclosures/{}", row.id);
        for key in [auditor, discloser] {
            let q = pb::GetDisclosureRequest { name: name.clone() };
            let bytes = client.get_disclosure(req(q.clone(), key)).await;
            let decoded = refp.get_disclosure(req(q, key)).await;
            match (bytes, decoded) {
                (Ok(bytes), Ok(decoded)) => {
                    let (bytes, decoded) = (bytes.into_inner(), decoded.into_inner());
                    assert_eq!(bytes, decoded, "{b}: {name}");
                    if key == auditor {
                        out.push(bytes);
                    }
                }
                (Err(x), Err(y)) => {
                    assert_eq!(x.code(), tonic::Code::NotFound, "{b}: {name}");
                    assert_eq!((x.code(), x.message()), (y.code(), y.message()), "{b}: {name}");
                    assert_ne!(row.state, DisclosureState::Active, "{b}: {name}");
                }
                (x, y) => panic!("{b}: {name}: bytes {x:?} vs decoded {y:?}"),
            }
        }
        // The stored bytes are the reference's encoding, byte for byte.
        let (_, stored) = server
            .app
            .disclosure_encoded(&row.id)
            .await
            .expect("read")
            .expect("stored");
        let decoded = refp
            .get_disclosure(req(pb::GetDisclosureRequest { name: name.clone() }, auditor))
            .await
            .expect("reference")
            .into_inner();
        assert_eq!(stored.as_ref(), decoded.encode_to_vec().as_slice(), "{b}: {name}");
    }
    // Listings: every state, pages of 7 (several pages each), a filter.
    let mut listed = 0;
    for state in [
        pb::DisclosureState::Unspecified,
        pb::DisclosureState::Active,
        pb::DisclosureState::Withdrawn,
        pb::DisclosureState::Expired,
        pb::DisclosureState::Repaired,
    ] {
        for (key, who) in [(auditor, "auditor"), (discloser, "discloser")] {
            let r = pb::ListDisclosuresRequest {
                page_size: 7,
                state: state as i32,
                ..Default::default()
            };
            let got = compare_list(server, &refp, key, r, &format!("{b}: {state:?} as {who}")).await;
            if key == auditor && state != pb::DisclosureState::Unspecified {
                listed += got.len();
            }
        }
    }
    assert_eq!(listed, rows.len(), "{b}: every record listed under its state");
    let party = rows
        .iter()
        .find(|r| r.state == DisclosureState::Active)
        .map(|r| r.content.party_credit_code.clone())
        .expect("an active record");
    let r = pb::ListDisclosuresRequest {
        page_size: 1,
        party_credit_code: party,
        ..Default::default()
    };
    assert!(
        !compare_list(server, &refp, auditor, r, &format!("{b}: by party"))
            .await
            .is_empty()
    );
    // Default and over-large page sizes stay clamped the same way.
    for page_size in [0, 1000] {
        let r = pb::ListDisclosuresRequest {
            page_size,
            ..Default::default()
        };
        compare_list(server, &refp, auditor, r, &format!("{b}: page_size {page_size}")).await;
    }
    compare_feed(server, &refp, b, auditor).await;
    out
}

/// The feed on both paths: pages of several sizes, and a watch from 0 that
/// is read until it has delivered every change.
async fn compare_feed(server: &TestServer, refp: &DisclosureApi, b: &str, key: &str) {
    let mut client = server.disclosures().await;
    let mut whole = Vec::new();
    for page_size in [1000, 37, 0] {
        let mut after = 0;
        let mut all = Vec::new();
        loop {
            let q = pb::ListDisclosureChangesRequest {
                after_sequence: after,
                page_size,
            };
            let bytes = client
                .list_disclosure_changes(req(q, key))
                .await
                .expect("bytes")
                .into_inner();
            let decoded = refp
                .list_disclosure_changes(req(q, key))
                .await
                .expect("decoded")
                .into_inner();
            assert_eq!(bytes, decoded, "{b}: changes after {after} by {page_size}");
            assert_eq!(bytes.encode_to_vec(), decoded.encode_to_vec(), "{b}: after {after}");
            if bytes.changes.is_empty() {
                break;
            }
            after = bytes.last_sequence;
            all.extend(bytes.changes);
        }
        if whole.is_empty() {
            whole = all;
        } else {
            assert_eq!(all, whole, "{b}: the same feed by pages of {page_size}");
        }
    }
    // The feed carries corrected records' old and new versions, and
    // terminated records' changes without content.
    assert!(
        whole
            .iter()
            .any(|c| c.kind == pb::ChangeKind::Corrected as i32 && c.record.is_some()),
        "{b}"
    );
    assert!(whole.iter().any(|c| c.kind == pb::ChangeKind::Terminated as i32), "{b}");
    assert!(
        whole
            .iter()
            .any(|c| c.kind == pb::ChangeKind::Published as i32 && c.record.is_none()),
        "{b}: a published change of a record since terminated carries no content"
    );
    // Watch: the same changes on both paths.
    use tokio_stream::StreamExt;
    let q = pb::WatchDisclosureChangesRequest { after_sequence: 0 };
    let mut bytes = client
        .watch_disclosure_changes(req(q, key))
        .await
        .expect("watch bytes")
        .into_inner();
    let mut decoded = refp
        .watch_disclosure_changes(req(q, key))
        .await
        .expect("watch decoded")
        .into_inner();
    for want in &whole {
        let x = tokio::time::timeout(std::time::Duration::from_secs(20), bytes.next())
            .await
            .expect("bytes watch in time")
            .expect("open")
            .expect("change");
        let y = tokio::time::timeout(std::time::Duration::from_secs(20), decoded.next())
            .await
            .expect("decoded watch in time")
            .expect("open")
            .expect("change");
        assert_eq!(x, y, "{b}: watch at {}", want.sequence);
        assert_eq!(&x, want, "{b}: watch at {}", want.sequence);
    }
}

#[tokio::test]
async fn bytes_path_equals_decoded_path_over_the_demo_history() {
    for db in support::backends().await {
        let b = db.backend;
        let (server, s) = demo_server(&db.url, 60, 7).await;
        assert!(s.corrected > 0 && s.withdrawn > 0 && s.under_repair > 0, "{b}: {s:?}");
        let [auditor, discloser] = server.keys([Role::Auditor, Role::Discloser]).await;
        assert_eq!(unencoded(&db).await, Vec::<String>::new(), "{b}: every act stores it");
        let seen = compare_all(&server, b, &auditor, &discloser).await;
        // The demo's history is all there: corrections, every way a record
        // ends, and open repair applications on active records.
        assert!(seen.iter().any(|x| x.version > 1), "{b}: a corrected record");
        assert!(
            seen.iter()
                .any(|x| x.repair_pending && x.state == pb::DisclosureState::Active as i32),
            "{b}: a repair-pending record"
        );
        for st in [pb::DisclosureState::Withdrawn, pb::DisclosureState::Active] {
            assert!(seen.iter().any(|x| x.state == st as i32), "{b}: a {st:?} record");
        }
        assert!(
            seen.iter()
                .any(|x| x.state == pb::DisclosureState::Expired as i32
                    || x.state == pb::DisclosureState::Repaired as i32),
            "{b}: an expired or repaired record"
        );

        // Rows written before migration 0008 have no encoding: migrate fills
        // them, and the answers are the same again.
        forget_encodings(&db).await;
        server.app.store.migrate().await.expect("migrate fills the encodings");
        let again = compare_all(&server, b, &auditor, &discloser).await;
        assert_eq!(again, seen, "{b}: the same records after the fill");
        server.stop().await;
    }
}

/// Clears every stored encoding, as if the rows predated migration 0008.
async fn forget_encodings(db: &support::TestDb) {
    sql::run(&db.url, db.backend, &["UPDATE disclosures SET encoded = NULL"]).await;
}

/// The ids of the disclosures without a stored encoding.
async fn unencoded(db: &support::TestDb) -> Vec<String> {
    const SQL: &str = "SELECT id FROM disclosures WHERE encoded IS NULL ORDER BY id";
    sql::strings(&db.url, db.backend, SQL).await
}

/// What the load generator's SET_PENDING does (benches/loadgen/submit.rs).
const SET_PENDING: &str = "UPDATE disclosures SET repair_pending = TRUE, update_time = update_time + 1 WHERE id = $1";

/// A plain SQL UPDATE of a column the encoding depends on (a migration's
/// data fix, an operator, the load generator) clears the stored encoding
/// (migration 0010's trigger); the answers are the row's as it is now, equal
/// on both paths, until `migrate` stores the encodings again. An UPDATE of
/// columns the encoding does not show keeps it.
#[tokio::test]
async fn a_plain_update_clears_the_encoding_and_answers_stay_equal() {
    for db in support::backends().await {
        let b = db.backend;
        let (server, _) = demo_server(&db.url, 60, 11).await;
        let [auditor, discloser] = server.keys([Role::Auditor, Role::Discloser]).await;
        assert_eq!(unencoded(&db).await, Vec::<String>::new(), "{b}: every act stores it");
        let active: Vec<_> = server
            .app
            .store
            .list_disclosures(&DisclosureFilter::default(), "", 100_000)
            .await
            .expect("rows")
            .into_iter()
            .filter(|r| r.state == DisclosureState::Active && !r.repair_pending)
            .collect();
        assert!(active.len() >= 3, "{b}");
        let (pending, ended, touched) = (&active[0].id, &active[1].id, &active[2].id);

        // Seen once on the bytes path before the UPDATEs.
        let named = |id: &str| format!("disclosures/{id}");
        let before = get_one(&server, &discloser, &named(pending)).await;
        assert!(!before.repair_pending, "{b}");

        // A public column of one row changed, one row withdrawn, and a row
        // touched only in columns the encoding does not show.
        for (statement, id) in [
            (SET_PENDING, pending),
            (
                "UPDATE disclosures SET state = 'WITHDRAWN', termination_reason = 'WITHDRAWN', \
                 terminated_at = update_time WHERE id = $1",
                ended,
            ),
            (
                "UPDATE disclosures SET update_time = update_time + 1, search_name = search_name WHERE id = $1",
                touched,
            ),
        ] {
            sql::run_bound(&db.url, b, statement, &[id]).await;
        }
        let mut cleared = vec![pending.clone(), ended.clone()];
        cleared.sort();
        assert_eq!(
            unencoded(&db).await,
            cleared,
            "{b}: exactly the rows whose public columns changed"
        );

        // The bytes path serves the row as it is now.
        let after = get_one(&server, &discloser, &named(pending)).await;
        assert!(after.repair_pending, "{b}: repair_pending as updated");
        assert_eq!(
            after,
            pb::Disclosure {
                repair_pending: true,
                ..before
            },
            "{b}"
        );
        let mut client = server.disclosures().await;
        let gone = calls::get_disclosure(&mut client, &discloser, &named(ended)).await;
        assert_eq!(
            gone.map(|_| ()).map_err(|s| s.code()),
            Err(tonic::Code::NotFound),
            "{b}"
        );
        let withdrawn = calls::get_disclosure(&mut client, &auditor, &named(ended))
            .await
            .expect("an auditor still sees it");
        assert_eq!(withdrawn.state, pb::DisclosureState::Withdrawn as i32, "{b}");

        // Every answer (records, pages, the feed) equal on both paths, with
        // the encodings missing...
        let seen = compare_all(&server, b, &auditor, &discloser).await;
        assert!(seen.iter().any(|x| x.name == after.name && x.repair_pending), "{b}");
        // ...and once migrate has stored them again.
        server.app.store.migrate().await.expect("migrate fills the encodings");
        assert_eq!(unencoded(&db).await, Vec::<String>::new(), "{b}");
        let again = compare_all(&server, b, &auditor, &discloser).await;
        assert_eq!(again, seen, "{b}: the same records after the fill");
        server.stop().await;
    }
}

/// Gives disclosure `$1` the stored encoding of disclosure `$2`.
const SWAP: &str = "UPDATE disclosures SET encoded = (SELECT encoded FROM disclosures WHERE id = $2) WHERE id = $1";

/// `serve_stored_bytes = false` (the operators' fallback, and the benchmarks'
/// "before") really serves the decoded path over the socket: with one
/// record's stored encoding swapped for another's, the default server
/// answers the stored bytes (the other record) while the fallback server, on
/// the same database, answers the record as its columns are. Both agree on
/// everything else.
#[tokio::test]
async fn the_decoded_fallback_reads_the_columns_not_the_stored_bytes() {
    for db in support::backends().await {
        let b = db.backend;
        let (bytes_server, _) = demo_server(&db.url, 20, 3).await;
        let decoded_server = TestServer::start_tuned(&db.url, clock_at(TODAY), |o| o.serve_stored_bytes = false).await;
        let discloser = bytes_server.key(Role::Discloser, None).await;
        let (via_bytes, via_columns) = (
            list_all(&bytes_server, &discloser).await,
            list_all(&decoded_server, &discloser).await,
        );
        assert!(via_bytes.disclosures.len() >= 2, "{b}");
        assert_eq!(via_bytes, via_columns, "{b}: the same answer on both paths");

        // Swap: the first record's stored encoding becomes the second's.
        let (first, second) = (&via_bytes.disclosures[0].name, &via_bytes.disclosures[1].name);
        let first_id = first.trim_start_matches("disclosures/").to_string();
        let second_id = second.trim_start_matches("disclosures/").to_string();
        sql::run_bound(&db.url, b, SWAP, &[&first_id, &second_id]).await;
        assert_eq!(
            &get_one(&bytes_server, &discloser, first).await.name,
            second,
            "{b}: the default server answers the stored bytes"
        );
        assert_eq!(
            get_one(&decoded_server, &discloser, first).await,
            via_columns.disclosures[0],
            "{b}: the fallback answers the record's columns"
        );
        decoded_server.stop().await;
        bytes_server.stop().await;
    }
}

/// The first page (up to 1,000) of active disclosures, over the socket.
async fn list_all(server: &TestServer, key: &str) -> pb::ListDisclosuresResponse {
    let r = pb::ListDisclosuresRequest {
        page_size: 1000,
        ..Default::default()
    };
    let mut client = server.disclosures().await;
    client.list_disclosures(req(r, key)).await.expect("list").into_inner()
}

/// One disclosure by name, over the socket.
async fn get_one(server: &TestServer, key: &str, name: &str) -> pb::Disclosure {
    let r = pb::GetDisclosureRequest { name: name.to_string() };
    let mut client = server.disclosures().await;
    client.get_disclosure(req(r, key)).await.expect("get").into_inner()
}

/// The public reads run on connections of their own (`store::readers`),
/// with no check between calls. Cut by the database (a restart, an
/// administrator's `pg_terminate_backend`), they are replaced on the next
/// read: that read is answered, not failed, and answers as before.
#[tokio::test]
async fn public_reads_are_answered_after_their_connections_are_cut() {
    for db in support::backends().await {
        if db.backend != "postgres" {
            continue; // SQLite's connections are files: nothing cuts them.
        }
        let (server, _) = demo_server(&db.url, 10, 5).await;
        let discloser = server.key(Role::Discloser, None).await;
        let mut client = server.disclosures().await;
        let feed = |after_sequence| pb::ListDisclosureChangesRequest {
            after_sequence,
            page_size: 1000,
        };
        // Several reads at once, so several read connections are open.
        let reads = (0..6).map(|_| list_all(&server, &discloser));
        let lists = futures::future::join_all(reads).await;
        let before = lists[0].clone();
        assert!(!before.disclosures.is_empty(), "demo records");
        let name = before.disclosures[0].name.clone();
        let one = get_one(&server, &discloser, &name).await;
        let changes = client
            .list_disclosure_changes(req(feed(0), &discloser))
            .await
            .expect("feed")
            .into_inner();

        let cut: i64 = {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("pg");
            let n = sqlx::query_scalar::<_, i64>(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(&pool)
            .await
            .expect("terminate");
            pool.close().await;
            n
        };
        assert!(cut >= 2, "the server's connections were cut: {cut}");

        assert_eq!(get_one(&server, &discloser, &name).await, one, "get after the cut");
        assert_eq!(list_all(&server, &discloser).await, before, "list after the cut");
        let again = client
            .list_disclosure_changes(req(feed(0), &discloser))
            .await
            .expect("feed after the cut")
            .into_inner();
        assert_eq!(again, changes, "feed after the cut");
        server.stop().await;
    }
}

/// The public reads' PostgreSQL connections plan no parallel query
/// (`store::postgres::read_options`), even where the database's own default
/// allows it: a keyset page is cheaper than starting workers for it. Those
/// of the gets and the unfiltered list pages also keep one plan per
/// statement (`page_read_options`); the others plan as the database says.
#[tokio::test]
async fn public_read_connections_plan_no_parallel_query() {
    use sqlx::Connection as _;
    for db in support::backends().await {
        if db.backend != "postgres" {
            continue; // SQLite has no parallel query.
        }
        let mut admin = sqlx::PgConnection::connect(&db.url).await.expect("pg");
        sqlx::raw_sql("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET max_parallel_workers_per_gather = 4', current_database()); END $$")
            .execute(&mut admin)
            .await
            .expect("database default");
        let show = "SHOW max_parallel_workers_per_gather";
        let plain = sqlx::PgConnection::connect(&db.url).await.expect("plain");
        let options: sqlx::postgres::PgConnectOptions = db.url.parse().expect("url");
        let read = sqlx::PgConnection::connect_with(&gongshi::store::postgres_read_options(options.clone()))
            .await
            .expect("read connection");
        let page = sqlx::PgConnection::connect_with(&gongshi::store::postgres_page_read_options(options))
            .await
            .expect("page read connection");
        for (mut conn, expected, plans, what) in [
            (plain, "4", "auto", "a plain connection"),
            (read, "0", "auto", "a read connection"),
            (page, "0", "force_generic_plan", "a page read connection"),
        ] {
            let got: String = sqlx::query_scalar(show).fetch_one(&mut conn).await.expect("show");
            assert_eq!(got, expected, "{what}: max_parallel_workers_per_gather");
            let got: String = sqlx::query_scalar("SHOW plan_cache_mode")
                .fetch_one(&mut conn)
                .await
                .expect("show");
            assert_eq!(got, plans, "{what}: plan_cache_mode");
            let _ = conn.close().await;
        }
        let _ = admin.close().await;
    }
}

/// Feed pages read ahead (api/feed_ahead.rs). After a full page, the server
/// reads the next one in the background. It serves that page while the
/// feed's head stays where it was. A removal appends a change, so a page
/// read before it is read again, and the removed record's content is never
/// served. A page is used once.
#[tokio::test]
async fn pages_read_ahead_are_served_until_the_feed_moves() {
    for db in support::backends().await {
        let b = db.backend;
        let (server, [officer, discloser]) = server_with_keys(&db, TODAY, [Role::Officer, Role::Discloser]).await;
        let mut enf = server.enforcement().await;
        let mut published = Vec::new();
        for n in 1..=6u64 {
            let number = format!("沪应急罚〔2026〕预读-{n}号");
            published.push(support::publish_sample(&mut enf, &officer, &number, "2026-05-06", 900 + n).await);
        }
        let refp = reference(&server);
        let mut client = server.disclosures().await;
        let first = ahead_page(&mut client, &discloser, 0).await;
        assert_eq!(first.changes.len(), 2, "{b}");
        // Page 2 was read ahead; a plain UPDATE appends no change, so the
        // page read before it is what page 2 answers, and only once.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let fresh = decoded_ahead_page(&refp, &discloser, first.last_sequence).await;
        let second_id = fresh.changes[0].disclosure.strip_prefix("disclosures/");
        sql::run_bound(&db.url, b, SET_PENDING, &[second_id.expect("a disclosure's name")]).await;
        let ahead = ahead_page(&mut client, &discloser, first.last_sequence).await;
        let pending = |p: &pb::ListDisclosureChangesResponse| p.changes[0].record.as_ref().map(|r| r.repair_pending);
        assert_eq!(
            pending(&ahead),
            Some(false),
            "{b}: page 2 as read ahead, before the UPDATE"
        );
        let again = ahead_page(&mut client, &discloser, first.last_sequence).await;
        assert_eq!(
            pending(&again),
            Some(true),
            "{b}: read again: the read-ahead page is used once"
        );

        // Page 3 is read ahead after page 2; then its first record is
        // removed. The page read before the removal is not served.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(again.changes.len(), 2, "{b}: page 2 is full");
        let third_fresh = decoded_ahead_page(&refp, &discloser, again.last_sequence).await;
        let removed = &third_fresh.changes[0].disclosure;
        assert!(
            third_fresh.changes[0].record.is_some(),
            "{b}: active before the removal"
        );
        let decision = published
            .iter()
            .find(|p| p.disclosure == *removed)
            .expect("the removed record's decision");
        crate::feed::withdraw(&mut enf, &officer, decision, "撤销处罚决定").await;
        let third = ahead_page(&mut client, &discloser, again.last_sequence).await;
        assert_eq!(third.changes[0].disclosure, *removed, "{b}");
        assert_eq!(
            third.changes[0].record, None,
            "{b}: no content of a record removed since"
        );
        let decoded = decoded_ahead_page(&refp, &discloser, again.last_sequence).await;
        assert_eq!(third, decoded, "{b}: the page as read now");
        server.stop().await;
    }
}

/// The feed's page of 2 after `after`, over the socket (the bytes path).
async fn ahead_page(
    client: &mut pb::disclosure_service_client::DisclosureServiceClient<tonic::transport::Channel>,
    key: &str,
    after: i64,
) -> pb::ListDisclosureChangesResponse {
    let q = pb::ListDisclosureChangesRequest {
        after_sequence: after,
        page_size: 2,
    };
    client
        .list_disclosure_changes(req(q, key))
        .await
        .expect("feed page")
        .into_inner()
}

/// The same page on the decoded path, in process: the page as read now.
async fn decoded_ahead_page(refp: &DisclosureApi, key: &str, after: i64) -> pb::ListDisclosureChangesResponse {
    let q = pb::ListDisclosureChangesRequest {
        after_sequence: after,
        page_size: 2,
    };
    refp.list_disclosure_changes(req(q, key))
        .await
        .expect("decoded feed page")
        .into_inner()
}
