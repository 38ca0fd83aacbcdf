//! `routelet dev`, end to end: a real app is built and served, a changed route is rebuilt and
//! swapped in while the host runs, and a compile error leaves the last good version serving.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Server, app_with, client};

fn route(text: &str) -> String {
    format!(
        "use routelet_sdk::{{Request, Response}};\n\n\
         pub fn handler(_req: Request) -> Response {{\n    Response::text(\"{text}\")\n}}\n"
    )
}

/// Polls `path` until it answers `expected`, for at most two minutes (a rebuild compiles).
async fn wait_for(server: &Server, path: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(response) = client().get(server.url(path)).send().await {
            last = format!("{} {}", response.status(), response.text().await.unwrap());
            if last.ends_with(expected) && last.starts_with("200") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{path} never answered {expected:?}; last answer {last:?}\n{}\n{}",
        server.printed(),
        server.log()
    );
}

fn wait_for_printed(server: &Server, needle: &str, count: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if server.printed().matches(needle).count() >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn save(app: &Path, file: &str, text: &str) {
    let path = app.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_route_is_rebuilt_alone_and_a_broken_one_keeps_the_last_good_version() {
    let app = app_with(
        "dev-app",
        &[
            ("pages/api/a.rs", &route("A1")),
            ("pages/api/b.rs", &route("B1")),
        ],
    );
    let server = Server::builder()
        .command(&["dev", app.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .start();
    wait_for(&server, "/api/a", "A1").await;
    wait_for(&server, "/api/b", "B1").await;

    // One route changes: it alone is compiled again; the other comes from the compile cache.
    save(&app, "pages/api/a.rs", &route("A2"));
    wait_for(&server, "/api/a", "A2").await;
    assert!(
        wait_for_printed(&server, "rebuilt in", 1),
        "{}",
        server.printed()
    );
    let printed = server.printed();
    assert!(
        printed.contains("2 routes, 1 components compiled, 1 reused"),
        "{printed}"
    );

    // A compile error is shown, and the last good version keeps serving.
    save(&app, "pages/api/a.rs", "pub fn handler( {");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !server.log().contains("the last good version keeps serving") && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log();
    assert!(
        log.contains("the last good version keeps serving") && log.contains("pages/api/a.rs"),
        "the error names the file:\n{log}"
    );
    wait_for(&server, "/api/a", "A2").await;

    // Fixed, and a public file added: both served without a restart.
    save(&app, "pages/api/a.rs", &route("A3"));
    save(&app, "public/hello.txt", "hi");
    wait_for(&server, "/api/a", "A3").await;
    wait_for(&server, "/hello.txt", "hi").await;
    wait_for(&server, "/api/b", "B1").await;
}

/// A JS route and the code it imports from outside `pages/`, in a folder made while `routelet
/// dev` runs: a change to either is rebuilt and served, and a syntax error keeps the last good
/// version serving, naming file and line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_route_is_rebuilt_when_the_code_it_imports_changes() {
    let greeting =
        |text: &str| format!("export const greeting = (who: string) => `{text}, ${{who}}`;\n");
    let app = app_with(
        "dev-js-app",
        &[(
            "pages/api/hi.ts",
            "export default (req, res) => res.send(`Hello, ${req.query.who}`);\n",
        )],
    );
    let server = Server::builder()
        .command(&["dev", app.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .start();
    wait_for(&server, "/api/hi?who=Ada", "Hello, Ada").await;

    // lib/ appears after the start; the route starts importing from it.
    save(&app, "lib/greeting.ts", &greeting("Good evening"));
    save(
        &app,
        "pages/api/hi.ts",
        "import { greeting } from '../../lib/greeting';\n\
         export default (req, res) => res.send(greeting(String(req.query.who)));\n",
    );
    wait_for(&server, "/api/hi?who=Ada", "Good evening, Ada").await;
    // ...and is watched from then on.
    save(&app, "lib/greeting.ts", &greeting("Good night"));
    wait_for(&server, "/api/hi?who=Ada", "Good night, Ada").await;

    save(
        &app,
        "lib/greeting.ts",
        "export const greeting = (who: string) => {\n",
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !server.log().contains("the last good version keeps serving") && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log();
    assert!(
        log.contains("the last good version keeps serving") && log.contains("lib/greeting.ts:2:"),
        "the error names the file and line:\n{log}"
    );
    wait_for(&server, "/api/hi?who=Ada", "Good night, Ada").await;
}

const PREVIEW_ROUTE: &str = "use routelet_sdk::{Request, Response};\n\n\
    pub fn handler(_req: Request) -> Response {\n    \
    routelet_sdk::set_preview_data(&\"draft\", None).unwrap();\n    \
    Response::text(\"previewing\")\n}\n";

/// `next dev` sends the preview cookies `SameSite=Lax` without `Secure`, so Preview Mode works
/// over plain HTTP on a developer's machine (`setPreviewData` in
/// packages/next/src/server/api-utils/node/api-resolver.ts: `sameSite: isDev ? 'lax' : 'none'`,
/// `secure: !isDev`); `routelet serve` keeps `Secure; SameSite=None` (the static pages tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_sends_preview_cookies_that_work_over_plain_http() {
    let app = app_with("dev-preview", &[("pages/api/preview.rs", PREVIEW_ROUTE)]);
    let server = Server::builder()
        .command(&["dev", app.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .start();
    wait_for(&server, "/api/preview", "previewing").await;
    let response = client()
        .get(server.url("/api/preview"))
        .send()
        .await
        .unwrap();
    let lines: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in lines {
        assert!(line.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "{line}");
        assert!(!line.contains("Secure"), "{line}");
    }
}
