//! Errors of the application layer, in the terms the API answers with.

use crate::store::StoreError;

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `penalty_decision.party.credit_code`.
    pub field: String,
    /// What is wrong.
    pub description: String,
}

/// One unmet precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionViolation {
    /// Machine-readable code, e.g. `MIN_PUBLICITY_NOT_REACHED`.
    pub kind: String,
    /// What it concerns, e.g. `disclosures/01J…`.
    pub subject: String,
    /// Human-readable explanation.
    pub description: String,
}

/// A failure of an application operation. Each maps to one gRPC code and one
/// `ErrorInfo` reason.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input (`INVALID_ARGUMENT`).
    #[error("{message}")]
    Invalid {
        /// ErrorInfo reason.
        reason: &'static str,
        /// Short English message.
        message: String,
        /// Every bad field.
        violations: Vec<FieldViolation>,
    },
    /// No such resource (`NOT_FOUND`).
    #[error("{0} not found")]
    NotFound(String),
    /// Already exists (`ALREADY_EXISTS`).
    #[error("{message}")]
    AlreadyExists {
        /// ErrorInfo reason.
        reason: &'static str,
        /// Message.
        message: String,
    },
    /// Stale etag (`ABORTED`, `ETAG_MISMATCH`).
    #[error("etag mismatch: the resource changed (current etag {current})")]
    EtagMismatch {
        /// Current etag.
        current: String,
    },
    /// A concurrent transaction won (`ABORTED`, `CONCURRENT_UPDATE`).
    #[error("a concurrent update won; retry")]
    Conflict,
    /// Conditions unmet (`FAILED_PRECONDITION`).
    #[error("{message}")]
    Precondition {
        /// ErrorInfo reason.
        reason: &'static str,
        /// Message.
        message: String,
        /// Every unmet condition.
        violations: Vec<PreconditionViolation>,
    },
    /// No valid key (`UNAUTHENTICATED`).
    #[error("{0}")]
    Unauthenticated(String),
    /// Not allowed (`PERMISSION_DENIED`).
    #[error("{message}")]
    PermissionDenied {
        /// ErrorInfo reason.
        reason: &'static str,
        /// Message.
        message: String,
    },
    /// The database is down (`UNAVAILABLE`).
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// Over a limit (`RESOURCE_EXHAUSTED` with `RetryInfo`).
    #[error("{message}")]
    Exhausted {
        /// ErrorInfo reason.
        reason: &'static str,
        /// Message.
        message: String,
        /// When a retry may succeed.
        retry_after: std::time::Duration,
    },
    /// A bug or corrupt data (`INTERNAL`); the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// An invalid-argument error with one field violation.
    pub fn invalid_field(reason: &'static str, field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        AppError::Invalid {
            reason,
            message: format!("invalid {field}: {description}"),
            violations: vec![FieldViolation {
                field: field.to_string(),
                description,
            }],
        }
    }

    /// A failed precondition with one violation.
    pub fn precondition(reason: &'static str, subject: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        AppError::Precondition {
            reason,
            message: description.clone(),
            violations: vec![PreconditionViolation {
                kind: reason.to_string(),
                subject: subject.to_string(),
                description,
            }],
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Conflict(_) => AppError::Conflict,
            StoreError::Duplicate(_) => AppError::AlreadyExists {
                reason: "DUPLICATE_DECISION_NUMBER",
                message: "a decision with this number already exists at this authority".into(),
            },
            StoreError::Corrupt(m) | StoreError::Other(m) => AppError::Internal(m),
        }
    }
}

/// Result alias of the application layer.
pub type AppResult<T> = Result<T, AppError>;
