//! The route table: validation and ordering, mirroring Next.js's `getSortedRoutes`.
//!
//! Validation inserts the patterns one by one into a trie the way `UrlNode._insert` does (so the
//! first error Next.js would throw for the same list is the one reported), then walks it the way
//! `UrlNode._smoosh` does to get the match order and the "same specificity" error. The same trie,
//! frozen, is what [`RouteTable::lookup`](crate::RouteTable::lookup) walks.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::error::RouteError;
use crate::pattern::{Parsed, Route, parse_segment, split_pattern};

/// Compares two strings the way JavaScript's default `Array.prototype.sort` does: by UTF-16 code
/// units, which differs from Rust's byte order for characters above U+FFFF versus U+E000..U+FFFF.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Next's `\W` without the `u` flag: everything but ASCII letters, digits and `_` is "non-word".
fn word_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_')
}

/// A trie node while the table is being built (the shape of Next's `UrlNode`).
#[derive(Default)]
struct BuildNode {
    /// Input position of the entry whose pattern ends here (`placeholder === false`).
    page: Option<usize>,
    statics: HashMap<String, usize>,
    dynamic: Option<(String, usize)>,
    catch_all: Option<(String, usize)>,
    optional_catch_all: Option<(String, usize)>,
}

struct Builder {
    nodes: Vec<BuildNode>,
}

impl Builder {
    fn new_node(&mut self) -> usize {
        self.nodes.push(BuildNode::default());
        self.nodes.len() - 1
    }

    /// Next's `handleSlug`: one name per kind per level, no name twice in a path, no two names in
    /// a path equal once non-word characters are dropped (compared against the raw segment, as
    /// Next does; the characters around the name are all non-word, so only the name counts).
    fn handle_slug<'s>(
        previous: Option<&str>,
        next: &'s str,
        raw_segment: &str,
        slug_names: &mut Vec<&'s str>,
    ) -> Result<(), RouteError> {
        if let Some(previous) = previous
            && previous != next
        {
            return Err(RouteError::DifferentSlugNames {
                previous: previous.to_owned(),
                next: next.to_owned(),
            });
        }
        for slug in slug_names.iter() {
            if *slug == next {
                return Err(RouteError::RepeatedSlugName {
                    name: next.to_owned(),
                });
            }
            if word_chars(slug).eq(word_chars(raw_segment)) {
                return Err(RouteError::SlugNamesDifferOnlyByNonWordSymbols {
                    earlier: (*slug).to_owned(),
                    later: next.to_owned(),
                });
            }
        }
        slug_names.push(next);
        Ok(())
    }

    fn check_named(name: &str, segment: &str) -> Result<(), RouteError> {
        if name.is_empty() {
            return Err(RouteError::EmptySegmentName {
                segment: segment.to_owned(),
            });
        }
        Ok(())
    }

    /// Next's `UrlNode._insert`, iteratively.
    fn insert(&mut self, segments: &[&str], entry: usize) -> Result<(), RouteError> {
        let mut node = 0;
        let mut slug_names: Vec<&str> = Vec::new();
        let mut after_catch_all = false;
        for &segment in segments {
            if after_catch_all {
                return Err(RouteError::CatchAllNotLast);
            }
            node = match parse_segment(segment)? {
                Parsed::Static => match self.nodes[node].statics.get(segment) {
                    Some(&child) => child,
                    None => {
                        let child = self.new_node();
                        self.nodes[node].statics.insert(segment.to_owned(), child);
                        child
                    }
                },
                Parsed::Dynamic(name) => {
                    Self::check_named(name, segment)?;
                    let previous = self.nodes[node].dynamic.as_ref().map(|(n, _)| n.as_str());
                    Self::handle_slug(previous, name, segment, &mut slug_names)?;
                    match self.nodes[node].dynamic {
                        Some((_, child)) => child,
                        None => {
                            let child = self.new_node();
                            self.nodes[node].dynamic = Some((name.to_owned(), child));
                            child
                        }
                    }
                }
                Parsed::CatchAll(name) => {
                    if let Some((optional, _)) = &self.nodes[node].optional_catch_all {
                        return Err(RouteError::OptionalAndRequiredCatchAll {
                            optional: optional.clone(),
                            segment: segment.to_owned(),
                        });
                    }
                    Self::check_named(name, segment)?;
                    let previous = self.nodes[node].catch_all.as_ref().map(|(n, _)| n.as_str());
                    Self::handle_slug(previous, name, segment, &mut slug_names)?;
                    after_catch_all = true;
                    match self.nodes[node].catch_all {
                        Some((_, child)) => child,
                        None => {
                            let child = self.new_node();
                            self.nodes[node].catch_all = Some((name.to_owned(), child));
                            child
                        }
                    }
                }
                Parsed::OptionalCatchAll(name) => {
                    if let Some((required, _)) = &self.nodes[node].catch_all {
                        return Err(RouteError::RequiredAndOptionalCatchAll {
                            required: required.clone(),
                            segment: segment.to_owned(),
                        });
                    }
                    Self::check_named(name, segment)?;
                    let previous = self.nodes[node]
                        .optional_catch_all
                        .as_ref()
                        .map(|(n, _)| n.as_str());
                    Self::handle_slug(previous, name, segment, &mut slug_names)?;
                    after_catch_all = true;
                    match self.nodes[node].optional_catch_all {
                        Some((_, child)) => child,
                        None => {
                            let child = self.new_node();
                            self.nodes[node].optional_catch_all = Some((name.to_owned(), child));
                            child
                        }
                    }
                }
            };
        }
        // Duplicates were refused before insertion, so no entry is overwritten here.
        self.nodes[node].page = Some(entry);
        Ok(())
    }

    /// Next's `UrlNode._smoosh`: appends this subtree's entries in match order (the page itself,
    /// static children by UTF-16, `[x]`, `[...x]`, `[[...x]]`), raising the "same specificity"
    /// error at the point Next does (after the static and `[x]` subtrees were walked).
    fn smoosh(
        &self,
        id: usize,
        prefix: &mut String,
        out: &mut Vec<usize>,
    ) -> Result<(), RouteError> {
        let node = &self.nodes[id];
        let start = out.len();

        let mut statics: Vec<(&String, &usize)> = node.statics.iter().collect();
        statics.sort_by(|a, b| cmp_utf16(a.0, b.0));
        for (key, &child) in statics {
            self.smoosh_child(child, prefix, out, &[key, "/"])?;
        }
        if let Some((name, child)) = &node.dynamic {
            self.smoosh_child(*child, prefix, out, &["[", name, "]/"])?;
        }
        if let Some(entry) = node.page {
            if let Some((optional, _)) = &node.optional_catch_all {
                let route = if prefix == "/" {
                    "/"
                } else {
                    &prefix[..prefix.len() - 1]
                };
                return Err(RouteError::SameSpecificityAsOptionalCatchAll {
                    route: route.to_owned(),
                    optional: optional.clone(),
                });
            }
            out.insert(start, entry);
        }
        if let Some((name, child)) = &node.catch_all {
            self.smoosh_child(*child, prefix, out, &["[...", name, "]/"])?;
        }
        if let Some((name, child)) = &node.optional_catch_all {
            self.smoosh_child(*child, prefix, out, &["[[...", name, "]]/"])?;
        }
        Ok(())
    }

    fn smoosh_child(
        &self,
        child: usize,
        prefix: &mut String,
        out: &mut Vec<usize>,
        parts: &[&str],
    ) -> Result<(), RouteError> {
        let len = prefix.len();
        for p in parts {
            prefix.push_str(p);
        }
        let r = self.smoosh(child, prefix, out);
        prefix.truncate(len);
        r
    }
}

/// A node of the frozen lookup trie. Indices are into `RouteTable::nodes` / `RouteTable::routes`.
#[derive(Debug)]
pub(crate) struct Node {
    /// Route whose pattern ends at this node.
    pub(crate) page: Option<u32>,
    /// Static children, sorted by bytes for binary search (precedence between two candidates is
    /// decided by [`cmp_utf16`] at lookup time).
    pub(crate) statics: Box<[(Box<str>, u32)]>,
    /// The `[x]` child node.
    pub(crate) dynamic: Option<u32>,
    /// Route of the `[...x]` child (a catch-all is always last, so it is a leaf).
    pub(crate) catch_all: Option<u32>,
    /// Route of the `[[...x]]` child (likewise a leaf).
    pub(crate) optional_catch_all: Option<u32>,
}

/// A validated route table in Next.js match order; T is what the host attaches (e.g. a file path
/// or a compiled component).
#[derive(Debug)]
pub struct RouteTable<T> {
    pub(crate) routes: Vec<(Route, T)>,
    pub(crate) nodes: Vec<Node>,
}

impl<T> RouteTable<T> {
    /// Validates the whole layout like Next.js's route sorter; any error refuses the whole table.
    ///
    /// A pattern is read like Next's sorter reads it (split on `/`, empty parts dropped), so
    /// `api/a`, `/api/a` and `/api/a/` are the same pattern. Checks run in Next's order: first
    /// duplicate patterns (Next's page mapping), then every entry is inserted in the order given
    /// (so with several problems the reported one is the one Next would report for that order),
    /// then the ordering pass. The resulting match order never depends on the input order.
    pub fn new(entries: Vec<(String, T)>) -> Result<Self, RouteError> {
        let split: Vec<Vec<&str>> = entries.iter().map(|(p, _)| split_pattern(p)).collect();

        let mut seen: HashMap<&[&str], usize> = HashMap::with_capacity(split.len());
        for (i, segs) in split.iter().enumerate() {
            if let Some(&first) = seen.get(segs.as_slice()) {
                return Err(RouteError::DuplicatePage {
                    pattern: format!("/{}", segs.join("/")),
                    first,
                    second: i,
                });
            }
            seen.insert(segs, i);
        }
        drop(seen);

        let mut builder = Builder {
            nodes: vec![BuildNode::default()],
        };
        for (i, segs) in split.iter().enumerate() {
            builder.insert(segs, i)?;
        }
        let mut order = Vec::with_capacity(entries.len());
        builder.smoosh(0, &mut String::from("/"), &mut order)?;
        debug_assert_eq!(order.len(), entries.len());

        // Position of each input entry in match order.
        let mut rank = vec![0u32; entries.len()];
        for (pos, &entry) in order.iter().enumerate() {
            rank[entry] = u32::try_from(pos).expect("more than u32::MAX routes");
        }
        let leaf = |id: usize| builder.nodes[id].page.map(|e| rank[e]);
        let nodes: Vec<Node> = builder
            .nodes
            .iter()
            .map(|n| {
                let mut statics: Vec<(Box<str>, u32)> = n
                    .statics
                    .iter()
                    .map(|(k, &c)| (k.as_str().into(), c as u32))
                    .collect();
                statics.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Node {
                    page: n.page.map(|e| rank[e]),
                    statics: statics.into_boxed_slice(),
                    dynamic: n.dynamic.as_ref().map(|(_, c)| *c as u32),
                    catch_all: n.catch_all.as_ref().and_then(|(_, c)| leaf(*c)),
                    optional_catch_all: n.optional_catch_all.as_ref().and_then(|(_, c)| leaf(*c)),
                }
            })
            .collect();

        let routes_in_order: Vec<Route> = order
            .iter()
            .map(|&e| Route::from_validated(&split[e]))
            .collect();
        drop(split);
        let mut values: Vec<Option<T>> = entries.into_iter().map(|(_, v)| Some(v)).collect();
        let routes = routes_in_order
            .into_iter()
            .zip(&order)
            .map(|(route, &e)| (route, values[e].take().expect("each entry placed once")))
            .collect();
        Ok(RouteTable { routes, nodes })
    }

    /// Routes in match order (same order as Next.js getSortedRoutes).
    pub fn iter(&self) -> impl Iterator<Item = (&Route, &T)> {
        self.routes.iter().map(|(r, v)| (r, v))
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table has no routes (every lookup is then `NotFound`).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(patterns: &[&str]) -> Result<Vec<String>, RouteError> {
        let t = RouteTable::new(patterns.iter().map(|p| (p.to_string(), ())).collect())?;
        Ok(t.iter().map(|(r, _)| r.pattern().to_owned()).collect())
    }

    #[test]
    fn utf16_order_differs_from_byte_order() {
        // U+FF21 (fullwidth A) is one UTF-16 unit 0xFF21; U+1F600 is the surrogate pair D83D DE00.
        let a = "\u{FF21}";
        let b = "\u{1F600}";
        assert_eq!(a.cmp(b), Ordering::Less);
        assert_eq!(cmp_utf16(a, b), Ordering::Greater);
        assert_eq!(
            order(&[a, b]).unwrap(),
            vec![format!("/{b}"), format!("/{a}")]
        );
    }

    #[test]
    fn page_comes_before_its_children() {
        assert_eq!(
            order(&["/a/b", "/a/[x]", "/a", "/a/[...r]"]).unwrap(),
            vec!["/a", "/a/b", "/a/[x]", "/a/[...r]"]
        );
    }

    #[test]
    fn patterns_are_read_like_next_splits_them() {
        assert_eq!(order(&["api//a/", "b"]).unwrap(), vec!["/api/a", "/b"]);
        assert_eq!(
            order(&["/api/a", "api/a/"]),
            Err(RouteError::DuplicatePage {
                pattern: "/api/a".into(),
                first: 0,
                second: 1
            })
        );
    }

    #[test]
    fn catch_all_leaves_are_routes() {
        let t = RouteTable::new(vec![
            ("/[...a]".to_string(), 1),
            ("/b/[[...c]]".to_string(), 2),
        ])
        .unwrap();
        let root = &t.nodes[0];
        assert_eq!(root.catch_all, Some(1));
        assert_eq!(root.page, None);
        assert_eq!(t.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(t.len(), 2);
        assert!(!t.is_empty());
        assert!(RouteTable::<()>::new(vec![]).unwrap().is_empty());
    }

    #[test]
    fn non_word_comparison_is_ascii_only() {
        // JS `\W` without the `u` flag treats every non-ASCII letter as non-word.
        assert!(word_chars("ä").eq(word_chars("[[...ö]]")));
        assert!(!word_chars("a_b").eq(word_chars("[ab]")));
    }
}
