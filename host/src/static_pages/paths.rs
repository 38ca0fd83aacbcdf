//! Page paths: what `get-static-paths` may return, checked with Next.js's rules and wording, and
//! one canonical spelling of each path for the cache and the files under `DIST/static/`.

use std::collections::HashSet;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use routelet_router::{Lookup, ParamValue, Params, Route, RouteTable, Segment};

use super::bindings::{Fallback, StaticPath, StaticPaths};
use super::sandbox::from_wit_params;

/// Bytes escaped inside one path segment: everything a URL path would need, plus `/`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// One path of a page, with the params it gives the page.
#[derive(Debug, Clone, PartialEq)]
pub struct PagePath {
    /// The canonical, encoded path (`/blog/hello%20world`).
    pub path: String,
    /// The page's params for it.
    pub params: Params,
}

/// A page's pattern, able to match paths and to build them from params.
pub struct PagePattern {
    table: RouteTable<()>,
}

impl PagePattern {
    /// The pattern of one page; it is valid, since the page is in a valid route table.
    pub fn new(pattern: &str) -> Self {
        let table = RouteTable::new(vec![(pattern.to_owned(), ())]).expect("a valid pattern");
        Self { table }
    }

    fn route(&self) -> &Route {
        self.table.iter().next().expect("one route").0
    }

    /// The page's pattern as written.
    pub fn pattern(&self) -> &str {
        self.route().pattern()
    }

    /// Whether the page has dynamic segments, so needs `get-static-paths`.
    pub fn is_dynamic(&self) -> bool {
        self.route().is_dynamic()
    }

    /// Matches an encoded path against the page, giving its canonical form and params.
    pub fn match_path(&self, encoded: &str) -> Option<PagePath> {
        let trimmed = match encoded.trim_end_matches('/') {
            "" => "/",
            path => path,
        };
        match self.table.lookup(trimmed) {
            Lookup::Found(found) => Some(PagePath {
                path: canonical_path(trimmed)?,
                params: found.params,
            }),
            _ => None,
        }
    }

    /// Builds the path for a set of params, refusing missing or mistyped ones as Next.js does.
    pub fn path_from_params(&self, params: &Params) -> Result<PagePath, String> {
        let pattern = self.pattern();
        let mut segments: Vec<String> = Vec::new();
        let mut used = Vec::new();
        for segment in self.route().segments() {
            let (name, repeat, optional) = match segment {
                Segment::Static(text) => {
                    segments.push(text.clone());
                    continue;
                }
                Segment::Dynamic(name) => (name, false, false),
                Segment::CatchAll(name) => (name, true, false),
                Segment::OptionalCatchAll(name) => (name, true, true),
            };
            let value = params.get(name);
            let missing = |received: &str| {
                format!(
                    "A required parameter ({name}) was not provided as {} in getStaticPaths for \
                     {pattern}. Received {received}.",
                    if repeat {
                        "an array of strings"
                    } else {
                        "a string"
                    }
                )
            };
            match (value, repeat) {
                (Some(ParamValue::Single(v)), false) => {
                    segments.push(v.clone());
                    used.push((name.clone(), ParamValue::Single(v.clone())));
                }
                (Some(ParamValue::Multiple(list)), true) if optional || !list.is_empty() => {
                    segments.extend(list.iter().cloned());
                    if !list.is_empty() {
                        used.push((name.clone(), ParamValue::Multiple(list.clone())));
                    }
                }
                (None, true) if optional => {}
                (None, _) => return Err(missing("undefined")),
                (Some(ParamValue::Single(_)), true) => return Err(missing("string")),
                (Some(ParamValue::Multiple(_)), _) => return Err(missing("object")),
            }
        }
        if segments.iter().any(String::is_empty) {
            return Err(format!(
                "getStaticPaths for {pattern} returned an empty parameter value; every segment \
                 of a path needs at least one character"
            ));
        }
        Ok(PagePath {
            path: encode_segments(&segments),
            params: Params(used),
        })
    }

    /// Checks `get-static-paths`' result: every path matches the page, duplicates are dropped.
    pub fn check_static_paths(
        &self,
        result: StaticPaths,
    ) -> Result<(Vec<PagePath>, Fallback), String> {
        let mut seen = HashSet::new();
        let mut paths = Vec::new();
        for entry in result.paths {
            let path = match entry {
                StaticPath::Path(text) => self.match_path(&text).ok_or_else(|| {
                    format!(
                        "The provided path `{text}` does not match the page: `{}`.",
                        self.pattern()
                    )
                })?,
                StaticPath::Params(params) => self.path_from_params(&from_wit_params(&params))?,
            };
            if seen.insert(path.path.clone()) {
                paths.push(path);
            }
        }
        Ok((paths, result.fallback))
    }
}

/// The canonical spelling of an encoded path: each segment decoded, then encoded one way.
pub fn canonical_path(encoded: &str) -> Option<String> {
    if encoded == "/" {
        return Some("/".to_owned());
    }
    let mut segments = Vec::new();
    for raw in encoded.trim_start_matches('/').split('/') {
        let decoded = percent_decode_str(raw).decode_utf8().ok()?;
        segments.push(decoded.into_owned());
    }
    Some(encode_segments(&segments))
}

fn encode_segments(segments: &[String]) -> String {
    if segments.is_empty() {
        return "/".to_owned();
    }
    let mut path = String::new();
    for segment in segments {
        path.push('/');
        if segment.chars().all(|c| c == '.') {
            // `.` and `..` stay data, never a step in a file path.
            path.push_str(&segment.replace('.', "%2E"));
        } else {
            path.extend(utf8_percent_encode(segment, SEGMENT));
        }
    }
    path
}

/// The file a page path is written to below `DIST/static/`, without its extension, as
/// Next.js names them: `/` is `index`, and a path under `/index` keeps its own folder.
pub fn file_stem(path: &str) -> String {
    if path == "/" {
        "index".to_owned()
    } else if path == "/index" || path.starts_with("/index/") {
        format!("index{path}")
    } else {
        path.trim_start_matches('/').to_owned()
    }
}

/// The inverse of [`file_stem`], for data routes (`/_routelet/data/<id>/blog/first.json`).
pub fn path_of_stem(stem: &str) -> String {
    if stem == "index" {
        "/".to_owned()
    } else if let Some(rest) = stem.strip_prefix("index/index") {
        format!("/index{rest}")
    } else {
        format!("/{stem}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factors::bindings::context;

    fn single(name: &str, value: &str) -> context::Param {
        context::Param {
            name: name.into(),
            value: context::ParamValue::Single(value.into()),
        }
    }

    #[test]
    fn paths_from_strings_and_params_are_canonical_and_deduplicated() {
        let page = PagePattern::new("/blog/[slug]");
        let (paths, fallback) = page
            .check_static_paths(StaticPaths {
                paths: vec![
                    StaticPath::Path("/blog/hello%20world".into()),
                    StaticPath::Params(vec![single("slug", "hello world")]),
                    StaticPath::Path("/blog/first/".into()),
                    StaticPath::Params(vec![single("slug", "a/b")]),
                    StaticPath::Params(vec![single("slug", "..")]),
                ],
                fallback: Fallback::Blocking,
            })
            .unwrap();
        let spelled: Vec<&str> = paths.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            spelled,
            [
                "/blog/hello%20world",
                "/blog/first",
                "/blog/a%2Fb",
                "/blog/%2E%2E"
            ]
        );
        assert_eq!(fallback, Fallback::Blocking);
        assert_eq!(
            paths[1].params.get("slug"),
            Some(&ParamValue::Single("first".into()))
        );
    }

    #[test]
    fn a_path_that_does_not_match_uses_nextjs_wording() {
        let page = PagePattern::new("/blog/[slug]");
        let error = page
            .check_static_paths(StaticPaths {
                paths: vec![StaticPath::Path("/posts/x".into())],
                fallback: Fallback::None,
            })
            .unwrap_err();
        assert_eq!(
            error,
            "The provided path `/posts/x` does not match the page: `/blog/[slug]`."
        );
    }

    #[test]
    fn missing_or_mistyped_params_use_nextjs_wording() {
        let page = PagePattern::new("/docs/[...path]");
        let error = page
            .path_from_params(&Params(vec![(
                "path".into(),
                ParamValue::Single("a".into()),
            )]))
            .unwrap_err();
        assert_eq!(
            error,
            "A required parameter (path) was not provided as an array of strings in \
             getStaticPaths for /docs/[...path]. Received string."
        );
        let page = PagePattern::new("/blog/[slug]");
        let error = page.path_from_params(&Params(vec![])).unwrap_err();
        assert!(
            error.contains("(slug) was not provided as a string"),
            "{error}"
        );
    }

    #[test]
    fn optional_catch_all_may_be_empty() {
        let page = PagePattern::new("/docs/[[...path]]");
        let empty = page.path_from_params(&Params(vec![])).unwrap();
        assert_eq!(empty.path, "/docs");
        let two = page
            .path_from_params(&Params(vec![(
                "path".into(),
                ParamValue::Multiple(vec!["a".into(), "b".into()]),
            )]))
            .unwrap();
        assert_eq!(two.path, "/docs/a/b");
    }

    #[test]
    fn file_stems_follow_nextjs() {
        for (path, stem) in [
            ("/", "index"),
            ("/about", "about"),
            ("/blog/first", "blog/first"),
            ("/index", "index/index"),
            ("/index/x", "index/index/x"),
        ] {
            assert_eq!(file_stem(path), stem);
            assert_eq!(path_of_stem(stem), path);
        }
    }
}
