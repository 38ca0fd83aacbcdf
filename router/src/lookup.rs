//! Matching a request path against the table, and decoding its parameters.
//!
//! The lookup walks the trie depth-first in match order (at each node: the page itself, static
//! children by UTF-16, `[x]`, `[...x]`, `[[...x]]`), backtracking when a branch fails. Because the
//! sorted route list is exactly the pre-order of that trie, the first route the walk reaches is
//! the first route of the sorted list that matches. Each trie node sits at one depth, so a lookup
//! visits a node at most once; nothing is allocated until a route is found.

use std::cmp::Ordering;

use percent_encoding::percent_decode_str;

use crate::pattern::{Route, Segment};
use crate::table::{RouteTable, cmp_utf16};

/// The outcome of a lookup.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a, T> {
    /// A route matched and its parameters decoded.
    Found(Match<'a, T>),
    /// No route matches (HTTP 404).
    NotFound,
    /// A path param had a bad percent escape or was not UTF-8 after decoding (HTTP 400).
    BadEscape,
}

/// A matched route with what the host attached to it and the decoded parameters.
#[derive(Debug, PartialEq)]
pub struct Match<'a, T> {
    /// The route that matched.
    pub route: &'a Route,
    /// What the host attached to that route.
    pub value: &'a T,
    /// The route's parameters, decoded.
    pub params: Params,
}

/// The value of one route parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// From `[name]`: one decoded segment.
    Single(String),
    /// From `[...name]` or `[[...name]]`: the decoded segments, in order (never empty).
    Multiple(Vec<String>),
}

/// Params in path order; an empty optional catch-all is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, ParamValue)>);

impl Params {
    /// The value bound to `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether no parameter is bound.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bound parameters in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

/// Whether every `%` is followed by two hex digits, i.e. `decodeURIComponent` would get past the
/// escapes themselves (UTF-8 validity is checked separately).
fn escapes_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// `decodeURIComponent` for one segment: `None` on a bad escape or invalid UTF-8.
pub(crate) fn decode_component(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    if !escapes_valid(s) {
        return None;
    }
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Splits the next segment off the remaining path: `None` means no segment is left.
fn next_segment(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once('/') {
        Some((seg, tail)) => (seg, Some(tail)),
        None => (rest, None),
    }
}

/// Whether `rest` (one or more segments) has no empty segment, as a catch-all needs.
fn all_segments_non_empty(rest: &str) -> bool {
    !rest.is_empty() && !rest.starts_with('/') && !rest.ends_with('/') && !rest.contains("//")
}

impl<T> RouteTable<T> {
    /// Matches an already-normalised, still percent-ENCODED path (no query) like "/api/users/42".
    ///
    /// The path is split on `/` before decoding, so `%2F` stays inside one value. A static
    /// segment matches when the raw segment or its percent-decoding equals it; parameters are
    /// decoded per segment with `decodeURIComponent` rules. A path that does not start with `/`
    /// or has an empty segment (`/a//b`, `/a/`) matches nothing: [`normalize`](crate::normalize)
    /// redirects those before routing. Matching is case-sensitive.
    pub fn lookup(&self, encoded_path: &str) -> Lookup<'_, T> {
        let Some(rest) = encoded_path.strip_prefix('/') else {
            return Lookup::NotFound;
        };
        let rest = if rest.is_empty() { None } else { Some(rest) };
        let Some(index) = self.find(0, rest) else {
            return Lookup::NotFound;
        };
        let (route, value) = &self.routes[index as usize];
        match extract_params(route, rest) {
            Some(params) => Lookup::Found(Match {
                route,
                value,
                params,
            }),
            None => Lookup::BadEscape,
        }
    }

    /// The depth-first walk; returns the index (in match order) of the first matching route.
    fn find(&self, node: u32, rest: Option<&str>) -> Option<u32> {
        let n = &self.nodes[node as usize];
        let Some(rest) = rest else {
            // No segment left: the page here, else an optional catch-all taking zero segments
            // (the two never coexist, the table refuses that).
            return n.page.or(n.optional_catch_all);
        };
        let (segment, tail) = next_segment(rest);
        if segment.is_empty() {
            return None;
        }

        // Static children: the one equal to the raw segment and the one equal to its decoding
        // (they differ whenever the segment has an escape); tried in their precedence order.
        let raw = n
            .statics
            .binary_search_by(|(k, _)| k.as_bytes().cmp(segment.as_bytes()))
            .ok();
        let decoded = if segment.contains('%') && escapes_valid(segment) {
            n.statics
                .binary_search_by(|(k, _)| k.bytes().cmp(percent_decode_str(segment)))
                .ok()
        } else {
            None
        };
        let candidates = match (raw, decoded) {
            (Some(a), Some(b)) if a != b => {
                if cmp_utf16(&n.statics[a].0, &n.statics[b].0) == Ordering::Less {
                    [Some(a), Some(b)]
                } else {
                    [Some(b), Some(a)]
                }
            }
            (a, b) => [a.or(b), None],
        };
        for i in candidates.into_iter().flatten() {
            if let Some(found) = self.find(n.statics[i].1, tail) {
                return Some(found);
            }
        }

        if let Some(child) = n.dynamic
            && let Some(found) = self.find(child, tail)
        {
            return Some(found);
        }

        if (n.catch_all.is_some() || n.optional_catch_all.is_some()) && all_segments_non_empty(rest)
        {
            return n.catch_all.or(n.optional_catch_all);
        }
        None
    }
}

/// Binds the route's parameters from the (structurally matching) path; `None` on a bad escape.
fn extract_params(route: &Route, mut rest: Option<&str>) -> Option<Params> {
    let mut params = Vec::with_capacity(route.param_count());
    for segment in route.segments() {
        match segment {
            Segment::Static(_) | Segment::Dynamic(_) => {
                let (raw, tail) = next_segment(rest.expect("route matched structurally"));
                rest = tail;
                if let Segment::Dynamic(name) = segment {
                    params.push((name.clone(), ParamValue::Single(decode_component(raw)?)));
                }
            }
            Segment::CatchAll(name) | Segment::OptionalCatchAll(name) => {
                if let Some(all) = rest.take() {
                    let values = all
                        .split('/')
                        .map(decode_component)
                        .collect::<Option<Vec<_>>>()?;
                    params.push((name.clone(), ParamValue::Multiple(values)));
                }
            }
        }
    }
    Some(Params(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert!(escapes_valid(""));
        assert!(escapes_valid("abc"));
        assert!(escapes_valid("%2F"));
        assert!(escapes_valid("a%2fb%41"));
        assert!(!escapes_valid("%"));
        assert!(!escapes_valid("%2"));
        assert!(!escapes_valid("a%2"));
        assert!(!escapes_valid("%G1"));
        assert!(!escapes_valid("%1G"));
    }

    #[test]
    fn decode_like_decode_uri_component() {
        assert_eq!(decode_component("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(decode_component("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode_component("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_component("%F0%9F%98%80").as_deref(), Some("😀"));
        assert_eq!(decode_component("%00").as_deref(), Some("\0"));
        assert_eq!(decode_component("é").as_deref(), Some("é"));
        assert_eq!(decode_component("%"), None);
        assert_eq!(decode_component("%zz"), None);
        assert_eq!(decode_component("%FF"), None);
        assert_eq!(decode_component("%C3"), None);
        // Overlong encoding and an encoded surrogate are both rejected by JS as well.
        assert_eq!(decode_component("%C0%80"), None);
        assert_eq!(decode_component("%ED%A0%80"), None);
    }

    #[test]
    fn segments_split() {
        assert_eq!(next_segment("a/b"), ("a", Some("b")));
        assert_eq!(next_segment("a"), ("a", None));
        assert_eq!(next_segment("a/"), ("a", Some("")));
        assert!(all_segments_non_empty("a/b"));
        assert!(!all_segments_non_empty("a//b"));
        assert!(!all_segments_non_empty("a/"));
        assert!(!all_segments_non_empty(""));
    }

    #[test]
    fn two_static_candidates_follow_utf16_precedence() {
        // "%41" (a literal file name) sorts before "A"; a request for "/%41" matches both.
        let t = RouteTable::new(vec![
            ("/A/x".to_string(), "decoded"),
            ("/%41/y".to_string(), "raw"),
        ])
        .unwrap();
        let hit = |p| match t.lookup(p) {
            Lookup::Found(m) => *m.value,
            other => panic!("{p}: {other:?}"),
        };
        // Backtracking: the raw candidate "%41" has no "x" child, so "A" is tried next.
        assert_eq!(hit("/%41/x"), "decoded");
        assert_eq!(hit("/%41/y"), "raw");
        assert_eq!(hit("/A/x"), "decoded");
        assert_eq!(t.lookup("/A/y"), Lookup::NotFound);

        // Here the decoded key "!" sorts before the raw key "%21": "/!/[q]" comes first.
        let t = RouteTable::new(vec![
            ("/%21/[p]".to_string(), "raw"),
            ("/!/[q]".to_string(), "decoded"),
        ])
        .unwrap();
        let order: Vec<_> = t.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, vec!["decoded", "raw"]);
        match t.lookup("/%21/z") {
            Lookup::Found(m) => assert_eq!(*m.value, "decoded"),
            other => panic!("{other:?}"),
        }
    }
}
