//! Deploys to a running host, end to end: the `routelet deploy` command against a real host's
//! admin API, under load, with bad bundles, one route at a time, across restarts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{
    Server, built_app, client, dist_with_config, fresh_data_dir, json_of, run_routelet,
};
use reqwest::StatusCode;

const VERSION_ROUTE: &str = r#"
use routelet_sdk::{Request, Response};

/// The version from routelet.toml, repeated so that a response mixing two versions shows.
pub fn handler(_req: Request) -> Response {
    let version = std::env::var("VERSION").unwrap_or_default();
    Response::text(version.repeat(8 * 1024)).header("x-version", version)
}
"#;

const PING_ROUTE: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::text("pong")
}
"#;

const ABOUT_PAGE: &str = r#"
pub fn render() -> String {
    "<h1>About</h1>".to_owned()
}
"#;

/// The app's dist, built once for this test binary.
fn built() -> PathBuf {
    built_app(
        "deploy-app",
        &[
            ("pages/api/version.rs", VERSION_ROUTE),
            ("pages/api/ping.rs", PING_ROUTE),
            ("pages/about.rs", ABOUT_PAGE),
        ],
    )
}

/// A copy of the built dist whose `/api/version` answers `version`.
pub(crate) fn version_dist(version: &str) -> PathBuf {
    dist_with_config(
        &built(),
        &format!("deploy-{version}-{}", unique()),
        &format!("[routes.\"/api/version\".env]\nVERSION = \"{version}\"\n"),
    )
}

fn unique() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A host serving `dist` with the admin API on a free port, its data in `data`.
pub(crate) fn start_admin(dist: Option<&Path>, data: &Path) -> Server {
    let mut host = Server::builder().data_dir(data).admin();
    if let Some(dist) = dist {
        host = host.dist(dist);
    }
    host.start()
}

/// Runs an admin command (`deploy`, `rollback`...) against `server` with its generated token.
pub(crate) fn admin(server: &Server, data: &Path, args: &[&str]) -> Output {
    let url = server.admin_url();
    let token = data.join("admin-token");
    let mut all = args.to_vec();
    all.extend(["--to", &url, "--token-file", token.to_str().unwrap()]);
    run_routelet(&all)
}

pub(crate) fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn refused(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The version `/api/version` answers now, checked to be whole.
async fn version_now(server: &Server) -> String {
    let response = client()
        .get(server.url("/api/version"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let version = response.headers()["x-version"].to_str().unwrap().to_owned();
    let body = response.text().await.unwrap();
    assert_eq!(body, version.repeat(8 * 1024));
    version
}

fn token_of(data: &Path) -> String {
    std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Subscribes `email` through the blog API's `/api/subscribe`, which writes to the data store.
async fn subscribe(server: &Server, email: &str) -> StatusCode {
    client()
        .post(server.url("/api/subscribe"))
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn deployment_count(server: &Server, data: &Path) -> usize {
    let list = json_of(
        client()
            .get(format!("{}/deployments", server.admin_url()))
            .bearer_auth(token_of(data)),
    )
    .await;
    list.as_array().expect("a list of deployments").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_deploys_and_a_rollback_under_load_fail_no_request() {
    let data = fresh_data_dir();
    let versions: Vec<PathBuf> = (1..=6).map(|n| version_dist(&format!("v{n}"))).collect();
    let server = start_admin(Some(&versions[0]), &data);
    assert_eq!(version_now(&server).await, "v1");

    let stop_at = Instant::now() + Duration::from_secs(22);
    let mut clients = Vec::new();
    for _ in 0..4 {
        let url = server.url("/api/version");
        clients.push(tokio::spawn(async move {
            let http = client();
            let (mut ok, mut failures, mut seen) = (0usize, Vec::new(), Vec::<String>::new());
            while Instant::now() < stop_at {
                let outcome = async {
                    let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
                    let status = response.status();
                    let version = response
                        .headers()
                        .get("x-version")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    let body = response.text().await.map_err(|e| e.to_string())?;
                    if status != StatusCode::OK || body != version.repeat(8 * 1024) {
                        return Err(format!(
                            "{status} {version}: a body of {} bytes that is not whole",
                            body.len()
                        ));
                    }
                    Ok(version)
                }
                .await;
                match outcome {
                    Ok(version) => {
                        ok += 1;
                        if !seen.contains(&version) {
                            seen.push(version);
                        }
                    }
                    Err(failure) => failures.push(failure),
                }
            }
            (ok, failures, seen)
        }));
    }

    let data_dir = data.clone();
    let deploys = tokio::task::spawn_blocking(move || {
        let mut ids = Vec::new();
        for dist in &versions[1..] {
            std::thread::sleep(Duration::from_secs(2));
            let stdout = succeeded(&admin(
                &server,
                &data_dir,
                &["deploy", dist.to_str().unwrap()],
            ));
            assert!(stdout.contains("/api/version"), "{stdout}");
            ids.push(stdout.split_whitespace().nth(1).unwrap().to_owned());
        }
        std::thread::sleep(Duration::from_secs(2));
        let stdout = succeeded(&admin(&server, &data_dir, &["rollback"]));
        assert!(
            stdout.starts_with(&format!("rolled back to {}", ids[3])),
            "{stdout}"
        );
        (server, ids)
    });
    let (server, ids) = deploys.await.unwrap();
    assert_eq!(ids.len(), 5);

    let mut total = 0;
    let mut versions_seen = Vec::new();
    for client in clients {
        let (ok, failures, seen) = client.await.unwrap();
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        total += ok;
        versions_seen.extend(seen);
    }
    versions_seen.sort();
    versions_seen.dedup();
    eprintln!("{total} requests in 22 s across five deploys and a rollback, none failed");
    assert!(total > 200, "only {total} requests in 22 s");
    assert_eq!(versions_seen, ["v1", "v2", "v3", "v4", "v5", "v6"]);
    assert_eq!(version_now(&server).await, "v5", "the rollback went to v5");
    let listed =
        String::from_utf8_lossy(&admin(&server, &data, &["deployments"]).stdout).into_owned();
    assert!(
        listed.contains(&format!("* {}", ids[3])),
        "v5 is marked active:\n{listed}"
    );
}

/// Posts raw bundle bytes to the admin API.
async fn post_bundle(server: &Server, data: &Path, bundle: Vec<u8>) -> (StatusCode, String) {
    let response = client()
        .post(format!("{}/deployments", server.admin_url()))
        .bearer_auth(token_of(data))
        .body(bundle)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A raw `POST /deployments` declaring `length` bytes, its body left for the caller to send.
fn start_upload(server: &Server, data: &Path, length: usize) -> std::net::TcpStream {
    let admin_addr = server.admin_url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&admin_addr).unwrap();
    write!(
        stream,
        "POST /deployments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {length}\r\n\r\n",
        token_of(data),
    )
    .unwrap();
    stream
}

/// A gzip-compressed tar with one entry named `name`, which a tar library would refuse to write.
fn hostile_bundle(name: &str) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(8);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = tar::Builder::new(Vec::new());
    tar.append(&header, &b"\0asm\x0d\0\x01\0"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// A gzip-compressed tar of `files` (name, contents), made with the tar library.
fn gzip_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, *bytes).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bundles_are_refused_with_their_reason_and_the_old_version_serves() {
    let data = fresh_data_dir();
    let server = start_admin(Some(&version_dist("v1")), &data);
    let deploy = |dist: &Path| refused(&admin(&server, &data, &["deploy", dist.to_str().unwrap()]));

    // A component whose bytes no longer match the manifest.
    let mismatch = version_dist("mismatch");
    let wasm = mismatch.join("pages/api/ping.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&wasm, &bytes).unwrap();
    let stderr = deploy(&mismatch);
    assert!(
        stderr.contains("422")
            && stderr.contains("pages/api/ping.wasm")
            && stderr.contains("manifest.json says"),
        "{stderr}"
    );

    // A corrupt component, without a manifest to catch it first.
    let corrupt = version_dist("corrupt");
    std::fs::remove_file(corrupt.join("manifest.json")).unwrap();
    std::fs::write(
        corrupt.join("pages/api/ping.wasm"),
        b"\0asm\x0d\0\x01\0garbage",
    )
    .unwrap();
    let stderr = deploy(&corrupt);
    assert!(
        stderr.contains("pages/api/ping.wasm") && stderr.contains("compiling"),
        "{stderr}"
    );

    // An invalid layout: two slug names at one level.
    let layout = version_dist("layout");
    std::fs::remove_file(layout.join("manifest.json")).unwrap();
    for name in ["[a]", "[b]"] {
        std::fs::copy(
            layout.join("pages/api/ping.wasm"),
            layout.join(format!("pages/api/{name}.wasm")),
        )
        .unwrap();
    }
    let stderr = deploy(&layout);
    assert!(
        stderr.contains("You cannot use different slug names for the same dynamic path"),
        "{stderr}"
    );

    // A page where an API route must be: the wrong world.
    let world = version_dist("world");
    std::fs::remove_file(world.join("manifest.json")).unwrap();
    std::fs::copy(
        world.join("pages/about.wasm"),
        world.join("pages/api/about.wasm"),
    )
    .unwrap();
    let stderr = deploy(&world);
    assert!(
        stderr.contains("pages/api/about.wasm")
            && stderr.contains("does not export wasi:http/incoming-handler"),
        "{stderr}"
    );

    // Path traversal, an absolute path, and a bundle that is not one.
    for (bundle, needle) in [
        (
            hostile_bundle("../x.wasm"),
            "\"../x.wasm\": a path outside the dist folder",
        ),
        (hostile_bundle("/tmp/x.wasm"), "an absolute path"),
        (
            b"not a bundle".to_vec(),
            "not a complete gzip-compressed tar",
        ),
    ] {
        let (status, body) = post_bundle(&server, &data, bundle).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains(needle), "{body}");
    }
    assert!(!data.join("deployments/x.wasm").exists() && !data.join("x.wasm").exists());

    // A well-formed bundle with nothing to serve, empty or holding only stray files, would turn
    // every path into a 404: refused with the reason.
    for files in [&[][..], &[("notes.txt", &b"not a dist"[..])][..]] {
        let (status, body) = post_bundle(&server, &data, gzip_tar(files)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body.contains("no manifest.json and no routes under pages/"),
            "{body}"
        );
    }

    // A route whose name could not be a file name is refused with the limit, not a 500.
    let wasm = std::fs::read(version_dist("long").join("pages/api/ping.wasm")).unwrap();
    let response = client()
        .put(format!(
            "{}/routes?pattern=/api/{}",
            server.admin_url(),
            "a".repeat(300)
        ))
        .bearer_auth(token_of(&data))
        .body(wasm)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains("at most 250 bytes"), "{body}");

    // An upload cut off halfway: the connection closes before the declared length arrives.
    let bundle = routelet::deploy::bundle::pack(&version_dist("cut")).unwrap();
    let mut stream = start_upload(&server, &data, bundle.len());
    stream.write_all(&bundle[..bundle.len() / 2]).unwrap();
    drop(stream);
    assert!(
        server.wait_for_log("the upload was cut off"),
        "{}",
        server.log()
    );

    // Nothing changed: one deployment, still v1, no staging left behind.
    assert_eq!(deployment_count(&server, &data).await, 1);
    assert_eq!(version_now(&server).await, "v1");
    let leftovers: Vec<_> = std::fs::read_dir(data.join("deployments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_route_at_a_time_then_undeploy_and_rollback() {
    let data = fresh_data_dir();
    let dist = version_dist("v1");
    let server = start_admin(Some(&dist), &data);
    let ping = dist.join("pages/api/ping.wasm");
    let ping = ping.to_str().unwrap();
    let get = |path: &str| {
        let url = server.url(path);
        async move { client().get(url).send().await.unwrap().status() }
    };

    let stdout = succeeded(&admin(
        &server,
        &data,
        &["deploy", "--route", "/api/things/[id]", ping],
    ));
    assert!(
        stdout.contains("/api/things/[id]  pages/api/things/[id].wasm"),
        "{stdout}"
    );
    assert_eq!(get("/api/things/7").await, StatusCode::OK);

    // The layout is checked for one route too, with Next.js's words.
    let stderr = refused(&admin(
        &server,
        &data,
        &["deploy", "--route", "/api/things/[name]/x", ping],
    ));
    assert!(
        stderr.contains("You cannot use different slug names for the same dynamic path"),
        "{stderr}"
    );

    succeeded(&admin(
        &server,
        &data,
        &["undeploy", "--route", "/api/things/[id]"],
    ));
    assert_eq!(get("/api/things/7").await, StatusCode::NOT_FOUND);
    let stderr = refused(&admin(
        &server,
        &data,
        &["undeploy", "--route", "/api/nope"],
    ));
    assert!(
        stderr.contains("404") && stderr.contains("no route /api/nope"),
        "{stderr}"
    );

    succeeded(&admin(&server, &data, &["rollback"]));
    assert_eq!(get("/api/things/7").await, StatusCode::OK);
    let listed = succeeded(&admin(&server, &data, &["deployments"]));
    assert_eq!(
        listed.lines().count(),
        4,
        "a header and three deployments:\n{listed}"
    );
    assert!(listed.contains("undeploy /api/things/[id]"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_the_last_active_deployment_and_compiles_nothing() {
    let data = fresh_data_dir();
    let v1 = version_dist("v1");
    let mut server = start_admin(Some(&v1), &data);
    succeeded(&admin(
        &server,
        &data,
        &["deploy", version_dist("v2").to_str().unwrap()],
    ));
    assert_eq!(version_now(&server).await, "v2");
    server.terminate();

    // Started again with the same DIST: it is not new, so the last active deployment serves.
    for dist in [None, Some(v1.as_path())] {
        let mut server = start_admin(dist, &data);
        assert_eq!(version_now(&server).await, "v2");
        let printed = server.printed();
        let ready = printed
            .split("ready in ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap()
            .to_owned();
        assert!(
            ready.ends_with("ms") && !ready.ends_with("µs") && ready.len() <= 5,
            "ready in {ready}: well under a second is expected\n{printed}"
        );
        let metrics = server.metrics(&data).await;
        assert!(
            metrics.contains("routelet_compile_cache_misses_total 0\n"),
            "{metrics}"
        );
        assert!(
            !metrics.contains("routelet_compile_cache_hits_total 0\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("routelet_active_deployment{id="),
            "{metrics}"
        );
        server.terminate();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_needs_its_token_and_is_not_on_the_public_listener() {
    let data = fresh_data_dir();
    let server = start_admin(Some(&version_dist("v1")), &data);
    let admin = server.admin_url();
    let http = client();
    for path in ["/deployments", "/metrics", "/healthz", "/readyz"] {
        let url = format!("{admin}{path}");
        let none = http.get(&url).send().await.unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(none.headers()["www-authenticate"], "Bearer");
        let wrong = http
            .get(&url)
            .bearer_auth("0123456789abcdef0123456789abcdef")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
        let right = http
            .get(&url)
            .bearer_auth(token_of(&data))
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), StatusCode::OK, "{path}");
        let public = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(
            public.status(),
            StatusCode::NOT_FOUND,
            "{path} on the public listener"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Requests are counted by route and status class, and carry a request id: the client's
    // when it is sane, else one the host makes.
    let sane = http
        .get(server.url("/api/ping"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(sane.headers()["x-request-id"], "trace-42");
    let insane = http
        .get(server.url("/api/ping"))
        .header("x-request-id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    let made = insane.headers()["x-request-id"].to_str().unwrap();
    assert!(!made.contains(' ') && !made.is_empty(), "{made}");
    let metrics = http
        .get(format!("{admin}/metrics"))
        .bearer_auth(token_of(&data))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"routelet_requests_total{route="/api/ping",status="2xx"} 2"#,
        r#"routelet_requests_total{route="not-found",status="4xx"}"#,
        r#"routelet_request_duration_seconds_bucket{le="+Inf",route="/api/ping"} 2"#,
        r#"routelet_instantiations_total{route="/api/ping"} 2"#,
        "routelet_in_flight_requests 0",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let data = fresh_data_dir();
    let dist = version_dist("v1");
    let server = Server::builder()
        .dist(&dist)
        .data_dir(&data)
        .args(&["--log-format", "json"])
        .start();
    let response = client()
        .get(server.url("/api/ping"))
        .header("x-request-id", "trace-json-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(server.wait_for_log("trace-json-1"), "{}", server.log());
    let log = server.log();
    let mut found = false;
    for line in log.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        let fields = &event["fields"];
        if fields["request_id"] == "trace-json-1" {
            assert_eq!(fields["route"], "/api/ping", "{line}");
            assert!(
                fields["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("GET /api/ping 200"),
                "{line}"
            );
            found = true;
        }
    }
    assert!(found, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_deployments_are_kept() {
    let data = fresh_data_dir();
    let server = Server::builder()
        .dist(&version_dist("v1"))
        .data_dir(&data)
        .admin()
        .args(&["--keep-deployments", "2"])
        .start();
    for version in ["v2", "v3"] {
        let dist = version_dist(version);
        succeeded(&admin(&server, &data, &["deploy", dist.to_str().unwrap()]));
    }
    assert_eq!(deployment_count(&server, &data).await, 2);
    succeeded(&admin(&server, &data, &["rollback"]));
    assert_eq!(version_now(&server).await, "v2");
    let stderr = refused(&admin(&server, &data, &["rollback"]));
    assert!(
        stderr.contains("no deployment older than the active one"),
        "{stderr}"
    );
    let stderr = refused(&admin(&server, &data, &["rollback", "nope"]));
    assert!(
        stderr.contains("404") && stderr.contains("no deployment \"nope\""),
        "{stderr}"
    );
    assert_eq!(version_now(&server).await, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_the_host_writes_is_readable_by_its_user_alone() {
    use std::os::unix::fs::PermissionsExt;
    let data = fresh_data_dir();
    let server = start_admin(Some(&version_dist("v1")), &data);
    // A bundle with a preview secret, whose routes use the embedded key-value store and SQL.
    let blog = crate::support::example_dist("blog-api");
    succeeded(&admin(&server, &data, &["deploy", blog.to_str().unwrap()]));
    let http = client();
    assert_eq!(
        subscribe(&server, "modes@example.com").await,
        StatusCode::CREATED
    );
    let counted = http.post(server.url("/api/counter")).send().await.unwrap();
    assert_eq!(counted.status(), StatusCode::OK);

    let mut seen = (0, 0, Vec::new());
    let mut pending = vec![data.clone()];
    while let Some(dir) = pending.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is mode {mode:o}", dir.display());
        seen.0 += 1;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is mode {mode:o}", path.display());
            seen.1 += 1;
            seen.2
                .push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    // The walk saw what matters: the secret, the token and the databases.
    for name in ["preview-secret", "admin-token"] {
        assert!(
            seen.2.iter().any(|n| n == name),
            "{name} not in {:?}",
            seen.2
        );
    }
    assert!(
        seen.2.iter().any(|n| n.ends_with(".sqlite")),
        "{:?}",
        seen.2
    );
}

/// The host's resident memory now and at its peak, in bytes.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib << 10
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `len` bytes no compressor can shrink.
fn incompressible(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Upload files in the deployments folder, with their modes and sizes.
fn uploads_in(data: &Path) -> Vec<(u32, u64)> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::read_dir(data.join("deployments"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".staging-upload-")
        })
        .map(|e| {
            let meta = e.metadata().unwrap();
            (meta.permissions().mode() & 0o777, meta.len())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_uploads_go_to_disk_and_compression_bombs_are_refused_early() {
    const BIG: usize = 200 << 20;
    let data = fresh_data_dir();
    let server = start_admin(Some(&version_dist("v1")), &data);
    let big = version_dist("big");
    std::fs::create_dir_all(big.join("public")).unwrap();
    std::fs::write(big.join("public/big.bin"), incompressible(BIG)).unwrap();
    let bundle = bytes::Bytes::from(routelet::deploy::bundle::pack(&big).unwrap());
    assert!(bundle.len() > BIG, "{}", bundle.len());

    // While an upload arrives it is a private file that grows, not a buffer.
    let mut stream = start_upload(&server, &data, bundle.len());
    stream.write_all(&bundle[..BIG / 2]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while uploads_in(&data)
        .first()
        .is_none_or(|(_, len)| *len < (BIG / 4) as u64)
    {
        assert!(Instant::now() < deadline, "{:?}", uploads_in(&data));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(uploads_in(&data)[0].0, 0o600);
    drop(stream);
    assert!(
        server.wait_for_log("the upload was cut off"),
        "{}",
        server.log()
    );

    // Three parallel 200 MB deploys: the host's peak memory barely moves, and after them its
    // memory is where it was.
    let (before, peak_before) = memory_of(server.pid());
    let deploys = (0..3).map(|_| {
        let bundle = bundle.clone();
        let url = format!("{}/deployments", server.admin_url());
        let token = token_of(&data);
        tokio::spawn(async move {
            let response = client()
                .post(url)
                .bearer_auth(token)
                .body(bundle)
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        })
    });
    for deploy in futures::future::join_all(deploys).await {
        let (status, body) = deploy.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (after, peak_after) = memory_of(server.pid());
    let mib = |bytes: u64| bytes >> 20;
    assert!(
        peak_after < peak_before.max(before) + (100 << 20),
        "peak resident memory grew from {} MiB to {} MiB for 3 x {} MiB uploads",
        mib(peak_before),
        mib(peak_after),
        mib(bundle.len() as u64)
    );
    assert!(
        after < before + (50 << 20),
        "resident memory went from {} MiB to {} MiB",
        mib(before),
        mib(after)
    );
    assert!(uploads_in(&data).is_empty(), "{:?}", uploads_in(&data));

    // The 200 MB public file is served whole, a piece at a time.
    let mut response = client().get(server.url("/big.bin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(BIG as u64));
    let mut received = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, BIG);
    let (_, peak_served) = memory_of(server.pid());
    assert!(
        peak_served < peak_after + (50 << 20),
        "serving the file took the peak from {} MiB to {} MiB",
        mib(peak_after),
        mib(peak_served)
    );

    // A gigabyte of zeros after the tar's end, and a second gzip member: refused at once.
    let small = routelet::deploy::bundle::pack(&version_dist("bomb")).unwrap();
    let mut tar = Vec::new();
    std::io::copy(&mut flate2::read::GzDecoder::new(&small[..]), &mut tar).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    std::io::copy(
        &mut std::io::Read::take(std::io::repeat(0), 1 << 30),
        &mut gz,
    )
    .unwrap();
    let bomb = gz.finish().unwrap();
    let mut two_members = small.clone();
    two_members.extend_from_slice(&small);
    for (bundle, needle) in [
        (bomb, "data after the end of its tar archive"),
        (two_members, "data after the end of its gzip stream"),
    ] {
        let started = Instant::now();
        let (status, body) = post_bundle(&server, &data, bundle).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains(needle), "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(deployment_count(&server, &data).await, 4);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// The JS example deployed through the admin API: its one component travels once in the bundle
/// (every route's file is a hard link to it), is stored once, and serves every route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_app_is_deployed_with_its_component_sent_and_stored_once() {
    use std::os::unix::fs::MetadataExt;
    let data = fresh_data_dir();
    let server = start_admin(Some(&version_dist("v1")), &data);
    let dist = crate::support::example_dist("blog-api-js");
    let component = std::fs::metadata(dist.join("pages/api/index.wasm")).unwrap();
    let deployed = admin(&server, &data, &["deploy", dist.to_str().unwrap()]);
    succeeded(&deployed);
    let printed = String::from_utf8_lossy(&deployed.stderr);
    let bytes: u64 = printed
        .split(" into a ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bundle size in {printed}"));
    assert!(
        bytes < component.len(),
        "a {bytes} byte bundle for one {} byte component",
        component.len()
    );

    let http = client();
    let user = json_of(http.get(server.url("/api/users/7?tab=a"))).await;
    assert_eq!(user["query"], serde_json::json!({ "id": "7", "tab": "a" }));
    assert_eq!(
        subscribe(&server, "deployed@example.com").await,
        StatusCode::CREATED
    );

    // In the stored deployment, the 16 routes' files are one file.
    let deployments = data.join("deployments");
    let stored = std::fs::read_dir(&deployments)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|dir| dir.join("pages/api/users/[id].wasm").is_file())
        .expect("the deployment is stored");
    let file = std::fs::metadata(stored.join("pages/api/users/[id].wasm")).unwrap();
    assert_eq!(file.nlink(), 16);
    assert_eq!(
        file.ino(),
        std::fs::metadata(stored.join("pages/api/subscribe.wasm"))
            .unwrap()
            .ino()
    );
}
