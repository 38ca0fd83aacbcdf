//! POST /api/revalidate?secret=...&path=/blog/hello-world: regenerates one page now.

use routelet_sdk::{Error, Request, Response, Result};

pub fn handler(req: Request) -> Result {
    let expected = std::env::var("REVALIDATE_TOKEN").map_err(Error::internal)?;
    let query = req.query();
    if query.get("secret") != Some(expected.as_str()) {
        return Err(Error::unauthorized("Invalid token"));
    }
    let path = query.get("path").unwrap_or_default();
    match routelet_sdk::revalidate(path) {
        Ok(()) => Ok(Response::json(&serde_json::json!({ "revalidated": true, "path": path }))),
        Err(error) => Ok(Response::json(&serde_json::json!({
            "revalidated": false,
            "error": error.detail().unwrap_or(error.message()),
        }))
        .status(500)),
    }
}
