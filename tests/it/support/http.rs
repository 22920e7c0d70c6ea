//! A plain HTTP/1.1 client for the public listener (hyper), as a site's
//! fetcher or `curl` would use it.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A whole response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
}

impl Resp {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// The JSON error's ErrorInfo reason.
    pub fn reason(&self) -> String {
        let v = self.json();
        v["error"]["details"]
            .as_array()
            .and_then(|d| {
                d.iter()
                    .find(|x| x["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
            })
            .and_then(|x| x["reason"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends one request.
pub async fn request(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = client.request(req).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let collected = resp.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    Resp {
        status,
        headers,
        body: collected.to_bytes().to_vec(),
        trailers,
    }
}

/// `GET path` with extra headers.
pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    request(addr, Method::GET, path, headers, Vec::new()).await
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    get_with(addr, path, &[]).await
}

/// A query value, percent-encoded.
pub fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).expect("encode")[2..].to_string()
}
