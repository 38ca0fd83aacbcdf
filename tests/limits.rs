//! `[limits]` in routelet.toml, end to end: memory, time, concurrency and body limits per route
//! over the app's, each hit answered with its status, logged with its route and limit, and
//! counted; bad values stop the start naming the key.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Server, app_with, build_app, client, copy_dir, fresh_data_dir, scratch_dir};

const HOG: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1u8; 1 << 20]);
        if kept.len() > 100_000 {
            return Response::text(format!("{}", kept.len()));
        }
    }
}
"#;

const SPIN: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
        if n == u64::MAX {
            return Response::text("never");
        }
    }
}
"#;

const UPLOAD: &str = r#"
use std::io::Read;

use routelet_sdk::{Config, Request, Response, Result};

pub const CONFIG: Config = Config::new().body_parser(false);

pub fn handler(req: Request) -> Result {
    let mut bytes = Vec::new();
    req.into_body_reader().read_to_end(&mut bytes)?;
    Ok(Response::text(bytes.len().to_string()))
}
"#;

const BIG: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::text("x".repeat(2 << 20))
}
"#;

const CONFIG: &str = r#"
[limits]
body = "64KiB"

[routes."/api/hog".limits]
memory = "16MiB"

[routes."/api/spin".limits]
timeout = "1500ms"
max_concurrent = 1

[routes."/api/big".limits]
response_warning = "1MiB"
"#;

fn built() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let app = app_with(
            "limits-app",
            &[
                ("pages/api/hog.rs", HOG),
                ("pages/api/spin.rs", SPIN),
                ("pages/api/upload.rs", UPLOAD),
                ("pages/api/big.rs", BIG),
            ],
        );
        let dist = app.join("dist");
        let (ok, stdout, stderr) = build_app(&app, &dist);
        assert!(ok, "{stdout}\n{stderr}");
        dist
    })
}

fn dist_with(name: &str, config: &str) -> PathBuf {
    let dist = scratch_dir(name).join("dist");
    copy_dir(built(), &dist);
    std::fs::write(dist.join("routelet.toml"), config).unwrap();
    dist
}

fn start(dist: &Path) -> Server {
    let data = fresh_data_dir();
    Server::try_start_with(dist, &["--data-dir", data.to_str().unwrap()])
        .unwrap_or_else(|message| panic!("{message}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_limit_answers_with_its_status_and_names_the_route_and_limit() {
    let server = start(&dist_with("limits-ok", CONFIG));
    let http = client();

    // Memory: the guest's allocation fails at 16 MiB and it traps.
    let response = http.get(server.url("/api/hog")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        server.wait_for_log("memory limit reached"),
        "{}",
        server.log()
    );

    // Time, and one instance at a time: the second request is refused at once with 503.
    let started = Instant::now();
    let first = tokio::spawn(http.get(server.url("/api/spin")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = http.get(server.url("/api/spin")).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::GATEWAY_TIMEOUT);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    assert!(server.wait_for_log("max_concurrent"), "{}", server.log());

    // Body: a declared length over the cap is refused before the guest runs...
    let response = http
        .post(server.url("/api/upload"))
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // ...and a chunked body is cut off at the cap. The host answers before the client has
    // sent everything and closes the connection, so read the answer from a raw socket.
    let chunk = format!("4000\r\n{}\r\n", "b".repeat(16 * 1024));
    let answer = support::raw_request(
        server.addr,
        &format!(
            "POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
            chunk.repeat(10)
        ),
    );
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // Under the cap it passes.
    let response = http
        .post(server.url("/api/upload"))
        .body(vec![b'c'; 60 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), (60 * 1024).to_string());

    // Response size: served, and logged once, in Next.js's words.
    let response = http.get(server.url("/api/big")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len(), 2 << 20);
    assert!(
        server.wait_for_log("API response for /api/big exceeds 1MB"),
        "{}",
        server.log()
    );

    let log = server.log();
    for needle in [
        "route /api/hog failed: memory limit reached",
        "route /api/spin failed: timed out after 1.5s",
        "refused: request body larger than the limit of 65536 bytes",
        "route=/api/upload limit=\"body-size\"",
        "route=/api/spin limit=\"instances\"",
        "limit=\"response-size\"",
    ] {
        assert!(log.contains(needle), "{needle} missing from\n{log}");
    }
}

#[test]
fn a_bad_limit_stops_the_start_naming_the_key_and_the_route() {
    for (config, needle) in [
        (
            "[routes.\"/api/hog\".limits]\nmemory = \"lots\"\n",
            "[routes.\"/api/hog\".limits]: memory = \"lots\"",
        ),
        (
            "[limits]\nmemory = \"4GiB\"\n",
            "memory = \"4GiB\" is above this host's largest instance, 128 MiB",
        ),
        ("[limits]\ntimeout = \"0s\"\n", "timeout = \"0s\""),
        ("[limits]\nspeed = \"fast\"\n", "unknown field `speed`"),
    ] {
        let dist = dist_with("limits-bad", config);
        let data = fresh_data_dir();
        let error = Server::try_start_with(&dist, &["--data-dir", data.to_str().unwrap()])
            .err()
            .expect("the start must fail");
        assert!(error.contains(needle), "{needle} missing from\n{error}");
    }
}
