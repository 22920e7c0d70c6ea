//! Settings: defaults, then an optional TOML file (`--config` /
//! `GONGSHI_CONFIG`), then `GONGSHI_*` environment variables, then command-line
//! flags; each later source overrides the earlier.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::calendar::CalendarCell;
use crate::app::guard::KeyRate;
use crate::app::{App, MajorRules};
use crate::domain::calendar::{OfficialSchedule, StatutoryHolidays, WorkingCalendar};
use crate::domain::clock::Clock;
use crate::domain::notice::{DocumentKind, NoticeSettings, NoticeTemplates};
use crate::domain::policy::{PenaltyKind, PublicityPolicy};
use crate::store::{self, StoreOptions};

/// The default database: an SQLite file under `./data/`, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/gongshi.db";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// The default address of the public page, JSON and Atom (`off` disables it).
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";

/// Every setting of the server. See `gongshi.example.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// The operator's listener (metrics, `/livez`, `/readyz`); `off` disables it.
    pub admin_listen: String,
    /// Count every gRPC call in `gongshi_rpc_*` (false only to measure the cost).
    pub metrics: bool,
    /// `sqlite:…` or `postgres://…`.
    pub database_url: String,
    /// Pooled database connections.
    pub max_connections: u32,
    /// Dedicated database connections for the public reads, beside the pool.
    pub read_connections: u32,
    /// Seconds to wait for a database connection before answering UNAVAILABLE.
    pub db_acquire_timeout_seconds: u64,
    /// `text` or `json`.
    pub log_format: String,
    /// tracing filter, e.g. `info` or `gongshi=debug`.
    pub log_filter: String,
    /// Hard deadline for in-flight calls at shutdown.
    pub shutdown_grace_seconds: u64,
    /// How often the expiry job runs.
    pub expiry_interval_seconds: u64,
    /// How often a server looks for an official calendar year loaded since.
    pub calendar_refresh_seconds: u64,
    /// How often a watch polls for other instances' commits.
    pub watch_poll_millis: u64,
    /// Answer the DisclosureService reads from the stored encodings (issue 18);
    /// `false` falls back to reading and encoding every record per call.
    pub serve_stored_bytes: bool,
    /// A fine at or above this (fen) makes a decision major.
    pub major_fine_threshold_fen: i64,
    /// Penalty kinds that make a decision major (e.g. `ORDER_SUSPENSION`).
    pub major_penalty_kinds: Vec<String>,
    /// Publish natural persons' penalties (Shanghai default: no).
    pub publish_natural_persons: bool,
    /// Working days to decide acceptance of a repair application.
    pub repair_accept_days: u32,
    /// Working days to decide after acceptance (or after a supplement).
    pub repair_decide_days: u32,
    /// Working days for the overall result.
    pub repair_overall_days: u32,
    /// Largest material file (bytes).
    pub max_material_bytes: usize,
    /// Most materials per application.
    pub max_materials: usize,
    /// Largest request message (bytes).
    pub max_message_bytes: usize,
    /// Receipt-code look-ups per client address per minute.
    pub lookups_per_minute: u32,
    /// Requests per second per API key, sustained (0 = no limit).
    pub key_requests_per_second: f64,
    /// Requests an idle API key may make at once.
    pub key_burst: u32,
    /// Milliseconds an API key is cached: a revoked key stops working within
    /// this (0 = read the key on every call).
    pub key_cache_millis: u64,
    /// Calls in flight on this instance at most; more are shed (0 = no limit).
    pub max_in_flight: usize,
    /// Seconds a call may take until its response starts.
    pub request_deadline_seconds: u64,
    /// How often the database is pinged for health (milliseconds).
    pub db_check_interval_millis: u64,
    /// HTTP/2 keepalive PING interval (seconds).
    pub keepalive_interval_seconds: u64,
    /// Seconds to wait for a keepalive PING's answer before closing.
    pub keepalive_timeout_seconds: u64,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// TLS certificate chain (PEM); with `tls_key_file`, the server speaks TLS only.
    pub tls_cert_file: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key_file: Option<PathBuf>,
    /// CA (PEM) of partner platforms' client certificates: turns on mutual TLS.
    pub tls_client_ca_file: Option<PathBuf>,
    /// With `tls_client_ca_file`: also serve clients without a certificate.
    pub tls_client_auth_optional: bool,
    /// Where penalties are published (quoted in the notices).
    pub notice_publication_site: String,
    /// Where credit repair is applied for (quoted in the notices).
    pub notice_repair_channel: String,
    /// 行政复议机关 (quoted in the decision).
    pub notice_reconsideration_body: String,
    /// 管辖法院 (quoted in the decision).
    pub notice_court: String,
    /// Documents of a bundle, e.g. PENALTY_DECISION, CREDIT_REPAIR_NOTICE, CREDIT_COMMITMENT.
    pub notice_documents: Vec<String>,
    /// A directory with the deployment's own templates (same file names as
    /// `templates/notices/`); the built-in ones otherwise.
    pub notice_template_dir: Option<PathBuf>,
    /// A publicity-policy TOML replacing the built-in one.
    pub policy_file: Option<PathBuf>,
    /// An official holiday CSV loaded into the stored calendar at start (like
    /// `gongshi calendar load`; recorded only when it changes a year).
    pub calendar_file: Option<PathBuf>,
    /// Address of the public page, JSON and Atom (`off`: none).
    pub http_listen: String,
    /// The bureau's name on the public page and in the feed.
    pub bureau_name: String,
    /// Where the public reaches the site (the feed's links); empty: the Host header.
    pub public_url: String,
    /// Public requests per second per client address (0 = no limit).
    pub http_requests_per_second: u32,
    /// Public requests a client address may make at once.
    pub http_burst: u32,
    /// Seconds a public request may take until its response starts.
    pub http_timeout_seconds: u64,
    /// Browser origins allowed to call the gRPC port with gRPC-Web (CORS); none by default.
    pub grpc_web_cors_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let major = MajorRules::default();
        Config {
            listen: DEFAULT_LISTEN.into(),
            admin_listen: crate::admin::DEFAULT_ADMIN_LISTEN.into(),
            metrics: true,
            database_url: DEFAULT_DATABASE_URL.into(),
            max_connections: 16,
            read_connections: crate::store::DEFAULT_READ_CONNECTIONS,
            db_acquire_timeout_seconds: 5,
            log_format: "text".into(),
            log_filter: "info".into(),
            shutdown_grace_seconds: 10,
            expiry_interval_seconds: 60,
            calendar_refresh_seconds: 30,
            watch_poll_millis: 250,
            serve_stored_bytes: true,
            major_fine_threshold_fen: major.fine_threshold_fen,
            major_penalty_kinds: major.kinds.iter().map(|k| k.as_str().to_string()).collect(),
            publish_natural_persons: false,
            repair_accept_days: 3,
            repair_decide_days: 3,
            repair_overall_days: 10,
            max_material_bytes: 5 * 1024 * 1024,
            max_materials: 10,
            max_message_bytes: 52 * 1024 * 1024,
            lookups_per_minute: 10,
            key_requests_per_second: KeyRate::default().rate_per_second,
            key_burst: KeyRate::default().burst,
            key_cache_millis: 1000,
            max_in_flight: 256,
            request_deadline_seconds: 30,
            db_check_interval_millis: 500,
            keepalive_interval_seconds: 30,
            keepalive_timeout_seconds: 10,
            max_concurrent_streams: 200,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            tls_client_auth_optional: false,
            notice_publication_site: NoticeSettings::default().publication_site,
            notice_repair_channel: NoticeSettings::default().repair_channel,
            notice_reconsideration_body: NoticeSettings::default().reconsideration_body,
            notice_court: NoticeSettings::default().court,
            notice_documents: NoticeSettings::default()
                .documents
                .iter()
                .map(|d| d.as_str().to_string())
                .collect(),
            notice_template_dir: None,
            policy_file: None,
            calendar_file: None,
            http_listen: DEFAULT_HTTP_LISTEN.into(),
            bureau_name: crate::web::DEFAULT_BUREAU.into(),
            public_url: String::new(),
            http_requests_per_second: 20,
            http_burst: 100,
            http_timeout_seconds: 10,
            grpc_web_cors_origins: Vec::new(),
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn env_parse<T: std::str::FromStr>(name: &str, slot: &mut T) -> Result<(), ConfigError> {
    if let Ok(v) = std::env::var(name) {
        *slot = v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("environment variable {name}={v:?} is not a valid value")))?;
    }
    Ok(())
}

impl Config {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("GONGSHI_CONFIG").map(PathBuf::from));
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
                toml::from_str(&text).map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?
            }
            None => Config::default(),
        };
        env_parse("GONGSHI_LISTEN", &mut cfg.listen)?;
        env_parse("GONGSHI_ADMIN_LISTEN", &mut cfg.admin_listen)?;
        env_parse("GONGSHI_METRICS", &mut cfg.metrics)?;
        env_parse("GONGSHI_DATABASE_URL", &mut cfg.database_url)?;
        env_parse("GONGSHI_MAX_CONNECTIONS", &mut cfg.max_connections)?;
        env_parse("GONGSHI_READ_CONNECTIONS", &mut cfg.read_connections)?;
        env_parse(
            "GONGSHI_DB_ACQUIRE_TIMEOUT_SECONDS",
            &mut cfg.db_acquire_timeout_seconds,
        )?;
        env_parse("GONGSHI_LOG_FORMAT", &mut cfg.log_format)?;
        env_parse("GONGSHI_LOG", &mut cfg.log_filter)?;
        env_parse("GONGSHI_SHUTDOWN_GRACE_SECONDS", &mut cfg.shutdown_grace_seconds)?;
        env_parse("GONGSHI_EXPIRY_INTERVAL_SECONDS", &mut cfg.expiry_interval_seconds)?;
        env_parse("GONGSHI_CALENDAR_REFRESH_SECONDS", &mut cfg.calendar_refresh_seconds)?;
        env_parse("GONGSHI_WATCH_POLL_MILLIS", &mut cfg.watch_poll_millis)?;
        env_parse("GONGSHI_SERVE_STORED_BYTES", &mut cfg.serve_stored_bytes)?;
        env_parse("GONGSHI_MAJOR_FINE_THRESHOLD_FEN", &mut cfg.major_fine_threshold_fen)?;
        env_parse("GONGSHI_PUBLISH_NATURAL_PERSONS", &mut cfg.publish_natural_persons)?;
        env_parse("GONGSHI_REPAIR_ACCEPT_DAYS", &mut cfg.repair_accept_days)?;
        env_parse("GONGSHI_REPAIR_DECIDE_DAYS", &mut cfg.repair_decide_days)?;
        env_parse("GONGSHI_REPAIR_OVERALL_DAYS", &mut cfg.repair_overall_days)?;
        env_parse("GONGSHI_MAX_MATERIAL_BYTES", &mut cfg.max_material_bytes)?;
        env_parse("GONGSHI_MAX_MATERIALS", &mut cfg.max_materials)?;
        env_parse("GONGSHI_MAX_MESSAGE_BYTES", &mut cfg.max_message_bytes)?;
        env_parse("GONGSHI_LOOKUPS_PER_MINUTE", &mut cfg.lookups_per_minute)?;
        env_parse("GONGSHI_KEY_REQUESTS_PER_SECOND", &mut cfg.key_requests_per_second)?;
        env_parse("GONGSHI_KEY_BURST", &mut cfg.key_burst)?;
        env_parse("GONGSHI_KEY_CACHE_MILLIS", &mut cfg.key_cache_millis)?;
        env_parse("GONGSHI_MAX_IN_FLIGHT", &mut cfg.max_in_flight)?;
        env_parse("GONGSHI_REQUEST_DEADLINE_SECONDS", &mut cfg.request_deadline_seconds)?;
        env_parse("GONGSHI_DB_CHECK_INTERVAL_MILLIS", &mut cfg.db_check_interval_millis)?;
        env_parse(
            "GONGSHI_KEEPALIVE_INTERVAL_SECONDS",
            &mut cfg.keepalive_interval_seconds,
        )?;
        env_parse("GONGSHI_KEEPALIVE_TIMEOUT_SECONDS", &mut cfg.keepalive_timeout_seconds)?;
        env_parse("GONGSHI_MAX_CONCURRENT_STREAMS", &mut cfg.max_concurrent_streams)?;
        env_parse("GONGSHI_TLS_CLIENT_AUTH_OPTIONAL", &mut cfg.tls_client_auth_optional)?;
        for (name, slot) in [
            ("GONGSHI_TLS_CERT_FILE", &mut cfg.tls_cert_file),
            ("GONGSHI_TLS_KEY_FILE", &mut cfg.tls_key_file),
            ("GONGSHI_TLS_CLIENT_CA_FILE", &mut cfg.tls_client_ca_file),
        ] {
            if let Some(v) = std::env::var_os(name) {
                *slot = Some(PathBuf::from(v));
            }
        }
        if let Ok(v) = std::env::var("GONGSHI_MAJOR_PENALTY_KINDS") {
            cfg.major_penalty_kinds = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = std::env::var_os("GONGSHI_NOTICE_TEMPLATE_DIR") {
            cfg.notice_template_dir = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("GONGSHI_NOTICE_DOCUMENTS") {
            cfg.notice_documents = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = std::env::var_os("GONGSHI_POLICY_FILE") {
            cfg.policy_file = Some(PathBuf::from(v));
        }
        if let Some(v) = std::env::var_os("GONGSHI_CALENDAR_FILE") {
            cfg.calendar_file = Some(PathBuf::from(v));
        }
        env_parse("GONGSHI_HTTP_LISTEN", &mut cfg.http_listen)?;
        env_parse("GONGSHI_BUREAU_NAME", &mut cfg.bureau_name)?;
        env_parse("GONGSHI_PUBLIC_URL", &mut cfg.public_url)?;
        env_parse("GONGSHI_HTTP_REQUESTS_PER_SECOND", &mut cfg.http_requests_per_second)?;
        env_parse("GONGSHI_HTTP_BURST", &mut cfg.http_burst)?;
        env_parse("GONGSHI_HTTP_TIMEOUT_SECONDS", &mut cfg.http_timeout_seconds)?;
        if let Ok(v) = std::env::var("GONGSHI_GRPC_WEB_CORS_ORIGINS") {
            cfg.grpc_web_cors_origins = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// The admin listener's address, or `None` when `admin_listen = "off"`.
    pub fn admin_address(&self) -> Option<&str> {
        let a = self.admin_listen.trim();
        (!a.eq_ignore_ascii_case("off")).then_some(a)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(a) = self.admin_address()
            && (a.is_empty() || a == self.listen.trim())
        {
            return Err(ConfigError(format!(
                "admin_listen must be an address other than listen, or \"off\" (not {:?})",
                self.admin_listen
            )));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError(format!(
                "log_format must be \"text\" or \"json\", not {:?}",
                self.log_format
            )));
        }
        if self.max_connections == 0 {
            return Err(ConfigError("max_connections must be at least 1".into()));
        }
        if !(1..=64).contains(&self.read_connections) {
            return Err(ConfigError(format!(
                "read_connections must be between 1 and 64, not {}",
                self.read_connections
            )));
        }
        if self.expiry_interval_seconds == 0 || self.watch_poll_millis == 0 {
            return Err(ConfigError(
                "expiry_interval_seconds and watch_poll_millis must be positive".into(),
            ));
        }
        if !(1..=60).contains(&self.calendar_refresh_seconds) {
            return Err(ConfigError(
                "calendar_refresh_seconds must be 1 to 60 (servers must use a newly loaded year within a minute)"
                    .into(),
            ));
        }
        if self.repair_accept_days == 0 || self.repair_decide_days == 0 || self.repair_overall_days == 0 {
            return Err(ConfigError("repair deadlines must be at least 1 working day".into()));
        }
        if self.max_material_bytes == 0 || self.max_materials == 0 || self.lookups_per_minute == 0 {
            return Err(ConfigError(
                "max_material_bytes, max_materials and lookups_per_minute must be positive".into(),
            ));
        }
        if self.max_message_bytes < 1024 * 1024 {
            return Err(ConfigError("max_message_bytes must be at least 1 MiB".into()));
        }
        if !self.key_requests_per_second.is_finite() || self.key_requests_per_second < 0.0 {
            return Err(ConfigError(
                "key_requests_per_second must be a non-negative number (0 = no limit)".into(),
            ));
        }
        if self.key_cache_millis > 60_000 {
            return Err(ConfigError(
                "key_cache_millis must be at most 60000: a revoked key would keep working that long".into(),
            ));
        }
        if self.key_requests_per_second > 0.0 && self.key_burst == 0 {
            return Err(ConfigError(
                "key_burst must be at least 1 when key_requests_per_second is set".into(),
            ));
        }
        if self.request_deadline_seconds == 0
            || self.db_check_interval_millis == 0
            || self.keepalive_interval_seconds == 0
            || self.keepalive_timeout_seconds == 0
            || self.max_concurrent_streams == 0
        {
            return Err(ConfigError(
                "request_deadline_seconds, db_check_interval_millis, keepalive_interval_seconds, \
                 keepalive_timeout_seconds and max_concurrent_streams must be positive"
                    .into(),
            ));
        }
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(_), Some(_)) | (None, None) => {}
            _ => {
                return Err(ConfigError(
                    "tls_cert_file and tls_key_file go together: set both or neither".into(),
                ));
            }
        }
        if self.tls_client_ca_file.is_some() && self.tls_cert_file.is_none() {
            return Err(ConfigError(
                "tls_client_ca_file (mutual TLS) needs tls_cert_file and tls_key_file".into(),
            ));
        }
        self.validate_public()?;
        if self.major_fine_threshold_fen <= 0 {
            return Err(ConfigError("major_fine_threshold_fen must be positive".into()));
        }
        self.notice_settings()?;
        self.major_rules().map(|_| ())
    }

    /// Checks the public listener's and gRPC-Web's settings.
    fn validate_public(&self) -> Result<(), ConfigError> {
        if self.http_listen.trim().is_empty() {
            return Err(ConfigError("http_listen must be an address or \"off\"".into()));
        }
        if self.bureau_name.trim().is_empty() {
            return Err(ConfigError("bureau_name must not be empty".into()));
        }
        let url = self.public_url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "public_url must start with http:// or https://, not {url:?}"
            )));
        }
        if self.http_requests_per_second > 0 && self.http_burst == 0 {
            return Err(ConfigError(
                "http_burst must be at least 1 when http_requests_per_second is set".into(),
            ));
        }
        if self.http_timeout_seconds == 0 {
            return Err(ConfigError("http_timeout_seconds must be positive".into()));
        }
        for o in &self.grpc_web_cors_origins {
            let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
            let ok = rest.is_some_and(|host| !host.is_empty() && !host.contains('/') && !host.contains('*'))
                && http::HeaderValue::from_str(o).is_ok();
            if !ok {
                return Err(ConfigError(format!(
                    "grpc_web_cors_origins: {o:?} is not an origin like https://portal.example.gov.cn (no path, no wildcard)"
                )));
            }
        }
        Ok(())
    }

    /// The public listener's address, or `None` when `http_listen = "off"`.
    pub fn http_address(&self) -> Option<&str> {
        let a = self.http_listen.trim();
        (!a.eq_ignore_ascii_case("off")).then_some(a)
    }

    /// The notice texts and document set.
    pub fn notice_settings(&self) -> Result<NoticeSettings, ConfigError> {
        let documents = self
            .notice_documents
            .iter()
            .map(|d| {
                DocumentKind::parse(d).ok_or_else(|| ConfigError(format!("notice_documents: unknown document {d:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NoticeSettings {
            publication_site: self.notice_publication_site.clone(),
            repair_channel: self.notice_repair_channel.clone(),
            reconsideration_body: self.notice_reconsideration_body.clone(),
            court: self.notice_court.clone(),
            documents,
        })
    }

    /// The notice templates: built in, or from `notice_template_dir` (a file
    /// missing there falls back to the built-in one).
    pub fn notice_templates(&self) -> Result<NoticeTemplates, ConfigError> {
        let builtin = NoticeTemplates::builtin().map_err(|e| ConfigError(format!("built-in templates: {e}")))?;
        let Some(dir) = &self.notice_template_dir else {
            return Ok(builtin);
        };
        let mut sources = Vec::new();
        for kind in DocumentKind::ALL {
            let path = dir.join(NoticeTemplates::file_name(*kind));
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((*kind, text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let fallback = NoticeTemplates::builtin_source(*kind);
                    sources.push((*kind, fallback.to_string()));
                }
                Err(e) => return Err(ConfigError(format!("cannot read template {}: {e}", path.display()))),
            }
        }
        NoticeTemplates::from_sources(&format!("dir:{}", dir.display()), sources)
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// The major-decision rules.
    pub fn major_rules(&self) -> Result<MajorRules, ConfigError> {
        let kinds = self
            .major_penalty_kinds
            .iter()
            .map(|k| {
                PenaltyKind::parse(k)
                    .ok_or_else(|| ConfigError(format!("major_penalty_kinds: unknown penalty kind {k:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MajorRules {
            fine_threshold_fen: self.major_fine_threshold_fen,
            kinds,
        })
    }

    /// Store options.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.max_connections,
            read_connections: self.read_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_seconds.max(1)),
            on_acquire: None,
        }
    }

    /// The publicity policy: built in, or from `policy_file`.
    pub fn policy(&self) -> Result<PublicityPolicy, ConfigError> {
        let p = match &self.policy_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read policy file {}: {e}", path.display())))?;
                PublicityPolicy::from_toml(&text)
                    .map_err(|e| ConfigError(format!("policy file {}: {e}", path.display())))?
            }
            None => PublicityPolicy::builtin().map_err(|e| ConfigError(format!("built-in policy: {e}")))?,
        };
        Ok(p.with_publish_natural_persons(self.publish_natural_persons))
    }

    /// The built-in working-day calendar this instance starts with, until it
    /// has read the stored one (official years 2023–2026, provisional after),
    /// and the `calendar_file` checked before anything is opened.
    pub fn calendar(&self) -> Result<CalendarCell, ConfigError> {
        if let Some(path) = &self.calendar_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read calendar file {}: {e}", path.display())))?;
            OfficialSchedule::parse(&text)
                .map_err(|e| ConfigError(format!("calendar file {}: {e}", path.display())))?;
        }
        let statutory =
            StatutoryHolidays::builtin().map_err(|e| ConfigError(format!("built-in statutory holidays: {e}")))?;
        let official = OfficialSchedule::builtin().map_err(|e| ConfigError(format!("built-in calendar: {e}")))?;
        Ok(CalendarCell::new(
            WorkingCalendar::new(&official, statutory.clone(), 0),
            statutory,
        ))
    }

    /// Seeds the stored calendar on a new database, applies `calendar_file`
    /// (loaded like `gongshi calendar load`, recorded only when it changes a
    /// year, then open deadlines recomputed), and reads the stored calendar.
    async fn prepare_calendar(&self, app: &App) -> Result<(), ConfigError> {
        let err = |what: &str, e: crate::app::AppError| ConfigError(format!("working-day calendar: {what}: {e}"));
        app.seed_calendar().await.map_err(|e| err("seed", e))?;
        if let Some(path) = &self.calendar_file {
            let bytes = std::fs::read(path)
                .map_err(|e| ConfigError(format!("cannot read calendar file {}: {e}", path.display())))?;
            let source = path.display().to_string();
            let report = app
                .load_calendar(&bytes, &source, "calendar_file setting", false)
                .await
                .map_err(|e| err(&format!("calendar file {source}"), e))?;
            if report.load_id != 0 {
                let changed = app
                    .recompute_due_dates(&report, "calendar_file setting")
                    .await
                    .map_err(|e| err("recompute due dates", e))?;
                tracing::info!(
                    examined = changed.examined,
                    changed = changed.changed,
                    "calendar_file loaded; open repair deadlines recomputed"
                );
            }
        }
        app.refresh_calendar().await.map_err(|e| err("read", e))?;
        Ok(())
    }

    /// Opens the database (applying migrations) and assembles the application.
    pub async fn open_app(&self, clock: Arc<dyn Clock>) -> Result<Arc<App>, ConfigError> {
        let policy = self.policy()?;
        let calendar = self.calendar()?;
        let major = self.major_rules()?;
        let url = self.database_url.as_str();
        let metrics = Arc::new(crate::app::metrics::Metrics::new());
        let store_options = StoreOptions {
            on_acquire: Some(metrics.acquire_observer()),
            ..self.store_options()
        };
        let store = store::connect(url, &store_options)
            .await
            .map_err(|e| ConfigError(format!("database {}: {e}", store::redact_url(url))))?;
        store
            .migrate()
            .await
            .map_err(|e| ConfigError(format!("database {}: {e}", store::redact_url(url))))?;
        let repair = crate::app::repair::RepairSettings {
            deadlines: crate::domain::repair::Deadlines {
                accept_days: self.repair_accept_days,
                decide_days: self.repair_decide_days,
                overall_days: self.repair_overall_days,
            },
            max_material_bytes: self.max_material_bytes,
            max_materials: self.max_materials,
        };
        let notices = crate::app::notice::NoticeConfig {
            settings: self.notice_settings()?,
            templates: Arc::new(self.notice_templates()?),
        };
        let app = App::new(store, clock, Arc::new(policy), calendar, major)
            .with_repair(repair)
            .with_notices(notices)
            .with_metrics(metrics);
        self.prepare_calendar(&app).await?;
        Ok(Arc::new(app))
    }

    /// Server options from these settings.
    pub fn server_options(&self) -> crate::server::ServerOptions {
        crate::server::ServerOptions {
            feed: crate::server::FeedOptions {
                watch_poll: Duration::from_millis(self.watch_poll_millis),
                ..Default::default()
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            expiry_interval: Duration::from_secs(self.expiry_interval_seconds),
            calendar_refresh: Duration::from_secs(self.calendar_refresh_seconds),
            serve_stored_bytes: self.serve_stored_bytes,
            lookups_per_minute: self.lookups_per_minute,
            max_message_bytes: self.max_message_bytes,
            key_rate: KeyRate {
                rate_per_second: self.key_requests_per_second,
                burst: self.key_burst,
            },
            key_cache_ttl: Duration::from_millis(self.key_cache_millis),
            web: crate::web::WebOptions {
                bureau_name: self.bureau_name.trim().to_string(),
                public_url: self.public_url.trim().to_string(),
                requests_per_second: self.http_requests_per_second,
                burst: self.http_burst,
                request_timeout: Duration::from_secs(self.http_timeout_seconds),
                ..Default::default()
            },
            grpc_web_cors_origins: self.grpc_web_cors_origins.clone(),
            max_in_flight: self.max_in_flight,
            request_deadline: Duration::from_secs(self.request_deadline_seconds),
            db_check_interval: Duration::from_millis(self.db_check_interval_millis),
            keepalive_interval: Duration::from_secs(self.keepalive_interval_seconds),
            keepalive_timeout: Duration::from_secs(self.keepalive_timeout_seconds),
            max_concurrent_streams: self.max_concurrent_streams,
            rpc_metrics: self.metrics,
            tls: match (&self.tls_cert_file, &self.tls_key_file) {
                (Some(cert), Some(key)) => Some(crate::server::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.tls_client_ca_file.clone(),
                    client_auth_optional: self.tls_client_auth_optional,
                }),
                _ => None,
            },
            ..crate::server::ServerOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    /// `gongshi.example.toml` lists every setting (optional ones commented
    /// out as `# name = …`), so it stays the reference README points to.
    #[test]
    fn example_lists_every_setting() {
        let example = include_str!("../gongshi.example.toml");
        let defaults = serde_json::to_value(Config::default()).expect("serialise");
        let serde_json::Value::Object(fields) = defaults else {
            panic!("Config serialises to an object");
        };
        for name in fields.keys() {
            let listed = example.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            assert!(listed, "gongshi.example.toml does not list `{name}`");
        }
    }

    #[test]
    fn admin_listener_can_be_turned_off_but_not_onto_the_grpc_port() {
        let mut c = Config::default();
        assert_eq!(c.admin_address(), Some("127.0.0.1:9464"));
        c.admin_listen = "off".into();
        assert_eq!(c.admin_address(), None);
        assert!(c.validate().is_ok());
        c.admin_listen = c.listen.clone();
        assert!(c.validate().is_err());
    }
}
