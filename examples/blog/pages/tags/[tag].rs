//! /tags/<tag>: the posts with one tag. Only tags that exist at build time have a page
//! (`fallback: false`): any other tag is a 404.

use blog_posts::{Post, escape, layout};
use routelet_sdk::page::{Fallback, Paths, Props, StaticContext};
use routelet_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Tag {
    tag: String,
    posts: Vec<Post>,
}

fn published() -> Result<Vec<Post>> {
    Ok(blog_posts::all()
        .map_err(Error::internal)?
        .into_iter()
        .filter(|post| !post.draft && post.redirect.is_none())
        .collect())
}

pub fn get_static_paths() -> Result<Paths> {
    let mut tags: Vec<String> = published()?.into_iter().flat_map(|p| p.tags).collect();
    tags.sort();
    tags.dedup();
    Ok(tags
        .iter()
        .fold(Paths::new(Fallback::False), |paths, tag| paths.path(format!("/tags/{tag}"))))
}

pub fn get_static_props(ctx: StaticContext) -> Result<Props<Tag>> {
    let tag = ctx.param("tag").unwrap_or_default().to_owned();
    let posts: Vec<Post> = published()?
        .into_iter()
        .filter(|post| post.tags.contains(&tag))
        .collect();
    Ok(Props::new(Tag { tag, posts }))
}

pub fn render(tag: Tag) -> String {
    let items: Vec<String> = tag
        .posts
        .iter()
        .map(|p| format!("<li><a href=\"/blog/{}\">{}</a></li>", escape(&p.slug), escape(&p.title)))
        .collect();
    layout(
        &format!("Posts tagged {}", tag.tag),
        false,
        &format!("<h1>Tagged {}</h1>\n<ul>{}</ul>", escape(&tag.tag), items.join("")),
    )
}
