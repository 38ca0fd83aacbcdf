//! GET /api/preview?secret=...&slug=...: enters Preview Mode and opens the post, drafts included.
//! The secret is PREVIEW_TOKEN, which routelet.toml gives to this route only.

use routelet_sdk::{Error, Request, Response, Result};

pub fn handler(req: Request) -> Result {
    let expected = std::env::var("PREVIEW_TOKEN").map_err(Error::internal)?;
    let query = req.query();
    if query.get("secret") != Some(expected.as_str()) {
        return Err(Error::unauthorized("Invalid token"));
    }
    let slug = query.get("slug").unwrap_or_default();
    if slug.is_empty() || !slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Error::bad_request("Invalid slug"));
    }
    routelet_sdk::set_preview_data(&serde_json::json!({ "slug": slug }), None)?;
    Ok(Response::redirect(&format!("/blog/{slug}")))
}
