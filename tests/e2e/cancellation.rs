//! A request whose client goes away mid-request, by an HTTP/2 stream reset or by closing the
//! HTTP/1.1 connection: one log line says it was cancelled, and the in-flight gauge comes back.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{Server, build_plain_component, fresh_data_dir, repo_root, scratch_dir};

/// A dist of one route, the plain `wasi:http` fixture, which sleeps on `?sleep_ms=N`.
fn sleepy_dist() -> PathBuf {
    let fixture = repo_root().join("tests/fixtures/plain-http");
    let wasm = build_plain_component(&fixture, "plain_http");
    let dist = scratch_dir("cancellation-dist");
    std::fs::create_dir_all(dist.join("pages/api")).unwrap();
    std::fs::copy(wasm, dist.join("pages/api/plain.wasm")).unwrap();
    dist
}

/// Reads the in-flight gauge until it is `want` (bounded); returns what it last read.
async fn in_flight_reaches(server: &Server, data: &std::path::Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = server.metrics(data).await;
        let line = metrics
            .lines()
            .find(|l| l.starts_with("routelet_in_flight_requests "))
            .unwrap_or("routelet_in_flight_requests (absent)")
            .to_owned();
        if line.ends_with(&format!(" {want}")) || Instant::now() > deadline {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_request_is_logged_as_cancelled_and_leaves_the_gauge_as_it_was() {
    let dist = sleepy_dist();
    let data = fresh_data_dir();
    let server = Server::builder()
        .dist(&dist)
        .data_dir(&data)
        .admin()
        .start();
    let cancelled = "GET /api/plain 499 cancelled by the client";

    // HTTP/2: the stream is reset while the guest runs; the connection stays open.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = server.url("/api/plain?sleep_ms=4000&from=h2");
    let request = tokio::spawn({
        let h2 = h2.clone();
        async move { h2.get(url).send().await.map(|r| r.status()) }
    });
    assert!(server.wait_for_log("from=h2"), "{}", server.log());
    assert_eq!(
        in_flight_reaches(&server, &data, "1").await,
        "routelet_in_flight_requests 1"
    );
    request.abort();
    assert!(server.wait_for_log(cancelled), "{}", server.log());
    assert_eq!(
        in_flight_reaches(&server, &data, "0").await,
        "routelet_in_flight_requests 0"
    );

    // HTTP/1.1: the client closes its connection while the guest runs.
    let mut socket = std::net::TcpStream::connect(server.addr).unwrap();
    socket
        .write_all(b"GET /api/plain?sleep_ms=4000&from=h1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(server.wait_for_log("from=h1"), "{}", server.log());
    assert_eq!(
        in_flight_reaches(&server, &data, "1").await,
        "routelet_in_flight_requests 1"
    );
    drop(socket);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log().matches(cancelled).count() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        server.log().matches(cancelled).count(),
        2,
        "one cancelled line per abandoned request:\n{}",
        server.log()
    );
    assert_eq!(
        in_flight_reaches(&server, &data, "0").await,
        "routelet_in_flight_requests 0"
    );

    // The host serves on.
    let status = h2
        .get(server.url("/api/plain"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}
