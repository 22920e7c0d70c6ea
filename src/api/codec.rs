//! Malformed input on the wire, answered like every other error: a canonical
//! code and exactly one `ErrorInfo` (domain `gongshi.v1`).
//!
//! Two places produce errors before any handler runs, and tonic's own answers
//! there are wrong for a public API:
//!
//! - **Decoding.** `tonic_prost::ProstCodec` answers a body that is not a valid
//!   protobuf encoding of the request message with `INTERNAL` — the client's
//!   fault reported as the server's. [`GongshiCodec`] wraps it (wired into every
//!   generated service by `build.rs`, `codec_path`) and answers
//!   `INVALID_ARGUMENT`, reason `MALFORMED_REQUEST`.
//! - **Framing.** tonic checks the gRPC frame before the codec sees a byte: a
//!   message over the server's `max_decoding_message_size` is `OUT_OF_RANGE`,
//!   a body without a message, a truncated frame or a bad compressed-flag is
//!   `INTERNAL`, an unknown method or `grpc-encoding` is `UNIMPLEMENTED` — all
//!   without details. [`WireErrorsLayer`] (a tower layer on the server, see
//!   `server.rs`) rewrites such detail-less trailers-only answers: too large →
//!   `RESOURCE_EXHAUSTED` (`MESSAGE_TOO_LARGE`), a broken frame →
//!   `INVALID_ARGUMENT` (`MALFORMED_REQUEST`), anything else keeps its code and
//!   gets the code's name as its reason. Statuses that already carry details
//!   (every one made from an `AppError`) pass through untouched.
//!
//! The generated clients share the codec, so a client that cannot decode a
//! response also sees `INVALID_ARGUMENT` (`MALFORMED_REQUEST`), locally.

use std::task::{Context, Poll};

use futures::TryFutureExt;
use futures::future::MapOk;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};
use tower::{Layer, Service};

use crate::app::AppError;

/// ErrorInfo reason of a body that is not a valid encoding of the request.
pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";
/// ErrorInfo reason of a message over the server's size limit.
pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";

/// `tonic_prost::ProstCodec` with decode errors as `INVALID_ARGUMENT`
/// (`MALFORMED_REQUEST`). `T` is encoded, `U` decoded.
#[derive(Debug, Clone)]
pub struct GongshiCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for GongshiCodec<T, U> {
    fn default() -> Self {
        GongshiCodec {
            inner: ProstCodec::new(),
        }
    }
}

impl<T, U> Codec for GongshiCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = GongshiDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        GongshiDecoder {
            inner: self.inner.decoder(),
        }
    }
}

/// The decoder of [`GongshiCodec`].
#[derive(Debug, Clone)]
pub struct GongshiDecoder<U> {
    inner: ProstDecoder<U>,
}

/// The status of a message that does not decode. `detail` is prost's
/// description (message and field path, wire-level problem; never a value).
pub fn malformed(detail: &str) -> Status {
    let detail = detail
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(detail);
    AppError::Invalid {
        reason: MALFORMED_REQUEST,
        message: format!("the message is not a valid protobuf encoding: {detail}"),
        violations: Vec::new(),
    }
    .into()
}

impl<U> Decoder for GongshiDecoder<U>
where
    U: prost::Message + Default,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // ProstDecoder's only error is prost's DecodeError, as INTERNAL.
        self.inner.decode(buf).map_err(|e| malformed(e.message()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// The tower layer that gives tonic's own error answers an `ErrorInfo` (see
/// the module documentation). Add it to the server with `Server::layer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireErrorsLayer;

impl<S> Layer<S> for WireErrorsLayer {
    type Service = WireErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WireErrors { inner }
    }
}

/// The service made by [`WireErrorsLayer`].
#[derive(Debug, Clone)]
pub struct WireErrors<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for WireErrors<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = MapOk<S::Future, fn(http::Response<ResBody>) -> http::Response<ResBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        self.inner.call(req).map_ok(add_details as fn(_) -> _)
    }
}

/// tonic's messages for request frames it cannot read (`tonic::codec::decode`,
/// `tonic::server::grpc`): the client's fault.
const FRAME_ERRORS: &[&str] = &[
    "protocol error:",
    "Unexpected EOF decoding stream",
    "Missing request message",
    "Error decompressing",
];

/// The reason and code for a detail-less status tonic answered with.
fn classify(code: Code, message: &str) -> (Code, &'static str) {
    match code {
        Code::OutOfRange | Code::ResourceExhausted
            if message.contains("too large") || message.contains("size limit") =>
        {
            (Code::ResourceExhausted, MESSAGE_TOO_LARGE)
        }
        Code::Internal if FRAME_ERRORS.iter().any(|p| message.starts_with(p)) => {
            (Code::InvalidArgument, MALFORMED_REQUEST)
        }
        other => (other, code_name(other)),
    }
}

/// A code's canonical name, e.g. `UNIMPLEMENTED`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Rewrites a trailers-only error answer without details; leaves every other
/// response as it is.
fn add_details<B>(mut res: http::Response<B>) -> http::Response<B> {
    let headers = res.headers_mut();
    if headers.contains_key(Status::GRPC_STATUS_DETAILS) {
        return res;
    }
    let Some(found) = headers
        .get(Status::GRPC_STATUS)
        .and_then(|_| Status::from_header_map(headers))
    else {
        return res;
    };
    if found.code() == Code::Ok {
        return res;
    }
    let (code, reason) = classify(found.code(), found.message());
    let message = if found.message().is_empty() {
        code.description().to_string()
    } else {
        found.message().to_string()
    };
    let status = super::status::simple(code, reason, message);
    let mut fixed = headers.clone();
    fixed.remove(Status::GRPC_STATUS);
    fixed.remove(Status::GRPC_MESSAGE);
    if status.add_header(&mut fixed).is_ok() {
        *headers = fixed;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    fn answer(status: Status) -> Status {
        let res: http::Response<()> = add_details(status.into_http());
        Status::from_header_map(res.headers()).unwrap()
    }

    #[test]
    fn tonic_errors_get_one_error_info() {
        let cases = [
            (
                Status::out_of_range(
                    "Error, decoded message length too large: found 70000 bytes, the limit is: 65536 bytes",
                ),
                Code::ResourceExhausted,
                MESSAGE_TOO_LARGE,
            ),
            (
                Status::internal("Missing request message."),
                Code::InvalidArgument,
                MALFORMED_REQUEST,
            ),
            (
                Status::internal("protocol error: received message with invalid compression flag: 7"),
                Code::InvalidArgument,
                MALFORMED_REQUEST,
            ),
            (Status::unimplemented(""), Code::Unimplemented, "UNIMPLEMENTED"),
            (Status::internal("something else"), Code::Internal, "INTERNAL"),
        ];
        for (input, code, reason) in cases {
            let out = answer(input);
            assert_eq!(out.code(), code, "{out:?}");
            assert!(!out.message().is_empty());
            let infos: Vec<_> = out
                .check_error_details_vec()
                .unwrap()
                .into_iter()
                .filter(|d| matches!(d, tonic_types::ErrorDetail::ErrorInfo(_)))
                .collect();
            assert_eq!(infos.len(), 1, "{out:?}");
            let info = out.get_details_error_info().unwrap();
            assert_eq!((info.reason.as_str(), info.domain.as_str()), (reason, "gongshi.v1"));
        }
    }

    #[test]
    fn statuses_with_details_and_successes_pass_through() {
        let app: Status = AppError::NotFound("disclosures/x".into()).into();
        let before = app.clone().into_http::<()>().headers().clone();
        let res: http::Response<()> = add_details(app.into_http());
        assert_eq!(res.headers(), &before);

        let ok = http::Response::new(());
        assert!(add_details(ok).headers().is_empty());
    }

    #[test]
    fn decode_errors_are_invalid_argument() {
        let s = malformed("failed to decode Protobuf message: GetDisclosureRequest.name: invalid wire type");
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.get_details_error_info().unwrap().reason, MALFORMED_REQUEST);
        assert!(s.message().contains("GetDisclosureRequest.name"), "{}", s.message());
    }
}
