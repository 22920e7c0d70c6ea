//! The bytes floor (issue 18): a static answer of exactly the size of each
//! read scenario's answer, served from memory on the same tonic stack and
//! transport settings as gongshi, with no authentication, no database, no
//! conversion and no encoding per call — tonic's `Grpc` with gongshi's own
//! `BytesCodec` writing bytes prepared once at start. Its scenarios
//! (`get-bytes`, `list-bytes`, `changes-bytes`, and `h2-get-bytes`,
//! `h2-list-bytes` under h2load) measure what carrying those bytes costs this
//! machine: nothing that answers the same requests with the same bytes over
//! gRPC can be faster. Runs as its own process (`--serve-bytes-floor URL`).
//!
//! The answers are the server's own: the first record, the first page of 100
//! active records (with its page token) and the first feed page of 1,000, as
//! `gongshi::api::served` assembles them from stored encodings.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gongshi::api::pb;
use gongshi::api::served::{changes_page, repeated_then_string, unary_bytes};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};
use tonic::service::Routes;
use tonic::{Request, Response, Status};

const GET: &str = "/gongshi.v1.DisclosureService/GetDisclosure";
const LIST: &str = "/gongshi.v1.DisclosureService/ListDisclosures";
const CHANGES: &str = "/gongshi.v1.DisclosureService/ListDisclosureChanges";

/// The three answers, encoded.
#[derive(Clone)]
struct Answers {
    get: Bytes,
    list: Bytes,
    changes: Bytes,
}

/// Answers every call with one fixed body.
struct Fixed(Bytes);

impl<T: Send + 'static> UnaryService<T> for Fixed {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, _: Request<T>) -> Self::Future {
        let body = self.0.clone();
        Box::pin(async move { Ok(Response::new(body)) })
    }
}

#[derive(Clone)]
struct BytesFloor(Arc<Answers>);

impl NamedService for BytesFloor {
    const NAME: &'static str = "gongshi.v1.DisclosureService";
}

impl<B> Service<http::Request<B>> for BytesFloor
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let a = self.0.clone();
        let max = Some(gongshi::server::ServerOptions::default().max_message_bytes);
        match req.uri().path() {
            GET => Box::pin(async move {
                Ok(unary_bytes::<pb::GetDisclosureRequest, _, _>(Fixed(a.get.clone()), req, max).await)
            }),
            LIST => Box::pin(async move {
                Ok(unary_bytes::<pb::ListDisclosuresRequest, _, _>(Fixed(a.list.clone()), req, max).await)
            }),
            CHANGES => Box::pin(async move {
                Ok(unary_bytes::<pb::ListDisclosureChangesRequest, _, _>(Fixed(a.changes.clone()), req, max).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("not a floor method").into_http()) }),
        }
    }
}

/// The answers the server gives for the first record, first page and first
/// feed page of `url`, assembled as `gongshi::api::served` does.
async fn answers(url: String) -> Answers {
    let (app, filter) = crate::floor::open(url).await;
    let page = app
        .store
        .list_disclosures_encoded(&filter, "", 100)
        .await
        .expect("first page");
    let items: Vec<Bytes> = page.iter().map(|(_, b)| b.clone()).collect();
    // A token of the server's length (scope-bound tokens are this long).
    let token = gongshi::api::page::token("disclosures|key|filter", page.last().map_or("", |(id, _)| id));
    let changes = app.store.list_changes_encoded(0, 1000).await.expect("first feed page");
    let last = changes.last().map_or(0, |c| c.sequence);
    Answers {
        get: items.first().cloned().unwrap_or_default(),
        list: repeated_then_string(1, &items, 2, &token),
        changes: changes_page(&changes, last),
    }
}

/// The child: prepares the answers from `url`, then serves until stdin closes.
pub async fn serve(url: String) {
    let answers = Arc::new(answers(url).await);
    crate::floor::serve_routes(Routes::new(BytesFloor(answers))).await;
}
