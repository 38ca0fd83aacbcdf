//! GET /api/users/me → {"id":"me","static":true}
//!
//! `users/me.rs` and `users/[id].rs` both match `/api/users/me`; as in Next.js, the static
//! route wins, whatever order the files were written in.

use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::json(&serde_json::json!({ "id": "me", "static": true }))
}
