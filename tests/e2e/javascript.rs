//! JavaScript and TypeScript API routes with Next.js's `handler(req, res)`, built by `routelet
//! build` (esbuild and componentize-js from the JS SDK) and served beside a Rust route.

use reqwest::StatusCode;

use crate::static_pages::{blog_copy, set_cookies};
use crate::support::{Server, app_with, build_app, built_app, client, dist_with_config, json_of};

/// The handler at the top of Next.js's API routes page, unchanged.
const SUBSCRIBE: &str = r#"
export default async function handler(req, res) {
  const email = req.body.email;
  // then save email to your database, etc...
  res.status(201).json({ ok: true, email });
}
"#;

const ECHO: &str = r#"
import type { NextApiRequest, NextApiResponse } from 'next';

type Echo = { query: NextApiRequest['query']; cookies: Partial<Record<string, string>> };

export default function handler(req: NextApiRequest, res: NextApiResponse<Echo>) {
  res.setHeader('x-method', req.method ?? '');
  res.setHeader('x-url', req.url ?? '');
  res.setHeader('x-body-type', typeof req.body);
  res.json({ query: req.query, cookies: req.cookies });
}
"#;

const ANSWERS: &str = r#"
export default async function handler(req, res) {
  switch (req.query.what) {
    case 'redirect': return res.redirect('/api/echo/a');
    case 'redirect-308': return res.redirect(308, '/api/echo/b');
    case 'empty': return res.status(204).send('ignored');
    case 'throw': throw new Error('the database is on fire');
    case 'silent': return;
    case 'stream':
      res.setHeader('content-type', 'text/plain');
      for (let i = 0; i < 3; i++) {
        res.write(`chunk ${i}\n`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return res.end('done\n');
    case 'size': return res.send(String(req.body.length));
  }
  res.status(404).send('no such answer');
}
"#;

/// The rest of `res`, by `?what=`; and a body limit raised with `sizeLimit`.
const RES: &str = r#"
export const config = { api: { bodyParser: { sizeLimit: '4mb' } } };
export default function handler(req, res) {
  switch (req.query.what) {
    case 'object': return res.send({ sent: 'as json' });
    case 'bytes': return res.send(Buffer.from([0, 1, 2, 255]));
    case 'etag': return res.send('cache me');
    case 'head': {
      res.setHeader('X-Drop', 'gone');
      res.setHeader('X-Keep', ['a', 'b']);
      const kept = res.getHeader('x-keep');
      res.removeHeader('x-drop');
      res.writeHead(418, { 'Content-Type': 'text/plain', 'X-Seen': String(kept) });
      return res.end("I'm a teapot");
    }
    case 'size': return res.send(String(req.body.length));
    case 'body': return res.json({ body: req.body });
    case 'big': return res.send('z'.repeat(5 * 1024 * 1024));
    case 'bad-status': return res.status(1000).send('no such status');
    case 'bad-header': return res.setHeader('x-bad', 'a\nb').send('no such header');
  }
}
"#;

/// Answers from a timer after the handler returned, as callback-style code does.
const LATER: &str = r#"
export const config = { api: { externalResolver: true } };
export default function handler(req, res) {
  setTimeout(() => res.status(202).send('answered later'), 20);
}
"#;

/// The web platform globals npm packages expect, and enough of Node's `Buffer`.
const GLOBALS: &str = r#"
export default async function handler(req, res) {
  const url = new URL('https://example.com/a/b?x=1&y=two#frag');
  const search = new URLSearchParams({ q: 'a b', n: '1' });
  const bytes = new TextEncoder().encode('héllo');
  const headers = new Headers({ 'X-One': '1' });
  headers.append('x-one', '2');
  const request = new Request('https://example.com/post', { method: 'POST', body: 'ping' });
  const response = new Response(JSON.stringify({ pong: true }), { status: 201 });
  const random = new Uint8Array(16);
  crypto.getRandomValues(random);
  res.json({
    url: [url.pathname, url.searchParams.get('y'), url.hash],
    search: search.toString(),
    utf8: [bytes.length, new TextDecoder().decode(bytes)],
    headers: headers.get('x-one'),
    request: [request.method, await request.text()],
    response: [response.status, await response.json()],
    randomBytes: random.some((b) => b !== 0),
    uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
    buffer: [
      Buffer.from('héllo').toString('base64'),
      Buffer.from('aGk=', 'base64').toString(),
      Buffer.from([0xde, 0xad]).toString('hex'),
      Buffer.from('ff00', 'hex').length,
      Buffer.concat([Buffer.from('a'), Buffer.from('b')]).toString('utf8'),
    ],
  });
}
"#;

const HELLO_RS: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::text("hello from Rust")
}
"#;

fn dist() -> std::path::PathBuf {
    built_app(
        "js-routes",
        &[
            ("pages/api/subscribe.js", SUBSCRIBE),
            ("pages/api/echo/[...slug].ts", ECHO),
            ("pages/api/answers.mjs", ANSWERS),
            ("pages/api/hello.rs", HELLO_RS),
            ("pages/api/later.js", LATER),
            ("pages/api/res.js", RES),
            ("pages/api/globals.js", GLOBALS),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_js_handlers_run_unchanged_beside_rust_routes() {
    let server = Server::start(&dist());
    let http = client();

    let subscribed = http
        .post(server.url("/api/subscribe"))
        .json(&serde_json::json!({ "email": "ada@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    assert_eq!(
        subscribed.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = subscribed.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "ok": true, "email": "ada@example.com" })
    );

    let hello = http.get(server.url("/api/hello")).send().await.unwrap();
    assert_eq!(hello.text().await.unwrap(), "hello from Rust");

    // Params over the query, repeated keys as arrays, cookies decoded, the raw URL.
    let echo = http
        .get(server.url("/api/echo/one/two?slug=forged&tag=a&tag=b"))
        .header("cookie", "theme=dark; name=J%C3%BCrgen")
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), StatusCode::OK);
    assert_eq!(echo.headers()["x-method"], "GET");
    assert_eq!(
        echo.headers()["x-url"],
        "/api/echo/one/two?slug=forged&tag=a&tag=b"
    );
    let body: serde_json::Value = echo.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "query": { "slug": ["one", "two"], "tag": ["a", "b"] },
            "cookies": { "theme": "dark", "name": "Jürgen" },
        })
    );

    // Bodies by content type.
    let form = http
        .post(server.url("/api/echo/x"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=1")
        .send()
        .await
        .unwrap();
    assert_eq!(form.headers()["x-body-type"], "object");
    let text = http
        .post(server.url("/api/echo/x"))
        .body("plain words")
        .send()
        .await
        .unwrap();
    assert_eq!(text.headers()["x-body-type"], "string");
    let invalid = http
        .post(server.url("/api/subscribe"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert_eq!(invalid.text().await.unwrap(), "Invalid JSON");

    // The default body limit: 1 MiB exactly is read, one byte more is Next.js's 413.
    for (size, status) in [
        (1_048_576, StatusCode::OK),
        (1_048_577, StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let response = http
            .post(server.url("/api/answers?what=size"))
            .header("content-type", "text/plain")
            .body("x".repeat(size))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{size} bytes");
        let body = response.text().await.unwrap();
        if status == StatusCode::OK {
            assert_eq!(body, size.to_string());
        } else {
            assert_eq!(body, "Body exceeded 1mb limit");
        }
    }

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (what, status, location) in [
        ("redirect", 307, "/api/echo/a"),
        ("redirect-308", 308, "/api/echo/b"),
    ] {
        let response = no_redirects
            .get(server.url(&format!("/api/answers?what={what}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["location"], location);
    }

    let empty = http
        .get(server.url("/api/answers?what=empty"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    assert!(empty.headers().get("content-type").is_none());
    assert_eq!(empty.bytes().await.unwrap().len(), 0);

    let streamed = http
        .get(server.url("/api/answers?what=stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::OK);
    assert_eq!(
        streamed.text().await.unwrap(),
        "chunk 0\nchunk 1\nchunk 2\ndone\n"
    );

    // A handler that throws, one that returns without answering, and answers with a status or
    // header HTTP cannot carry: 500s with a log line naming what went wrong, and the host serves
    // on.
    for (path, logged) in [
        ("/api/answers?what=throw", "the database is on fire"),
        (
            "/api/answers?what=silent",
            "API resolved without sending a response for /api/answers?what=silent",
        ),
        (
            "/api/res?what=bad-status",
            "the route answered with status 1000, which HTTP has not",
        ),
        (
            "/api/res?what=bad-header",
            "the route set an invalid response header \"x-bad\"",
        ),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        assert!(server.wait_for_log(logged), "{}", server.log());
    }
    // The stack names the source file and line of the throw, not the bundle's.
    assert!(
        server.log().contains("handler@pages/api/answers.mjs:7:"),
        "{}",
        server.log()
    );
    let globals = json_of(http.get(server.url("/api/globals"))).await;
    assert_eq!(
        globals,
        serde_json::json!({
            "url": ["/a/b", "two", "#frag"],
            "search": "q=a+b&n=1",
            "utf8": [6, "héllo"],
            "headers": "1, 2",
            "request": ["POST", "ping"],
            "response": [201, { "pong": true }],
            "randomBytes": true,
            "uuid": true,
            "buffer": ["aMOpbGxv", "hi", "dead", 2, "ab"],
        })
    );

    // res.send: an object as JSON, bytes as octet-stream, an ETag and 304 for a match.
    let object = http
        .get(server.url("/api/res?what=object"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(object.text().await.unwrap(), r#"{"sent":"as json"}"#);
    let bytes = http
        .get(server.url("/api/res?what=bytes"))
        .send()
        .await
        .unwrap();
    assert_eq!(bytes.headers()["content-type"], "application/octet-stream");
    assert_eq!(bytes.bytes().await.unwrap().to_vec(), vec![0u8, 1, 2, 255]);
    let tagged = http
        .get(server.url("/api/res?what=etag"))
        .send()
        .await
        .unwrap();
    let etag = tagged.headers()["etag"].to_str().unwrap().to_owned();
    let again = http
        .get(server.url("/api/res?what=etag"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.bytes().await.unwrap().len(), 0);
    // writeHead, getHeader, removeHeader, a header with several values.
    let head = http
        .get(server.url("/api/res?what=head"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 418);
    assert!(head.headers().get("x-drop").is_none());
    assert_eq!(head.headers()["x-seen"], "a,b");
    // A line per value, as Node sends them.
    let kept: Vec<_> = head.headers().get_all("x-keep").iter().collect();
    assert_eq!(kept, ["a", "b"]);
    assert_eq!(head.text().await.unwrap(), "I'm a teapot");
    // sizeLimit: '4mb' takes a 2 MiB body the default limit refuses.
    let big = http
        .post(server.url("/api/res?what=size"))
        .header("content-type", "text/plain")
        .body("y".repeat(2 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::OK);
    assert_eq!(big.text().await.unwrap(), (2 << 20).to_string());

    // An empty JSON body is `{}`; a response past 4mb is sent, with Next.js's warning.
    let empty = json_of(
        http.post(server.url("/api/res?what=body"))
            .header("content-type", "application/json"),
    )
    .await;
    assert_eq!(empty, serde_json::json!({ "body": {} }));
    let big = http
        .get(server.url("/api/res?what=big"))
        .send()
        .await
        .unwrap();
    assert_eq!(big.bytes().await.unwrap().len(), 5 << 20);
    assert!(
        server.wait_for_log(
            "API response for /api/res?what=big exceeds 4mb. API Routes are meant to respond \
             quickly. https://nextjs.org/docs/messages/api-routes-response-size-limit"
        ),
        "{}",
        server.log()
    );

    // The route that answered with a bad status serves on.
    let fine = http
        .get(server.url("/api/res?what=etag"))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK);

    // With `externalResolver`, a handler may answer after it returned.
    let later = http.get(server.url("/api/later")).send().await.unwrap();
    assert_eq!(later.status(), StatusCode::ACCEPTED);
    assert_eq!(later.text().await.unwrap(), "answered later");
    let after = http.get(server.url("/api/hello")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::OK);
}

/// Builds an app made of `files`, which must fail; returns what the build printed on stderr.
#[track_caller]
fn build_refused(name: &str, files: &[(&str, &str)]) -> String {
    let app = app_with(name, files);
    let (ok, _, stderr) = build_app(&app, &app.join("dist"));
    assert!(!ok, "{name} built");
    stderr
}

#[test]
fn a_route_written_twice_and_a_handler_that_is_not_one_fail_the_build_by_name() {
    let stderr = build_refused(
        "js-twice",
        &[
            ("pages/api/hello.rs", HELLO_RS),
            ("pages/api/hello.ts", SUBSCRIBE),
        ],
    );
    assert!(
        stderr.contains(
            "Duplicate page detected. pages/api/hello.rs and pages/api/hello.ts both resolve to /api/hello."
        ),
        "{stderr}"
    );

    let stderr = build_refused(
        "js-broken",
        &[
            ("pages/api/ok.js", SUBSCRIBE),
            (
                "pages/api/syntax.js",
                "export default function (req, res) {\n  res.json({ a: 1 ;\n}\n",
            ),
        ],
    );
    assert!(stderr.contains("pages/api/syntax.js:2:"), "{stderr}");

    let stderr = build_refused(
        "js-builtin",
        &[(
            "pages/api/files.js",
            "import { readFileSync } from 'fs';\nexport default (req, res) => res.send(readFileSync('/etc/passwd'));\n",
        )],
    );
    assert!(
        stderr.contains("pages/api/files.js imports the Node.js built-in module \"fs\""),
        "{stderr}"
    );

    // Top-level code runs when the build snapshots the engine; its errors name the source line,
    // not the bundle's.
    let stderr = build_refused(
        "js-top-level-throw",
        &[(
            "pages/api/boot.js",
            "// fails while loading\nconst settings = { depth: 1 };\nconst broken = settings.missing.value;\nexport default (req, res) => res.send(String(broken));\n",
        )],
    );
    assert!(
        stderr.contains("pages/api/boot.js:3:16 TypeError: can't access property \"value\""),
        "{stderr}"
    );

    let stderr = build_refused(
        "js-no-default",
        &[(
            "pages/api/named.js",
            "export function handler(req, res) { res.end(); }\n",
        )],
    );
    assert!(
        stderr.contains("pages/api/named.js: export a default function handler(req, res)"),
        "{stderr}"
    );
}

const SPIN: &str = r#"
export default function handler(req, res) {
  console.error('spinning');
  for (;;) {}
}
"#;

const HOG: &str = r#"
export default function handler(req, res) {
  const kept = [];
  for (;;) kept.push(new Uint8Array(1 << 20).fill(1));
}
"#;

/// Module state and globals, and what the last request left in them; `?spin=1` never answers.
const STATE: &str = r#"
let hits = 0;
export default function handler(req, res) {
  if (req.query.spin) for (;;) {}
  hits += 1;
  const before = globalThis.leftBehind ?? null;
  globalThis.leftBehind = req.query.mark ?? 'unmarked';
  res.json({ hits, before, env: { ...process.env } });
}
"#;

const ENV: &str = r#"
export default function handler(req, res) {
  res.json({ greeting: process.env.GREETING ?? null, names: Object.keys(process.env) });
}
"#;

/// Fetches `?url=` and answers what came back, or the error.
const FETCH: &str = r#"
export default async function handler(req, res) {
  try {
    const upstream = await fetch(req.query.url);
    res.json({ status: upstream.status, body: await upstream.text(), header: upstream.headers.get('x-upstream') });
  } catch (error) {
    res.json({ error: String(error) });
  }
}
"#;

const PING: &str = r#"
export default (req, res) => res.send('pong');
"#;

const SLOW: &str = r#"
export default async function handler(req, res) {
  await new Promise((resolve) => setTimeout(resolve, 400));
  res.send('slow');
}
"#;

/// An instance is kept for its own route's next request, so module state lasts as it does in a
/// Next.js server; it never reaches another route (though both live in one component), a
/// request after one that timed out, or another deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_instance_serves_only_its_own_routes_requests_in_its_own_deployment() {
    use crate::deploy::{admin, start_admin, succeeded};
    let built = built_app(
        "js-reuse",
        &[("pages/api/state.js", STATE), ("pages/api/other.js", STATE)],
    );
    let dist = dist_with_config(
        &built,
        "js-reuse-configured",
        "[routes.\"/api/state\".limits]\ntimeout = \"1s\"\n",
    );
    let data = crate::support::fresh_data_dir();
    let server = start_admin(Some(&dist), &data);
    let http = client();
    let state = |query: &str| json_of(http.get(server.url(&format!("/api/state?{query}"))));
    let seen = |hits: u64, before: Option<&str>| serde_json::json!({ "hits": hits, "before": before, "env": {} });

    assert_eq!(state("mark=first").await, seen(1, None));
    assert_eq!(state("mark=second").await, seen(2, Some("first")));
    // The other route's module and the globals its instances see are its own.
    let other = json_of(http.get(server.url("/api/other?mark=elsewhere"))).await;
    assert_eq!(other, seen(1, None));
    assert_eq!(state("mark=third").await, seen(3, Some("second")));

    // A request that runs out of time takes its instance with it.
    let timed_out = http
        .get(server.url("/api/state?spin=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(timed_out.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(state("mark=after").await, seen(1, None));

    // A new deployment of the same files starts from new instances.
    assert_eq!(state("mark=before-deploy").await, seen(2, Some("after")));
    succeeded(&admin(&server, &data, &["deploy", dist.to_str().unwrap()]));
    assert_eq!(state("mark=deployed").await, seen(1, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_routes_run_under_the_hosts_limits_and_grants() {
    let upstream = crate::outbound::Upstream::start().await;
    let built = built_app(
        "js-guarded",
        &[
            ("pages/api/spin.js", SPIN),
            ("pages/api/hog.js", HOG),
            ("pages/api/env.js", ENV),
            ("pages/api/fetch.js", FETCH),
            ("pages/api/closed.js", FETCH),
            ("pages/api/ping.js", PING),
            ("pages/api/slow.js", SLOW),
        ],
    );
    let config = format!(
        r#"
[routes."/api/spin".limits]
timeout = "1500ms"

[routes."/api/hog".limits]
memory = "48MiB"

[routes."/api/env".env]
GREETING = "hello from routelet.toml"

[routes."/api/fetch"]
allowed_outbound_hosts = ["http://127.0.0.1:{}"]
"#,
        upstream.addr.port()
    );
    let server = Server::start(&dist_with_config(&built, "js-guarded-configured", &config));
    let http = client();

    // A guest that loops is stopped at its timeout (504) while another route answers.
    let started = std::time::Instant::now();
    let spin = tokio::spawn(http.get(server.url("/api/spin")).send());
    assert!(server.wait_for_log("spinning"), "{}", server.log());
    for _ in 0..5 {
        let ping = http.get(server.url("/api/ping")).send().await.unwrap();
        assert_eq!(ping.text().await.unwrap(), "pong");
    }
    let spin = spin.await.unwrap().unwrap();
    assert_eq!(spin.status(), StatusCode::GATEWAY_TIMEOUT);
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(1400) && took < std::time::Duration::from_secs(10),
        "{took:?}"
    );

    // A guest that exhausts its memory is a 500, and the host serves on.
    let hog = http.get(server.url("/api/hog")).send().await.unwrap();
    assert_eq!(hog.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        server.wait_for_log("memory limit reached"),
        "{}",
        server.log()
    );
    let ping = http.get(server.url("/api/ping")).send().await.unwrap();
    assert_eq!(ping.text().await.unwrap(), "pong");

    // process.env holds the route's configured values only.
    let env = json_of(http.get(server.url("/api/env"))).await;
    assert_eq!(
        env,
        serde_json::json!({ "greeting": "hello from routelet.toml", "names": ["GREETING"] })
    );

    // fetch() reaches what the route's allow-list names, and nothing for a route without one.
    let url = format!("http://127.0.0.1:{}/hello", upstream.addr.port());
    let fetched = json_of(http.get(server.url("/api/fetch")).query(&[("url", &url)])).await;
    assert_eq!(
        fetched,
        serde_json::json!({ "status": 200, "body": "hello from upstream", "header": "yes" })
    );
    let refused = json_of(http.get(server.url("/api/closed")).query(&[("url", &url)])).await;
    assert!(refused["error"].is_string(), "{refused}");
    assert!(
        server.wait_for_log("denied: this route has no allowed_outbound_hosts"),
        "{}",
        server.log()
    );

    drop(server);

    // The pool holds --max-instances JS instances at once: each has more core instances and
    // tables than a Rust route's, and the pool's totals leave room for them.
    let small = Server::builder().dist(&built).pool(8, 8, 8).start();
    let started = std::time::Instant::now();
    let slow = (0..8).map(|_| {
        let request = http.get(small.url("/api/slow")).send();
        async move {
            let response = request.await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    });
    for (status, body) in futures::future::join_all(slow).await {
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "slow"),
            "{}",
            small.log()
        );
    }
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "the 8 ran one after another: {:?}",
        started.elapsed()
    );
}

/// Runs the TypeScript compiler (`scripts/test-services` installs it) on the project in `dir`:
/// whether it passed, and what it printed.
fn tsc(dir: &std::path::Path) -> (bool, String) {
    let tsc = crate::support::repo_root().join("tests/typescript/node_modules/typescript/bin/tsc");
    assert!(
        tsc.is_file(),
        "typescript is not installed: run scripts/test-services"
    );
    let output = std::process::Command::new("node")
        .arg(&tsc)
        .args(["-p", "."])
        .current_dir(dir)
        .output()
        .expect("running node");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), printed)
}

const TYPED: &str = r#"
import type { NextApiRequest, NextApiResponse, PageConfig } from 'next';
import { kv, sql, ConstraintViolation } from 'routelet';

export const config: PageConfig = { api: { bodyParser: { sizeLimit: '4mb' } } };

type Answer = { views: number; rows: number } | { error: string };

export default async function handler(req: NextApiRequest, res: NextApiResponse<Answer>) {
  const views = kv.increment(`views:${req.query.id}`);
  try {
    const rows = sql.execute('INSERT INTO t (id) VALUES ($1)', [String(req.query.id)]);
    res.status(201).json({ views, rows });
  } catch (error) {
    if (error instanceof ConstraintViolation) return res.status(409).json({ error: error.message });
    throw error;
  }
}
"#;

#[test]
fn typescript_routes_type_check_against_the_declarations_the_build_writes() {
    // The example, as committed, type-checks once a build has written its declarations.
    crate::support::example_dist("blog-api-js");
    let example = crate::support::repo_root().join("examples/blog-api-js");
    let (ok, printed) = tsc(&example);
    assert!(ok, "examples/blog-api-js does not type-check:\n{printed}");

    // An app with a mistake builds (types are stripped, not checked, as Next.js's build does)
    // and tsc finds the mistake against the shipped types.
    let tsconfig = std::fs::read_to_string(example.join("tsconfig.json")).unwrap();
    let app = app_with(
        "js-typed",
        &[
            ("pages/api/items/[id].ts", TYPED),
            (
                "pages/api/wrong.ts",
                "import type { NextApiRequest, NextApiResponse } from 'next';\n\
                 export default function handler(req: NextApiRequest, res: NextApiResponse) {\n\
                 \x20 res.status('201').json({ method: req.method.toLowerCase() });\n\
                 }\n",
            ),
            ("tsconfig.json", &tsconfig),
        ],
    );
    let (built, _, stderr) = build_app(&app, &app.join("dist"));
    assert!(built, "{stderr}");
    assert!(app.join("routelet-env.d.ts").is_file());
    let (ok, printed) = tsc(&app);
    assert!(!ok, "tsc passed a wrong route");
    assert!(
        printed.contains("pages/api/wrong.ts(3,14): error TS2345"),
        "{printed}"
    );
    assert!(
        printed.contains("pages/api/wrong.ts(3,36): error TS18048"),
        "{printed}"
    );
    assert!(!printed.contains("items/[id].ts"), "{printed}");
}

/// A CommonJS package with `main`, as `npm install` leaves it in node_modules.
const SLUG_PACKAGE: &str = r#"{ "name": "tiny-slug", "version": "1.0.0", "main": "lib/slug.js" }"#;
const SLUG_MAIN: &str = r#"
module.exports = function slug(text) {
  return String(text).toLowerCase().trim().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
};
"#;
/// An ES module package with conditional `exports`.
const WORDS_PACKAGE: &str = r#"{
  "name": "count-words", "version": "2.0.0", "type": "module",
  "exports": { ".": { "import": "./esm/index.js", "require": "./cjs/index.cjs" } }
}"#;
const WORDS_MAIN: &str =
    "export const countWords = (text) => text.split(/\\s+/).filter(Boolean).length;\n";
/// A package that needs a Node.js built-in the component does not have.
const NET_PACKAGE: &str = r#"{ "name": "raw-socket", "version": "0.1.0", "main": "index.js" }"#;
const NET_MAIN: &str =
    "const net = require('net');\nmodule.exports = (port) => net.connect(port);\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_dependencies_are_bundled_and_one_needing_a_missing_builtin_is_named() {
    let dist = built_app(
        "js-npm",
        &[
            (
                "package.json",
                r#"{ "dependencies": { "tiny-slug": "1.0.0", "count-words": "2.0.0" } }"#,
            ),
            ("node_modules/tiny-slug/package.json", SLUG_PACKAGE),
            ("node_modules/tiny-slug/lib/slug.js", SLUG_MAIN),
            ("node_modules/count-words/package.json", WORDS_PACKAGE),
            ("node_modules/count-words/esm/index.js", WORDS_MAIN),
            (
                "pages/api/slug.ts",
                "import slug from 'tiny-slug';\nimport { countWords } from 'count-words';\n\
                 export default (req, res) => res.json({ slug: slug(req.query.title), words: countWords(req.query.title) });\n",
            ),
        ],
    );
    let server = Server::start(&dist);
    let answer = json_of(client().get(server.url("/api/slug?title=Hello%20Wasm%20World!"))).await;
    assert_eq!(
        answer,
        serde_json::json!({ "slug": "hello-wasm-world", "words": 3 })
    );

    let stderr = build_refused(
        "js-npm-net",
        &[
            ("node_modules/raw-socket/package.json", NET_PACKAGE),
            ("node_modules/raw-socket/index.js", NET_MAIN),
            (
                "pages/api/connect.js",
                "import connect from 'raw-socket';\nexport default (req, res) => { connect(80); res.end(); };\n",
            ),
        ],
    );
    assert!(
        stderr.contains(
            "the npm package raw-socket (node_modules/raw-socket/index.js) imports the Node.js built-in module \"net\""
        ),
        "{stderr}"
    );
}

const PREVIEW: &str = r#"
export default function handler(req, res) {
  res.setPreviewData({ slug: req.query.slug }, { maxAge: 60 });
  res.redirect(`/blog/${req.query.slug}`);
}
"#;

const EXIT_PREVIEW: &str = r#"
export default function handler(req, res) {
  res.clearPreviewData();
  res.redirect('/');
}
"#;

const REVALIDATE: &str = r#"
export default async function handler(req, res) {
  try {
    await res.revalidate(req.query.path);
    res.json({ revalidated: true });
  } catch (error) {
    res.status(500).json({ revalidated: false, error: error.message });
  }
}
"#;

/// `res.setPreviewData`, `res.clearPreviewData` and `res.revalidate` from JS routes, against the
/// blog example's static pages: the JS routes' components are added to a copy of its dist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_routes_enter_and_leave_preview_mode_and_revalidate_pages() {
    let js = built_app(
        "js-preview",
        &[
            ("pages/api/js/preview.js", PREVIEW),
            ("pages/api/js/exit-preview.js", EXIT_PREVIEW),
            ("pages/api/js/revalidate.js", REVALIDATE),
        ],
    );
    let dist = blog_copy("js-preview-blog");
    std::fs::create_dir_all(dist.join("pages/api/js")).unwrap();
    for name in ["preview", "exit-preview", "revalidate"] {
        let file = format!("pages/api/js/{name}.wasm");
        std::fs::copy(js.join(&file), dist.join(&file)).unwrap();
    }
    let server = Server::start(&dist);
    let http = client();

    let enter = http
        .get(server.url("/api/js/preview?slug=draft-post"))
        .send()
        .await
        .unwrap();
    assert_eq!(enter.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(enter.headers()["location"], "/blog/draft-post");
    let (pairs, lines) = set_cookies(enter.headers());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("__prerender_bypass="), "{lines:?}");
    assert!(lines[1].starts_with("__next_preview_data="), "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("Max-Age=60")), "{lines:?}");
    let cookie = pairs.join("; ");
    let draft = http
        .get(server.url("/blog/draft-post"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), StatusCode::OK);
    assert!(draft.text().await.unwrap().contains("Work in progress"));

    let exit = http
        .get(server.url("/api/js/exit-preview"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(exit.status(), StatusCode::TEMPORARY_REDIRECT);
    let (_, cleared) = set_cookies(exit.headers());
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(
        cleared
            .iter()
            .all(|l| l.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT")),
        "{cleared:?}"
    );

    // On-demand revalidation: an edited post is regenerated now.
    let post = dist.join("data/posts/hello-world.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(
        &post,
        text.replace("title: Hello, world", "title: Hello, from JS"),
    )
    .unwrap();
    let revalidate = |path: &str| http.post(server.url(&format!("/api/js/revalidate?path={path}")));
    let ok = revalidate("/blog/hello-world").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let page = http
        .get(server.url("/blog/hello-world"))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("Hello, from JS"));
    let bad = json_of(revalidate("blog/hello-world")).await;
    assert_eq!(
        bad["error"],
        "Invalid urlPath provided to revalidate(), must be a path e.g. /blog/post-1, received \
         blog/hello-world"
    );
    let unknown = json_of(revalidate("/tags/nope")).await;
    assert_eq!(
        unknown["error"],
        "Failed to revalidate /tags/nope: Invalid response 404"
    );
}

/// The dist's component for `route`, as bytes.
fn component_of(dist: &std::path::Path, route: &str) -> Vec<u8> {
    std::fs::read(dist.join(route)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_js_sources_rebuild_nothing_and_the_hosts_compile_cache_hits() {
    let app = app_with("js-cached", &[("pages/api/hi.js", PING)]);
    let dist = app.join("dist");
    let (ok, _, first) = build_app(&app, &dist);
    assert!(ok, "{first}");
    let before = component_of(&dist, "pages/api/hi.wasm");

    // Saved again unchanged: the same component, byte for byte, from the build's cache (the
    // engine's snapshot is not byte-reproducible, so a rebuild would differ).
    std::fs::write(app.join("pages/api/hi.js"), PING).unwrap();
    let (ok, _, second) = build_app(&app, &dist);
    assert!(ok, "{second}");
    assert!(second.contains("cached=true"), "{second}");
    assert_eq!(component_of(&dist, "pages/api/hi.wasm"), before);

    // So the host's compile cache hits across the builds.
    let data = crate::support::fresh_data_dir();
    drop(Server::builder().dist(&dist).data_dir(&data).start());
    let server = Server::builder().dist(&dist).data_dir(&data).start();
    assert!(
        server.log().contains("1 reused, 0 compiled"),
        "{}",
        server.log()
    );

    // A changed source is built again (with text no earlier run built, as the build's cache is
    // shared by every app and run).
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::write(
        app.join("pages/api/hi.js"),
        PING.replace("pong", &format!("pong {nonce}")),
    )
    .unwrap();
    let (ok, _, third) = build_app(&app, &dist);
    assert!(ok && third.contains("cached=false"), "{third}");
    assert_ne!(component_of(&dist, "pages/api/hi.wasm"), before);
}
