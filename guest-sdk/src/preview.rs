//! Preview Mode and on-demand revalidation from an API route, as Next.js's `res.setPreviewData`,
//! `res.clearPreviewData` and `res.revalidate`.

use serde::Serialize;

use crate::Error;

/// Enters Preview Mode: the host adds the signed `__prerender_bypass` and encrypted
/// `__next_preview_data` cookies to this route's response. `data` reaches every page's
/// `get_static_props` as [`StaticContext::preview_data`](crate::page::StaticContext::preview_data);
/// it may take 2 KB at most once sealed. `max_age` in seconds makes the cookies expire.
///
/// # Example
///
/// ```no_run
/// use routelet_sdk::{Request, Response, Result};
///
/// pub fn handler(req: Request) -> Result {
///     routelet_sdk::set_preview_data(&serde_json::json!({ "user": "ed" }), Some(3600))?;
///     Ok(Response::redirect("/blog/draft-post"))
/// }
/// ```
pub fn set_preview_data(data: &impl Serialize, max_age: Option<u32>) -> Result<(), Error> {
    let json = serde_json::to_string(data).map_err(Error::internal)?;
    crate::bindings::set_preview_data(&json, max_age).map_err(Error::internal)
}

/// Leaves Preview Mode: the host expires both preview cookies on this route's response.
pub fn clear_preview_data() {
    crate::bindings::clear_preview_data()
}

/// Regenerates one page path now, like Next.js's `res.revalidate('/blog/post-1')`; it returns
/// once the new page is in place, or with the reason it could not be.
pub fn revalidate(path: &str) -> Result<(), Error> {
    crate::bindings::revalidate(path).map_err(Error::internal)
}
