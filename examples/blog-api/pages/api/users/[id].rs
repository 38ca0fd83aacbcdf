//! GET /api/users/42?tab=posts → {"id":"42","query":{"id":"42","tab":"posts"}}
//!
//! `req.query()` is Next.js's `req.query`: the query string with the route params laid over it,
//! so `/api/users/42?id=x` still reports `id: "42"`.

use routelet_sdk::{Request, Response};

pub fn handler(req: Request) -> Response {
    Response::json(&serde_json::json!({
        "id": req.param("id"),
        "query": req.query(),
    }))
}
