//! `routelet build APP`: route files in, a dist folder out, and precise errors for bad apps.

use crate::support::{app_with, build_app, example_dist, scratch_dir};
use serde_json::Value;

const GOOD_ROUTE: &str = r#"
use routelet_sdk::{Request, Response};
pub fn handler(_req: Request) -> Response { Response::text("ok") }
"#;

#[test]
fn the_dist_has_a_component_per_route_the_public_files_and_a_manifest() {
    let dist = example_dist("blog-api");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["build_id"].as_str().unwrap().len(), 16);
    let routes = manifest["routes"].as_array().unwrap();
    let patterns: Vec<&str> = routes
        .iter()
        .map(|r| r["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(
        patterns,
        [
            "/api",
            "/api/counter",
            "/api/docs/[[...path]]",
            "/api/echo",
            "/api/kv/[key]",
            "/api/notes",
            "/api/notes/batch",
            "/api/notes/[id]",
            "/api/panic",
            "/api/posts/[...slug]",
            "/api/stream",
            "/api/subscribe",
            "/api/subscribers",
            "/api/upload",
            "/api/users/me",
            "/api/users/[id]",
        ],
        "the manifest lists routes in match order"
    );
    for route in routes {
        let file = dist.join(route["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(route["size"], bytes.len());
        let hash = sha256(&bytes);
        assert_eq!(route["sha256"], hash, "{}", file.display());
        assert!(
            bytes.starts_with(b"\0asm\x0d\0\x01\0"),
            "{} is a component",
            file.display()
        );
    }
    assert_eq!(routes[15]["file"], "pages/api/users/[id].wasm");
    for migration in ["0001_subscribers.sql", "0002_notes.sql"] {
        assert!(
            dist.join("migrations").join(migration).is_file(),
            "migrations/{migration} is copied into the dist"
        );
    }
    assert_eq!(routes[15]["source"], "pages/api/users/[id].rs");
    assert!(dist.join("public/index.html").is_file());
}

/// SHA-256 through the system's `sha256sum`, so the test does not trust the host's own code.
fn sha256(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_route_that_does_not_compile_fails_the_build_naming_it_and_keeps_the_old_dist() {
    let app = app_with("build-broken", &[("pages/api/ok.rs", GOOD_ROUTE)]);
    let out = app.join("dist");
    let (ok, _, stderr) = build_app(&app, &out);
    assert!(ok, "{stderr}");
    let before = std::fs::read(out.join("manifest.json")).unwrap();

    std::fs::write(
        app.join("pages/api/[id].rs"),
        "use routelet_sdk::{Request, Response};\npub fn handler(_req: Request) -> Response { undefined_thing() }\n",
    )
    .unwrap();
    let (ok, _, stderr) = build_app(&app, &out);
    assert!(!ok, "a broken route must fail the build");
    assert!(
        stderr.contains("route file pages/api/[id].rs does not compile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("undefined_thing"),
        "the compiler's message is shown: {stderr}"
    );
    assert!(
        stderr.contains("build failed: 1 route file(s) do not compile: pages/api/[id].rs"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        before,
        "the old dist is untouched"
    );
}

#[test]
fn a_route_file_without_a_handler_is_named() {
    let app = app_with(
        "build-no-handler",
        &[("pages/api/nothing.rs", "pub fn other() {}\n")],
    );
    let (ok, _, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok);
    assert!(
        stderr.contains("route file pages/api/nothing.rs: no `pub fn handler` found"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_layout_fails_before_anything_compiles() {
    let app = app_with(
        "build-bad-layout",
        &[
            ("pages/api/[[...a]].rs", GOOD_ROUTE),
            ("pages/api/index.rs", GOOD_ROUTE),
        ],
    );
    let (ok, _, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok);
    assert!(
        stderr.contains(
            "You cannot define a route with the same specificity as a optional catch-all route (\"/api\" and \"/api[[...a]]\")."
        ),
        "{stderr}"
    );
    assert!(
        !app.join(".routelet/build").exists(),
        "nothing was generated or compiled"
    );
}

#[test]
fn build_refuses_to_replace_a_folder_that_is_not_a_dist() {
    let app = app_with(
        "build-out-guard",
        &[
            ("pages/api/ok.rs", GOOD_ROUTE),
            ("precious/notes.txt", "keep me"),
        ],
    );
    let (ok, _, stderr) = build_app(&app, &app.join("precious"));
    assert!(!ok);
    assert!(stderr.contains("refusing to replace"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(app.join("precious/notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn an_app_without_pages_is_told_where_routes_go() {
    let app = app_with("build-no-pages", &[("README.md", "empty")]);
    let (ok, _, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok);
    assert!(stderr.contains("has no pages/ folder"), "{stderr}");
}

#[tokio::test]
async fn a_route_config_overrides_the_body_limit() {
    let app = app_with(
        "build-config",
        &[(
            "pages/api/small.rs",
            r#"
use routelet_sdk::{Config, Request, Response};
pub const CONFIG: Config = Config::new().body_limit("10b");
pub fn handler(req: Request) -> Response { Response::text(req.text().unwrap_or_default().to_owned()) }
"#,
        )],
    );
    let out = app.join("dist");
    let (ok, _, stderr) = build_app(&app, &out);
    assert!(ok, "{stderr}");
    let server = crate::support::Server::start(&out);
    let client = crate::support::client();
    let response = client
        .post(server.url("/api/small"))
        .body("0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "0123456789");
    let response = client
        .post(server.url("/api/small"))
        .body("0123456789a")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.text().await.unwrap(), "Body exceeded 10b limit");
}

#[test]
fn a_missing_wasm_target_is_installed_through_rustup_saying_so() {
    let app = app_with("build-target", &[("pages/api/ok.rs", GOOD_ROUTE)]);
    // A toolchain whose sysroot lacks wasm32-wasip2, and a rustup that records what it is asked
    // and then provides the target (by linking the real one in).
    let fake = scratch_dir("build-target-toolchain");
    let real_sysroot = String::from_utf8(
        std::process::Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let sysroot = fake.join("sysroot");
    std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
    let script = |name: &str, body: String| {
        let path = fake.join("bin").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .unwrap();
    };
    script(
        "rustc",
        format!(
            "#!/bin/sh\nif [ \"$1 $2\" = \"--print sysroot\" ]; then echo {}; exit 0; fi\nexec {}/bin/rustc \"$@\"\n",
            sysroot.display(),
            real_sysroot
        ),
    );
    script(
        "rustup",
        format!(
            "#!/bin/sh\necho \"$@\" > {log}\nln -s {real}/lib/rustlib/wasm32-wasip2 {fake}/lib/rustlib/wasm32-wasip2\n",
            log = fake.join("rustup.log").display(),
            real = real_sysroot,
            fake = sysroot.display()
        ),
    );
    let path = format!(
        "{}:{}",
        fake.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let output = std::process::Command::new(crate::support::routelet())
        .args([
            "build",
            app.to_str().unwrap(),
            "--out",
            app.join("dist").to_str().unwrap(),
        ])
        .env("ROUTELET_TARGET_DIR", crate::support::wasm_target_dir())
        .env("RUSTC", fake.join("bin/rustc"))
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "the wasm32-wasip2 target is missing; installing it with `rustup target add wasm32-wasip2`"
        ),
        "{stderr}"
    );
    let asked = std::fs::read_to_string(fake.join("rustup.log")).unwrap();
    assert_eq!(asked.trim(), "target add wasm32-wasip2");
    assert!(output.status.success(), "{stderr}");
}

const METHOD_ROUTE: &str = "use routelet_sdk::{Request, Response};\n\n\
    pub fn get(_req: Request) -> Response {\n    Response::text(\"got\")\n}\n\n\
    pub fn post(req: Request) -> routelet_sdk::Result<Response> {\n    \
    Ok(Response::text(format!(\"posted {}\", req.method())).status(201))\n}\n";

const METHOD_AND_HANDLER_ROUTE: &str = "use routelet_sdk::{Request, Response};\n\n\
    pub fn delete(_req: Request) -> Response {\n    Response::new().status(204)\n}\n\n\
    pub fn handler(req: Request) -> Response {\n    \
    Response::text(format!(\"handler for {}\", req.method()))\n}\n";

const TYPED_PARAMS_ROUTE: &str = "use routelet_sdk::{Request, Response, Result};\n\n\
    #[derive(serde::Deserialize)]\nstruct Item {\n    id: u32,\n}\n\n\
    pub fn get(req: Request) -> Result<Response> {\n    \
    let item: Item = req.params_as()?;\n    \
    Ok(Response::text(format!(\"item {}\", item.id)))\n}\n\n\
    pub fn patch(_req: Request) -> Result<Response> {\n    \
    Err(routelet_sdk::Error::json(409, &serde_json::json!({ \"error\": \"taken\" })))\n}\n";

/// A route file may export one function per method (`pub fn get`, `post`, ...) instead of, or
/// beside, `handler`; a method it has no function for is a 405 naming the others in `Allow`
/// (OPTIONS a 204), HEAD is answered by `get`; params can be read into a type.
#[tokio::test]
async fn per_method_functions_answer_their_methods_and_others_get_405() {
    let dist = crate::support::built_app(
        "per-method-routes",
        &[
            ("pages/api/items.rs", METHOD_ROUTE),
            ("pages/api/mixed.rs", METHOD_AND_HANDLER_ROUTE),
            ("pages/api/items/[id].rs", TYPED_PARAMS_ROUTE),
        ],
    );
    let server = crate::support::Server::start(&dist);
    let http = crate::support::client();
    let send = |method: &str, path: &str| {
        http.request(method.parse().unwrap(), server.url(path))
            .send()
    };
    let got = send("GET", "/api/items").await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "got");
    let posted = send("POST", "/api/items").await.unwrap();
    assert_eq!(posted.status(), 201);
    assert_eq!(posted.text().await.unwrap(), "posted POST");
    let head = send("HEAD", "/api/items").await.unwrap();
    assert_eq!(head.status(), 200);
    let refused = send("PUT", "/api/items").await.unwrap();
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["allow"], "GET, HEAD, OPTIONS, POST");
    let options = send("OPTIONS", "/api/items").await.unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS, POST");

    let deleted = send("DELETE", "/api/mixed").await.unwrap();
    assert_eq!(deleted.status(), 204);
    let other = send("PATCH", "/api/mixed").await.unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.text().await.unwrap(), "handler for PATCH");

    // Typed params: `req.params_as::<T>()`, a mismatch a 400 that says why.
    let item = send("GET", "/api/items/7").await.unwrap();
    assert_eq!(item.text().await.unwrap(), "item 7");
    let bad = send("GET", "/api/items/seven").await.unwrap();
    assert_eq!(bad.status(), 400);
    let said = bad.text().await.unwrap();
    assert!(said.starts_with("Invalid params"), "{said}");

    // `Error::json`: a JSON error body without `Ok(..)`.
    let taken = send("PATCH", "/api/items/7").await.unwrap();
    assert_eq!(taken.status(), 409);
    assert_eq!(
        taken.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(taken.text().await.unwrap(), r#"{"error":"taken"}"#);
}
