//! GET /api/hello → {"message":"Hello from Routelet","method":"GET"}

use routelet_sdk::{Request, Response};

pub fn handler(req: Request) -> Response {
    Response::json(&serde_json::json!({
        "message": "Hello from Routelet",
        "method": req.method(),
    }))
}
