//! The blog's posts: `data/posts/<slug>.md`, front matter between `---` lines, then Markdown.
//!
//! Pages read these files directly, at build time and when they regenerate: pages have no
//! network, so there is no API to fetch them from.

use serde::{Deserialize, Serialize};

/// Where the posts are, as the page sandbox shows the app's `data/` folder.
pub const POSTS_DIR: &str = "data/posts";

/// One post, ready to render.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub slug: String,
    pub title: String,
    pub date: String,
    pub tags: Vec<String>,
    pub draft: bool,
    /// Set when the post moved: the page answers with a permanent redirect.
    pub redirect: Option<String>,
    /// The body, rendered from Markdown to HTML.
    pub html: String,
}

/// Reads one post; `Ok(None)` when there is no such file.
pub fn read(slug: &str) -> std::io::Result<Option<Post>> {
    if slug.is_empty() || slug.contains(['/', '\\']) || slug.starts_with('.') {
        return Ok(None);
    }
    match std::fs::read_to_string(format!("{POSTS_DIR}/{slug}.md")) {
        Ok(text) => Ok(Some(parse(slug, &text))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Every post, newest first, drafts included.
pub fn all() -> std::io::Result<Vec<Post>> {
    let mut posts = Vec::new();
    for entry in std::fs::read_dir(POSTS_DIR)? {
        let path = entry?.path();
        let Some(slug) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".md"))
        else {
            continue;
        };
        if let Some(post) = read(slug)? {
            posts.push(post);
        }
    }
    posts.sort_by(|a, b| b.date.cmp(&a.date).then(a.slug.cmp(&b.slug)));
    Ok(posts)
}

/// Parses front matter (`key: value` lines) and renders the Markdown body.
pub fn parse(slug: &str, text: &str) -> Post {
    let mut post = Post {
        slug: slug.to_owned(),
        title: slug.to_owned(),
        date: String::new(),
        tags: Vec::new(),
        draft: false,
        redirect: None,
        html: String::new(),
    };
    let body = match text.strip_prefix("---\n").and_then(|rest| rest.split_once("\n---")) {
        Some((front, body)) => {
            for line in front.lines() {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                match key.trim() {
                    "title" => post.title = value.to_owned(),
                    "date" => post.date = value.to_owned(),
                    "draft" => post.draft = value == "true",
                    "redirect" => post.redirect = Some(value.to_owned()),
                    "tags" => {
                        post.tags = value
                            .split(',')
                            .map(|t| t.trim().to_owned())
                            .filter(|t| !t.is_empty())
                            .collect()
                    }
                    _ => {}
                }
            }
            body.trim_start_matches(['-', '\n'])
        }
        None => text,
    };
    let parser = pulldown_cmark::Parser::new(body);
    pulldown_cmark::html::push_html(&mut post.html, parser);
    post
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page around a body, with the preview banner when in Preview Mode.
pub fn layout(title: &str, preview: bool, body: &str) -> String {
    let banner = if preview {
        r#"<p class="draft">Preview Mode: you are seeing drafts. <a href="/api/exit-preview">Exit preview</a></p>"#
    } else {
        ""
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body>\n{banner}\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter_and_markdown() {
        let post = parse("x", "---\ntitle: A <b>\ndraft: true\ntags: a, b\n---\nHello *you*\n");
        assert_eq!(post.title, "A <b>");
        assert!(post.draft);
        assert_eq!(post.tags, ["a", "b"]);
        assert_eq!(post.html, "<p>Hello <em>you</em></p>\n");
    }
}
