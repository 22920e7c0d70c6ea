//! `AppError` → `tonic::Status` (AIP-193): the canonical code, a short English
//! message, exactly one `ErrorInfo` (domain `gongshi.v1`), and field or
//! precondition violations. Internal details are logged, never sent.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::app::AppError;

/// The ErrorInfo domain.
pub const DOMAIN: &str = "gongshi.v1";

/// A status with one ErrorInfo and no other details.
pub fn simple(code: Code, reason: &str, message: impl Into<String>) -> Status {
    let mut d = ErrorDetails::new();
    d.set_error_info(reason, DOMAIN, HashMap::new());
    Status::with_error_details(code, message, d)
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        let mut d = ErrorDetails::new();
        let (code, reason, message) = match e {
            AppError::Invalid {
                reason,
                message,
                violations,
            } => {
                for v in violations {
                    d.add_bad_request_violation(v.field, v.description);
                }
                (Code::InvalidArgument, reason.to_string(), message)
            }
            AppError::NotFound(what) => (Code::NotFound, "NOT_FOUND".into(), format!("{what} not found")),
            AppError::AlreadyExists { reason, message } => (Code::AlreadyExists, reason.into(), message),
            AppError::EtagMismatch { current } => {
                let mut meta = HashMap::new();
                meta.insert("current_etag".to_string(), current.clone());
                d.set_error_info("ETAG_MISMATCH", DOMAIN, meta);
                return Status::with_error_details(
                    Code::Aborted,
                    format!("etag mismatch: the resource changed; current etag is {current}"),
                    d,
                );
            }
            AppError::Conflict => (
                Code::Aborted,
                "CONCURRENT_UPDATE".into(),
                "a concurrent update won; read the resource again and retry".into(),
            ),
            AppError::Precondition {
                reason,
                message,
                violations,
            } => {
                for v in violations {
                    d.add_precondition_failure_violation(v.kind, v.subject, v.description);
                }
                (Code::FailedPrecondition, reason.into(), message)
            }
            AppError::Unauthenticated(m) => (Code::Unauthenticated, "UNAUTHENTICATED".into(), m),
            AppError::PermissionDenied { reason, message } => (Code::PermissionDenied, reason.into(), message),
            AppError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                d.set_retry_info(Some(Duration::from_secs(1)));
                (
                    Code::Unavailable,
                    "DATABASE_UNAVAILABLE".into(),
                    "the service is temporarily unavailable; retry".into(),
                )
            }
            AppError::Exhausted {
                reason,
                message,
                retry_after,
            } => {
                d.set_retry_info(Some(retry_after.max(Duration::from_millis(10))));
                (Code::ResourceExhausted, reason.into(), message)
            }
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (Code::Internal, "INTERNAL".into(), "internal error".into())
            }
        };
        d.set_error_info(reason, DOMAIN, HashMap::new());
        Status::with_error_details(code, message, d)
    }
}
