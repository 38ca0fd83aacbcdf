//! /: the list of posts. It regenerates at most once a second after a request, so a post
//! added to data/posts/ shows up without a rebuild.

use blog_posts::{Post, escape, layout};
use routelet_sdk::page::{Props, StaticContext};
use routelet_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Index {
    posts: Vec<Post>,
    preview: bool,
}

pub fn get_static_props(ctx: StaticContext) -> Result<Props<Index>> {
    let posts = blog_posts::all()
        .map_err(Error::internal)?
        .into_iter()
        .filter(|post| post.redirect.is_none() && (ctx.preview() || !post.draft))
        .map(|post| Post {
            html: String::new(),
            ..post
        })
        .collect();
    Ok(Props::new(Index {
        posts,
        preview: ctx.preview(),
    })
    .revalidate(1))
}

pub fn render(index: Index) -> String {
    let items: Vec<String> = index
        .posts
        .iter()
        .map(|post| {
            let draft = if post.draft { " (draft)" } else { "" };
            format!(
                "<li><a href=\"/blog/{}\">{}</a> <time>{}</time>{draft}</li>",
                escape(&post.slug),
                escape(&post.title),
                escape(&post.date)
            )
        })
        .collect();
    layout(
        "Blog",
        index.preview,
        &format!("<h1>Blog</h1>\n<ul>\n{}\n</ul>", items.join("\n")),
    )
}
