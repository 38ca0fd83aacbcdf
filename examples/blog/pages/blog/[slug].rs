//! /blog/<slug>: one post, prerendered for every published post; a post added later is
//! rendered on its first request (`fallback: blocking`). Drafts exist only in Preview Mode.

use blog_posts::{Post, escape, layout};
use routelet_sdk::page::{Fallback, Paths, Props, StaticContext};
use routelet_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

/// What the page renders from.
#[derive(Serialize, Deserialize)]
pub struct PostPage {
    post: Post,
    preview: bool,
}

pub fn get_static_paths() -> Result<Paths> {
    let posts = blog_posts::all().map_err(Error::internal)?;
    let paths = posts
        .iter()
        .filter(|post| !post.draft && post.redirect.is_none())
        .fold(Paths::new(Fallback::Blocking), |paths, post| {
            paths.params([("slug", post.slug.as_str())])
        });
    Ok(paths)
}

pub fn get_static_props(ctx: StaticContext) -> Result<Props<PostPage>> {
    let slug = ctx.param("slug").unwrap_or_default();
    eprintln!("generating /blog/{slug}");
    let Some(post) = blog_posts::read(slug).map_err(Error::internal)? else {
        return Ok(Props::not_found());
    };
    if let Some(target) = &post.redirect {
        return Ok(Props::permanent_redirect(target.clone()));
    }
    if post.draft && !ctx.preview() {
        return Ok(Props::not_found());
    }
    Ok(Props::new(PostPage {
        post,
        preview: ctx.preview(),
    })
    .revalidate(60))
}

pub fn render(page: PostPage) -> String {
    let post = &page.post;
    let tags: Vec<String> = post
        .tags
        .iter()
        .map(|t| format!("<a href=\"/tags/{0}\">{0}</a>", escape(t)))
        .collect();
    let body = format!(
        "<article>\n<h1>{}</h1>\n<p><time>{}</time> {}</p>\n{}</article>\n<p><a href=\"/\">All posts</a></p>",
        escape(&post.title),
        escape(&post.date),
        tags.join(" "),
        post.html
    );
    layout(&post.title, page.preview, &body)
}
