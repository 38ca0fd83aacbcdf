//! What a path nothing answers gets, and a post that is not there (`notFound`): this page, with
//! status 404, as Next.js serves `pages/404`. Generated at build time like any static page.

use blog_posts::layout;
use routelet_sdk::Result;
use routelet_sdk::page::{Props, StaticContext};
use serde::{Deserialize, Serialize};

/// Nothing to render from.
#[derive(Serialize, Deserialize)]
pub struct NotFound {}

pub fn get_static_props(_ctx: StaticContext) -> Result<Props<NotFound>> {
    Ok(Props::new(NotFound {}))
}

pub fn render(_page: NotFound) -> String {
    layout(
        "Not found",
        false,
        "<h1>Nothing here</h1>\n<p>This page could not be found. <a href=\"/\">All posts</a></p>",
    )
}
