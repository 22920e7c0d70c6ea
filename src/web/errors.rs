//! Errors of the JSON API in the HTTP mapping of AIP-193: the gRPC status an
//! RPC would have answered (the same [`AppError`] → `Status` conversion, so
//! the same code, reason and field violations), as
//! `{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": …,
//! "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", …}]}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt;

use crate::app::AppError;

/// An [`AppError`] answered as JSON.
pub(crate) struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_error(self.0)
    }
}

#[derive(Serialize)]
struct Envelope {
    error: Body,
}

#[derive(Serialize)]
struct Body {
    code: u16,
    status: &'static str,
    message: String,
    details: Vec<Detail>,
}

#[derive(Serialize)]
#[serde(tag = "@type")]
enum Detail {
    #[serde(rename = "type.googleapis.com/google.rpc.ErrorInfo")]
    ErrorInfo {
        reason: String,
        domain: String,
        #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
        metadata: std::collections::HashMap<String, String>,
    },
    #[serde(rename = "type.googleapis.com/google.rpc.BadRequest")]
    BadRequest {
        #[serde(rename = "fieldViolations")]
        field_violations: Vec<FieldViolation>,
    },
    #[serde(rename = "type.googleapis.com/google.rpc.PreconditionFailure")]
    PreconditionFailure { violations: Vec<PreconditionViolation> },
    #[serde(rename = "type.googleapis.com/google.rpc.RetryInfo")]
    RetryInfo {
        #[serde(rename = "retryDelay")]
        retry_delay: String,
    },
}

#[derive(Serialize)]
struct FieldViolation {
    field: String,
    description: String,
}

#[derive(Serialize)]
struct PreconditionViolation {
    #[serde(rename = "type")]
    kind: String,
    subject: String,
    description: String,
}

/// The HTTP status and canonical name of a gRPC code (google/rpc/code.proto).
pub(crate) fn http_status(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::Ok => (StatusCode::OK, "OK"),
        Code::Cancelled => (
            StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            "CANCELLED",
        ),
        Code::Unknown => (StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "DEADLINE_EXCEEDED"),
        Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Code::FailedPrecondition => (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
        Code::Aborted => (StatusCode::CONFLICT, "ABORTED"),
        Code::OutOfRange => (StatusCode::BAD_REQUEST, "OUT_OF_RANGE"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "UNIMPLEMENTED"),
        Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        Code::DataLoss => (StatusCode::INTERNAL_SERVER_ERROR, "DATA_LOSS"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
    }
}

/// The HTTP status an error is answered with.
pub(crate) fn status_of(e: &AppError) -> StatusCode {
    let code = match e {
        AppError::Invalid { .. } | AppError::Precondition { .. } => Code::InvalidArgument,
        AppError::NotFound(_) => Code::NotFound,
        AppError::AlreadyExists { .. } | AppError::EtagMismatch { .. } | AppError::Conflict => Code::Aborted,
        AppError::Unauthenticated(_) => Code::Unauthenticated,
        AppError::PermissionDenied { .. } => Code::PermissionDenied,
        AppError::Unavailable(_) => Code::Unavailable,
        AppError::Exhausted { .. } => Code::ResourceExhausted,
        AppError::Internal(_) => Code::Internal,
    };
    http_status(code).0
}

/// An error as the JSON API answers it (with `Retry-After` when the status
/// carries a retry delay).
pub(crate) fn json_error(e: AppError) -> Response {
    let status = tonic::Status::from(e);
    let (http, name) = http_status(status.code());
    let mut details = Vec::new();
    let mut retry_after = None;
    let d = status.get_error_details();
    if let Some(info) = d.error_info() {
        details.push(Detail::ErrorInfo {
            reason: info.reason.clone(),
            domain: info.domain.clone(),
            metadata: info.metadata.clone(),
        });
    }
    if let Some(b) = d.bad_request() {
        details.push(Detail::BadRequest {
            field_violations: b
                .field_violations
                .iter()
                .map(|v| FieldViolation {
                    field: v.field.clone(),
                    description: v.description.clone(),
                })
                .collect(),
        });
    }
    if let Some(p) = d.precondition_failure() {
        details.push(Detail::PreconditionFailure {
            violations: p
                .violations
                .iter()
                .map(|v| PreconditionViolation {
                    kind: v.r#type.clone(),
                    subject: v.subject.clone(),
                    description: v.description.clone(),
                })
                .collect(),
        });
    }
    if let Some(delay) = d.retry_info().and_then(|r| r.retry_delay) {
        retry_after = Some(delay.as_secs_f64().ceil().max(1.0) as u64);
        details.push(Detail::RetryInfo {
            retry_delay: format!("{:.3}s", delay.as_secs_f64()),
        });
    }
    let body = Envelope {
        error: Body {
            code: http.as_u16(),
            status: name,
            message: status.message().to_string(),
            details,
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":{\"code\":500}}".to_vec());
    let mut resp = (http, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(secs) = retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
