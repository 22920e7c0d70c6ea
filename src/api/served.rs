//! Answers served from stored bytes (issue 18): `GetDisclosure`,
//! `ListDisclosures`, `ListDisclosureChanges` and `WatchDisclosureChanges`
//! are written from each record's `Disclosure` encoding as
//! the store keeps it, concatenated into the response's wire format, without
//! decoding or re-encoding a record.
//!
//! tonic's generated server encodes a message struct; [`DisclosureServer`]
//! wraps it and takes those four methods itself, with [`BytesCodec`] (its
//! encoder writes a body already in protobuf form; its decoder is
//! [`GongshiCodec`]'s, so a malformed request is answered the same way).
//! Every other method goes to the generated server unchanged.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, BoxStream, Service, StdError, http};
use tonic::server::{NamedService, ServerStreamingService, UnaryService};
use tonic::{Request, Response, Status};

use super::DisclosureApi;
use prost::Message;

use super::codec::{GongshiCodec, GongshiDecoder};
use super::pb;
use super::pb::disclosure_service_server::DisclosureServiceServer;
use crate::app::public::EncodedChange;

const GET: &str = "/gongshi.v1.DisclosureService/GetDisclosure";
const LIST: &str = "/gongshi.v1.DisclosureService/ListDisclosures";
const CHANGES: &str = "/gongshi.v1.DisclosureService/ListDisclosureChanges";
const WATCH: &str = "/gongshi.v1.DisclosureService/WatchDisclosureChanges";

/// A message body made of `items`, each as length-delimited field `field`,
/// then `text` as string field `text_field` (left out when empty, as prost
/// does for a proto3 default).
pub fn repeated_then_string(field: u32, items: &[Bytes], text_field: u32, text: &str) -> Bytes {
    let item_key = key_len(field);
    let mut len: usize = items
        .iter()
        .map(|b| item_key + encoded_len_varint(b.len() as u64) + b.len())
        .sum();
    if !text.is_empty() {
        len += key_len(text_field) + encoded_len_varint(text.len() as u64) + text.len();
    }
    let mut out = BytesMut::with_capacity(len);
    for b in items {
        encode_key(field, WireType::LengthDelimited, &mut out);
        encode_varint(b.len() as u64, &mut out);
        out.put_slice(b);
    }
    if !text.is_empty() {
        encode_key(text_field, WireType::LengthDelimited, &mut out);
        encode_varint(text.len() as u64, &mut out);
        out.put_slice(text.as_bytes());
    }
    out.freeze()
}

/// A change of the feed in its `DisclosureChange` wire form, in three
/// parts: the fields before `record` and after it as prost writes them (in
/// field order, defaults left out), and the record's stored bytes, to go
/// between them as field 6.
struct ChangeParts<'a> {
    head: pb::DisclosureChange,
    record: Option<&'a Bytes>,
    tail: pb::DisclosureChange,
}

impl<'a> ChangeParts<'a> {
    fn of(c: &'a EncodedChange) -> Self {
        ChangeParts {
            head: super::disclosure::change_head(c.sequence, &c.disclosure_id, c.kind, c.reason, c.effective_time),
            record: c.record.as_ref(),
            tail: pb::DisclosureChange {
                content_sha256: c.content_sha256.clone(),
                version: i32::try_from(c.version).unwrap_or(i32::MAX),
                public_reason: c.public_reason.clone().unwrap_or_default(),
                ..Default::default()
            },
        }
    }

    /// The length of the change's encoding.
    fn len(&self) -> usize {
        let record = self
            .record
            .map(|r| key_len(6) + encoded_len_varint(r.len() as u64) + r.len())
            .unwrap_or(0);
        self.head.encoded_len() + record + self.tail.encoded_len()
    }

    /// Writes the change's encoding (`len()` bytes).
    fn write(&self, out: &mut BytesMut) {
        self.head.encode_raw(out);
        if let Some(r) = self.record {
            encode_key(6, WireType::LengthDelimited, out);
            encode_varint(r.len() as u64, out);
            out.put_slice(r);
        }
        self.tail.encode_raw(out);
    }
}

/// A change of the feed in its `DisclosureChange` wire form: byte for byte
/// what prost writes for the decoded change.
pub fn change_bytes(c: &EncodedChange) -> Bytes {
    let parts = ChangeParts::of(c);
    let mut out = BytesMut::with_capacity(parts.len());
    parts.write(&mut out);
    out.freeze()
}

/// `ListDisclosureChangesResponse` from encoded changes: each as field 1,
/// then `last_sequence` as field 2 (left out when 0). Written into one
/// buffer of the exact size, each record's bytes copied once.
pub fn changes_page(changes: &[EncodedChange], last_sequence: i64) -> Bytes {
    let tail = pb::ListDisclosureChangesResponse {
        changes: Vec::new(),
        last_sequence,
    };
    let parts: Vec<(ChangeParts<'_>, usize)> = changes
        .iter()
        .map(|c| {
            let p = ChangeParts::of(c);
            let len = p.len();
            (p, len)
        })
        .collect();
    let body: usize = parts
        .iter()
        .map(|(_, len)| key_len(1) + encoded_len_varint(*len as u64) + len)
        .sum();
    let mut out = BytesMut::with_capacity(body + tail.encoded_len());
    for (p, len) in &parts {
        encode_key(1, WireType::LengthDelimited, &mut out);
        encode_varint(*len as u64, &mut out);
        p.write(&mut out);
    }
    tail.encode_raw(&mut out);
    out.freeze()
}

/// A codec whose encoder writes a body already in protobuf form and whose
/// decoder is [`GongshiCodec`]'s for the request `U`.
#[derive(Debug)]
pub struct BytesCodec<U>(PhantomData<fn() -> U>);

impl<U> Default for BytesCodec<U> {
    fn default() -> Self {
        BytesCodec(PhantomData)
    }
}

/// The encoder of [`BytesCodec`]: copies the pre-encoded body.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesEncoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl<U> Codec for BytesCodec<U>
where
    U: prost::Message + Default + Send + 'static,
{
    type Encode = Bytes;
    type Decode = U;
    type Encoder = BytesEncoder;
    type Decoder = GongshiDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        GongshiCodec::<pb::Disclosure, U>::default().decoder()
    }
}

/// The DisclosureService as served: `GetDisclosure` and `ListDisclosures`
/// from stored bytes, the rest by the generated server.
#[derive(Clone)]
pub struct DisclosureServer {
    api: Arc<DisclosureApi>,
    generated: DisclosureServiceServer<DisclosureApi>,
    max_decoding: usize,
}

impl DisclosureServer {
    /// Serves `api`, refusing requests over `max_decoding` bytes.
    pub fn new(api: DisclosureApi, max_decoding: usize) -> Self {
        let api = Arc::new(api);
        DisclosureServer {
            generated: DisclosureServiceServer::from_arc(api.clone()).max_decoding_message_size(max_decoding),
            api,
            max_decoding,
        }
    }
}

impl NamedService for DisclosureServer {
    const NAME: &'static str = "gongshi.v1.DisclosureService";
}

/// Answers a unary call of `req` with `svc`, whose answer is a body already
/// in protobuf form, refusing requests over `max_decoding` bytes.
pub async fn unary_bytes<T, S, B>(
    svc: S,
    req: http::Request<B>,
    max_decoding: Option<usize>,
) -> http::Response<tonic::body::Body>
where
    T: prost::Message + Default + Send + 'static,
    S: UnaryService<T, Response = Bytes>,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    let mut grpc =
        tonic::server::Grpc::new(BytesCodec::<T>::default()).apply_max_message_size_config(max_decoding, None);
    grpc.unary(svc, req).await
}

struct GetSvc(Arc<DisclosureApi>);

impl UnaryService<pb::GetDisclosureRequest> for GetSvc {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, req: Request<pb::GetDisclosureRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { api.get_disclosure_bytes(req).await })
    }
}

struct ListSvc(Arc<DisclosureApi>);

impl UnaryService<pb::ListDisclosuresRequest> for ListSvc {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, req: Request<pb::ListDisclosuresRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { api.list_disclosures_bytes(req).await })
    }
}

struct ChangesSvc(Arc<DisclosureApi>);

impl UnaryService<pb::ListDisclosureChangesRequest> for ChangesSvc {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, req: Request<pb::ListDisclosureChangesRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { api.list_disclosure_changes_bytes(req).await })
    }
}

struct WatchSvc(Arc<DisclosureApi>);

impl ServerStreamingService<pb::WatchDisclosureChangesRequest> for WatchSvc {
    type Response = Bytes;
    type ResponseStream = BoxStream<Bytes>;
    type Future = BoxFuture<Response<BoxStream<Bytes>>, Status>;

    fn call(&mut self, req: Request<pb::WatchDisclosureChangesRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { api.watch_disclosure_changes_bytes(req).await })
    }
}

impl<B> Service<http::Request<B>> for DisclosureServer
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
        let api = self.api.clone();
        let max = Some(self.max_decoding);
        match req.uri().path() {
            GET => Box::pin(async move { Ok(unary_bytes(GetSvc(api), req, max).await) }),
            LIST => Box::pin(async move { Ok(unary_bytes(ListSvc(api), req, max).await) }),
            CHANGES => Box::pin(async move { Ok(unary_bytes(ChangesSvc(api), req, max).await) }),
            WATCH => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(BytesCodec::<pb::WatchDisclosureChangesRequest>::default())
                    .apply_max_message_size_config(max, None);
                Ok(grpc.server_streaming(WatchSvc(api), req).await)
            }),
            _ => self.generated.call(req),
        }
    }
}
