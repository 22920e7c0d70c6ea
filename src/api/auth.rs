//! Authentication (`authorization: Bearer <key>`) and role checks. Every RPC
//! calls [`check`] first, so permission is decided before existence
//! or etag are looked at.

use tonic::{Request, Status};

use crate::app::keys::Caller;
use crate::app::metrics::Limit;
use crate::app::{App, AppError};
use crate::domain::lifecycle::Role;

/// Metadata naming the enterprise a portal key acts for.
pub const ON_BEHALF_OF: &str = "x-gongshi-on-behalf-of";

/// Authenticates a request and checks its role.
pub async fn check<T>(app: &App, req: &Request<T>, allowed: &[Role]) -> Result<Caller, Status> {
    let md = req.metadata();
    let token = match md.get("authorization") {
        None => {
            return Err(AppError::Unauthenticated("missing API key: send `authorization: Bearer <key>`".into()).into());
        }
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.strip_prefix("Bearer ").or_else(|| s.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| Status::from(AppError::Unauthenticated("malformed authorization header".into())))?,
    };
    let on_behalf_of = match md.get(ON_BEHALF_OF) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            Status::from(AppError::invalid_field(
                "INVALID_CREDIT_CODE",
                ON_BEHALF_OF,
                "must be ASCII",
            ))
        })?),
    };
    // While the database is known to be down, answer at once rather than
    // let every call wait out the pool's acquire timeout.
    if !app.guard.db_up() {
        return Err(AppError::Unavailable("database failed its last health check".into()).into());
    }
    let caller = app.authenticate_key(token).await?;
    if let Err(wait) = app.guard.admit(&caller.key_id) {
        app.metrics.rate_limited(Limit::Key);
        return Err(AppError::Exhausted {
            reason: "RATE_LIMITED",
            message: format!(
                "this API key is over its rate of {} requests per second; retry later",
                app.guard.key_rate().rate_per_second
            ),
            retry_after: wait,
        }
        .into());
    }
    // An enterprise key naming another enterprise is refused outright.
    if caller.role == Role::Enterprise {
        App::act_for(caller.clone(), on_behalf_of)?;
    }
    // Then the role: a wrong role is PERMISSION_DENIED, before any question
    // of whom a portal key acts for.
    if !allowed.contains(&caller.role) {
        return Err(AppError::PermissionDenied {
            reason: "ROLE_NOT_ALLOWED",
            message: format!("role {} may not call this method", caller.role),
        }
        .into());
    }
    Ok(App::act_for(caller, on_behalf_of)?)
}

/// Roles that may see ID numbers and natural persons' addresses (API.md).
pub fn sees_sensitive(role: Role) -> bool {
    matches!(role, Role::Officer | Role::LegalReviewer | Role::Auditor)
}
