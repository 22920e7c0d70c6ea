//! gRPC-Web on the gRPC port (tonic-web): a call framed by hand as a browser
//! library frames it — HTTP/1.1 POST, `application/grpc-web+proto`, a 5-byte
//! frame header (flag, big-endian length) — answered with a data frame and a
//! trailer frame; CORS only for the configured origins.

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use hyper::Method;
use prost::Message;

use crate::support::http::{Resp, request};
use crate::support::publish_sample;
use crate::support::{self, TestServer, clock_at, req};

const PORTAL: &str = "https://portal.example.gov.cn";

/// One gRPC-Web frame: flag byte, big-endian length, payload.
fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a gRPC-Web body into its data frames and its trailers.
fn unframe(body: &[u8]) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
    let mut data = Vec::new();
    let mut trailers = Vec::new();
    let mut i = 0;
    while i < body.len() {
        assert!(i + 5 <= body.len(), "a frame header is cut: {body:?}");
        let flag = body[i];
        let len = u32::from_be_bytes([body[i + 1], body[i + 2], body[i + 3], body[i + 4]]) as usize;
        let payload = &body[i + 5..i + 5 + len];
        if flag & 0x80 != 0 {
            for line in String::from_utf8(payload.to_vec())
                .expect("trailers are text")
                .split("\r\n")
            {
                if let Some((k, v)) = line.split_once(':') {
                    trailers.push((k.trim().to_lowercase(), v.trim().to_string()));
                }
            }
        } else {
            data.push(payload.to_vec());
        }
        i += 5 + len;
    }
    (data, trailers)
}

async fn call(server: &TestServer, key: Option<&str>, origin: Option<&str>, msg: &pb::ListDisclosuresRequest) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1")];
    if let Some(a) = auth.as_deref() {
        headers.push(("authorization", a));
    }
    if let Some(o) = origin {
        headers.push(("origin", o));
    }
    request(
        server.addr,
        Method::POST,
        "/gongshi.v1.DisclosureService/ListDisclosures",
        &headers,
        frame(0, &msg.encode_to_vec()),
    )
    .await
}

/// A browser's CORS preflight for a gRPC-Web call from `origin`.
async fn preflight(server: &TestServer, origin: &str) -> Resp {
    request(
        server.addr,
        Method::OPTIONS,
        "/gongshi.v1.DisclosureService/ListDisclosures",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,authorization",
            ),
        ],
        Vec::new(),
    )
    .await
}

fn status_of(trailers: &[(String, String)]) -> String {
    trailers
        .iter()
        .find(|(k, _)| k == "grpc-status")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_hand_framed_grpc_web_call_over_http1_is_answered() {
    let db = support::sqlite_db();
    let server = TestServer::start_tuned(&db.url, clock_at("2026-06-01"), |o| {
        o.grpc_web_cors_origins = vec![PORTAL.to_string()];
    })
    .await;
    let [officer, discloser] = server.keys([Role::Officer, Role::Discloser]).await;
    let mut enforcement = server.enforcement().await;
    for i in 0..3 {
        let number = format!("沪浦应急罚〔2026〕G{i}号");
        publish_sample(&mut enforcement, &officer, &number, "2026-05-06", 900 + i).await;
    }
    let msg = pb::ListDisclosuresRequest {
        page_size: 2,
        ..Default::default()
    };
    let r = call(&server, Some(&discloser), Some(PORTAL), &msg).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/grpc-web")),
        "{r:?}"
    );
    let (data, trailers) = unframe(&r.body);
    assert_eq!(status_of(&trailers), "0", "{trailers:?}");
    assert_eq!(data.len(), 1);
    let answer = pb::ListDisclosuresResponse::decode(data[0].as_slice()).expect("a ListDisclosuresResponse");
    let mut grpc = server.disclosures().await;
    let expected = grpc
        .list_disclosures(req(msg.clone(), &discloser))
        .await
        .expect("ListDisclosures")
        .into_inner();
    assert_eq!(answer.disclosures, expected.disclosures, "gRPC-Web = gRPC");
    assert_eq!(answer.disclosures.len(), 2);
    // The allowed origin may read the answer and its status.
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some(PORTAL));
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("grpc-status")),
        "{r:?}"
    );

    // Errors travel in the trailer frame with their ErrorInfo.
    let r = call(&server, None, Some(PORTAL), &msg).await;
    assert_eq!(r.status, 200);
    let trailers = {
        let (data, mut t) = unframe(&r.body);
        assert!(data.is_empty());
        // A trailers-only answer may put the status in the HTTP headers.
        for k in ["grpc-status", "grpc-message"] {
            if let Some(v) = r.header(k) {
                t.push((k.to_string(), v));
            }
        }
        t
    };
    assert_eq!(status_of(&trailers), "16", "UNAUTHENTICATED: {trailers:?}");

    // The browser's preflight: allowed for the portal, not for another site.
    let ok = preflight(&server, PORTAL).await;
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some(PORTAL),
        "{ok:?}"
    );
    assert!(
        ok.header("access-control-allow-headers")
            .is_some_and(|h| h.contains("authorization")),
        "{ok:?}"
    );
    let other = preflight(&server, "https://evil.example.com").await;
    assert!(other.header("access-control-allow-origin").is_none(), "{other:?}");
    let r = call(&server, Some(&discloser), Some("https://evil.example.com"), &msg).await;
    assert!(r.header("access-control-allow-origin").is_none(), "{r:?}");
    server.stop().await;
}

#[tokio::test]
async fn no_browser_origin_is_allowed_by_default() {
    let db = support::sqlite_db();
    let server = TestServer::start(&db.url, clock_at("2026-06-01")).await;
    let discloser = server.key(Role::Discloser, None).await;
    let msg = pb::ListDisclosuresRequest::default();
    // A non-browser gRPC-Web client works ...
    let r = call(&server, Some(&discloser), None, &msg).await;
    let (_, trailers) = unframe(&r.body);
    assert_eq!(status_of(&trailers), "0", "{r:?}");
    // ... but no origin is granted CORS.
    let r = call(&server, Some(&discloser), Some(PORTAL), &msg).await;
    assert!(r.header("access-control-allow-origin").is_none(), "{r:?}");
    let pre = request(
        server.addr,
        Method::OPTIONS,
        "/gongshi.v1.DisclosureService/ListDisclosures",
        &[("origin", PORTAL), ("access-control-request-method", "POST")],
        Vec::new(),
    )
    .await;
    assert!(pre.header("access-control-allow-origin").is_none(), "{pre:?}");
    server.stop().await;
}
