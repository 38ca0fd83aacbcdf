//! What a page that fails to generate answers: this page, with status 500, as Next.js serves
//! `pages/500`. The error itself is in the host's log, never in the answer.

use blog_posts::layout;
use routelet_sdk::Result;
use routelet_sdk::page::{Props, StaticContext};
use serde::{Deserialize, Serialize};

/// Nothing to render from.
#[derive(Serialize, Deserialize)]
pub struct ServerError {}

pub fn get_static_props(_ctx: StaticContext) -> Result<Props<ServerError>> {
    Ok(Props::new(ServerError {}))
}

pub fn render(_page: ServerError) -> String {
    layout(
        "Something went wrong",
        false,
        "<h1>Something went wrong</h1>\n<p>This page could not be generated. Try again soon.</p>",
    )
}
