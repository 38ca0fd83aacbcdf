//! GET /api/docs/guide/routing → {"path":["guide","routing"]}
//! GET /api/docs               → {"path":null,"note":"no path: the docs index"}
//!
//! An optional catch-all also matches zero segments, and then the param is absent, as in
//! Next.js (`req.query.path` is `undefined`).

use routelet_sdk::{Request, Response};

pub fn handler(req: Request) -> Response {
    let body = match req.params().value("path") {
        Some(path) => serde_json::json!({ "path": path.as_slice() }),
        None => serde_json::json!({ "path": null, "note": "no path: the docs index" }),
    };
    Response::json(&body)
}
