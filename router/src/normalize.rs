//! Path normalisation before routing: the 308 redirects Next.js answers before it routes.
//!
//! Next.js does this in two steps: `base-server` redirects a path containing `\` or `//`
//! (`normalizeRepeatedSlashes` in `shared/lib/utils.ts`), and then the internal
//! `/:path+/ -> /:path+` permanent redirect removes a trailing slash. Routelet does both in one
//! redirect. Only the path is touched; percent-escapes (including `%5C` and `%2F`) are left alone.

/// Path normalisation before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized<'a> {
    /// The path is already clean: route it as it is.
    Clean(&'a str),
    /// 308 to this location (path + "?" + query when a query was present)
    Redirect(String),
}

/// Decides whether `path` (the request path, still percent-encoded, without its query) must be
/// redirected before routing. `query` is what followed the first `?`, if anything; an empty query
/// is dropped from the location, as Next.js does.
pub fn normalize<'a>(path: &'a str, query: Option<&str>) -> Normalized<'a> {
    let location = if path.contains('\\') || path.contains("//") {
        let mut clean = String::with_capacity(path.len());
        for c in path.chars() {
            let c = if c == '\\' { '/' } else { c };
            if c == '/' && clean.ends_with('/') {
                continue;
            }
            clean.push(c);
        }
        if clean.len() > 1 && clean.ends_with('/') {
            clean.pop();
        }
        clean
    } else if path.len() > 1 && path.ends_with('/') {
        path[..path.len() - 1].to_owned()
    } else {
        return Normalized::Clean(path);
    };
    Normalized::Redirect(with_query(location, query))
}

fn with_query(mut location: String, query: Option<&str>) -> String {
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(path: &str, query: Option<&str>) -> String {
        match normalize(path, query) {
            Normalized::Redirect(l) => l,
            Normalized::Clean(p) => panic!("{path:?} stayed clean as {p:?}"),
        }
    }

    #[test]
    fn clean_paths_stay() {
        for p in ["/", "/a", "/a/b", "/a%2F%2Fb", "/a%5Cb", "/a.b", ""] {
            assert_eq!(normalize(p, Some("x=1")), Normalized::Clean(p));
        }
    }

    #[test]
    fn slashes_and_backslashes() {
        assert_eq!(redirect("//", None), "/");
        assert_eq!(redirect("\\", None), "/");
        assert_eq!(redirect("/a//b", None), "/a/b");
        assert_eq!(redirect("/a\\b", None), "/a/b");
        assert_eq!(redirect("/a\\\\/b", None), "/a/b");
        assert_eq!(redirect("///a///b///", Some("q=1")), "/a/b?q=1");
        assert_eq!(redirect("/a\\", None), "/a");
        assert_eq!(redirect("/é//ü", None), "/é/ü");
    }

    #[test]
    fn trailing_slash() {
        assert_eq!(redirect("/a/", None), "/a");
        assert_eq!(redirect("/a/b/", Some("x=1&y=2")), "/a/b?x=1&y=2");
        assert_eq!(redirect("/a/", Some("")), "/a");
        assert_eq!(normalize("/", None), Normalized::Clean("/"));
    }

    #[test]
    fn query_is_kept_verbatim() {
        assert_eq!(redirect("/a//", Some("p=a//b\\c?d")), "/a?p=a//b\\c?d");
    }
}
