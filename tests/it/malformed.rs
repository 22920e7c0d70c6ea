//! Hostile request bodies (issue 7, "Hostile input"): 10,000 requests spread
//! over every method of every `gongshi.v1` service, enumerated from the
//! descriptor set the server serves for reflection, sent as raw bytes —
//! random bytes, truncated valid encodings, valid encodings with garbage
//! appended, wrong wire types, deeply nested groups, unknown fields, huge
//! length prefixes, invalid UTF-8, bodies over the message limit, and broken
//! gRPC frames (no message, short header or body, compressed-flag without
//! encoding, an unknown method). With a valid key of every role, a bad key,
//! and none.
//!
//! No answer may be `INTERNAL` or `UNKNOWN`; every error carries exactly one
//! `ErrorInfo` of domain `gongshi.v1`; what cannot be decoded is
//! `INVALID_ARGUMENT` (`MALFORMED_REQUEST`), what is over the limit
//! `RESOURCE_EXHAUSTED` (`MESSAGE_TOO_LARGE`). Afterwards the server still
//! answers health SERVING and a normal call works.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use gongshi::api::{FILE_DESCRIPTOR_SET, pb};
use gongshi::domain::lifecycle::Role;
use http_body_util::BodyExt;
use prost::Message;
use prost::bytes::{BufMut, Bytes};
use prost::encoding::{WireType, encode_key};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use tonic::codegen::{Service, http};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::{ErrorDetail, StatusExt};

use crate::support::raw::RawCodec;
use crate::support::{ROLES, TestServer, backends, clock_at, create_and_publish, credit_code, decision, req};

/// Requests per backend.
const TOTAL: usize = 10_000;
/// The server's message limit in this test.
const LIMIT: usize = 64 * 1024;
/// Requests in flight.
const CONCURRENCY: usize = 16;
/// Inputs follow from this seed (printed, so a failure can be replayed).
const SEED: u64 = 0x6d61_6c66_6f72_6d64;

// ------------------------------------------------------------------ schema

/// One RPC, from the descriptor set.
#[derive(Debug, Clone)]
struct Method {
    path: String,
    input: String,
    streaming: bool,
}

/// The message types by full name (`.gongshi.v1.Party`), nested ones included.
struct Schema {
    messages: HashMap<String, DescriptorProto>,
}

fn index(prefix: &str, msgs: &[DescriptorProto], out: &mut HashMap<String, DescriptorProto>) {
    for m in msgs {
        let name = format!("{prefix}.{}", m.name());
        index(&name, &m.nested_type, out);
        out.insert(name, m.clone());
    }
}

/// Every method of every gongshi.v1 service, and the message schema.
fn load() -> (Schema, Vec<Method>) {
    let fds = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut messages = HashMap::new();
    let mut methods = Vec::new();
    for file in &fds.file {
        index(&format!(".{}", file.package()), &file.message_type, &mut messages);
        if file.package() != "gongshi.v1" {
            continue;
        }
        for s in &file.service {
            for m in &s.method {
                methods.push(Method {
                    path: format!("/gongshi.v1.{}/{}", s.name(), m.name()),
                    input: m.input_type().to_string(),
                    streaming: m.server_streaming(),
                });
            }
        }
    }
    (Schema { messages }, methods)
}

// ------------------------------------------------------------------ inputs

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A field key with a wire type number no field has (6 or 7).
fn invalid_key(out: &mut Vec<u8>, field: u32, wire: u32) {
    prost::encoding::encode_varint(u64::from(field << 3 | wire), out);
}

fn len_delimited(out: &mut Vec<u8>, field: u32, payload: &[u8]) {
    encode_key(field, WireType::LengthDelimited, out);
    prost::encoding::encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// What a request must be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Anything but INTERNAL or UNKNOWN.
    Any,
    /// INVALID_ARGUMENT, MALFORMED_REQUEST.
    Malformed,
    /// RESOURCE_EXHAUSTED, MESSAGE_TOO_LARGE.
    TooLarge,
    /// UNIMPLEMENTED.
    Unimplemented,
}

/// How a body is sent.
#[derive(Debug, Clone)]
enum Payload {
    /// As one message, by a tonic client with [`RawCodec`].
    Message(Vec<u8>),
    /// As this exact HTTP/2 body (frames made by hand), with `grpc-encoding: gzip` if set.
    Frames {
        body: Vec<u8>,
        gzip: bool,
        path: Option<String>,
    },
}

/// Who calls.
#[derive(Debug, Clone)]
enum Auth {
    None,
    BadKey(String),
    Key { key: String, on_behalf_of: Option<String> },
}

/// One request of the sweep.
#[derive(Debug, Clone)]
struct Plan {
    n: usize,
    method: Method,
    kind: &'static str,
    send: Payload,
    auth: Auth,
    expect: Expect,
}

/// Makes bodies for a message type from its descriptor.
struct Gen<'a> {
    rng: Rng,
    schema: &'a Schema,
    strings: Vec<String>,
}

impl Gen<'_> {
    fn fields(&self, type_name: &str) -> Vec<FieldDescriptorProto> {
        self.schema
            .messages
            .get(type_name)
            .map(|m| m.field.clone())
            .unwrap_or_default()
    }

    fn string(&mut self) -> String {
        match self.rng.below(10) {
            0 => String::new(),
            1 => (0..self.rng.below(80))
                .map(|_| char::from(self.rng.below(128) as u8))
                .collect(),
            2 => {
                let n = *[65, 2001, 5001].get(self.rng.below(3)).unwrap_or(&65);
                "界".repeat(n)
            }
            _ => self.strings[self.rng.below(self.strings.len())].clone(),
        }
    }

    fn int(&mut self) -> u64 {
        match self.rng.below(6) {
            0..=2 => self.rng.below(8) as u64,
            3 => [u64::MAX, i64::MAX as u64, i64::MIN as u64, u32::MAX as u64, 1000, 1001][self.rng.below(6)],
            4 => (self.rng.below(200) as i64 - 100) as u64,
            _ => self.rng.next(),
        }
    }

    /// A valid encoding of `type_name` with hostile values.
    fn message(&mut self, type_name: &str, depth: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.fields(type_name) {
            if !self.rng.chance(70) {
                continue;
            }
            let times = if f.label() == Label::Repeated {
                self.rng.below(4)
            } else {
                1
            };
            for _ in 0..times {
                self.field(&f, depth, &mut out);
            }
        }
        out
    }

    fn field(&mut self, f: &FieldDescriptorProto, depth: u32, out: &mut Vec<u8>) {
        let num = f.number() as u32;
        match f.r#type() {
            Type::String => {
                let s = self.string();
                len_delimited(out, num, s.as_bytes());
            }
            Type::Bytes => {
                let n = self.rng.below(300);
                let b = self.rng.bytes(n);
                len_delimited(out, num, &b);
            }
            Type::Message if depth < 6 => {
                let m = self.message(f.type_name(), depth + 1);
                len_delimited(out, num, &m);
            }
            Type::Message | Type::Group => {}
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                encode_key(num, WireType::SixtyFourBit, out);
                out.put_u64_le(self.rng.next());
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                encode_key(num, WireType::ThirtyTwoBit, out);
                out.put_u32_le(self.rng.next() as u32);
            }
            _ => {
                encode_key(num, WireType::Varint, out);
                let v = self.int();
                prost::encoding::encode_varint(v, out);
            }
        }
    }

    /// `valid` and a field of the message with a wire type its type never has.
    fn wrong_wire_type(&mut self, type_name: &str, valid: &[u8]) -> Vec<u8> {
        let fields = self.fields(type_name);
        let mut out = valid.to_vec();
        let Some(f) = fields.get(self.rng.below(fields.len())) else {
            invalid_key(&mut out, 1, 7);
            return out;
        };
        let num = f.number() as u32;
        match f.r#type() {
            Type::String | Type::Bytes | Type::Message => {
                encode_key(num, WireType::Varint, &mut out);
                out.push(1);
            }
            Type::Double | Type::Fixed64 | Type::Sfixed64 | Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                encode_key(num, WireType::Varint, &mut out);
                out.push(1);
            }
            _ => {
                encode_key(num, WireType::ThirtyTwoBit, &mut out);
                out.put_u32_le(1);
            }
        }
        out
    }

    /// Unknown fields of every wire type, well formed.
    fn unknown_fields(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..1 + self.rng.below(6) {
            let num = 1000 + self.rng.below(1 << 20) as u32;
            match self.rng.below(5) {
                0 => {
                    encode_key(num, WireType::Varint, &mut out);
                    prost::encoding::encode_varint(self.rng.next(), &mut out);
                }
                1 => {
                    encode_key(num, WireType::SixtyFourBit, &mut out);
                    out.put_u64_le(self.rng.next());
                }
                2 => {
                    let n = self.rng.below(100);
                    let b = self.rng.bytes(n);
                    len_delimited(&mut out, num, &b);
                }
                3 => {
                    encode_key(num, WireType::ThirtyTwoBit, &mut out);
                    out.put_u32_le(self.rng.next() as u32);
                }
                _ => {
                    encode_key(num, WireType::StartGroup, &mut out);
                    encode_key(num + 1, WireType::Varint, &mut out);
                    out.push(7);
                    encode_key(num, WireType::EndGroup, &mut out);
                }
            }
        }
        out
    }

    /// Groups nested past prost's recursion limit (100), or never closed.
    fn deep_groups(&mut self) -> Vec<u8> {
        let depth = 101 + self.rng.below(400);
        let mut out = Vec::new();
        for _ in 0..depth {
            encode_key(19_999, WireType::StartGroup, &mut out);
        }
        if self.rng.chance(50) {
            for _ in 0..depth {
                encode_key(19_999, WireType::EndGroup, &mut out);
            }
        }
        out
    }

    /// `valid` and a length prefix far beyond the body: a known
    /// length-delimited field or an unknown one.
    fn huge_length(&mut self, type_name: &str, valid: &[u8]) -> Vec<u8> {
        let mut out = valid.to_vec();
        let num = self
            .fields(type_name)
            .iter()
            .find(|f| matches!(f.r#type(), Type::String | Type::Bytes | Type::Message))
            .filter(|_| self.rng.chance(50))
            .map(|f| f.number() as u32)
            .unwrap_or(4242);
        encode_key(num, WireType::LengthDelimited, &mut out);
        let len = [u64::MAX, i64::MAX as u64, u32::MAX as u64, 1 << 31, LIMIT as u64 * 4][self.rng.below(5)];
        prost::encoding::encode_varint(len, &mut out);
        let tail = self.rng.below(16);
        out.extend(self.rng.bytes(tail));
        out
    }

    /// `valid` and a string field holding bytes that are not UTF-8.
    fn bad_utf8(&mut self, type_name: &str, valid: &[u8]) -> Option<Vec<u8>> {
        let fields = self.fields(type_name);
        let f = fields.iter().find(|f| f.r#type() == Type::String)?;
        let mut out = valid.to_vec();
        let mut bad = b"ok".to_vec();
        bad.extend_from_slice([&[0xff][..], &[0xc0, 0x80], &[0xed, 0xa0, 0x80], &[0xe4, 0xb8]][self.rng.below(4)]);
        len_delimited(&mut out, f.number() as u32, &bad);
        Some(out)
    }

    /// A gRPC frame.
    fn frame(flag: u8, declared: u32, body: &[u8]) -> Vec<u8> {
        let mut f = vec![flag];
        f.extend_from_slice(&declared.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn plan(&mut self, n: usize, method: &Method, auth: Auth) -> Plan {
        let input = method.input.clone();
        // Well under the limit, so that only "oversized" requests exceed it.
        let mut valid = self.message(&input, 0);
        while valid.len() > LIMIT / 2 {
            valid = self.message(&input, 0);
        }
        let plan = |kind, send, expect| Plan {
            n,
            method: method.clone(),
            kind,
            send,
            auth: auth.clone(),
            expect,
        };
        if n % 100 == 99 {
            // Over the limit: a valid message padded with an unknown field.
            let mut big = valid;
            let pad = LIMIT + 1 + self.rng.below(150_000);
            len_delimited(&mut big, 4243, &vec![b'x'; pad]);
            return plan("oversized", Payload::Message(big), Expect::TooLarge);
        }
        match self.rng.below(20) {
            0..=3 => {
                let len = [0, 1, 2, 5, 17, 64, 300, 2000][self.rng.below(8)];
                let b = self.rng.bytes(len);
                plan("random", Payload::Message(b), Expect::Any)
            }
            4..=6 => plan("valid", Payload::Message(valid), Expect::Any),
            7..=8 => {
                let cut = self.rng.below(valid.len().max(1));
                plan("truncated", Payload::Message(valid[..cut].to_vec()), Expect::Any)
            }
            9..=10 => {
                let mut b = valid;
                let extra = 1 + self.rng.below(64);
                b.extend(self.rng.bytes(extra));
                plan("garbage-appended", Payload::Message(b), Expect::Any)
            }
            11 => {
                let b = self.wrong_wire_type(&input, &valid);
                plan("wrong-wire-type", Payload::Message(b), Expect::Malformed)
            }
            12 => {
                let mut b = valid;
                b.extend(self.deep_groups());
                plan("deep-groups", Payload::Message(b), Expect::Malformed)
            }
            13 => {
                let mut b = valid;
                let unknown = self.unknown_fields();
                let at = if self.rng.chance(50) { 0 } else { b.len() };
                b.splice(at..at, unknown);
                plan("unknown-fields", Payload::Message(b), Expect::Any)
            }
            14 => {
                let b = self.huge_length(&input, &valid);
                plan("huge-length", Payload::Message(b), Expect::Malformed)
            }
            15 => match self.bad_utf8(&input, &valid) {
                Some(b) => plan("bad-utf8", Payload::Message(b), Expect::Malformed),
                None => {
                    let b = self.wrong_wire_type(&input, &valid);
                    plan("wrong-wire-type", Payload::Message(b), Expect::Malformed)
                }
            },
            16 => {
                let mut b = valid;
                for _ in 0..1 + self.rng.below(4) {
                    if !b.is_empty() {
                        let i = self.rng.below(b.len());
                        b[i] ^= 1 << self.rng.below(8);
                    }
                }
                plan("bit-flips", Payload::Message(b), Expect::Any)
            }
            17 => {
                // Fields tag 0 or wire types 6 and 7: never valid.
                let mut b = valid;
                match self.rng.below(3) {
                    0 => b.extend([0x00, 0x01]),
                    1 => invalid_key(&mut b, 7, 6),
                    _ => invalid_key(&mut b, 4244, 7),
                }
                plan("invalid-tag", Payload::Message(b), Expect::Malformed)
            }
            _ => {
                let frames = |body, gzip, path| Payload::Frames { body, gzip, path };
                match self.rng.below(9) {
                    0 => plan("frame-empty-body", frames(Vec::new(), false, None), Expect::Malformed),
                    1 => {
                        let n = 1 + self.rng.below(4);
                        plan("frame-short-header", frames(vec![0; n], false, None), Expect::Malformed)
                    }
                    2 => {
                        let declared = valid.len() as u32 + 1 + self.rng.below(1000) as u32;
                        let f = Self::frame(0, declared, &valid);
                        plan("frame-short-body", frames(f, false, None), Expect::Malformed)
                    }
                    3 => {
                        let f = Self::frame(1, valid.len() as u32, &valid);
                        plan("frame-compressed-flag", frames(f, false, None), Expect::Malformed)
                    }
                    4 => {
                        let flag = 2 + self.rng.below(254) as u8;
                        let f = Self::frame(flag, valid.len() as u32, &valid);
                        plan("frame-bad-flag", frames(f, false, None), Expect::Malformed)
                    }
                    5 => {
                        let declared = [u32::MAX, LIMIT as u32 + 1, 1 << 30][self.rng.below(3)];
                        let f = Self::frame(0, declared, &valid);
                        plan("frame-huge-length", frames(f, false, None), Expect::TooLarge)
                    }
                    6 => {
                        // A valid message, then one that does not decode.
                        let mut f = Self::frame(0, valid.len() as u32, &valid);
                        let bad = self.wrong_wire_type(&input, &valid);
                        f.extend(Self::frame(0, bad.len() as u32, &bad));
                        plan(
                            "frame-second-message-malformed",
                            frames(f, false, None),
                            Expect::Malformed,
                        )
                    }
                    7 => {
                        let f = Self::frame(1, valid.len() as u32, &valid);
                        plan("frame-gzip", frames(f, true, None), Expect::Unimplemented)
                    }
                    _ => {
                        let service = method.path.rsplit_once('/').map(|(s, _)| s).unwrap_or("/gongshi.v1.X");
                        let f = Self::frame(0, valid.len() as u32, &valid);
                        let path = Some(format!("{service}/NoSuchMethod"));
                        plan("frame-unknown-method", frames(f, false, path), Expect::Unimplemented)
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------ sending

/// Sends one planned request; `Ok(())` for a successful call.
async fn send(channel: Channel, plan: &Plan) -> Result<(), Status> {
    let mut metadata = Vec::new();
    match &plan.auth {
        Auth::None => {}
        Auth::BadKey(k) => metadata.push(("authorization", format!("Bearer {k}"))),
        Auth::Key { key, on_behalf_of } => {
            metadata.push(("authorization", format!("Bearer {key}")));
            if let Some(code) = on_behalf_of {
                metadata.push(("x-gongshi-on-behalf-of", code.clone()));
            }
        }
    }
    match &plan.send {
        Payload::Message(body) => {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
            let mut request = tonic::Request::new(body.clone());
            for (k, v) in &metadata {
                request.metadata_mut().insert(*k, v.parse().expect("ascii metadata"));
            }
            let path = http::uri::PathAndQuery::try_from(plan.method.path.as_str()).expect("path");
            if plan.method.streaming {
                let mut stream = grpc.server_streaming(request, path, RawCodec).await?.into_inner();
                // Read what comes; a watch stays open, so stop once it is idle.
                loop {
                    match tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
                        Ok(Ok(Some(_))) => continue,
                        Ok(Ok(None)) | Err(_) => return Ok(()),
                        Ok(Err(status)) => return Err(status),
                    }
                }
            } else {
                grpc.unary(request, path, RawCodec).await.map(|_| ())
            }
        }
        Payload::Frames { body, gzip, path } => {
            let path = path.clone().unwrap_or_else(|| plan.method.path.clone());
            let mut builder = http::Request::builder()
                .method("POST")
                .uri(path)
                .header("content-type", "application/grpc")
                .header("te", "trailers");
            if *gzip {
                builder = builder.header("grpc-encoding", "gzip");
            }
            for (k, v) in &metadata {
                builder = builder.header(*k, v);
            }
            let body = tonic::body::Body::new(http_body_util::Full::new(Bytes::from(body.clone())));
            let request = builder.body(body).expect("request");
            let mut channel = channel;
            std::future::poll_fn(|cx| channel.poll_ready(cx))
                .await
                .map_err(|e| Status::unavailable(e.to_string()))?;
            let response = channel
                .call(request)
                .await
                .map_err(|e| Status::unavailable(e.to_string()))?;
            if let Some(status) = Status::from_header_map(response.headers()) {
                return if status.code() == Code::Ok { Ok(()) } else { Err(status) };
            }
            let collected = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Status::unavailable(format!("body: {e}")))?;
            let trailers = collected.trailers().cloned().unwrap_or_default();
            match Status::from_header_map(&trailers) {
                Some(s) if s.code() != Code::Ok => Err(s),
                Some(_) => Ok(()),
                None => Err(Status::unknown("no grpc-status in the response")),
            }
        }
    }
}

/// The ErrorInfo details of a status.
fn error_infos(s: &Status) -> Result<Vec<tonic_types::ErrorInfo>, String> {
    let details = s
        .check_error_details_vec()
        .map_err(|e| format!("undecodable details: {e}"))?;
    Ok(details
        .into_iter()
        .filter_map(|d| match d {
            ErrorDetail::ErrorInfo(i) => Some(i),
            _ => None,
        })
        .collect())
}

/// Checks one answer against the plan: its code (or "OK"), or what is wrong.
fn judge(plan: &Plan, result: &Result<(), Status>) -> Result<Code, String> {
    let status = match result {
        Ok(()) => {
            return match plan.expect {
                Expect::Any => Ok(Code::Ok),
                other => Err(format!("expected {other:?}, got OK")),
            };
        }
        Err(s) => s,
    };
    if matches!(status.code(), Code::Internal | Code::Unknown) {
        return Err(format!("{:?}: {}", status.code(), status.message()));
    }
    let infos = error_infos(status)?;
    let [info] = infos.as_slice() else {
        return Err(format!(
            "{} ErrorInfo details ({:?}: {})",
            infos.len(),
            status.code(),
            status.message()
        ));
    };
    if info.domain != "gongshi.v1" {
        return Err(format!("ErrorInfo domain {:?}", info.domain));
    }
    let want = match plan.expect {
        Expect::Any => None,
        Expect::Malformed => Some((Code::InvalidArgument, "MALFORMED_REQUEST")),
        Expect::TooLarge => Some((Code::ResourceExhausted, "MESSAGE_TOO_LARGE")),
        Expect::Unimplemented => Some((Code::Unimplemented, info.reason.as_str())),
    };
    if let Some((code, reason)) = want
        && (status.code() != code || info.reason != reason)
    {
        return Err(format!(
            "expected {code:?}/{reason}, got {:?}/{}: {}",
            status.code(),
            info.reason,
            status.message()
        ));
    }
    Ok(status.code())
}

fn show(plan: &Plan) -> String {
    let (what, bytes) = match &plan.send {
        Payload::Message(b) => ("message", b),
        Payload::Frames { body, .. } => ("HTTP/2 body", body),
    };
    let auth = match &plan.auth {
        Auth::None => "no key".to_string(),
        Auth::BadKey(_) => "bad key".to_string(),
        Auth::Key { on_behalf_of, .. } => format!("valid key, on behalf of {on_behalf_of:?}"),
    };
    format!(
        "#{} {} {} ({auth}), {what} of {} bytes: {}{}",
        plan.n,
        plan.method.path,
        plan.kind,
        bytes.len(),
        hex::encode(&bytes[..bytes.len().min(96)]),
        if bytes.len() > 96 { "…" } else { "" }
    )
}

// ------------------------------------------------------------------ the test

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_bodies_never_internal_and_server_stays_healthy() {
    let (schema, methods) = load();
    for service in gongshi::server::SERVICES {
        assert!(
            methods.iter().any(|m| m.path.starts_with(&format!("/{service}/"))),
            "no method of {service} in the descriptor set"
        );
    }
    assert!(methods.len() >= 33, "{} methods in the descriptor set", methods.len());
    for m in &methods {
        assert!(schema.messages.contains_key(&m.input), "no descriptor for {}", m.input);
    }
    println!(
        "malformed sweep: {} methods, {TOTAL} requests per backend, seed {SEED:#x}",
        methods.len()
    );

    for db in backends().await {
        let server = TestServer::start_tuned(&db.url, clock_at("2025-06-01"), |o| {
            o.max_message_bytes = LIMIT;
            // Let unauthenticated look-ups reach their validation.
            o.lookups_per_minute = 1_000_000;
        })
        .await;

        // Real resources, so that some names and etags are right.
        let officer = server.key(Role::Officer, None).await;
        let mut enforcement = server.enforcement().await;
        let party = credit_code("91310115", 7);
        let published = create_and_publish(
            &mut enforcement,
            &officer,
            decision("沪应急罚〔2025〕1号", "2025-05-20", &party),
        )
        .await;

        let mut keys = Vec::new();
        for role in ROLES {
            for _ in 0..2 {
                let bound = (role == Role::Enterprise).then_some(party.as_str());
                keys.push((role, server.key(role, bound).await));
            }
        }

        let strings: Vec<String> = [
            published.name.clone(),
            published.disclosure.clone(),
            format!("{}/noticeBundle", published.name),
            published.etag.clone(),
            party.clone(),
            credit_code("92310000", 3),
            "11010519491231002X".into(),
            "2025-05-01".into(),
            "2024-02-30".into(),
            "9999-12-31".into(),
            "penaltyDecisions/".into(),
            "penaltyDecisions/../disclosures/x".into(),
            "disclosures/%00".into(),
            "repairApplications/01J0000000000000000000000".into(),
            "23456-789AZ".into(),
            "a\0b".into(),
            "\0".into(),
            "' OR 1=1 --".into(),
            "\u{feff}\u{202e}界\r\n\t".into(),
            "ELECTRONIC".into(),
            "00000000".into(),
            "686578".into(),
            "x".repeat(65),
        ]
        .into();

        let mut g = Gen {
            rng: Rng(SEED ^ db.backend.len() as u64),
            schema: &schema,
            strings,
        };
        let plans: Vec<Plan> = (0..TOTAL)
            .map(|n| {
                let method = &methods[n % methods.len()];
                let auth = match g.rng.below(10) {
                    0 | 1 => Auth::None,
                    2 => Auth::BadKey(["gsk_nope_x", "gsk__", "Basic abc", ""][g.rng.below(4)].to_string()),
                    _ => {
                        let (role, key) = keys[g.rng.below(keys.len())].clone();
                        let on_behalf_of = match role {
                            Role::Portal | Role::Enterprise if g.rng.chance(80) => Some(party.clone()),
                            Role::Portal => Some("not-a-code".into()),
                            _ => None,
                        };
                        Auth::Key { key, on_behalf_of }
                    }
                };
                g.plan(n, method, auth)
            })
            .collect();

        let channel = server.channel().await;
        let results: Vec<(usize, Result<Code, String>)> = futures::stream::iter(plans.iter())
            .map(|plan| {
                let channel = channel.clone();
                async move {
                    let result = send(channel, plan).await;
                    (plan.n, judge(plan, &result))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;

        let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_kind: BTreeMap<(&str, String), usize> = BTreeMap::new();
        let mut failures = Vec::new();
        for (n, r) in &results {
            let plan = &plans[*n];
            let code = match r {
                Ok(c) => format!("{c:?}"),
                Err(e) => {
                    failures.push(format!("{e}\n    {}", show(plan)));
                    "FAILED".to_string()
                }
            };
            *by_kind.entry((plan.kind, code.clone())).or_default() += 1;
            *by_code.entry(code).or_default() += 1;
        }
        println!("[{}] answers by code: {by_code:?}", db.backend);
        println!("[{}] by kind and code:", db.backend);
        for ((kind, code), count) in &by_kind {
            println!("    {kind:<32} {code:<20} {count}");
        }
        assert_eq!(results.len(), TOTAL);
        assert!(
            failures.is_empty(),
            "[{}] {} of {TOTAL} answers are wrong; the first:\n{}",
            db.backend,
            failures.len(),
            failures.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
        );
        for must in [
            "oversized",
            "wrong-wire-type",
            "huge-length",
            "frame-empty-body",
            "valid",
        ] {
            assert!(
                by_kind.keys().any(|(k, _)| *k == must),
                "[{}] no {must} request in the sweep",
                db.backend
            );
        }

        // Still healthy, and a normal call works.
        let health = HealthClient::new(server.channel().await)
            .check(HealthCheckRequest { service: String::new() })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(
            health.status,
            ServingStatus::Serving as i32,
            "[{}] health after the sweep",
            db.backend
        );
        let mut disclosures = server.disclosures().await;
        let got = disclosures
            .get_disclosure(req(
                pb::GetDisclosureRequest {
                    name: published.disclosure.clone(),
                },
                &keys
                    .iter()
                    .find(|(r, _)| *r == Role::Discloser)
                    .expect("discloser key")
                    .1,
            ))
            .await
            .expect("a normal call after the sweep")
            .into_inner();
        assert_eq!(got.name, published.disclosure);
        let again = create_and_publish(
            &mut enforcement,
            &officer,
            decision("沪应急罚〔2025〕2号", "2025-05-21", &party),
        )
        .await;
        assert!(!again.disclosure.is_empty(), "[{}] publish after the sweep", db.backend);
        server.stop().await;
    }
}
