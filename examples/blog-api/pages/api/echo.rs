//! Any method on /api/echo → the request as the handler sees it:
//! `{"method","contentType","bodyType","body","query","cookies"}`.
//!
//! The body is parsed by content type before the handler runs, as in Next.js: JSON (and
//! `+json`) as JSON, forms like a query string, `text/plain` as text, anything else as bytes
//! (echoed as their count). Invalid JSON never gets here (`400 Invalid JSON`), nor does a body
//! over the default 1mb limit (`413 Body exceeded 1mb limit`).

use routelet_sdk::{Body, Request, Response};
use serde_json::{Value, json};

pub fn handler(req: Request) -> Response {
    let (body_type, body) = match req.body() {
        Body::Empty => ("empty", Value::Null),
        Body::Json(value) => ("json", value.clone()),
        Body::Form(form) => ("form", json!(form)),
        Body::Text(text) => ("text", json!(text)),
        Body::Bytes(bytes) => ("bytes", json!({ "length": bytes.len() })),
    };
    Response::json(&json!({
        "method": req.method(),
        "contentType": req.content_type(),
        "bodyType": body_type,
        "body": body,
        "query": req.query(),
        "cookies": req.cookies(),
    }))
}
