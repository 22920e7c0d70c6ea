//! The `gongshi` binary as an operator runs it: no configuration, the keys
//! commands, migrate, and error exits.

use std::process::{Command, Stdio};
use std::time::Duration;

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support;
use crate::support::bin::gongshi;

async fn connect(addr: &str) -> Channel {
    for _ in 0..300 {
        if let Ok(ch) = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await {
            return ch;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gongshi did not listen on {addr}");
}

fn sigterm(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

async fn list_services(ch: Channel) -> Vec<String> {
    let mut client = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("reflection")
        .into_inner();
    let resp = stream.message().await.expect("message").expect("one response");
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// Done-when of the foundation: started with no configuration in an empty
/// directory, the binary answers health SERVING and reflection lists the five
/// gongshi.v1 services; SIGTERM stops it cleanly.
#[tokio::test]
async fn binary_with_no_configuration_serves_health_and_reflection() {
    let _port = support::DEFAULT_PORT.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let child = gongshi()
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gongshi");
    let ch = connect("127.0.0.1:50051").await;
    let mut health = HealthClient::new(ch.clone());
    let status = health
        .check(HealthCheckRequest { service: String::new() })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let status = health
        .check(HealthCheckRequest {
            service: "gongshi.v1.DisclosureService".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    let services = list_services(ch.clone()).await;
    for s in gongshi::server::SERVICES {
        assert!(services.contains(&s.to_string()), "{s} missing from {services:?}");
    }
    assert!(services.iter().any(|s| s == "grpc.health.v1.Health"), "{services:?}");

    // v1alpha too, for older grpcurl.
    let mut alpha = tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient::new(ch);
    let req = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("v1alpha")
        .into_inner();
    assert!(stream.message().await.expect("v1alpha message").is_some());

    assert!(
        dir.path().join("data/gongshi.db").exists(),
        "default SQLite file under ./data/"
    );
    // The admin listener on its default address (README "Operating it").
    let admin: std::net::SocketAddr = "127.0.0.1:9464".parse().unwrap();
    let ready = support::http_get(admin, "/readyz", &[]).await.expect("admin listener");
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    let metrics = support::http_get(admin, "/metrics", &[]).await.expect("metrics");
    assert_eq!(metrics.status, 200);
    for family in [
        "gongshi_rpc_requests_total",
        "gongshi_build_info",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.body.contains(&format!("# TYPE {family} ")), "{family} missing");
    }
    assert!(
        metrics
            .body
            .contains("gongshi_rpc_requests_total{service=\"grpc.health.v1.Health\",method=\"Check\",code=\"OK\"} 2"),
        "the two health checks above are counted"
    );
    sigterm(child.id());
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.status.success(),
        "exit after SIGTERM: {:?} {}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
    let log = String::from_utf8_lossy(&status.stderr);
    assert!(log.contains("shutting down"), "{log}");
}

fn run_ok(args: &[&str]) -> String {
    let out = gongshi().args(args).output().expect("run gongshi");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gongshi {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `keys create --role ROLE --label LABEL MORE… --database-url URL`.
fn keys_create<'a>(role: &'a str, label: &'a str, more: &[&'a str], url: &'a str) -> Vec<&'a str> {
    let mut args = vec!["keys", "create", "--role", role, "--label", label];
    args.extend_from_slice(more);
    args.extend(["--database-url", url]);
    args
}

fn run_err(args: &[&str]) -> String {
    let out = gongshi().args(args).output().expect("run gongshi");
    assert!(!out.status.success(), "gongshi {args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("gongshi: "), "{err}");
    err
}

#[tokio::test]
async fn keys_commands_create_list_revoke_on_every_backend() {
    for db in support::backends().await {
        let url = db.url.as_str();
        run_ok(&["migrate", "--database-url", url]);
        let out = run_ok(&keys_create("officer", "王五 (执法)", &[], url));
        let key = out.lines().last().unwrap().to_string();
        assert!(key.starts_with("gsk_") && key.len() > 70, "{key}");
        let id = key.split('_').nth(1).unwrap().to_string();

        let list = run_ok(&["keys", "list", "--database-url", url]);
        assert!(
            list.contains(&id) && list.contains("officer") && list.contains("active"),
            "{list}"
        );
        assert!(!list.contains(&key), "a key is shown once");

        // Only a hash is stored.
        let secret = key.rsplit('_').next().unwrap();
        let stored = support::sql::strings(url, db.backend, "SELECT secret_hash FROM api_keys").await;
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], secret);
        assert_eq!(stored[0], gongshi::domain::record::sha256_hex(secret.as_bytes()));

        let ent = run_ok(&keys_create(
            "enterprise",
            "企业",
            &[
                "--credit-code",
                &support::credit_code("91310115", 5),
                "--expires-on",
                "2027-12-31",
            ],
            url,
        ));
        assert!(ent.lines().last().unwrap().starts_with("gsk_"));

        let e = run_err(&["keys", "revoke", &id, "--reason", " ", "--database-url", url]);
        assert!(e.contains("why"), "a revocation must say why: {e}");
        run_ok(&[
            "keys",
            "revoke",
            &id,
            "--reason",
            "离职",
            "--by",
            "管理员 赵六",
            "--database-url",
            url,
        ]);
        let list = run_ok(&["keys", "list", "--database-url", url]);
        assert!(list.lines().any(|l| l.contains(&id) && l.contains("revoked")), "{list}");

        let e = run_err(&["keys", "revoke", &id, "--reason", "again", "--database-url", url]);
        assert!(e.contains("no active key"), "{e}");
        let e = run_err(&keys_create("boss", "x", &[], url));
        assert!(e.contains("unknown role"), "{e}");
        let e = run_err(&keys_create("enterprise", "x", &[], url));
        assert!(e.contains("credit code"), "{e}");
        let e = run_err(&keys_create(
            "enterprise",
            "x",
            &["--credit-code", "91350100M000100Y44"],
            url,
        ));
        assert!(e.contains("check character"), "{e}");
        let e = run_err(&keys_create("officer", "x", &["--expires-on", "2027-13-01"], url));
        assert!(e.contains("expires-on"), "{e}");
    }
}

#[test]
fn bad_settings_fail_with_one_line() {
    let e = run_err(&["migrate", "--database-url", "mysql://u:hunter2@localhost/x"]);
    assert!(e.contains("unsupported") && !e.contains("hunter2"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gongshi.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nno_such_setting = 1\n").unwrap();
    let e = run_err(&["migrate", "--config", cfg.to_str().unwrap()]);
    assert!(e.contains("no_such_setting"), "{e}");
    let out = gongshi()
        .args(["migrate"])
        .env("GONGSHI_MAX_CONNECTIONS", "many")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("GONGSHI_MAX_CONNECTIONS"));
}

#[test]
fn config_file_and_environment_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-config.db");
    let cfg = dir.path().join("gongshi.toml");
    std::fs::write(&cfg, format!("database_url = \"sqlite:{}\"\n", db.display())).unwrap();
    let out = gongshi()
        .args(["migrate"])
        .env("GONGSHI_CONFIG", &cfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(db.exists(), "config file's database_url used");
    let db2 = dir.path().join("from-env.db");
    let out = gongshi()
        .args(["migrate"])
        .env("GONGSHI_CONFIG", &cfg)
        .env("GONGSHI_DATABASE_URL", format!("sqlite:{}", db2.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(db2.exists(), "environment overrides the file");
}

/// The shipped example configuration lists real settings with valid values.
#[test]
fn example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gongshi.example.toml");
    let db = dir.path().join("example.db");
    let out = gongshi()
        .args([
            "migrate",
            "--config",
            example.to_str().unwrap(),
            "--database-url",
            &format!("sqlite:{}", db.display()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
