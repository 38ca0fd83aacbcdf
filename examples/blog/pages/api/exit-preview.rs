//! GET /api/exit-preview: leaves Preview Mode and goes home.

use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    routelet_sdk::clear_preview_data();
    Response::redirect("/")
}
