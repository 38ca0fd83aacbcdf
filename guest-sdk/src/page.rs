//! Static pages, as Next.js's `getStaticPaths`, `getStaticProps` and the page component.
//!
//! A file under `pages/` but outside `pages/api/` is a page when it declares `pub fn render`.
//! The build host calls its functions with no network at all and `data/` readable, and writes
//! the HTML and props of every path into the dist; the host serves them, renders fallback paths
//! on first request, regenerates them after `revalidate` seconds, and renders at request time in
//! Preview Mode.
//!
//! ```
//! // pages/blog/[slug].rs
//! use routelet_sdk::page::{Fallback, Paths, Props, StaticContext};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct Post { title: String }
//!
//! pub fn get_static_paths() -> routelet_sdk::Result<Paths> {
//!     Ok(Paths::new(Fallback::Blocking).path("/blog/hello").params([("slug", "second")]))
//! }
//!
//! pub fn get_static_props(ctx: StaticContext) -> routelet_sdk::Result<Props<Post>> {
//!     match ctx.param("slug") {
//!         Some("old") => Ok(Props::permanent_redirect("/blog/hello")),
//!         Some(slug) if slug.starts_with('_') => Ok(Props::not_found()),
//!         Some(slug) => Ok(Props::new(Post { title: slug.to_owned() }).revalidate(60)),
//!         None => Ok(Props::not_found()),
//!     }
//! }
//!
//! pub fn render(post: Post) -> String {
//!     format!("<h1>{}</h1>", routelet_sdk::page::escape_html(&post.title))
//! }
//!
//! // What `routelet build` generates around the file; you never write this part.
//! routelet_sdk::export_page!(render: render, props: get_static_props, paths: get_static_paths);
//! # fn main() {}
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::page_raw::exports::routelet::route::page as wit;
use crate::{Error, Query, QueryValue};

/// What happens to a path `get_static_paths` did not list, as Next.js's `fallback`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `fallback: false`: unlisted paths are a 404.
    False,
    /// `fallback: true`: an unlisted path is rendered on its first request, then cached.
    True,
    /// `fallback: 'blocking'`: the same, and the first request waits for it.
    Blocking,
}

/// What `get_static_paths` returns: the paths to prerender and the fallback for the rest.
#[derive(Debug)]
pub struct Paths {
    paths: Vec<wit::StaticPath>,
    fallback: Fallback,
}

impl Paths {
    /// No paths yet, and what to do with unlisted ones.
    pub fn new(fallback: Fallback) -> Self {
        Self {
            paths: Vec::new(),
            fallback,
        }
    }

    /// Adds a path, e.g. `/blog/first-post`; the build checks that it matches the page.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.paths.push(wit::StaticPath::Path(path.into()));
        self
    }

    /// Adds a path by its params, e.g. `[("slug", "first-post")]`; catch-alls take a list.
    pub fn params<K: Into<String>, V: Into<QueryValue>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let params = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.paths
            .push(wit::StaticPath::Params(crate::bindings::query_to_params(
                params,
            )));
        self
    }
}

/// What `get_static_props` receives, as Next.js's context: params and Preview Mode.
#[derive(Debug)]
pub struct StaticContext {
    params: Query,
    preview: bool,
    preview_data: Option<String>,
}

impl StaticContext {
    /// A context for testing a page natively.
    pub fn new(params: Query) -> Self {
        Self {
            params,
            preview: false,
            preview_data: None,
        }
    }

    /// The same context in Preview Mode, with the JSON an API route set.
    pub fn with_preview(mut self, data: impl Into<String>) -> Self {
        self.preview = true;
        self.preview_data = Some(data.into());
        self
    }

    /// A dynamic segment's value (the first, for catch-alls).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// A catch-all's segments.
    pub fn param_list(&self, name: &str) -> &[String] {
        self.params.get_all(name)
    }

    /// All params.
    pub fn params(&self) -> &Query {
        &self.params
    }

    /// True in Preview Mode: render drafts, nothing is cached.
    pub fn preview(&self) -> bool {
        self.preview
    }

    /// The preview data an API route passed to [`set_preview_data`](crate::set_preview_data).
    pub fn preview_data<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.preview_data.as_deref()?).ok()
    }
}

/// What `get_static_props` returns: props, a 404 or a redirect, and how long it stays fresh.
#[derive(Debug)]
pub struct Props<P> {
    outcome: Outcome<P>,
    revalidate: Option<f64>,
}

#[derive(Debug)]
enum Outcome<P> {
    Props(P),
    NotFound,
    Redirect {
        destination: String,
        permanent: bool,
        status: Option<u16>,
    },
}

impl<P> Props<P> {
    /// The page's props, handed to `render` and served as JSON.
    pub fn new(props: P) -> Self {
        Self {
            outcome: Outcome::Props(props),
            revalidate: None,
        }
    }

    /// Next.js's `notFound: true`: this path is a 404.
    pub fn not_found() -> Self {
        Self {
            outcome: Outcome::NotFound,
            revalidate: None,
        }
    }

    /// A temporary redirect (307).
    pub fn redirect(destination: impl Into<String>) -> Self {
        Self::redirect_with(destination, false, None)
    }

    /// A permanent redirect (308).
    pub fn permanent_redirect(destination: impl Into<String>) -> Self {
        Self::redirect_with(destination, true, None)
    }

    /// A redirect with Next.js's `permanent` and `statusCode` (301, 302, 303, 307 or 308).
    pub fn redirect_with(
        destination: impl Into<String>,
        permanent: bool,
        status: Option<u16>,
    ) -> Self {
        Self {
            outcome: Outcome::Redirect {
                destination: destination.into(),
                permanent,
                status,
            },
            revalidate: None,
        }
    }

    /// Regenerate this path at most once every `seconds` (at least 1) after a request.
    pub fn revalidate(mut self, seconds: u32) -> Self {
        self.revalidate = Some(f64::from(seconds));
        self
    }
}

/// Escapes text for HTML, since `render` writes HTML by hand.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What `render` may return: HTML, or a result of it.
pub trait IntoHtml {
    /// The HTML, or the error that fails this path.
    fn into_html(self) -> Result<String, Error>;
}

impl IntoHtml for String {
    fn into_html(self) -> Result<String, Error> {
        Ok(self)
    }
}

impl IntoHtml for Result<String, Error> {
    fn into_html(self) -> Result<String, Error> {
        self
    }
}

fn error_text(error: Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.message()),
        None => error.message().to_owned(),
    }
}

/// What [`export_page!`](crate::export_page) expands to; not part of the API.
#[doc(hidden)]
pub mod glue {
    use super::*;

    pub use wit::Guest;
    pub use wit::{PropsContext, PropsResult, StaticPaths};

    pub fn paths(result: Result<Paths, Error>) -> Result<StaticPaths, String> {
        let paths = result.map_err(error_text)?;
        Ok(StaticPaths {
            paths: paths.paths,
            fallback: match paths.fallback {
                Fallback::False => wit::Fallback::None,
                Fallback::True => wit::Fallback::Render,
                Fallback::Blocking => wit::Fallback::Blocking,
            },
        })
    }

    pub fn context(context: PropsContext) -> StaticContext {
        StaticContext {
            params: crate::bindings::params_to_query(context.params),
            preview: context.preview,
            preview_data: context.preview_data,
        }
    }

    pub fn props<P: Serialize>(result: Result<Props<P>, Error>) -> Result<PropsResult, String> {
        let props = result.map_err(error_text)?;
        let outcome = match props.outcome {
            Outcome::Props(value) => wit::PropsOutcome::Props(
                serde_json::to_string(&value).map_err(|e| format!("serializing props: {e}"))?,
            ),
            Outcome::NotFound => wit::PropsOutcome::NotFound,
            Outcome::Redirect {
                destination,
                permanent,
                status,
            } => wit::PropsOutcome::Redirect(wit::Redirect {
                destination,
                permanent,
                status_code: status,
            }),
        };
        Ok(PropsResult {
            outcome,
            revalidate: props.revalidate,
        })
    }

    pub fn no_props() -> Result<PropsResult, String> {
        Ok(PropsResult {
            outcome: wit::PropsOutcome::Props("{}".to_owned()),
            revalidate: None,
        })
    }

    pub fn no_paths() -> Result<StaticPaths, String> {
        Ok(StaticPaths {
            paths: Vec::new(),
            fallback: wit::Fallback::None,
        })
    }

    pub fn render<P: DeserializeOwned, H: IntoHtml>(
        props: &str,
        render: impl FnOnce(P) -> H,
    ) -> Result<String, String> {
        let props: P =
            serde_json::from_str(props).map_err(|e| format!("reading the props back: {e}"))?;
        render(props).into_html().map_err(error_text)
    }

    pub fn html<H: IntoHtml>(html: H) -> Result<String, String> {
        html.into_html().map_err(error_text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_results_carry_outcome_and_revalidate() {
        let result =
            glue::props(Ok(Props::new(serde_json::json!({"a": 1})).revalidate(5))).unwrap();
        assert_eq!(result.revalidate, Some(5.0));
        assert!(
            matches!(result.outcome, wit::PropsOutcome::Props(ref json) if json == r#"{"a":1}"#)
        );
        let result = glue::props::<()>(Ok(Props::permanent_redirect("/x"))).unwrap();
        assert!(
            matches!(result.outcome, wit::PropsOutcome::Redirect(ref r) if r.permanent && r.destination == "/x")
        );
        let error = glue::props::<()>(Err(Error::not_found("no such post"))).unwrap_err();
        assert_eq!(error, "no such post");
    }

    #[test]
    fn paths_keep_order_and_fallback() {
        let paths = glue::paths(Ok(Paths::new(Fallback::True)
            .path("/a")
            .params([("slug", "b")])))
        .unwrap();
        assert_eq!(paths.paths.len(), 2);
        assert_eq!(paths.fallback, wit::Fallback::Render);
    }

    #[test]
    fn render_reads_props_back() {
        let html = glue::render(r#"{"t":"<x>"}"#, |p: serde_json::Value| {
            escape_html(p["t"].as_str().unwrap())
        });
        assert_eq!(html.unwrap(), "&lt;x&gt;");
    }

    #[test]
    fn context_gives_params_and_preview_data() {
        let ctx = StaticContext::new([("slug", "x")].into_iter().collect())
            .with_preview(r#"{"draft":true}"#);
        assert_eq!(ctx.param("slug"), Some("x"));
        assert!(ctx.preview());
        let data: serde_json::Value = ctx.preview_data().unwrap();
        assert_eq!(data["draft"], true);
    }
}
