//! Serving a dist folder by hand: plain wasi:http components from any toolchain, public files,
//! normalisation redirects, bad components and bad layouts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::{
    Server, build_plain_component, client, raw_request, repo_root, run_routelet, scratch_dir,
};
use reqwest::StatusCode;

/// The plain component (no SDK, only the `wasi` crate), built once.
fn plain_component() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = repo_root().join("tests/fixtures/plain-http");
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let name = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("fixture has a package name")
            .replace('-', "_");
        build_plain_component(&dir, &name)
    })
}

/// A dist made by hand: the plain component at several paths, and public files.
fn hand_made_dist(name: &str) -> PathBuf {
    let dist = scratch_dir(name);
    for file in [
        "api/plain.wasm",
        "api/items/[id].wasm",
        "api/files/[...path].wasm",
    ] {
        let target = dist.join("pages").join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(plain_component(), target).unwrap();
    }
    std::fs::create_dir_all(dist.join("public/img")).unwrap();
    std::fs::write(dist.join("public/hello.txt"), "hello, public\n").unwrap();
    std::fs::write(
        dist.join("public/img/logo.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .unwrap();
    std::fs::write(dist.join("public/index.html"), "<h1>home</h1>").unwrap();
    dist
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&hand_made_dist("plain-dist")))
}

#[tokio::test]
async fn a_plain_component_sees_path_and_query_exactly_as_sent() {
    let server = server();
    let response = client()
        .get(server.url("/api/plain?b=2&a=%20x&&c"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert!(body.contains("plain: /api/plain?b=2&a=%20x&&c"), "{body}");
    assert!(
        body.contains("GET"),
        "the fixture echoes the method: {body}"
    );

    let response = client()
        .post(server.url("/api/items/7%2F8?x"))
        .body("hi")
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(body.contains("plain: /api/items/7%2F8?x"), "{body}");
    assert!(body.contains("POST"), "{body}");
}

#[tokio::test]
async fn http2_without_tls_is_served() {
    let server = server();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .get(server.url("/api/plain?via=h2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("plain: /api/plain?via=h2")
    );
}

#[tokio::test]
async fn trailing_slashes_and_repeated_slashes_get_a_308_keeping_the_query() {
    let server = server();
    let cases = [
        ("/api/plain/?a=1&b=2", "/api/plain?a=1&b=2"),
        ("/api//plain?x=y", "/api/plain?x=y"),
        ("/api/items/5/", "/api/items/5"),
        ("//api///plain//?q", "/api/plain?q"),
    ];
    for (path, location) in cases {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{path}");
        assert_eq!(response.headers()["location"], location, "{path}");
    }
    // Client libraries turn `\` into `/` themselves, so this one goes out raw.
    let answer = raw_request(
        server.addr,
        "GET /api\\plain?k=v HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    assert!(
        answer
            .to_lowercase()
            .contains("\r\nlocation: /api/plain?k=v\r\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_bad_escapes_in_params_are_400() {
    let server = server();
    let response = client()
        .get(server.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // A catch-all needs at least one segment.
    let response = client().get(server.url("/api/files")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    for bad in [
        "/api/items/%E0%A4%A",
        "/api/items/%zz",
        "/api/items/%FF",
        "/api/files/a/%C3",
    ] {
        let response = client().get(server.url(bad)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // A bad escape in the query is the guest's business, kept literally.
    let response = client()
        .get(server.url("/api/plain?q=%zz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn a_request_without_a_host_is_served_on_http_1_0_and_a_400_on_http_1_1() {
    // HTTP/1.0 may leave the host out: the component sees the listener's address.
    let answer = raw_request(server().addr, "GET /api/plain HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    let answer = raw_request(
        server().addr,
        "GET /api/plain HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let answer = raw_request(server().addr, "GARBAGE\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn public_files_have_types_etags_and_no_way_out() {
    let server = server();
    let response = client().get(server.url("/hello.txt")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let etag = response.headers()["etag"].clone();
    assert_eq!(response.text().await.unwrap(), "hello, public\n");

    let response = client()
        .get(server.url("/img/logo.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");

    let response = client()
        .get(server.url("/hello.txt"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    let response = client()
        .head(server.url("/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], "14");

    let response = client()
        .post(server.url("/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");

    for escape in [
        "/%2e%2e/manifest.json",
        "/img/%2e%2e/%2e%2e/pages/api/plain.wasm",
        "/img/..%2fhello.txt",
    ] {
        let response = client().get(server.url(escape)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{escape}");
    }

    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "<h1>home</h1>");
}

#[tokio::test]
async fn guest_output_goes_to_the_log_with_route_and_request_id() {
    let server = server();
    let response = client()
        .get(server.url("/api/items/log-me"))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        server.wait_for_log("/api/items/log-me"),
        "the guest's stdout line never reached the log:\n{}",
        server.log()
    );
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("guest stdout") && l.contains("/api/items/log-me"))
        .unwrap_or_else(|| panic!("no guest stdout line:\n{log}"));
    assert!(line.contains("/api/items/[id]"), "{line}");
    assert!(line.contains(&request_id), "{line}");
}

#[tokio::test]
async fn fifty_concurrent_requests_all_succeed() {
    let server = server();
    let client = client();
    let requests = (0..50).map(|i| {
        let client = client.clone();
        let url = server.url(&format!("/api/items/{i}"));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });
    let bodies = futures::future::join_all(requests).await;
    for (i, body) in bodies.iter().enumerate() {
        assert!(body.contains(&format!("plain: /api/items/{i}")), "{body}");
    }
}

fn refused(dist: &Path) -> String {
    match Server::builder().dist(dist).try_start() {
        Ok(_) => panic!("routelet serve started on a bad dist {}", dist.display()),
        Err(output) => output,
    }
}

#[test]
fn a_file_that_is_not_wasm_stops_the_start_naming_it() {
    let dist = scratch_dir("bad-not-wasm");
    std::fs::create_dir_all(dist.join("pages/api")).unwrap();
    std::fs::write(dist.join("pages/api/oops.wasm"), "#!/bin/sh\necho hi\n").unwrap();
    let output = refused(&dist);
    assert!(
        output.contains("pages/api/oops.wasm is not a WebAssembly file"),
        "{output}"
    );
}

#[test]
fn a_core_module_is_refused_with_what_to_do() {
    let dist = scratch_dir("bad-core-module");
    std::fs::create_dir_all(dist.join("pages/api")).unwrap();
    std::fs::write(dist.join("pages/api/core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let output = refused(&dist);
    assert!(
        output.contains("pages/api/core.wasm is a core wasm module, not a component"),
        "{output}"
    );
    assert!(output.contains("wasm32-wasip2"), "{output}");
}

#[test]
fn an_invalid_layout_is_refused_whole() {
    let dist = scratch_dir("bad-layout");
    for file in ["api/[id].wasm", "api/[name]/x.wasm", "api/ok.wasm"] {
        let target = dist.join("pages").join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(plain_component(), target).unwrap();
    }
    let output = refused(&dist);
    assert!(
        output.contains(
            "You cannot use different slug names for the same dynamic path ('id' !== 'name')."
        ),
        "{output}"
    );
}

#[test]
fn a_component_that_does_not_match_the_manifest_is_refused() {
    let dist = scratch_dir("bad-hash");
    std::fs::create_dir_all(dist.join("pages/api")).unwrap();
    std::fs::copy(plain_component(), dist.join("pages/api/plain.wasm")).unwrap();
    let manifest = serde_json::json!({
        "build_id": "test",
        "routes": [{
            "pattern": "/api/plain", "file": "pages/api/plain.wasm", "source": "pages/api/plain.rs",
            "sha256": "0".repeat(64), "size": 1
        }]
    });
    std::fs::write(dist.join("manifest.json"), manifest.to_string()).unwrap();
    let output = refused(&dist);
    assert!(
        output.contains("pages/api/plain.wasm: its SHA-256 is"),
        "{output}"
    );
}

#[test]
fn duplicate_pages_are_refused_naming_both_files() {
    let dist = scratch_dir("bad-duplicate");
    std::fs::create_dir_all(dist.join("pages/api/a")).unwrap();
    std::fs::write(dist.join("pages/api/a.wasm"), "x").unwrap();
    std::fs::write(dist.join("pages/api/a/index.wasm"), "x").unwrap();
    let output = run_routelet(&["routes", dist.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("Duplicate page detected. pages/api/a.wasm and pages/api/a/index.wasm both resolve to /api/a."),
        "{stderr}"
    );
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_stops_cleanly() {
    let mut server = Server::start(&hand_made_dist("plain-sigterm"));
    let url = server.url("/api/plain?sleep_ms=1500");
    let in_flight = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = client().get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        })
    });
    assert!(
        server.wait_for_log("sleep_ms=1500"),
        "the request never reached the guest"
    );
    let status = server.terminate();
    let (code, body) = in_flight.join().unwrap();
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(body.contains("plain: /api/plain?sleep_ms=1500"), "{body}");
    assert!(status.success(), "exit status {status}");
    assert!(server.wait_for_log("stopped cleanly"), "{}", server.log());
}
