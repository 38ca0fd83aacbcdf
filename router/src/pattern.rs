//! Route patterns: page paths to patterns, and patterns to segments.

use crate::error::RouteError;

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Literal text that must equal the path segment (raw, or after percent-decoding).
    Static(String),
    /// `[name]`: exactly one path segment.
    Dynamic(String),
    /// `[...name]`: one or more path segments, always last.
    CatchAll(String),
    /// `[[...name]]`: zero or more path segments, always last.
    OptionalCatchAll(String),
}

impl Segment {
    /// The parameter name, for the segments that bind one.
    pub fn param_name(&self) -> Option<&str> {
        match self {
            Segment::Static(_) => None,
            Segment::Dynamic(n) | Segment::CatchAll(n) | Segment::OptionalCatchAll(n) => Some(n),
        }
    }
}

/// How one raw pattern segment reads, before the checks that depend on its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    Static,
    Dynamic(&'a str),
    CatchAll(&'a str),
    OptionalCatchAll(&'a str),
}

/// Strips one pair of enclosing brackets, the way Next.js tests `startsWith('[') && endsWith(']')`.
fn unbracket(s: &str) -> Option<&str> {
    s.strip_prefix('[')?.strip_suffix(']')
}

/// Reads one segment exactly as Next.js's `UrlNode._insert` does, raising the errors that depend
/// on the segment alone, in Next's order: three-dot character, extra brackets, erroneous periods,
/// then optional non-catch-all.
pub(crate) fn parse_segment(segment: &str) -> Result<Parsed<'_>, RouteError> {
    let Some(inner) = unbracket(segment) else {
        // Not fully bracketed (`a[b]`, `[a]b`, `[a`): plain text.
        return Ok(Parsed::Static);
    };
    let (mut name, optional) = match unbracket(inner) {
        Some(n) => (n, true),
        None => (inner, false),
    };
    if name.starts_with('…') {
        return Err(RouteError::ThreeDotCharacter {
            name: name.to_owned(),
        });
    }
    let catch_all = match name.strip_prefix("...") {
        Some(rest) => {
            name = rest;
            true
        }
        None => false,
    };
    if name.starts_with('[') || name.ends_with(']') {
        return Err(RouteError::ExtraBrackets {
            name: name.to_owned(),
        });
    }
    if name.starts_with('.') {
        return Err(RouteError::ErroneousPeriods {
            name: name.to_owned(),
        });
    }
    Ok(match (catch_all, optional) {
        (true, true) => Parsed::OptionalCatchAll(name),
        (true, false) => Parsed::CatchAll(name),
        (false, true) => {
            return Err(RouteError::OptionalParameter {
                segment: segment.to_owned(),
            });
        }
        (false, false) => Parsed::Dynamic(name),
    })
}

/// Splits a pattern into its non-empty segments, as Next's `split('/').filter(Boolean)`.
pub(crate) fn split_pattern(pattern: &str) -> Vec<&str> {
    pattern.split('/').filter(|s| !s.is_empty()).collect()
}

/// Turns a file path relative to `pages/` (with `/` separators, extension already removed, e.g.
/// `api/users/[id]`, `api/index`, `index`, `blog/index`) into the route pattern Next.js gives it
/// (`/api/users/[id]`, `/api`, `/`, `/blog`). Trailing `/index` removed once (`index/index` -> `/index`).
///
/// Like Next's `normalizePathSep` + `removePagePathTail`, a `\` is read as a separator and a
/// leading `/` is added when missing.
pub fn pattern_from_page_path(path: &str) -> String {
    let mut p = String::with_capacity(path.len() + 1);
    if !path.starts_with(['/', '\\']) {
        p.push('/');
    }
    p.extend(path.chars().map(|c| if c == '\\' { '/' } else { c }));
    if let Some(stripped) = p.strip_suffix("/index") {
        let len = stripped.len();
        p.truncate(len);
    }
    if p.is_empty() {
        p.push('/');
    }
    p
}

/// Whether the route at `pattern` is an API route: Next.js treats every page under
/// `pages/api/` (and `pages/api.*` itself) as one, whatever it exports.
pub fn is_api_route(pattern: &str) -> bool {
    pattern == "/api" || pattern.starts_with("/api/")
}

/// A validated route pattern with its parsed segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pattern: String,
    segments: Vec<Segment>,
    params: usize,
}

impl Route {
    /// Builds a route from segments that already passed the table's validation.
    pub(crate) fn from_validated(raw: &[&str]) -> Route {
        let segments: Vec<Segment> = raw
            .iter()
            .map(|s| match parse_segment(s) {
                Ok(Parsed::Static) => Segment::Static((*s).to_owned()),
                Ok(Parsed::Dynamic(n)) => Segment::Dynamic(n.to_owned()),
                Ok(Parsed::CatchAll(n)) => Segment::CatchAll(n.to_owned()),
                Ok(Parsed::OptionalCatchAll(n)) => Segment::OptionalCatchAll(n.to_owned()),
                Err(e) => unreachable!("segment {s:?} passed validation but reads as {e}"),
            })
            .collect();
        let params = segments.iter().filter(|s| s.param_name().is_some()).count();
        Route {
            pattern: format!("/{}", raw.join("/")),
            segments,
            params,
        }
    }

    /// The canonical pattern, e.g. `/api/users/[id]` (always one leading `/`, no empty segments).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The pattern's segments in path order (empty for `/`).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether any segment binds a parameter (Next's `isDynamicRoute`).
    pub fn is_dynamic(&self) -> bool {
        self.params > 0
    }

    /// How many parameters a match can bind at most.
    pub(crate) fn param_count(&self) -> usize {
        self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_routes_are_those_under_api() {
        assert!(is_api_route("/api"));
        assert!(is_api_route("/api/users/[id]"));
        assert!(!is_api_route("/apis"));
        assert!(!is_api_route("/blog/api"));
        assert!(!is_api_route("/"));
    }

    #[test]
    fn page_paths() {
        assert_eq!(pattern_from_page_path("index"), "/");
        assert_eq!(pattern_from_page_path(""), "/");
        assert_eq!(pattern_from_page_path("api/index"), "/api");
        assert_eq!(pattern_from_page_path("index/index"), "/index");
        assert_eq!(pattern_from_page_path("blog/index/index"), "/blog/index");
        assert_eq!(pattern_from_page_path("api/users/[id]"), "/api/users/[id]");
        assert_eq!(pattern_from_page_path("/api/index"), "/api");
        assert_eq!(pattern_from_page_path("indexes"), "/indexes");
        assert_eq!(pattern_from_page_path("blog/xindex"), "/blog/xindex");
        assert_eq!(pattern_from_page_path("index/foo"), "/index/foo");
        assert_eq!(pattern_from_page_path("api\\index"), "/api");
    }

    #[test]
    fn segments_parse_like_next() {
        assert_eq!(parse_segment("abc"), Ok(Parsed::Static));
        assert_eq!(parse_segment("a[b]"), Ok(Parsed::Static));
        assert_eq!(parse_segment("[a]b"), Ok(Parsed::Static));
        assert_eq!(parse_segment("["), Ok(Parsed::Static));
        assert_eq!(parse_segment("]"), Ok(Parsed::Static));
        assert_eq!(parse_segment("[id]"), Ok(Parsed::Dynamic("id")));
        assert_eq!(parse_segment("[]"), Ok(Parsed::Dynamic("")));
        assert_eq!(parse_segment("[...all]"), Ok(Parsed::CatchAll("all")));
        assert_eq!(
            parse_segment("[[...all]]"),
            Ok(Parsed::OptionalCatchAll("all"))
        );
        assert_eq!(
            parse_segment("[[id]]"),
            Err(RouteError::OptionalParameter {
                segment: "[[id]]".into()
            })
        );
        assert_eq!(
            parse_segment("[[]"),
            Err(RouteError::ExtraBrackets { name: "[".into() })
        );
        assert_eq!(
            parse_segment("[[…x]]"),
            Err(RouteError::ThreeDotCharacter {
                name: "…x".into()
            })
        );
        assert_eq!(
            parse_segment("[....x]"),
            Err(RouteError::ErroneousPeriods { name: ".x".into() })
        );
    }

    #[test]
    fn route_from_segments() {
        let r = Route::from_validated(&["api", "[id]", "[[...rest]]"]);
        assert_eq!(r.pattern(), "/api/[id]/[[...rest]]");
        assert_eq!(
            r.segments(),
            &[
                Segment::Static("api".into()),
                Segment::Dynamic("id".into()),
                Segment::OptionalCatchAll("rest".into())
            ]
        );
        assert!(r.is_dynamic());
        assert_eq!(r.param_count(), 2);
        let root = Route::from_validated(&[]);
        assert_eq!(root.pattern(), "/");
        assert!(!root.is_dynamic());
        assert!(!Route::from_validated(&["a[b]"]).is_dynamic());
    }
}
