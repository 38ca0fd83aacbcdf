//! The examples, built by `routelet build` into real components and served by a real host:
//! every kind of dynamic route, the Next.js body rules, guest crashes, HTTP/2 and concurrency.
//! Each case runs against `blog-api` (Rust routes) and `blog-api-js` (the same routes as
//! Next.js handlers in JavaScript and TypeScript); where the two differ, the case says why.

use std::sync::OnceLock;

use crate::support::{Server, client, example_dist};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Which of the two blog-api examples a case runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Example {
    Rust,
    Js,
}

impl Example {
    fn name(self) -> &'static str {
        match self {
            Example::Rust => "blog-api",
            Example::Js => "blog-api-js",
        }
    }

    fn server(self) -> &'static Server {
        static RUST: OnceLock<Server> = OnceLock::new();
        static JS: OnceLock<Server> = OnceLock::new();
        let cell = match self {
            Example::Rust => &RUST,
            Example::Js => &JS,
        };
        cell.get_or_init(|| Server::start(&example_dist(self.name())))
    }

    fn url(self, path: &str) -> String {
        self.server().url(path)
    }
}

/// Runs each named case once per example, as `rust::case` and `js::case`.
macro_rules! on_both_examples {
    ($($case:ident),* $(,)?) => {
        mod rust {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::Example::Rust).await
            })*
        }
        mod js {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::Example::Js).await
            })*
        }
    };
}

on_both_examples!(
    the_index_route_lists_the_api,
    a_dynamic_segment_is_a_param_laid_over_the_query,
    a_static_route_beats_a_dynamic_one,
    a_catch_all_takes_one_or_more_segments_each_decoded,
    an_optional_catch_all_takes_zero_or_more_and_is_absent_at_zero,
    redirects_404s_and_bad_escapes,
    bodies_are_parsed_by_content_type,
    invalid_json_is_400_invalid_json,
    the_body_limit_is_1mb_exactly,
    cookies_are_parsed,
    subscribe_takes_a_form_or_json_and_validates_the_email,
    the_form_page_is_served_from_public,
    a_guest_crash_is_a_500_and_the_next_request_is_fine,
    large_bodies_stream_both_ways,
    http2_carries_sdk_routes_and_bodies,
    fifty_concurrent_requests_to_sdk_routes,
    whole_answers_get_an_etag_and_a_matching_request_a_304,
);

/// Next.js's `res.send`/`res.json` tag what they send and answer a matching `If-None-Match`
/// with a 304 (`sendEtagResponse`, packages/next/src/server/send-payload.ts), whatever the
/// method; streamed answers are not tagged.
async fn whole_answers_get_an_etag_and_a_matching_request_a_304(app: Example) {
    let http = client();
    let first = http.get(app.url("/api/users/1")).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let other = http.get(app.url("/api/users/2")).send().await.unwrap();
    assert_ne!(other.headers()["etag"].to_str().unwrap(), etag);
    let again = http
        .get(app.url("/api/users/1"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let streamed = http.get(app.url("/api/stream?n=10")).send().await.unwrap();
    assert_eq!(streamed.status(), StatusCode::OK);
    assert!(
        streamed.headers().get("etag").is_none(),
        "{:?}",
        streamed.headers()
    );
    let posted = http
        .post(app.url("/api/echo"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    // Any method, as Next.js's `res.send`: the echo's own body has another tag.
    assert_eq!(posted.status(), StatusCode::OK);
    assert_ne!(posted.headers()["etag"].to_str().unwrap(), etag);
}

async fn get_json(app: Example, path: &str) -> (StatusCode, Value) {
    let response = client().get(app.url(path)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{} {path}: not JSON: {text}", app.name()));
    (status, value)
}

#[tokio::test]
async fn the_hello_example_answers_json() {
    let server = Server::start(&example_dist("hello"));
    let response = client().get(server.url("/api/hello")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "message": "Hello from Routelet", "method": "GET" })
    );
}

async fn the_index_route_lists_the_api(app: Example) {
    let (status, body) = get_json(app, "/api").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], app.name());
}

async fn a_dynamic_segment_is_a_param_laid_over_the_query(app: Example) {
    let (status, body) = get_json(app, "/api/users/42?id=x&tag=a&tag=b&q=%zz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], "42");
    assert_eq!(
        body["query"]["id"], "42",
        "params win over the query: {body}"
    );
    assert_eq!(
        body["query"]["tag"],
        json!(["a", "b"]),
        "repeated keys are lists: {body}"
    );
    assert_eq!(
        body["query"]["q"], "%zz",
        "a bad escape in the query is kept literally: {body}"
    );

    let (_, body) = get_json(app, "/api/users/caf%C3%A9%20au%20lait").await;
    assert_eq!(body["id"], "café au lait");
}

async fn a_static_route_beats_a_dynamic_one(app: Example) {
    let (status, body) = get_json(app, "/api/users/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "id": "me", "static": true }));
}

async fn a_catch_all_takes_one_or_more_segments_each_decoded(app: Example) {
    let (status, body) = get_json(app, "/api/posts/2024/a%2Fb").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["slug"], json!(["2024", "a/b"]));
    let response = client().get(app.url("/api/posts")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn an_optional_catch_all_takes_zero_or_more_and_is_absent_at_zero(app: Example) {
    let (status, body) = get_json(app, "/api/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["path"], Value::Null);
    let (_, body) = get_json(app, "/api/docs/guide/routing").await;
    assert_eq!(body["path"], json!(["guide", "routing"]));
}

async fn redirects_404s_and_bad_escapes(app: Example) {
    let response = client()
        .get(app.url("/api/users/42/?tab=posts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/api/users/42?tab=posts");
    let response = client().get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client()
        .get(app.url("/api/users/%E0%A4%A"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn echo(
    app: Example,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String) {
    let response = client()
        .post(app.url("/api/echo"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn bodies_are_parsed_by_content_type(app: Example) {
    let (status, text) = echo(app, "application/json", r#"{"a":1,"b":[true,null]}"#).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["bodyType"], "json");
    assert_eq!(body["body"], json!({ "a": 1, "b": [true, null] }));

    let (_, text) = echo(app, "application/ld+json", r#"{"x":"y"}"#).await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["body"],
        json!({ "x": "y" })
    );
    // Next.js parses only `application/json` and `application/ld+json` as JSON; the Rust SDK
    // takes any `+json` type too.
    let (_, text) = echo(app, "application/vnd.api+json", r#"{"x":"y"}"#).await;
    let body = &serde_json::from_str::<Value>(&text).unwrap()["body"];
    match app {
        Example::Rust => assert_eq!(body, &json!({ "x": "y" })),
        Example::Js => assert_eq!(body, &json!(r#"{"x":"y"}"#)),
    }

    let (_, text) = echo(
        app,
        "application/x-www-form-urlencoded",
        "name=Ada+L&tag=a&tag=b&e=%zz",
    )
    .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["bodyType"], "form");
    assert_eq!(
        body["body"],
        json!({ "name": "Ada L", "tag": ["a", "b"], "e": "%zz" })
    );

    let (_, text) = echo(app, "text/plain", "just text").await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (body["bodyType"].as_str(), body["body"].as_str()),
        (Some("text"), Some("just text"))
    );

    // Other types: the Rust SDK keeps the bytes; Next.js decodes them as UTF-8 text.
    let (_, text) = echo(app, "application/octet-stream", vec![b'a', 0, 0xc3, 0xa9]).await;
    let body: Value = serde_json::from_str(&text).unwrap();
    match app {
        Example::Rust => {
            assert_eq!(body["bodyType"], "bytes");
            assert_eq!(body["body"]["length"], 4);
        }
        Example::Js => {
            assert_eq!(body["bodyType"], "text");
            assert_eq!(body["body"], "a\0é");
        }
    }
}

async fn invalid_json_is_400_invalid_json(app: Example) {
    let (status, text) = echo(app, "application/json", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text, "Invalid JSON");
}

async fn the_body_limit_is_1mb_exactly(app: Example) {
    let (status, text) = echo(app, "text/plain", "a".repeat(1_048_576)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "1,048,576 bytes must be accepted: {text}"
    );
    let (status, text) = echo(app, "text/plain", "a".repeat(1_048_577)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(text, "Body exceeded 1mb limit");

    // Without Content-Length (chunked), the limit is enforced while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![b'a'; 64 * 1024])).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, text) = echo(app, "text/plain", stream).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
}

async fn cookies_are_parsed(app: Example) {
    let response = client()
        .get(app.url("/api/echo"))
        .header("cookie", "theme=dark; session=abc%20def")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["cookies"]["theme"], "dark");
    assert_eq!(body["cookies"]["session"], "abc def");
}

async fn subscribe_takes_a_form_or_json_and_validates_the_email(app: Example) {
    let form = client()
        .post(app.url("/api/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=ada%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    assert_eq!(form.headers()["location"], "/subscribed.html");
    assert!(
        form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );

    let json = client()
        .post(app.url("/api/subscribe"))
        .json(&json!({ "email": "grace@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::CREATED);
    assert_eq!(
        json.json::<Value>().await.unwrap(),
        json!({ "ok": true, "email": "grace@example.com" })
    );

    let bad = client()
        .post(app.url("/api/subscribe"))
        .json(&json!({ "email": "not-an-email" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json::<Value>().await.unwrap()["ok"], false);

    // JSON of the wrong shape: a short reason, not the input back nor the route's type names.
    let long = "x".repeat(512 * 1024);
    let wrong = client()
        .post(app.url("/api/subscribe"))
        .json(&json!(long))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let reason = wrong.text().await.unwrap();
    let expected = match app {
        Example::Rust => "Invalid body: invalid type: string \"xxx",
        Example::Js => "Invalid body: expected an object with an email",
    };
    assert!(
        reason.len() < 200 && reason.starts_with(expected),
        "{}",
        &reason[..reason.len().min(300)]
    );
    assert!(!reason.contains("struct"), "{reason}");

    let get = client()
        .get(app.url("/api/subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");
}

async fn the_form_page_is_served_from_public(app: Example) {
    let response = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("action=\"/api/subscribe\""), "{html}");
    let response = client()
        .get(app.url("/subscribed.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A Rust panic traps the instance; a JS handler that throws is caught by the shim. Either way:
/// a bare 500, a log line naming the route, and the host serves on.
async fn a_guest_crash_is_a_500_and_the_next_request_is_fine(app: Example) {
    let response = client().get(app.url("/api/panic")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !response.text().await.unwrap().contains("on purpose"),
        "no internals to the client"
    );
    let (status, body) = get_json(app, "/api/users/7").await;
    assert_eq!((status, body["id"].as_str()), (StatusCode::OK, Some("7")));
    let logged = match app {
        Example::Rust => "route /api/panic failed",
        Example::Js => {
            "Error in API route /api/panic (pages/api/panic.js): Error: GET /api/panic threw on purpose"
        }
    };
    assert!(app.server().wait_for_log(logged), "{}", app.server().log());
}

async fn large_bodies_stream_both_ways(app: Example) {
    let response = client()
        .get(app.url("/api/stream?n=200000"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 200_000);
    assert_eq!(text.lines().last(), Some("line 200000 of 200000"));

    let upload = vec![b'x'; 8 * 1024 * 1024];
    let response = client()
        .post(app.url("/api/upload"))
        .body(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 8 * 1024 * 1024, "{body}");
}

async fn http2_carries_sdk_routes_and_bodies(app: Example) {
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .post(app.url("/api/echo?via=h2"))
        .json(&json!({ "over": "h2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["body"], json!({ "over": "h2" }));
    assert_eq!(body["query"]["via"], "h2");
}

async fn fifty_concurrent_requests_to_sdk_routes(app: Example) {
    let client = client();
    let requests = (0..50).map(|i| {
        let client = client.clone();
        let url = app.url(&format!("/api/users/{i}?n={i}"));
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    let bodies = futures::future::join_all(requests).await;
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(body["id"], i.to_string());
        assert_eq!(body["query"]["n"], i.to_string());
    }
}
