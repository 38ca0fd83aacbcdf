//! The examples, built by `routelet build` into real components and served by a real host:
//! every kind of dynamic route, the Next.js body rules, guest crashes, HTTP/2 and concurrency.

use std::sync::OnceLock;

use crate::support::{Server, client, example_dist};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&example_dist("blog-api")))
}

async fn get_json(path: &str) -> (StatusCode, Value) {
    let response = client().get(server().url(path)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
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

#[tokio::test]
async fn the_index_route_lists_the_api() {
    let (status, body) = get_json("/api").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "blog-api");
}

#[tokio::test]
async fn a_dynamic_segment_is_a_param_laid_over_the_query() {
    let (status, body) = get_json("/api/users/42?id=x&tag=a&tag=b&q=%zz").await;
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

    let (_, body) = get_json("/api/users/caf%C3%A9%20au%20lait").await;
    assert_eq!(body["id"], "café au lait");
}

#[tokio::test]
async fn a_static_route_beats_a_dynamic_one() {
    let (status, body) = get_json("/api/users/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "id": "me", "static": true }));
}

#[tokio::test]
async fn a_catch_all_takes_one_or_more_segments_each_decoded() {
    let (status, body) = get_json("/api/posts/2024/a%2Fb").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["slug"], json!(["2024", "a/b"]));
    let response = client()
        .get(server().url("/api/posts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_optional_catch_all_takes_zero_or_more_and_is_absent_at_zero() {
    let (status, body) = get_json("/api/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["path"], Value::Null);
    let (_, body) = get_json("/api/docs/guide/routing").await;
    assert_eq!(body["path"], json!(["guide", "routing"]));
}

#[tokio::test]
async fn redirects_404s_and_bad_escapes() {
    let response = client()
        .get(server().url("/api/users/42/?tab=posts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/api/users/42?tab=posts");
    let response = client()
        .get(server().url("/api/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client()
        .get(server().url("/api/users/%E0%A4%A"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn echo(content_type: &str, body: impl Into<reqwest::Body>) -> (StatusCode, String) {
    let response = client()
        .post(server().url("/api/echo"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn bodies_are_parsed_by_content_type() {
    let (status, text) = echo("application/json", r#"{"a":1,"b":[true,null]}"#).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["bodyType"], "json");
    assert_eq!(body["body"], json!({ "a": 1, "b": [true, null] }));

    let (_, text) = echo("application/vnd.api+json", r#"{"x":"y"}"#).await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["body"],
        json!({ "x": "y" })
    );

    let (_, text) = echo(
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

    let (_, text) = echo("text/plain", "just text").await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (body["bodyType"].as_str(), body["body"].as_str()),
        (Some("text"), Some("just text"))
    );

    let (_, text) = echo("application/octet-stream", vec![0u8, 1, 2, 255]).await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["bodyType"], "bytes");
    assert_eq!(body["body"]["length"], 4);
}

#[tokio::test]
async fn invalid_json_is_400_invalid_json() {
    let (status, text) = echo("application/json", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text, "Invalid JSON");
}

#[tokio::test]
async fn the_body_limit_is_1mb_exactly() {
    let (status, text) = echo("text/plain", "a".repeat(1_048_576)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "1,048,576 bytes must be accepted: {text}"
    );
    let (status, text) = echo("text/plain", "a".repeat(1_048_577)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(text, "Body exceeded 1mb limit");

    // Without Content-Length (chunked), the limit is enforced while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![b'a'; 64 * 1024])).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, text) = echo("text/plain", stream).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
}

#[tokio::test]
async fn cookies_are_parsed() {
    let response = client()
        .get(server().url("/api/echo"))
        .header("cookie", "theme=dark; session=abc%20def")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["cookies"]["theme"], "dark");
    assert_eq!(body["cookies"]["session"], "abc def");
}

#[tokio::test]
async fn subscribe_takes_a_form_or_json_and_validates_the_email() {
    let form = client()
        .post(server().url("/api/subscribe"))
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
        .post(server().url("/api/subscribe"))
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
        .post(server().url("/api/subscribe"))
        .json(&json!({ "email": "not-an-email" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json::<Value>().await.unwrap()["ok"], false);

    // JSON of the wrong shape: a short reason, not the input back nor the route's type names.
    let long = "x".repeat(512 * 1024);
    let wrong = client()
        .post(server().url("/api/subscribe"))
        .json(&json!(long))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let reason = wrong.text().await.unwrap();
    assert!(
        reason.len() < 200 && reason.starts_with("Invalid body: invalid type: string \"xxx"),
        "{}",
        &reason[..reason.len().min(300)]
    );
    assert!(!reason.contains("struct"), "{reason}");

    let get = client()
        .get(server().url("/api/subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");
}

#[tokio::test]
async fn the_form_page_is_served_from_public() {
    let response = client().get(server().url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("action=\"/api/subscribe\""), "{html}");
    let response = client()
        .get(server().url("/subscribed.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_guest_panic_is_a_500_and_the_next_request_is_fine() {
    let response = client()
        .get(server().url("/api/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !response.text().await.unwrap().contains("panicked"),
        "no internals to the client"
    );
    let (status, body) = get_json("/api/users/7").await;
    assert_eq!((status, body["id"].as_str()), (StatusCode::OK, Some("7")));
    assert!(
        server().wait_for_log("route /api/panic failed"),
        "{}",
        server().log()
    );
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let response = client()
        .get(server().url("/api/stream?n=200000"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 200_000);
    assert_eq!(text.lines().last(), Some("line 200000 of 200000"));

    let upload = vec![b'x'; 8 * 1024 * 1024];
    let response = client()
        .post(server().url("/api/upload"))
        .body(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 8 * 1024 * 1024, "{body}");
}

#[tokio::test]
async fn http2_carries_sdk_routes_and_bodies() {
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .post(server().url("/api/echo?via=h2"))
        .json(&json!({ "over": "h2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["body"], json!({ "over": "h2" }));
    assert_eq!(body["query"]["via"], "h2");
}

#[tokio::test]
async fn fifty_concurrent_requests_to_sdk_routes() {
    let client = client();
    let requests = (0..50).map(|i| {
        let client = client.clone();
        let url = server().url(&format!("/api/users/{i}?n={i}"));
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
