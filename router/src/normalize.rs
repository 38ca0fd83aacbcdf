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
        let mut clean = collapse(path);
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

/// [`normalize`] for an app with `trailingSlash: true`: Next.js then redirects the other way,
/// adding the slash to a path whose last segment has no dot and removing it from one that
/// looks like a file (`name.ext`), and leaves `/.well-known/` alone. The clean path it routes
/// is the path without its trailing slash.
pub fn normalize_trailing<'a>(path: &'a str, query: Option<&str>) -> Normalized<'a> {
    let collapsed = (path.contains('\\') || path.contains("//")).then(|| collapse(path));
    let current = collapsed.as_deref().unwrap_or(path);
    let wanted = trailing_form(current);
    if collapsed.is_some() || wanted != current {
        return Normalized::Redirect(with_query(wanted, query));
    }
    match path.strip_suffix('/') {
        Some(routed) if !routed.is_empty() => Normalized::Clean(routed),
        _ => Normalized::Clean(path),
    }
}

/// `\` turned into `/` and repeated slashes into one.
fn collapse(path: &str) -> String {
    let mut clean = String::with_capacity(path.len());
    for c in path.chars() {
        let c = if c == '\\' { '/' } else { c };
        if c == '/' && clean.ends_with('/') {
            continue;
        }
        clean.push(c);
    }
    clean
}

/// The form `trailingSlash: true` wants for a path without repeated slashes.
fn trailing_form(path: &str) -> String {
    if path == "/" || path.is_empty() || path.starts_with("/.well-known/") || path == "/.well-known"
    {
        return path.to_owned();
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let last = trimmed.rsplit('/').next().unwrap_or("");
    let looks_like_file = last.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && !ext.is_empty() && ext.chars().all(|c| c.is_alphanumeric() || c == '_')
    });
    if looks_like_file {
        trimmed.to_owned()
    } else if !last.contains('.') {
        format!("{trimmed}/")
    } else {
        path.to_owned()
    }
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
    fn trailing_slash_true_adds_it_except_to_files() {
        let redirect = |path: &str, query| match normalize_trailing(path, query) {
            Normalized::Redirect(l) => l,
            Normalized::Clean(p) => panic!("{path:?} stayed clean as {p:?}"),
        };
        assert_eq!(redirect("/about", Some("x=1")), "/about/?x=1");
        assert_eq!(redirect("/api/hello", None), "/api/hello/");
        assert_eq!(redirect("/style.css/", None), "/style.css");
        assert_eq!(redirect("//a//b", None), "/a/b/");
        assert_eq!(
            normalize_trailing("/about/", None),
            Normalized::Clean("/about")
        );
        assert_eq!(normalize_trailing("/", None), Normalized::Clean("/"));
        assert_eq!(
            normalize_trailing("/style.css", None),
            Normalized::Clean("/style.css")
        );
        assert_eq!(
            normalize_trailing("/.well-known/x", None),
            Normalized::Clean("/.well-known/x")
        );
        // Neither a file nor a plain segment (`a.`): left as it is.
        assert_eq!(normalize_trailing("/a.", None), Normalized::Clean("/a."));
    }

    #[test]
    fn query_is_kept_verbatim() {
        assert_eq!(redirect("/a//", Some("p=a//b\\c?d")), "/a?p=a//b\\c?d");
    }
}
