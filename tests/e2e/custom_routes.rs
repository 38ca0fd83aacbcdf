//! `[[redirects]]` and `[[headers]]` in `routelet.toml`, over real HTTP, as Next.js applies the
//! same entries of `next.config.js`:
//! https://nextjs.org/docs/pages/api-reference/config/next-config-js/redirects and
//! https://nextjs.org/docs/pages/api-reference/config/next-config-js/headers (sources in
//! path-to-regexp syntax, `has`/`missing`, parameters in destinations, the request's query kept;
//! headers before redirects, the last entry winning a key; Next.js's own trailing-slash
//! redirect before the app's).

use reqwest::StatusCode;

use crate::support::{Server, client, dist_with_config, example_dist, header_text as header};

const CONFIG: &str = r#"
[[headers]]
source = "/:path*"
headers = [
  { key = "x-frame-options", value = "DENY" },
  { key = "x-team", value = "none" },
  { key = "content-type", value = "text/x-from-config" },
]

[[headers]]
source = "/api/:name"
has = [{ type = "cookie", key = "team", value = "(?<team>red|blue)" }]
headers = [{ key = "x-team", value = ":team team, route :name" }]

[[redirects]]
source = "/old/:slug"
destination = "/api/:slug"
permanent = true

[[redirects]]
source = "/docs/:path*"
destination = "https://docs.example.com/:path*?from=routelet"
statusCode = 301

[[redirects]]
source = "/beta"
destination = "/api/hello?variant=:variant"
permanent = false
has = [{ type = "cookie", key = "variant", value = "(?<variant>a|b)" }]
missing = [{ type = "header", key = "x-no-beta" }]
"#;

#[tokio::test]
async fn redirects_and_headers_from_routelet_toml_apply_as_in_nextjs() {
    let dist = dist_with_config(&example_dist("hello"), "custom-routes", CONFIG);
    let server = Server::start(&dist);
    let http = client();
    let get = |path: &str| http.get(server.url(path));

    // A permanent redirect with a parameter; the query comes along; 308 also sends Refresh.
    let moved = get("/old/hello?x=1&y=a%20b").send().await.unwrap();
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&moved, "location"), "/api/hello?x=1&y=a+b");
    assert_eq!(header(&moved, "refresh"), "0;url=/api/hello?x=1&y=a+b");
    assert_eq!(
        header(&moved, "x-frame-options"),
        "DENY",
        "headers reach redirects too"
    );
    assert_eq!(moved.text().await.unwrap(), "/api/hello?x=1&y=a+b");

    // Next.js's trailing-slash redirect comes before the app's own.
    let slash = get("/old/hello/").send().await.unwrap();
    assert_eq!(slash.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&slash, "location"), "/old/hello");

    // A repeating parameter into an absolute destination with its own query, and statusCode.
    let docs = get("/docs/guide/start").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        header(&docs, "location"),
        "https://docs.example.com/guide/start?from=routelet"
    );
    assert_eq!(header(&docs, "refresh"), "");

    // `has` on a cookie, with a named group put into the destination; `missing` on a header.
    let no_cookie = get("/beta").send().await.unwrap();
    assert_eq!(no_cookie.status(), StatusCode::NOT_FOUND);
    let other_value = get("/beta")
        .header("cookie", "variant=c")
        .send()
        .await
        .unwrap();
    assert_eq!(other_value.status(), StatusCode::NOT_FOUND);
    let beta = get("/beta")
        .header("cookie", "theme=dark; variant=b")
        .send()
        .await
        .unwrap();
    assert_eq!(beta.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header(&beta, "location"), "/api/hello?variant=b");
    let opted_out = get("/beta")
        .header("cookie", "variant=b")
        .header("x-no-beta", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(opted_out.status(), StatusCode::NOT_FOUND);

    // Headers: every matching entry, the later one winning `x-team`; what the route set itself
    // (its content type) wins over the config, as it does in Next.js.
    let plain = get("/api/hello").send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(header(&plain, "x-frame-options"), "DENY");
    assert_eq!(header(&plain, "x-team"), "none");
    assert_eq!(
        header(&plain, "content-type"),
        "application/json; charset=utf-8"
    );
    let red = get("/api/hello")
        .header("cookie", "team=red")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&red, "x-team"), "red team, route hello");
    let missing = get("/nothing/here").send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&missing, "x-frame-options"), "DENY");
    assert_eq!(
        header(&missing, "content-type"),
        "text/plain; charset=utf-8"
    );
}

/// What `routelet serve` printed when the hello example with `config` did not start.
fn refused_start(name: &str, config: &str) -> String {
    let bad = dist_with_config(&example_dist("hello"), name, config);
    Server::builder().dist(&bad).try_start().err().unwrap()
}

#[test]
fn a_bad_entry_stops_the_start_naming_it() {
    let refused = refused_start(
        "custom-routes-bad",
        "[[redirects]]\nsource = \"/a\"\ndestination = \"/b\"\npermanent = true\n\n\
         [[redirects]]\nsource = \"/c/:id\"\ndestination = \"/d/:slug\"\npermanent = true\n",
    );
    assert!(
        refused.contains(
            "routelet.toml [[redirects]] entry 2 (source \"/c/:id\"): `destination` has \
             segments not in `source` or `has` (slug)"
        ),
        "{refused}"
    );
}

/// Rewrites in Next.js's three phases:
/// https://nextjs.org/docs/pages/api-reference/config/next-config-js/rewrites (beforeFiles before
/// public files and pages, afterFiles after them but before dynamic routes, fallback before the
/// 404; params the destination does not use passed in the query).
const REWRITES: &str = r#"
[[rewrites.beforeFiles]]
source = "/"
destination = "/api"
has = [{ type = "query", key = "api" }]

[[rewrites.afterFiles]]
source = "/api/users/:id"
destination = "/api/echo?variant=b"
has = [{ type = "header", key = "x-ab", value = "b" }]

[[rewrites.afterFiles]]
source = "/api/echo"
destination = "/api/users/never"

[[rewrites.fallback]]
source = "/people/:id"
destination = "/api/users/:id"
"#;

#[tokio::test]
async fn rewrites_serve_another_path_in_nextjs_order() {
    let dist = dist_with_config(&example_dist("blog-api"), "custom-rewrites", REWRITES);
    let server = Server::start(&dist);
    let http = client();
    let json = |path: &str, headers: &[(&str, &str)]| {
        let mut request = http.get(server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        crate::support::json_of(request)
    };

    // beforeFiles beats the public index.html; without its condition the file is served.
    assert_eq!(json("/?api=1", &[]).await["name"], "blog-api");
    let index = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(header(&index, "content-type"), "text/html; charset=utf-8");

    // afterFiles beats a dynamic route (an A/B split on a header), and passes the unused
    // parameter and the request's query in the query of the route it rewrote to.
    let b = json("/api/users/42?tab=posts", &[("x-ab", "b")]).await;
    assert_eq!(b["query"]["variant"], "b", "{b}");
    assert_eq!(b["query"]["id"], "42", "{b}");
    assert_eq!(b["query"]["tab"], "posts", "{b}");
    let a = json("/api/users/42", &[("x-ab", "a")]).await;
    assert_eq!(a["id"], "42", "{a}");
    // ... but never a route without parameters.
    assert_eq!(json("/api/echo", &[]).await["method"], "GET");

    // fallback: a path nothing answers is served as another one, the client's URL unchanged.
    let person = http
        .get(server.url("/people/7?tab=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(person.status(), StatusCode::OK);
    let person: serde_json::Value = person.json().await.unwrap();
    assert_eq!(person["id"], "7", "{person}");
    assert_eq!(person["query"]["tab"], "x", "{person}");
    let nothing = http.get(server.url("/nobody/7")).send().await.unwrap();
    assert_eq!(nothing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_rewrite_to_another_origin_is_refused_saying_why() {
    let refused = refused_start(
        "custom-rewrites-bad",
        "[[rewrites]]\nsource = \"/x\"\ndestination = \"https://example.com/x\"\n",
    );
    assert!(
        refused.contains(
            "routelet.toml [[rewrites]] entry 1 (source \"/x\"): a rewrite to another origin \
             is not supported"
        ),
        "{refused}"
    );
}

/// `basePath` mounts the whole app under a prefix and prefixes every entry's source and internal
/// destination unless the entry says `basePath = false`:
/// https://nextjs.org/docs/pages/api-reference/config/next-config-js/basePath
#[tokio::test]
async fn base_path_mounts_the_app_and_its_entries_under_a_prefix() {
    let config = r#"
basePath = "/shop"

[[redirects]]
source = "/old"
destination = "/api"
permanent = false

[[redirects]]
source = "/legacy"
destination = "https://example.com/"
permanent = true
basePath = false
"#;
    let dist = dist_with_config(&example_dist("blog-api"), "custom-base-path", config);
    let server = Server::start(&dist);
    let http = client();
    let status = |path: &str| {
        let request = http.get(server.url(path));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        crate::support::json_of(http.get(server.url("/shop/api"))).await["name"],
        "blog-api"
    );
    assert_eq!(status("/shop/api/users/7").await, StatusCode::OK);
    assert_eq!(status("/shop/subscribed.html").await, StatusCode::OK);
    let index = http.get(server.url("/shop")).send().await.unwrap();
    assert_eq!(header(&index, "content-type"), "text/html; charset=utf-8");
    for outside in ["/api", "/", "/shopping/api", "/subscribed.html"] {
        assert_eq!(status(outside).await, StatusCode::NOT_FOUND, "{outside}");
    }
    let slash = http.get(server.url("/shop/")).send().await.unwrap();
    assert_eq!(slash.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&slash, "location"), "/shop");
    let old = http.get(server.url("/shop/old")).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header(&old, "location"), "/shop/api");
    assert_eq!(status("/old").await, StatusCode::NOT_FOUND);
    let legacy = http.get(server.url("/legacy")).send().await.unwrap();
    assert_eq!(legacy.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&legacy, "location"), "https://example.com/");
}

/// `trailingSlash: true` turns the 308 around: paths end in `/`, except file names:
/// https://nextjs.org/docs/pages/api-reference/config/next-config-js/trailingSlash
#[tokio::test]
async fn trailing_slash_true_redirects_to_the_slash_except_for_files() {
    let dist = dist_with_config(
        &example_dist("blog-api"),
        "custom-trailing-slash",
        "trailingSlash = true\n",
    );
    let server = Server::start(&dist);
    let http = client();
    let moved = http
        .get(server.url("/api/users/7?tab=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&moved, "location"), "/api/users/7/?tab=x");
    let user = crate::support::json_of(http.get(server.url("/api/users/7/?tab=x"))).await;
    assert_eq!(user["id"], "7", "{user}");
    let file = http
        .get(server.url("/subscribed.html/"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&file, "location"), "/subscribed.html");
    let file = http
        .get(server.url("/subscribed.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let root = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::OK);
}

#[test]
fn a_base_path_that_does_not_start_with_a_slash_is_refused() {
    let refused = refused_start("custom-base-path-bad", "basePath = \"shop\"\n");
    assert!(
        refused.contains("routelet.toml: Specified basePath has to start with a /, found \"shop\""),
        "{refused}"
    );
}
