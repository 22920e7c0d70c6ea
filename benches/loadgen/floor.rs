//! The floor server: gongshi's `DisclosureService` on the same tonic stack and
//! transport settings, answering `GetDisclosure`, `ListDisclosures` and
//! `ListDisclosureChanges` with real records converted once at start (the
//! same bytes the server sends), with no authentication, no database and no
//! conversion per call. Its scenarios (`get-floor`, `list-floor`,
//! `changes-floor`) run the same client against it, so they measure what the
//! gRPC stack alone costs to carry those requests and responses on this
//! machine — the part of a call no implementation of the service can avoid.
//! Runs as its own process (`--serve-floor URL`), like the server.
//!
//! A `GetDisclosure` whose name starts with [`READ_PREFIX`] instead of
//! `disclosures/` (same length, so the same bytes on the wire) also does the
//! bare read of `get-sql` before answering (`get-floor-read`): the stack and
//! the read together in one process, as a real server has them.

use std::sync::Arc;
use std::time::Duration;

use gongshi::api::convert::disclosure_out;
use gongshi::api::pb::disclosure_service_server::{DisclosureService, DisclosureServiceServer};
use gongshi::api::{change_out, pb};
use gongshi::config::Config;
use gongshi::domain::clock::SystemClock;
use gongshi::domain::lifecycle::DisclosureState;
use gongshi::store::DisclosureFilter;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// Names starting with this ask the floor to read the record first.
pub const READ_PREFIX: &str = "floorread///";

/// The fixed answers.
struct Floor {
    page: Vec<pb::Disclosure>,
    changes: Vec<pb::DisclosureChange>,
    conns: Arc<crate::reference::Conns>,
}

#[tonic::async_trait]
impl DisclosureService for Floor {
    async fn get_disclosure(&self, req: Request<pb::GetDisclosureRequest>) -> Result<Response<pb::Disclosure>, Status> {
        if let Some(id) = req.get_ref().name.strip_prefix(READ_PREFIX) {
            match crate::reference::read_one(&self.conns, id).await {
                Ok(Some(row)) => drop(std::hint::black_box(row)),
                Ok(None) => return Err(Status::not_found(id.to_string())),
                Err(e) => return Err(Status::internal(e.to_string())),
            }
        }
        self.page
            .first()
            .cloned()
            .map(Response::new)
            .ok_or_else(|| Status::not_found("no records"))
    }

    async fn list_disclosures(
        &self,
        _: Request<pb::ListDisclosuresRequest>,
    ) -> Result<Response<pb::ListDisclosuresResponse>, Status> {
        Ok(Response::new(pb::ListDisclosuresResponse {
            disclosures: self.page.clone(),
            next_page_token: "floor".into(),
        }))
    }

    async fn list_disclosure_changes(
        &self,
        req: Request<pb::ListDisclosureChangesRequest>,
    ) -> Result<Response<pb::ListDisclosureChangesResponse>, Status> {
        Ok(Response::new(pb::ListDisclosureChangesResponse {
            changes: self.changes.clone(),
            last_sequence: req.get_ref().after_sequence + self.changes.len() as i64,
        }))
    }
}

/// The app on `url` (two connections) and the filter of an unfiltered list
/// (active records): what a floor reads its answers with.
pub async fn open(url: String) -> (Arc<gongshi::app::App>, DisclosureFilter) {
    let cfg = Config {
        database_url: url,
        max_connections: 2,
        ..Config::default()
    };
    let app = cfg.open_app(Arc::new(SystemClock)).await.expect("open app");
    let filter = DisclosureFilter {
        state: Some(DisclosureState::Active),
        ..DisclosureFilter::default()
    };
    (app, filter)
}

/// The child: loads its answers from `url`, then serves until stdin closes.
pub async fn serve(url: String) {
    let url_for_reads = url.clone();
    let (app, filter) = open(url).await;
    let page: Vec<_> = app
        .store
        .list_disclosures(&filter, "", 100)
        .await
        .expect("first page")
        .into_iter()
        .map(disclosure_out)
        .collect();
    let changes: Vec<_> = app
        .store
        .list_changes(0, 1000)
        .await
        .expect("first feed page")
        .into_iter()
        .map(change_out)
        .collect();
    drop(app);
    let conns = crate::reference::Conns::open(&url_for_reads)
        .await
        .expect("bare connections");
    let svc = DisclosureServiceServer::new(Floor { page, changes, conns })
        .max_decoding_message_size(gongshi::server::ServerOptions::default().max_message_bytes);
    serve_routes(Routes::new(svc)).await;
}

/// Serves `routes` on 127.0.0.1 with the transport settings of
/// gongshi::server::run, printing `LISTEN addr`, until stdin closes (the
/// floor servers' child processes).
pub async fn serve_routes(routes: Routes) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    println!("LISTEN {addr}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let shutdown = async {
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut sink).await;
    };
    let defaults = gongshi::server::ServerOptions::default();
    Server::builder()
        .http2_keepalive_interval(Some(defaults.keepalive_interval))
        .http2_keepalive_timeout(Some(defaults.keepalive_timeout))
        .max_concurrent_streams(Some(defaults.max_concurrent_streams))
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(Duration::from_secs(60))),
            shutdown,
        )
        .await
        .expect("serve floor");
}
