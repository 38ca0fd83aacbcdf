//! What the builder needs to know about a route file before compiling it.

use anyhow::bail;

/// Facts about one route file.
#[derive(Debug, PartialEq)]
pub struct RouteFileInfo {
    /// `pub const CONFIG` or `pub static CONFIG` is declared.
    pub has_config: bool,
    /// Set when the file is a static page (`pub fn render`) rather than a handler.
    pub page: Option<PageFns>,
    /// The per-method functions it exports (`pub fn get`, `post`, ...), as HTTP methods, in
    /// [`METHODS`] order.
    pub methods: Vec<&'static str>,
    /// It exports `pub fn handler`, which takes the methods without a function of their own.
    pub has_handler: bool,
}

/// The per-method functions a route file may export, by the method each answers.
pub const METHODS: [(&str, &str); 7] = [
    ("delete", "DELETE"),
    ("get", "GET"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("patch", "PATCH"),
    ("post", "POST"),
    ("put", "PUT"),
];

/// Which of Next.js's data functions a page file declares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageFns {
    /// `pub fn get_static_paths`.
    pub paths: bool,
    /// `pub fn get_static_props`.
    pub props: bool,
}

/// Where a route file sits, which decides what it may be.
pub struct Place<'a> {
    /// The route's pattern, e.g. `/blog/[slug]`.
    pub pattern: &'a str,
    /// Under `pages/api/`: only handlers.
    pub is_api: bool,
    /// Has dynamic segments: a page needs `get_static_paths`.
    pub is_dynamic: bool,
}

/// Checks that the file exports `pub fn handler`, or is a page with `pub fn render`.
///
/// A file that does not parse is passed on: the compiler's message about it is the better one.
pub fn inspect(source: &str, place: &Place) -> anyhow::Result<RouteFileInfo> {
    let Ok(file) = syn::parse_file(source) else {
        return Ok(RouteFileInfo {
            has_config: false,
            page: None,
            methods: Vec::new(),
            has_handler: true,
        });
    };
    let mut handler = None;
    let mut methods: Vec<&'static str> = Vec::new();
    let mut has_config = false;
    let (mut render, mut paths, mut props) = (false, false, false);
    for item in &file.items {
        match item {
            syn::Item::Fn(f) if is_pub(&f.vis) && f.sig.ident == "render" => render = true,
            syn::Item::Fn(f) if is_pub(&f.vis) && f.sig.ident == "get_static_paths" => paths = true,
            syn::Item::Fn(f) if is_pub(&f.vis) && f.sig.ident == "get_static_props" => props = true,
            syn::Item::Fn(f) if f.sig.ident == "handler" => handler = Some(is_pub(&f.vis)),
            syn::Item::Fn(f) if is_pub(&f.vis) => {
                if let Some((_, method)) = METHODS.iter().find(|(name, _)| f.sig.ident == name) {
                    methods.push(method);
                }
            }
            syn::Item::Const(c) if c.ident == "CONFIG" && is_pub(&c.vis) => has_config = true,
            syn::Item::Static(s) if s.ident == "CONFIG" && is_pub(&s.vis) => has_config = true,
            syn::Item::Use(u) if is_pub(&u.vis) && exports_handler(&u.tree) => handler = Some(true),
            _ => {}
        }
    }
    methods.sort_by_key(|method| METHODS.iter().position(|(_, m)| m == method));
    if handler.is_none() && render {
        let pattern = place.pattern;
        if place.is_api {
            bail!(
                "API routes cannot be static pages: a file under pages/api/ exports \
                 `pub fn handler`, not `pub fn render`"
            );
        }
        if place.is_dynamic && !paths {
            bail!(
                "getStaticPaths is required for dynamic SSG pages and is missing for '{pattern}'."
            );
        }
        if !place.is_dynamic && paths {
            bail!("getStaticPaths can only be used with dynamic pages, not '{pattern}'.");
        }
        if paths && !props {
            bail!(
                "getStaticPaths was added without a getStaticProps in {pattern}. Without \
                 getStaticProps, getStaticPaths does nothing"
            );
        }
        return Ok(RouteFileInfo {
            has_config,
            page: Some(PageFns { paths, props }),
            methods,
            has_handler: false,
        });
    }
    match handler {
        Some(true) => Ok(RouteFileInfo {
            has_config,
            page: None,
            methods,
            has_handler: true,
        }),
        None if !methods.is_empty() => Ok(RouteFileInfo {
            has_config,
            page: None,
            methods,
            has_handler: false,
        }),
        Some(false) => bail!("`fn handler` must be `pub` so the route can export it"),
        None if place.is_api => bail!(
            "no `pub fn handler` found: a route file exports its handler like \
             `pub fn handler(req: Request) -> Response`, or one function per method \
             (`pub fn get(req: Request) -> Response`, `post`, `put`, `patch`, `delete`, ...)"
        ),
        None => bail!(
            "no `pub fn handler` or `pub fn render` found: a page exports \
             `pub fn render(props: Props) -> String` (with `get_static_props`, and \
             `get_static_paths` when it is dynamic), a handler exports \
             `pub fn handler(req: Request) -> Response`"
        ),
    }
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn exports_handler(tree: &syn::UseTree) -> bool {
    match tree {
        syn::UseTree::Path(p) => exports_handler(&p.tree),
        syn::UseTree::Name(n) => n.ident == "handler",
        syn::UseTree::Rename(r) => r.rename == "handler",
        syn::UseTree::Group(g) => g.items.iter().any(exports_handler),
        syn::UseTree::Glob(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: Place = Place {
        pattern: "/api/x",
        is_api: true,
        is_dynamic: false,
    };

    fn inspect(source: &str) -> anyhow::Result<RouteFileInfo> {
        super::inspect(source, &API)
    }

    #[test]
    fn finds_pages_and_checks_their_functions_as_nextjs_does() {
        let dynamic = Place {
            pattern: "/blog/[slug]",
            is_api: false,
            is_dynamic: true,
        };
        let fixed = Place {
            pattern: "/about",
            is_api: false,
            is_dynamic: false,
        };
        let full = "pub fn get_static_paths() {} pub fn get_static_props() {} pub fn render() {}";
        let info = super::inspect(full, &dynamic).unwrap();
        assert_eq!(
            info.page,
            Some(PageFns {
                paths: true,
                props: true
            })
        );
        let err = super::inspect("pub fn render() {}", &dynamic).unwrap_err();
        assert_eq!(
            err.to_string(),
            "getStaticPaths is required for dynamic SSG pages and is missing for '/blog/[slug]'."
        );
        let err = super::inspect(full, &fixed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "getStaticPaths can only be used with dynamic pages, not '/about'."
        );
        let info = super::inspect("pub fn render() {}", &fixed).unwrap();
        assert_eq!(
            info.page,
            Some(PageFns {
                paths: false,
                props: false
            })
        );
        let err = inspect("pub fn render() {}").unwrap_err();
        assert!(
            err.to_string()
                .contains("API routes cannot be static pages"),
            "{err}"
        );
        let err = super::inspect("fn main() {}", &fixed).unwrap_err();
        assert!(err.to_string().contains("`pub fn render`"), "{err}");
    }

    #[test]
    fn finds_handler_and_config() {
        let info = inspect(
            "use x::*; pub const CONFIG: Config = Config::new(); pub fn handler(r: Request) {}",
        )
        .unwrap();
        assert_eq!(
            info,
            RouteFileInfo {
                has_config: true,
                page: None,
                methods: Vec::new(),
                has_handler: true,
            }
        );
        assert!(!inspect("pub fn handler() {}").unwrap().has_config);
        assert!(
            !inspect("const CONFIG: u8 = 1; pub fn handler() {}")
                .unwrap()
                .has_config
        );
    }

    #[test]
    fn finds_per_method_functions_with_or_without_a_handler() {
        let info =
            inspect("pub fn post(r: Request) {} pub fn get(r: Request) {} fn put() {}").unwrap();
        assert_eq!(info.methods, ["GET", "POST"]);
        assert!(!info.has_handler);
        let both = inspect("pub fn handler(r: Request) {} pub fn delete(r: Request) {}").unwrap();
        assert_eq!(both.methods, ["DELETE"]);
        assert!(both.has_handler);
        let error = inspect("fn get() {}").unwrap_err().to_string();
        assert!(error.contains("one function per method"), "{error}");
    }

    #[test]
    fn accepts_a_reexported_handler() {
        assert!(inspect("pub use shared::routes::users as handler;").is_ok());
        assert!(inspect("pub use shared::{handler};").is_ok());
    }

    #[test]
    fn says_what_is_missing() {
        let err = inspect("fn main() {}").unwrap_err().to_string();
        assert!(err.contains("no `pub fn handler` found"), "{err}");
        let err = inspect("fn handler() {}").unwrap_err().to_string();
        assert!(err.contains("must be `pub`"), "{err}");
    }

    #[test]
    fn leaves_syntax_errors_to_the_compiler() {
        assert!(inspect("pub fn handler( {").is_ok());
    }
}
