//! Static pages end to end: the build host's output and its sandbox, then serving with fallback,
//! stale-while-revalidate, on-demand revalidation and Preview Mode, over real HTTP.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Server, app_with, build_app, client, example_dist, repo_root, scratch_dir};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A private copy of the blog's dist, for tests that change its data.
pub(crate) fn blog_copy(name: &str) -> PathBuf {
    let dist = example_dist("blog");
    let copy = scratch_dir(name).join("dist");
    let status = std::process::Command::new("cp")
        .args(["-a", dist.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

fn build_id(dist: &Path) -> String {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap())
            .unwrap();
    manifest["build_id"].as_str().unwrap().to_owned()
}

#[test]
fn the_build_writes_html_and_props_for_every_path_and_prints_the_page_table() {
    let out = scratch_dir("blog-build").join("dist");
    let (ok, stdout, stderr) = build_app(&repo_root().join("examples/blog"), &out);
    assert!(ok, "{stdout}\n{stderr}");
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Page"))
        .collect();
    assert!(
        table[0].contains("Paths") && table[0].contains("Revalidate"),
        "{stdout}"
    );
    let row = |pattern: &str| {
        table
            .iter()
            .find(|l| l.starts_with(&format!("{pattern} ")))
            .unwrap_or_else(|| panic!("no row for {pattern} in\n{stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("/blog/[slug]")[1], "2");
    assert_eq!(row("/blog/[slug]")[4..], ["60", "s", "blocking"]);
    assert_eq!(row("/tags/[tag]")[1], "2");
    assert_eq!(row("/tags/[tag]").last(), Some(&"false"));
    assert_eq!(row("/")[4..6], ["1", "s"]);

    for file in [
        "static/index.html",
        "static/index.json",
        "static/blog/hello-world.html",
        "static/blog/second-post.html",
        "static/tags/news.html",
        "static/tags/wasm.json",
        "data/posts/hello-world.md",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert!(
        !out.join("static/blog/draft-post.html").exists(),
        "drafts are never prerendered"
    );
    let html = std::fs::read_to_string(out.join("static/blog/hello-world.html")).unwrap();
    assert!(html.contains("<strong>Markdown</strong>"), "{html}");
    let props: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("static/blog/hello-world.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(props["post"]["title"], "Hello, world");

    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let slug = manifest["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern"] == "/blog/[slug]")
        .unwrap();
    assert_eq!(slug["fallback"], "blocking");
    assert_eq!(slug["paths"][0]["revalidate"], 60);
    let secret = out.join("preview-secret");
    assert!(secret.is_file());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        secret.metadata().unwrap().permissions().mode() & 0o777,
        0o600
    );
}

const FETCHING_PAGE: &str = r#"
use routelet_sdk::page::{Fallback, Paths, Props, StaticContext};
use routelet_sdk::{Error, Result};
use wasi::http::types::{Fields, OutgoingRequest, Scheme};

pub fn get_static_paths() -> Result<Paths> {
    Ok(Paths::new(Fallback::False).path("/posts/1"))
}

pub fn get_static_props(_ctx: StaticContext) -> Result<Props<serde_json::Value>> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).unwrap();
    request.set_authority(Some("127.0.0.1:3000")).unwrap();
    request.set_path_with_query(Some("/api/posts")).unwrap();
    match wasi::http::outgoing_handler::handle(request, None) {
        Ok(_) => Ok(Props::new(serde_json::json!({}))),
        Err(code) => Err(Error::internal(format!("fetch failed: {code:?}"))),
    }
}

pub fn render(_props: serde_json::Value) -> String { String::new() }
"#;

#[test]
fn a_page_that_fetches_fails_the_build_naming_the_page_the_path_and_why() {
    let app = app_with(
        "page-fetches",
        &[
            ("Cargo.toml", "[dependencies]\nwasi = \"0.14\"\n"),
            ("pages/posts/[id].rs", FETCHING_PAGE),
        ],
    );
    let (ok, stdout, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok, "the build must fail:\n{stdout}");
    assert!(
        stderr.contains("Error occurred prerendering page \"/posts/[id]\"")
            && stderr.contains("for path /posts/1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("http://127.0.0.1:3000/api/posts")
            && stderr.contains("network is not available while building static pages")
            && stderr.contains("read the data directly"),
        "{stderr}"
    );
    assert!(
        !app.join("dist").exists(),
        "nothing is written by a failed build"
    );
}

const REDIRECTING_PAGE: &str = r#"
use routelet_sdk::page::{Paths, Props, StaticContext, Fallback};

pub fn get_static_paths() -> routelet_sdk::Result<Paths> {
    Ok(Paths::new(Fallback::Blocking).params([("id", "1")]))
}

pub fn get_static_props(ctx: StaticContext) -> routelet_sdk::Result<Props<serde_json::Value>> {
    Ok(Props::redirect(format!("/elsewhere/{}", ctx.param("id").unwrap_or_default())))
}

pub fn render(_props: serde_json::Value) -> String {
    String::new()
}
"#;

/// Next.js refuses a `redirect` from getStaticProps at build time (`render.tsx`,
/// https://nextjs.org/docs/messages/gsp-redirect-during-prerender); at request time (a fallback
/// path) it stays a redirect.
#[test]
fn a_redirect_while_prerendering_fails_the_build_with_nextjs_message() {
    let app = app_with(
        "page-redirects",
        &[
            ("Cargo.toml", "[dependencies]\n"),
            ("pages/posts/[id].rs", REDIRECTING_PAGE),
        ],
    );
    let (ok, stdout, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok, "the build must fail:\n{stdout}");
    assert!(
        stderr.contains(
            "`redirect` can not be returned from getStaticProps during prerendering (/posts/1)\n\
             See more info here: https://nextjs.org/docs/messages/gsp-redirect-during-prerender"
        ),
        "{stderr}"
    );
    assert!(
        !app.join("dist").exists(),
        "nothing is written by a failed build"
    );
}

const SOCKET_PAGE: &str = r#"
pub fn render() -> String {
    match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "connected".to_owned(),
        Err(error) => format!("not connected: {error}"),
    }
}
"#;

#[test]
fn a_page_is_never_granted_outbound_http() {
    let grant = "\n[routes.\"/blog/[slug]\"]\nallowed_outbound_hosts = [\"https://example.com\"]\n";
    let expected = "[routes.\"/blog/[slug]\"]: pages/blog/[slug].rs is a page, and pages never";

    // Refused by the build...
    let app = scratch_dir("page-outbound-app");
    crate::support::copy_dir(&repo_root().join("examples/blog"), &app);
    let _ = std::fs::remove_dir_all(app.join(".routelet"));
    let config = std::fs::read_to_string(app.join("routelet.toml")).unwrap() + grant;
    std::fs::write(app.join("routelet.toml"), &config).unwrap();
    let (ok, stdout, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok, "the build must fail:\n{stdout}");
    assert!(stderr.contains(expected), "{stderr}");

    // ...and by the host, for a dist whose routelet.toml was edited after the build.
    let dist = blog_copy("page-outbound-dist");
    std::fs::write(dist.join("routelet.toml"), &config).unwrap();
    let message = match Server::builder().dist(&dist).try_start() {
        Ok(_) => panic!("the host started with outbound HTTP for a page"),
        Err(message) => message,
    };
    let expected = "[routes.\"/blog/[slug]\"]: pages/blog/[slug].wasm is a page, and pages never";
    assert!(message.contains(expected), "{message}");
}

#[test]
fn a_page_cannot_open_a_socket() {
    let app = app_with("page-socket", &[("pages/about.rs", SOCKET_PAGE)]);
    let dist = app.join("dist");
    let (ok, stdout, stderr) = build_app(&app, &dist);
    assert!(ok, "{stdout}\n{stderr}");
    let html = std::fs::read_to_string(dist.join("static/about.html")).unwrap();
    assert!(html.starts_with("not connected: "), "{html}");
}

const WRITING_PAGE: &str = r#"
use routelet_sdk::page::{Props, StaticContext};
use routelet_sdk::{Error, Result};

pub fn get_static_props(_ctx: StaticContext) -> Result<Props<String>> {
    let seen = std::fs::read_to_string("data/seed.txt").map_err(Error::internal)?;
    std::fs::write("data/written.txt", "x")
        .map_err(|e| Error::internal(format!("writing data/written.txt: {e}")))?;
    Ok(Props::new(seen))
}

pub fn render(seed: String) -> String { seed }
"#;

#[test]
fn a_page_that_writes_to_data_fails_the_build_and_writes_nothing() {
    let app = app_with(
        "page-writes",
        &[("pages/write.rs", WRITING_PAGE), ("data/seed.txt", "seed")],
    );
    let (ok, stdout, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok, "the build must fail:\n{stdout}");
    assert!(
        stderr.contains("Error occurred prerendering page \"/write\"")
            && stderr.contains("writing data/written.txt"),
        "{stderr}"
    );
    assert!(!app.join("data/written.txt").exists());
}

#[test]
fn a_page_reads_data_but_nothing_else_of_the_file_system() {
    let page = r#"
pub fn render() -> String {
    let data = std::fs::read_to_string("data/seed.txt").unwrap_or_else(|e| format!("error {e}"));
    let other = std::fs::read_to_string("/etc/hostname").map(|_| "visible").unwrap_or("hidden");
    format!("{data}|{other}")
}
"#;
    let app = app_with(
        "page-reads",
        &[("pages/read.rs", page), ("data/seed.txt", "seed")],
    );
    let dist = app.join("dist");
    let (ok, stdout, stderr) = build_app(&app, &dist);
    assert!(ok, "{stdout}\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(dist.join("static/read.html")).unwrap(),
        "seed|hidden"
    );
}

#[tokio::test]
async fn prerendered_pages_are_served_with_their_props_and_nextjs_statuses() {
    let dist = example_dist("blog");
    let server = Server::start(&dist);
    let http = client();

    let page = http
        .get(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        header(page.headers(), "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(
        header(page.headers(), "cache-control"),
        "s-maxage=60, stale-while-revalidate"
    );
    assert_eq!(header(page.headers(), "x-routelet-cache"), "HIT");
    let etag = header(page.headers(), "etag").to_owned();
    assert!(page.text().await.unwrap().contains("<h1>Hello, world</h1>"));

    let again = http
        .get(server.url("/blog/hello-world"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let head = http
        .head(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.text().await.unwrap(), "");

    let data = http
        .get(server.url(&format!(
            "/_routelet/data/{}/blog/hello-world.json",
            build_id(&dist)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), StatusCode::OK);
    let props: Value = data.json().await.unwrap();
    assert_eq!(props["post"]["slug"], "hello-world");
    let index = http
        .get(server.url(&format!("/_routelet/data/{}/index.json", build_id(&dist))))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    let stale_id = http
        .get(server.url("/_routelet/data/0000000000000000/blog/hello-world.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale_id.status(), StatusCode::NOT_FOUND);

    // fallback: false → an unknown tag is a 404.
    let tag = http.get(server.url("/tags/nope")).send().await.unwrap();
    assert_eq!(tag.status(), StatusCode::NOT_FOUND);
    let tag = http.get(server.url("/tags/wasm")).send().await.unwrap();
    assert_eq!(tag.status(), StatusCode::OK);

    // notFound → 404; a draft without Preview Mode is not found.
    for path in ["/blog/no-such-post", "/blog/draft-post"] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // redirect { permanent } → 308.
    let moved = http
        .get(server.url("/blog/old-hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(moved.headers(), "location"), "/blog/hello-world");

    // Pages answer GET and HEAD only.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = http
            .request(method.clone(), server.url("/blog/hello-world"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(header(response.headers(), "allow"), "GET, HEAD");
    }
}

#[tokio::test]
async fn fallback_blocking_renders_a_new_path_once_then_serves_it_from_the_cache() {
    let dist = blog_copy("blog-fallback");
    std::fs::write(
        dist.join("data/posts/late-post.md"),
        "---\ntitle: Written after the build\ndate: 2026-11-22\n---\nHello later.\n",
    )
    .unwrap();
    let server = Server::start(&dist);
    let http = client();

    let mut requests = Vec::new();
    for _ in 0..10 {
        let request = http.get(server.url("/blog/late-post")).send();
        requests.push(request);
    }
    let responses = futures::future::join_all(requests).await;
    let mut states = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        states.push(header(response.headers(), "x-routelet-cache").to_owned());
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Written after the build")
        );
    }
    assert!(
        states.iter().all(|s| s == "MISS" || s == "HIT"),
        "{states:?}"
    );
    let again = http
        .get(server.url("/blog/late-post"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(again.headers(), "x-routelet-cache"), "HIT");
    let renders = server.log().matches("generating /blog/late-post").count();
    assert_eq!(
        renders,
        1,
        "one render for ten concurrent requests:\n{}",
        server.log()
    );
}

/// Polls `path` until `done` holds, for at most 20 seconds.
async fn poll_until(
    server: &Server,
    path: &str,
    done: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = http.get(server.url(path)).send().await.unwrap();
        let state = header(response.headers(), "x-routelet-cache").to_owned();
        let body = response.text().await.unwrap();
        if done(&state, &body) {
            return (state, body);
        }
        assert!(
            Instant::now() < deadline,
            "gave up on {path}: last {state}\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stale_page_is_served_once_while_it_regenerates_and_a_failed_regeneration_keeps_it() {
    let dist = blog_copy("blog-swr");
    let server = Server::start(&dist);
    let http = client();

    // The index has `revalidate: 1`: wait until it is stale, then change the data.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    std::fs::write(
        dist.join("data/posts/fresh-post.md"),
        "---\ntitle: A fresh post\ndate: 2026-11-23\n---\nNew.\n",
    )
    .unwrap();
    let stale = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(header(stale.headers(), "x-routelet-cache"), "STALE");
    assert_eq!(
        header(stale.headers(), "cache-control"),
        "s-maxage=1, stale-while-revalidate"
    );
    assert!(!stale.text().await.unwrap().contains("A fresh post"));
    let (state, _) = poll_until(&server, "/", |_, body| body.contains("A fresh post")).await;
    assert!(state == "HIT" || state == "STALE", "{state}");

    // Regeneration fails once the posts are gone: the last good page stays.
    std::fs::remove_dir_all(dist.join("data/posts")).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let kept = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(kept.status(), StatusCode::OK);
    assert!(kept.text().await.unwrap().contains("A fresh post"));
    assert!(
        server.wait_for_log("regenerating / failed; the previous page is kept"),
        "{}",
        server.log()
    );
    let still = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    assert!(still.text().await.unwrap().contains("A fresh post"));
}

#[tokio::test]
async fn an_api_route_revalidates_a_path_on_demand() {
    let dist = blog_copy("blog-on-demand");
    let server = Server::start(&dist);
    let http = client();
    let post = dist.join("data/posts/hello-world.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(
        &post,
        text.replace("title: Hello, world", "title: Hello, edited"),
    )
    .unwrap();

    let before = http
        .get(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert!(before.text().await.unwrap().contains("Hello, world"));

    let revalidate = |path: &str| {
        http.post(server.url(&format!(
            "/api/revalidate?secret=revalidate-token&path={path}"
        )))
        .send()
    };
    let ok = revalidate("/blog/hello-world").await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap()["revalidated"], true);
    let after = http
        .get(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(after.headers(), "x-routelet-cache"), "HIT");
    assert!(after.text().await.unwrap().contains("Hello, edited"));

    let bad = revalidate("blog/hello-world").await.unwrap();
    assert_eq!(bad.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "Invalid urlPath provided to revalidate(), must be a path e.g. /blog/post-1, received \
         blog/hello-world"
    );
    let unknown = revalidate("/tags/nope").await.unwrap();
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"],
        "Failed to revalidate /tags/nope: Invalid response 404"
    );
}

#[tokio::test]
async fn regenerated_pages_outlive_a_restart_of_the_host() {
    let dist = blog_copy("blog-kept");
    let data = crate::support::fresh_data_dir();
    let post = dist.join("data/posts/hello-world.md");
    let text = std::fs::read_to_string(&post).unwrap();
    let mut server = Server::builder().dist(&dist).data_dir(&data).start();
    std::fs::write(&post, text.replace("Hello, world", "Hello, edited")).unwrap();
    let revalidated = client()
        .post(server.url("/api/revalidate?secret=revalidate-token&path=/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::OK);
    server.terminate();

    // With the post as the build had it, only the kept page can say "edited".
    std::fs::write(&post, &text).unwrap();
    let server = Server::builder().dist(&dist).data_dir(&data).start();
    let page = client()
        .get(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(page.headers(), "x-routelet-cache"), "HIT");
    assert!(page.text().await.unwrap().contains("Hello, edited"));
    assert!(
        server
            .log()
            .contains("serving regenerated pages kept from before: 1"),
        "{}",
        server.log()
    );
    use std::os::unix::fs::PermissionsExt;
    let kept = std::fs::read_dir(
        data.join("pages")
            .join(format!("build-{}", build_id(&dist))),
    )
    .unwrap()
    .map(|entry| entry.unwrap().path())
    .collect::<Vec<_>>();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let mode = std::fs::metadata(&kept[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// `pages/404` and `pages/500` are static pages served with their status in place of the
/// built-in error bodies, for paths nothing answers and for pages (not API routes or files):
/// https://nextjs.org/docs/pages/building-your-application/routing/custom-error
#[tokio::test]
async fn the_apps_404_and_500_pages_replace_the_hosts_error_bodies() {
    let dist = blog_copy("blog-error-pages");
    // A post whose file cannot be read: generating it fails.
    std::fs::create_dir_all(dist.join("data/posts/unreadable.md")).unwrap();
    let server = Server::start(&dist);
    let http = client();
    for path in [
        "/nothing/here",
        "/blog/no-such-post",
        "/tags/nope",
        "/api/nope",
        "/missing.css",
        "/404",
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            header(response.headers(), "cache-control"),
            "private, no-cache, no-store, max-age=0, must-revalidate",
            "{path}"
        );
        assert_eq!(header(response.headers(), "etag"), "", "{path}");
        assert_eq!(
            header(response.headers(), "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains("<h1>Nothing here</h1>"), "{path}: {body}");
    }
    let head = http.head(server.url("/nothing")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert!(head.bytes().await.unwrap().is_empty());
    let post = http.post(server.url("/nothing")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::NOT_FOUND);
    assert!(post.text().await.unwrap().contains("Nothing here"));

    let failed = http
        .get(server.url("/blog/unreadable"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = failed.text().await.unwrap();
    assert!(body.contains("<h1>Something went wrong</h1>"), "{body}");
    assert!(
        !body.contains("unreadable"),
        "the reason stays in the log: {body}"
    );
    assert!(
        server.wait_for_log("for path /blog/unreadable"),
        "{}",
        server.log()
    );
    let direct = http.get(server.url("/500")).send().await.unwrap();
    assert_eq!(direct.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        direct
            .text()
            .await
            .unwrap()
            .contains("Something went wrong")
    );

    // Page data keeps its JSON 404.
    let data = http
        .get(server.url(&format!(
            "/_routelet/data/{}/blog/no-such-post.json",
            build_id(&dist)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), StatusCode::NOT_FOUND);
    assert_eq!(data.text().await.unwrap(), r#"{"notFound":true}"#);
}

/// The cookies a response sets, as `name=value` pairs, and their full `Set-Cookie` lines.
pub(crate) fn set_cookies(headers: &HeaderMap) -> (Vec<String>, Vec<String>) {
    let lines: Vec<String> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let pairs = lines
        .iter()
        .map(|l| l.split(';').next().unwrap().to_owned())
        .collect();
    (pairs, lines)
}

#[tokio::test]
async fn the_preview_flow_enters_sees_drafts_uncached_and_exits() {
    let dist = example_dist("blog");
    let server = Server::start(&dist);
    let http = client();

    let refused = http
        .get(server.url("/api/preview?secret=wrong&slug=draft-post"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());

    let enter = http
        .get(server.url("/api/preview?secret=preview-token&slug=draft-post"))
        .send()
        .await
        .unwrap();
    assert_eq!(enter.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header(enter.headers(), "location"), "/blog/draft-post");
    let (jar, lines) = set_cookies(enter.headers());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("__prerender_bypass="), "{lines:?}");
    assert!(lines[1].starts_with("__next_preview_data="), "{lines:?}");
    for line in &lines {
        assert!(
            line.ends_with("; Path=/; HttpOnly; Secure; SameSite=None"),
            "{line}"
        );
    }
    assert!(
        !lines[1].contains("draft-post"),
        "the data is encrypted: {}",
        lines[1]
    );
    let cookie = jar.join("; ");

    let draft = http
        .get(server.url("/blog/draft-post"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), StatusCode::OK);
    assert_eq!(
        header(draft.headers(), "cache-control"),
        "private, no-cache, no-store, max-age=0, must-revalidate"
    );
    assert_eq!(header(draft.headers(), "x-routelet-cache"), "");
    let body = draft.text().await.unwrap();
    assert!(
        body.contains("Work in progress") && body.contains("Preview Mode"),
        "{body}"
    );

    // A prerendered page is rendered again in Preview Mode, and the drafts are listed.
    let index = http
        .get(server.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(index.headers(), "cache-control"),
        "private, no-cache, no-store, max-age=0, must-revalidate"
    );
    assert!(index.text().await.unwrap().contains("(draft)"));

    // Outside a `fallback: false` list, too.
    let tag = http
        .get(server.url("/tags/unlisted"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(tag.status(), StatusCode::OK);

    // Nothing of that was cached for anyone else.
    let plain = http
        .get(server.url("/blog/draft-post"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::NOT_FOUND);
    let plain_index = http.get(server.url("/")).send().await.unwrap();
    assert!(!plain_index.text().await.unwrap().contains("(draft)"));

    let exit = http
        .get(server.url("/api/exit-preview"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(exit.status(), StatusCode::TEMPORARY_REDIRECT);
    let (cleared, lines) = set_cookies(exit.headers());
    assert_eq!(cleared, ["__prerender_bypass=", "__next_preview_data="]);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"))
    );

    // With the cookies gone, the static page again.
    let back = http
        .get(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(back.headers(), "x-routelet-cache"), "HIT");
    let gone = http
        .get(server.url("/blog/draft-post"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tampered_or_half_preview_cookies_are_ignored_and_cleared() {
    let dist = example_dist("blog");
    let server = Server::start(&dist);
    let http = client();
    let enter = http
        .get(server.url("/api/preview?secret=preview-token&slug=draft-post"))
        .send()
        .await
        .unwrap();
    let (jar, _) = set_cookies(enter.headers());
    let mut tampered = jar.clone();
    let mut data = tampered[1].clone().into_bytes();
    let middle = data.len() / 2 + 10;
    data[middle] = if data[middle] == b'A' { b'B' } else { b'A' };
    tampered[1] = String::from_utf8(data).unwrap();

    for cookie in [tampered.join("; "), jar[0].clone(), jar[1].clone()] {
        let response = http
            .get(server.url("/blog/draft-post"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{cookie}");
        let (cleared, _) = set_cookies(response.headers());
        assert_eq!(
            cleared,
            ["__prerender_bypass=", "__next_preview_data="],
            "{cookie}"
        );
        let page = http
            .get(server.url("/blog/hello-world"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(header(page.headers(), "x-routelet-cache"), "HIT");
    }
}

const NOTES_MIGRATION: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n\
                               INSERT INTO notes (body) VALUES ('first');\n";

const NOTES_PAGE: &str = r#"
use routelet_sdk::page::{Props, StaticContext};
use routelet_sdk::sql::Database;
use routelet_sdk::{Error, Result, params};

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Count { count: i64 }

pub fn get_static_props(_ctx: StaticContext) -> Result<Props<Count>> {
    let db = Database::open_default().map_err(Error::internal)?;
    let count = db
        .query_opt::<Count>("SELECT count(*) AS count FROM notes", params![])
        .map_err(Error::internal)?
        .map_or(0, |c| c.count);
    let hits = routelet_sdk::kv::Store::open_default()
        .and_then(|store| store.get("hits"))
        .map_err(Error::internal)?;
    let _ = hits;
    Ok(Props::new(Count { count }).revalidate(1))
}

pub fn render(count: Count) -> String { format!("{} notes", count.count) }
"#;

const ADD_NOTE: &str = r#"
use routelet_sdk::sql::Database;
use routelet_sdk::{Error, Request, Response, Result, params};

pub fn handler(req: Request) -> Result {
    let db = Database::open_default().map_err(Error::internal)?;
    db.execute("INSERT INTO notes (body) VALUES ($1)", params![req.text().unwrap_or("x")])
        .map_err(Error::internal)?;
    Ok(Response::text("added").status(201))
}
"#;

#[tokio::test]
async fn pages_read_the_databases_at_build_and_at_request_time() {
    let app = app_with(
        "page-data",
        &[
            ("migrations/0001_notes.sql", NOTES_MIGRATION),
            ("pages/notes.rs", NOTES_PAGE),
            ("pages/api/add.rs", ADD_NOTE),
        ],
    );
    let dist = app.join("dist");
    let data = app.join("data-dir");
    let (ok, stdout, stderr) = crate::support::build_app_with_data(&app, &dist, &data);
    assert!(
        ok,
        "{stdout}
{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dist.join("static/notes.html")).unwrap(),
        "1 notes"
    );

    let server = Server::builder().dist(&dist).data_dir(&data).start();
    let http = client();
    let added = http
        .post(server.url("/api/add"))
        .body("second")
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    poll_until(&server, "/notes", |_, body| body == "2 notes").await;
}

const WRITING_DATA_PAGE: &str = r#"
use routelet_sdk::page::{Props, StaticContext};
use routelet_sdk::sql::Database;
use routelet_sdk::{Error, Result, params};

pub fn get_static_props(_ctx: StaticContext) -> Result<Props<u64>> {
    let db = Database::open_default().map_err(Error::internal)?;
    let written = db
        .execute("INSERT INTO notes (body) VALUES ('from a page')", params![])
        .map_err(|e| Error::internal(format!("insert: {e}")))?;
    Ok(Props::new(written))
}

pub fn render(n: u64) -> String { n.to_string() }
"#;

#[test]
fn a_page_that_writes_to_a_database_fails_the_build() {
    let app = app_with(
        "page-data-write",
        &[
            ("migrations/0001_notes.sql", NOTES_MIGRATION),
            ("pages/scribble.rs", WRITING_DATA_PAGE),
        ],
    );
    let data = app.join("data-dir");
    let (ok, _, stderr) = crate::support::build_app_with_data(&app, &app.join("dist"), &data);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("Error occurred prerendering page \"/scribble\"")
            && stderr.contains("insert: ")
            && stderr.contains("read-only"),
        "{stderr}"
    );
}
