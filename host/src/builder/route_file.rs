//! What the builder needs to know about a route file before compiling it.

use anyhow::bail;

/// Facts about one route file.
#[derive(Debug, PartialEq)]
pub struct RouteFileInfo {
    /// `pub const CONFIG` or `pub static CONFIG` is declared.
    pub has_config: bool,
}

/// Checks that the file exports `pub fn handler` and whether it declares `CONFIG`.
///
/// A file that does not parse is passed on: the compiler's message about it is the better one.
pub fn inspect(source: &str) -> anyhow::Result<RouteFileInfo> {
    let Ok(file) = syn::parse_file(source) else {
        return Ok(RouteFileInfo { has_config: false });
    };
    let mut handler = None;
    let mut has_config = false;
    for item in &file.items {
        match item {
            syn::Item::Fn(f) if f.sig.ident == "handler" => handler = Some(is_pub(&f.vis)),
            syn::Item::Const(c) if c.ident == "CONFIG" && is_pub(&c.vis) => has_config = true,
            syn::Item::Static(s) if s.ident == "CONFIG" && is_pub(&s.vis) => has_config = true,
            syn::Item::Use(u) if is_pub(&u.vis) && exports_handler(&u.tree) => handler = Some(true),
            _ => {}
        }
    }
    match handler {
        Some(true) => Ok(RouteFileInfo { has_config }),
        Some(false) => bail!("`fn handler` must be `pub` so the route can export it"),
        None => bail!(
            "no `pub fn handler` found: a route file exports its handler like \
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

    #[test]
    fn finds_handler_and_config() {
        let info = inspect(
            "use x::*; pub const CONFIG: Config = Config::new(); pub fn handler(r: Request) {}",
        )
        .unwrap();
        assert_eq!(info, RouteFileInfo { has_config: true });
        assert!(!inspect("pub fn handler() {}").unwrap().has_config);
        assert!(
            !inspect("const CONFIG: u8 = 1; pub fn handler() {}")
                .unwrap()
                .has_config
        );
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
