//! API keys: created by the operator, shown once, stored only as a hash.
//!
//! A key reads `gsk_<id>_<secret>`. The id is public (it appears in audit
//! records and `gongshi keys list`); the secret is 256 random bits of which
//! only the SHA-256 is stored. Because the secret is random and long, a plain
//! SHA-256 suffices (no password-stretching is needed).

use rand::RngCore;

use super::{App, AppError, AppResult, new_id};
use crate::domain::ids::CreditCode;
use crate::domain::lifecycle::{Actor, Role};
use crate::domain::record::sha256_hex;
use crate::store::KeyRow;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Key id.
    pub key_id: String,
    /// Key label.
    pub label: String,
    /// Role.
    pub role: Role,
    /// The enterprise this caller acts for: the bound code of an
    /// `enterprise` key, or the `x-gongshi-on-behalf-of` of a `portal` key.
    pub enterprise: Option<String>,
}

impl Caller {
    /// The audit-trail actor.
    pub fn actor(&self) -> Actor {
        Actor {
            key_id: self.key_id.clone(),
            label: self.label.clone(),
            role: self.role,
            on_behalf_of: if self.role == Role::Portal {
                self.enterprise.clone()
            } else {
                None
            },
        }
    }

    /// The credit code a list of `what` is narrowed to: a key acting for an
    /// enterprise (portal, enterprise) lists only that enterprise's, and
    /// asking for another's is `ENTERPRISE_MISMATCH`; staff get what they
    /// asked (empty: every party's).
    pub fn list_scope(&self, asked: String, what: &str) -> AppResult<String> {
        if !matches!(self.role, Role::Portal | Role::Enterprise) {
            return Ok(asked);
        }
        let own = self.enterprise.clone().unwrap_or_default();
        if !asked.is_empty() && asked != own {
            return Err(AppError::PermissionDenied {
                reason: "ENTERPRISE_MISMATCH",
                message: format!("a key acting for an enterprise lists only that enterprise's {what}"),
            });
        }
        Ok(own)
    }
}

/// A freshly created key: `secret` is the whole key string, shown once.
pub struct NewKey {
    /// The stored row.
    pub row: KeyRow,
    /// The key to hand to the client.
    pub secret: String,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl App {
    /// Creates a key. `enterprise` keys must be bound to a credit code; other
    /// roles must not be.
    pub async fn create_key(
        &self,
        role: Role,
        label: &str,
        credit_code: Option<&str>,
        expires_on: Option<chrono::NaiveDate>,
    ) -> AppResult<NewKey> {
        if role == Role::System {
            return Err(AppError::invalid_field(
                "INVALID_ROLE",
                "role",
                "the system role cannot be given to a key",
            ));
        }
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 200 {
            return Err(AppError::invalid_field(
                "INVALID_LABEL",
                "label",
                "a label of 1 to 200 characters is required",
            ));
        }
        let credit_code = match (role, credit_code) {
            (Role::Enterprise, Some(c)) => Some(
                CreditCode::parse(c)
                    .map_err(|e| AppError::invalid_field("INVALID_CREDIT_CODE", "credit_code", e.to_string()))?
                    .as_str()
                    .to_string(),
            ),
            (Role::Enterprise, None) => {
                return Err(AppError::invalid_field(
                    "CREDIT_CODE_REQUIRED",
                    "credit_code",
                    "an enterprise key must be bound to a credit code",
                ));
            }
            (_, Some(_)) => {
                return Err(AppError::invalid_field(
                    "CREDIT_CODE_NOT_ALLOWED",
                    "credit_code",
                    "only enterprise keys are bound to a credit code",
                ));
            }
            (_, None) => None,
        };
        let mut secret_bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut secret_bytes);
        let secret_part = hex::encode(secret_bytes);
        let id = new_id().to_lowercase();
        let row = KeyRow {
            id: id.clone(),
            secret_hash: sha256_hex(secret_part.as_bytes()),
            role,
            label: label.to_string(),
            credit_code,
            expires_on,
            created_at: self.now_micros(),
            revoked_at: None,
        };
        self.store.insert_key(&row).await?;
        Ok(NewKey {
            row,
            secret: format!("gsk_{id}_{secret_part}"),
        })
    }

    /// Checks a presented key and resolves the caller, including the
    /// enterprise it acts for (see [`App::act_for`]).
    pub async fn authenticate(&self, presented: &str, on_behalf_of: Option<&str>) -> AppResult<Caller> {
        let caller = self.authenticate_key(presented).await?;
        Self::act_for(caller, on_behalf_of)
    }

    /// Checks a presented key: it exists, its secret matches, it is neither
    /// revoked nor expired. An enterprise key's bound code is its enterprise.
    pub async fn authenticate_key(&self, presented: &str) -> AppResult<Caller> {
        let bad = || AppError::Unauthenticated("invalid API key".into());
        let rest = presented.strip_prefix("gsk_").ok_or_else(bad)?;
        let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
        if id.is_empty() || id.len() > 64 || secret.len() != 64 {
            return Err(bad());
        }
        let (key, cached) = match self.guard.cached_key(id) {
            Some(k) => (k, true),
            None => (self.store.get_key(id).await?.ok_or_else(bad)?, false),
        };
        if !constant_time_eq(sha256_hex(secret.as_bytes()).as_bytes(), key.secret_hash.as_bytes()) {
            return Err(bad());
        }
        if key.revoked_at.is_some() {
            return Err(AppError::Unauthenticated("API key revoked".into()));
        }
        if !cached {
            self.guard.cache_key(&key);
        }
        if let Some(last) = key.expires_on
            && self.clock.today_cst() > last
        {
            return Err(AppError::Unauthenticated("API key expired".into()));
        }
        Ok(Caller {
            enterprise: if key.role == Role::Enterprise {
                key.credit_code.clone()
            } else {
                None
            },
            key_id: key.id,
            label: key.label,
            role: key.role,
        })
    }

    /// Resolves whom a caller acts for from `x-gongshi-on-behalf-of`: required
    /// for portal keys; for an enterprise key it may only repeat its own code;
    /// ignored for staff roles.
    pub fn act_for(mut caller: Caller, on_behalf_of: Option<&str>) -> AppResult<Caller> {
        match caller.role {
            Role::Portal => {
                let code = on_behalf_of.ok_or_else(|| {
                    AppError::invalid_field(
                        "ON_BEHALF_OF_REQUIRED",
                        "x-gongshi-on-behalf-of",
                        "a portal key must name the enterprise it acts for",
                    )
                })?;
                caller.enterprise = Some(
                    CreditCode::parse(code)
                        .map_err(|e| {
                            AppError::invalid_field("INVALID_CREDIT_CODE", "x-gongshi-on-behalf-of", e.to_string())
                        })?
                        .as_str()
                        .to_string(),
                );
            }
            Role::Enterprise => {
                if let Some(code) = on_behalf_of {
                    let same = CreditCode::parse(code).ok().map(|c| c.as_str().to_string()) == caller.enterprise;
                    if !same {
                        return Err(AppError::PermissionDenied {
                            reason: "ENTERPRISE_MISMATCH",
                            message: "an enterprise key acts only for its own credit code".into(),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(caller)
    }
}

/// The kind of a key's record entry written by [`App::revoke_key`].
pub const KEY_REVOKED: &str = "REVOKED";

impl App {
    /// Every key, oldest first, without secrets or their hashes
    /// (`gongshi keys list`).
    pub async fn list_keys(&self) -> AppResult<Vec<super::views::KeySummary>> {
        Ok(self.store.list_keys().await?.into_iter().map(Into::into).collect())
    }

    /// Revokes a key (`gongshi keys revoke`): an official act, recorded in
    /// the key's append-only record with who did it and why, in the
    /// transaction that revokes it. `NotFound` when no active key has this id.
    pub async fn revoke_key(&self, id: &str, by: &str, reason: &str) -> AppResult<()> {
        let (by, reason) = (by.trim(), reason.trim());
        if by.is_empty() {
            return Err(AppError::invalid_field(
                "FIELD_REQUIRED",
                "by",
                "say who revokes the key",
            ));
        }
        if reason.is_empty() {
            return Err(AppError::invalid_field(
                "FIELD_REQUIRED",
                "reason",
                "say why the key is revoked",
            ));
        }
        let ev = super::views::KeyEventView {
            key_id: id.to_string(),
            kind: KEY_REVOKED.to_string(),
            at: self.now_micros(),
            by_whom: by.to_string(),
            reason: reason.to_string(),
        };
        if !self.store.revoke_key_recorded(&ev).await? {
            return Err(AppError::NotFound(format!("no active key with id {id:?}")));
        }
        Ok(())
    }

    /// A key's record (revocations with who and why), oldest first.
    pub async fn key_record(&self, id: &str) -> AppResult<Vec<super::views::KeyEventView>> {
        Ok(self.store.key_events(id).await?)
    }
}
