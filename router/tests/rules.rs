//! Next.js's routing rules, one test per rule. Error messages are asserted verbatim against the
//! wording of Next.js's `sorted-routes.ts`; the sorter examples come from Next.js's own
//! `test/unit/page-route-sorter.test.ts`.

use routelet_router::{
    Lookup, Normalized, ParamValue, Params, RouteError, RouteTable, Segment, normalize,
    pattern_from_page_path,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn table(patterns: &[&str]) -> RouteTable<String> {
    try_table(patterns).unwrap_or_else(|e| panic!("{patterns:?} refused: {e}"))
}

fn try_table(patterns: &[&str]) -> Result<RouteTable<String>, RouteError> {
    RouteTable::new(
        patterns
            .iter()
            .map(|p| (p.to_string(), p.to_string()))
            .collect(),
    )
}

fn order(patterns: &[&str]) -> Vec<String> {
    table(patterns)
        .iter()
        .map(|(r, _)| r.pattern().to_owned())
        .collect()
}

fn error(patterns: &[&str]) -> String {
    match try_table(patterns) {
        Ok(t) => panic!(
            "{patterns:?} accepted as {:?}",
            t.iter().map(|(r, _)| r.pattern()).collect::<Vec<_>>()
        ),
        Err(e) => e.to_string(),
    }
}

/// The pattern that `path` routes to, or "404" / "400".
fn route_of(t: &RouteTable<String>, path: &str) -> String {
    match t.lookup(path) {
        Lookup::Found(m) => {
            assert_eq!(m.route.pattern(), m.value, "value travels with its route");
            m.value.clone()
        }
        Lookup::NotFound => "404".into(),
        Lookup::BadEscape => "400".into(),
    }
}

fn params_of(t: &RouteTable<String>, path: &str) -> Params {
    match t.lookup(path) {
        Lookup::Found(m) => m.params,
        other => panic!("{path}: {other:?}"),
    }
}

fn one(s: &str) -> ParamValue {
    ParamValue::Single(s.into())
}

fn many(v: &[&str]) -> ParamValue {
    ParamValue::Multiple(v.iter().map(|s| s.to_string()).collect())
}

/// A small deterministic generator, so the shuffles and random layouts are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

// The list from Next.js's "correctly sorts required slugs" test, and its expected order.
const NEXT_SORTER_INPUT: &[&str] = &[
    "/posts",
    "/[root-slug]",
    "/",
    "/posts/[id]",
    "/blog/[id]/comments/[cid]",
    "/blog/abc/[id]",
    "/[...rest]",
    "/blog/abc/post",
    "/blog/abc",
    "/p1/[[...incl]]",
    "/p/[...rest]",
    "/p2/[...rest]",
    "/p2/[id]",
    "/p2/[id]/abc",
    "/p3/[[...rest]]",
    "/p3/[id]",
    "/p3/[id]/abc",
    "/blog/[id]",
    "/foo/[d]/bar/baz/[f]",
    "/apples/[ab]/[cd]/ef",
];

const NEXT_SORTER_OUTPUT: &[&str] = &[
    "/",
    "/apples/[ab]/[cd]/ef",
    "/blog/abc",
    "/blog/abc/post",
    "/blog/abc/[id]",
    "/blog/[id]",
    "/blog/[id]/comments/[cid]",
    "/foo/[d]/bar/baz/[f]",
    "/p/[...rest]",
    "/p1/[[...incl]]",
    "/p2/[id]",
    "/p2/[id]/abc",
    "/p2/[...rest]",
    "/p3/[id]",
    "/p3/[id]/abc",
    "/p3/[[...rest]]",
    "/posts",
    "/posts/[id]",
    "/[root-slug]",
    "/[...rest]",
];

// ---------------------------------------------------------------------------------------------
// page paths and segments

#[test]
fn index_file_names_its_folder_and_only_the_last_index_is_removed() {
    assert_eq!(pattern_from_page_path("index"), "/");
    assert_eq!(pattern_from_page_path("api/index"), "/api");
    assert_eq!(pattern_from_page_path("blog/index"), "/blog");
    assert_eq!(pattern_from_page_path("index/index"), "/index");
    assert_eq!(pattern_from_page_path("api/users/[id]"), "/api/users/[id]");
    assert_eq!(pattern_from_page_path("api/[id]/index"), "/api/[id]");
    assert_eq!(pattern_from_page_path("api/reindex"), "/api/reindex");
    // "/index" is a real route of its own, reached by the path "/index".
    let t = table(&[
        &pattern_from_page_path("index"),
        &pattern_from_page_path("index/index"),
    ]);
    assert_eq!(route_of(&t, "/"), "/");
    assert_eq!(route_of(&t, "/index"), "/index");
}

#[test]
fn segments_are_static_dynamic_catch_all_or_optional_catch_all() {
    let t = table(&["/a/[b]/[...c]", "/d/[[...e]]"]);
    let segments: Vec<Vec<Segment>> = t.iter().map(|(r, _)| r.segments().to_vec()).collect();
    assert_eq!(
        segments,
        vec![
            vec![
                Segment::Static("a".into()),
                Segment::Dynamic("b".into()),
                Segment::CatchAll("c".into())
            ],
            vec![
                Segment::Static("d".into()),
                Segment::OptionalCatchAll("e".into())
            ],
        ]
    );
    assert!(t.iter().all(|(r, _)| r.is_dynamic()));
    assert!(!table(&["/a/b"]).iter().any(|(r, _)| r.is_dynamic()));
}

#[test]
fn a_segment_not_fully_bracketed_is_static_text() {
    let t = table(&["/a[b]", "/[c]d", "/[e", "/f]", "/[x]"]);
    for (route, _) in t.iter() {
        if route.pattern() != "/[x]" {
            assert!(!route.is_dynamic(), "{} is static", route.pattern());
        }
    }
    assert_eq!(route_of(&t, "/a[b]"), "/a[b]");
    assert_eq!(route_of(&t, "/a%5Bb%5D"), "/a[b]");
    assert_eq!(route_of(&t, "/[c]d"), "/[c]d");
    assert_eq!(route_of(&t, "/[e"), "/[e");
    assert_eq!(route_of(&t, "/f]"), "/f]");
    assert_eq!(route_of(&t, "/zz"), "/[x]");
}

#[test]
fn dynamic_segment_matches_exactly_one_segment() {
    let t = table(&["/users/[id]"]);
    assert_eq!(
        params_of(&t, "/users/42").0,
        vec![("id".to_string(), one("42"))]
    );
    assert_eq!(route_of(&t, "/users"), "404");
    assert_eq!(route_of(&t, "/users/42/x"), "404");
}

#[test]
fn catch_all_matches_one_or_more_segments() {
    let t = table(&["/docs/[...slug]"]);
    assert_eq!(route_of(&t, "/docs"), "404");
    assert_eq!(
        params_of(&t, "/docs/a").0,
        vec![("slug".to_string(), many(&["a"]))]
    );
    assert_eq!(
        params_of(&t, "/docs/a/b/c").0,
        vec![("slug".to_string(), many(&["a", "b", "c"]))]
    );
}

#[test]
fn optional_catch_all_matches_zero_or_more_and_is_absent_when_empty() {
    let t = table(&["/docs/[[...slug]]", "/[[...all]]"]);
    let empty = params_of(&t, "/docs");
    assert!(empty.is_empty());
    assert_eq!(empty.get("slug"), None);
    assert_eq!(
        params_of(&t, "/docs/a/b").get("slug"),
        Some(&many(&["a", "b"]))
    );
    assert_eq!(route_of(&t, "/"), "/[[...all]]");
    assert!(params_of(&t, "/").is_empty());
    assert_eq!(params_of(&t, "/x").get("all"), Some(&many(&["x"])));
}

// ---------------------------------------------------------------------------------------------
// order

#[test]
fn order_at_each_level_is_page_static_dynamic_catch_all_optional_catch_all() {
    assert_eq!(
        order(&[
            "/b/[[...o]]",
            "/a/[...c]/",
            "/b/[d]",
            "/a/[d]",
            "/a/z",
            "/b/c",
            "/a/b",
            "/a",
            "/"
        ]),
        vec![
            "/",
            "/a",
            "/a/b",
            "/a/z",
            "/a/[d]",
            "/a/[...c]",
            "/b/c",
            "/b/[d]",
            "/b/[[...o]]"
        ]
    );
    // A page comes before everything below it, even its static children.
    assert_eq!(
        order(&["/a/b", "/a", "/a/[x]/y", "/a/[x]"]),
        vec!["/a", "/a/b", "/a/[x]", "/a/[x]/y"]
    );
    // A dynamic level's whole subtree comes before the catch-all of the same level.
    assert_eq!(order(&["/[...c]", "/[d]/e/f"]), vec!["/[d]/e/f", "/[...c]"]);
}

#[test]
fn static_children_sort_by_utf16_code_units() {
    let input = [
        "/b",
        "/a",
        "/B",
        "/_",
        "/a-b",
        "/\u{1F600}",
        "/\u{FF21}",
        "/é",
        "/a_b",
        "/aa",
    ];
    assert_eq!(
        order(&input),
        vec![
            "/B",
            "/_",
            "/a",
            "/a-b",
            "/a_b",
            "/aa",
            "/b",
            "/é",
            "/\u{1F600}",
            "/\u{FF21}"
        ]
    );
}

#[test]
fn nextjs_sorter_example_sorts_as_next_does() {
    assert_eq!(order(NEXT_SORTER_INPUT), NEXT_SORTER_OUTPUT);
}

#[test]
fn nextjs_sorter_does_not_add_extra_routes() {
    for p in [
        "/posts",
        "/posts/[id]",
        "/posts/[id]/foo",
        "/posts/[id]/[foo]/bar",
        "/posts/[id]/baz/[foo]/bar",
    ] {
        assert_eq!(order(&[p]), vec![p]);
    }
}

#[test]
fn precedence_does_not_depend_on_input_order() {
    let mut input: Vec<&str> = NEXT_SORTER_INPUT.to_vec();
    let mut reversed = input.clone();
    reversed.reverse();
    assert_eq!(order(&reversed), NEXT_SORTER_OUTPUT);
    let mut sorted = input.clone();
    sorted.sort();
    assert_eq!(order(&sorted), NEXT_SORTER_OUTPUT);
    let mut rng = Rng(7);
    for _ in 0..50 {
        rng.shuffle(&mut input);
        let t = table(&input);
        let got: Vec<&str> = t.iter().map(|(r, _)| r.pattern()).collect();
        assert_eq!(got, NEXT_SORTER_OUTPUT, "input order {input:?}");
        // Same lookups whatever the order.
        assert_eq!(route_of(&t, "/blog/abc"), "/blog/abc");
        assert_eq!(route_of(&t, "/blog/xyz"), "/blog/[id]");
        assert_eq!(route_of(&t, "/p3"), "/p3/[[...rest]]");
        assert_eq!(route_of(&t, "/p3/q"), "/p3/[id]");
        assert_eq!(route_of(&t, "/p3/q/r"), "/p3/[[...rest]]");
        assert_eq!(route_of(&t, "/posts"), "/posts");
        assert_eq!(route_of(&t, "/x"), "/[root-slug]");
        assert_eq!(route_of(&t, "/x/y"), "/[...rest]");
    }
}

#[test]
fn first_match_in_match_order_wins_so_static_beats_dynamic() {
    let t = table(&[
        "/[...all]",
        "/api/[id]",
        "/api/me",
        "/api/[id]/x",
        "/[a]/x",
        "/api/me/[...r]",
    ]);
    assert_eq!(route_of(&t, "/api/me"), "/api/me");
    assert_eq!(route_of(&t, "/api/you"), "/api/[id]");
    assert_eq!(route_of(&t, "/api/me/x"), "/api/me/[...r]");
    assert_eq!(route_of(&t, "/api/you/x"), "/api/[id]/x");
    assert_eq!(route_of(&t, "/api/x"), "/api/[id]");
    // "/api" has no page: the static branch fails and the walk backtracks past "/[a]/x" to "/[...all]".
    assert_eq!(route_of(&t, "/api"), "/[...all]");
    // "/api/me/x/y": "/api/me/[...r]" wins over "/[a]/x" and "/[...all]" by order.
    assert_eq!(route_of(&t, "/api/me/x/y"), "/api/me/[...r]");
    assert_eq!(route_of(&t, "/other/x"), "/[a]/x");
    assert_eq!(route_of(&t, "/api/you/y"), "/[...all]");
}

/// What "first match in the sorted list" means, written the slow, obvious way.
fn reference_lookup(t: &RouteTable<String>, path: &str) -> String {
    fn decode(s: &str) -> Option<String> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
    let Some(rest) = path.strip_prefix('/') else {
        return "404".into();
    };
    let segs: Vec<&str> = if rest.is_empty() {
        vec![]
    } else {
        rest.split('/').collect()
    };
    if segs.iter().any(|s| s.is_empty()) {
        return "404".into();
    }
    for (route, value) in t.iter() {
        let mut i = 0;
        let mut ok = true;
        let mut params = Vec::new();
        for seg in route.segments() {
            match seg {
                Segment::Static(k) => {
                    ok = i < segs.len() && (segs[i] == k || decode(segs[i]).as_deref() == Some(k));
                    i += 1;
                }
                Segment::Dynamic(_) => {
                    ok = i < segs.len();
                    params.extend(segs.get(i).copied());
                    i += 1;
                }
                Segment::CatchAll(_) => {
                    ok = i < segs.len();
                    params.extend(segs.get(i..).unwrap_or_default().iter().copied());
                    i = segs.len();
                }
                Segment::OptionalCatchAll(_) => {
                    params.extend(segs.get(i..).unwrap_or_default().iter().copied());
                    i = segs.len();
                }
            }
            if !ok {
                break;
            }
        }
        if ok && i == segs.len() {
            if params.iter().any(|p| decode(p).is_none()) {
                return "400".into();
            }
            return value.clone();
        }
    }
    "404".into()
}

#[test]
fn lookup_gives_the_first_match_of_the_sorted_list() {
    let statics = ["a", "b", "A", "%41", "é", "%C3%A9", "a b", "!", "%21"];
    let path_segments = [
        "a",
        "b",
        "A",
        "%41",
        "%61",
        "é",
        "%C3%A9",
        "%25C3%25A9",
        "a%20b",
        "x",
        "%2F",
        "%zz",
        "%FF",
        "",
        "!",
        "%21",
        "%2521",
    ];
    let mut rng = Rng(42);
    let mut outcomes = std::collections::HashMap::<String, usize>::new();
    let mut sizes = 0;
    for _ in 0..60 {
        // A random valid layout: one name per kind per depth keeps slug names consistent.
        let mut layout: Vec<String> = Vec::new();
        for _ in 0..40 {
            let depth = rng.below(4);
            let mut p = String::new();
            for d in 0..depth {
                p.push('/');
                match rng.below(10) {
                    0..=5 => p.push_str(statics[rng.below(statics.len())]),
                    6 | 7 => p.push_str(&format!("[p{d}]")),
                    8 => p.push_str(&format!("[...c{d}]")),
                    _ => p.push_str(&format!("[[...o{d}]]")),
                }
            }
            if p.is_empty() {
                p.push('/');
            }
            if layout.contains(&p) {
                continue;
            }
            layout.push(p);
            let refs: Vec<&str> = layout.iter().map(String::as_str).collect();
            if try_table(&refs).is_err() {
                layout.pop();
            }
        }
        let refs: Vec<&str> = layout.iter().map(String::as_str).collect();
        let t = table(&refs);
        for _ in 0..200 {
            let n = rng.below(5);
            let path: String = if n == 0 {
                "/".into()
            } else {
                (0..n)
                    .map(|_| format!("/{}", path_segments[rng.below(path_segments.len())]))
                    .collect()
            };
            let expected = reference_lookup(&t, &path);
            assert_eq!(route_of(&t, &path), expected, "{path} in {refs:?}");
            *outcomes.entry(expected.clone()).or_insert(0) += 1;
        }
        sizes += t.len();
    }
    // The random layouts and paths really exercise the table: sizeable layouts, and every kind
    // of outcome (not found, bad escape, and many different routes) shows up often.
    assert!(sizes / 60 >= 10, "average layout size {}", sizes / 60);
    assert!(
        outcomes.get("404").copied().unwrap_or(0) > 500,
        "{outcomes:?}"
    );
    assert!(
        outcomes.get("400").copied().unwrap_or(0) > 100,
        "{outcomes:?}"
    );
    let found: usize = outcomes
        .iter()
        .filter(|(k, _)| k.starts_with('/'))
        .map(|(_, v)| v)
        .sum();
    assert!(found > 2000, "{outcomes:?}");
    assert!(outcomes.len() > 50, "{outcomes:?}");
}

// ---------------------------------------------------------------------------------------------
// errors (verbatim Next.js wording)

#[test]
fn different_slug_names_at_one_level_are_refused() {
    assert_eq!(
        error(&[
            "/",
            "/blog",
            "/blog/[id]",
            "/blog/[id]/comments/[cid]",
            "/blog/[cid]"
        ]),
        "You cannot use different slug names for the same dynamic path ('id' !== 'cid')."
    );
    // The reported pair follows the input order, as in Next.js.
    assert_eq!(
        error(&["/[b]/x", "/[a]/y"]),
        "You cannot use different slug names for the same dynamic path ('b' !== 'a')."
    );
    assert_eq!(
        error(&["/d/[...a]", "/d/[...b]"]),
        "You cannot use different slug names for the same dynamic path ('a' !== 'b')."
    );
    assert_eq!(
        error(&["/d/[[...a]]", "/d/[[...b]]"]),
        "You cannot use different slug names for the same dynamic path ('a' !== 'b')."
    );
    // Different levels, or a dynamic beside a catch-all, may use different names.
    assert_eq!(order(&["/x/[a]", "/y/[b]", "/[c]", "/[...d]"]).len(), 4);
}

#[test]
fn a_slug_name_repeated_in_one_path_is_refused() {
    assert_eq!(
        error(&["/", "/blog", "/blog/[id]/comments/[id]", "/blog/[id]"]),
        "You cannot have the same slug name \"id\" repeat within a single dynamic path"
    );
    assert_eq!(
        error(&["/blog/[id]", "/blog/[id]/[...id]"]),
        "You cannot have the same slug name \"id\" repeat within a single dynamic path"
    );
    assert_eq!(
        error(&["/[x]/a/[[...x]]"]),
        "You cannot have the same slug name \"x\" repeat within a single dynamic path"
    );
}

#[test]
fn slug_names_differing_only_by_non_word_symbols_are_refused() {
    assert_eq!(
        error(&["/blog/[helloworld]", "/blog/[helloworld]/[hello-world]"]),
        "You cannot have the slug names \"helloworld\" and \"hello-world\" differ only by non-word symbols within a single dynamic path"
    );
    assert_eq!(
        error(&["/[a.b]/[...ab]"]),
        "You cannot have the slug names \"a.b\" and \"ab\" differ only by non-word symbols within a single dynamic path"
    );
    // Next's `\W` has no `u` flag: every non-ASCII letter is a "non-word symbol", so two
    // all-non-ASCII names collide, and "naïve" collides with "nave".
    assert_eq!(
        error(&["/[ä]/[ö]"]),
        "You cannot have the slug names \"ä\" and \"ö\" differ only by non-word symbols within a single dynamic path"
    );
    assert_eq!(
        error(&["/[naïve]/[[...nave]]"]),
        "You cannot have the slug names \"naïve\" and \"nave\" differ only by non-word symbols within a single dynamic path"
    );
    // `_` and digits are word characters; names that differ in them are fine.
    assert_eq!(order(&["/[a_b]/[ab]", "/x/[a1]/[a2]"]).len(), 2);
}

#[test]
fn a_catch_all_must_be_the_last_segment() {
    for p in [
        "/blog/[...id]/[...id2]",
        "/blog/[...id]/abc",
        "/[[...a]]/b",
        "/[...a]/[[b]]",
    ] {
        assert_eq!(
            error(&[p]),
            "Catch-all must be the last part of the URL.",
            "{p}"
        );
    }
}

#[test]
fn optional_non_catch_all_parameters_are_refused() {
    for p in ["/[[blog]]", "/abc/[[blog]]", "/abc/[[blog]]/def"] {
        assert_eq!(
            error(&[p]),
            "Optional route parameters are not yet supported (\"[[blog]]\")."
        );
    }
}

#[test]
fn extra_brackets_are_refused() {
    for (p, name) in [
        ("/blog/[[...id]", "[...id"),
        ("/blog/[[[...id]]", "[...id"),
        ("/blog/[...id]]", "id]"),
        ("/blog/[[...id]]]", "id]"),
        ("/blog/[[[...id]]]", "[...id]"),
        ("/[[a]", "[a"),
    ] {
        assert_eq!(
            error(&[p]),
            format!("Segment names may not start or end with extra brackets ('{name}')."),
            "{p}"
        );
    }
}

#[test]
fn erroneous_periods_are_refused() {
    assert_eq!(
        error(&["/blog/[....id]/abc"]),
        "Segment names may not start with erroneous periods ('.id')."
    );
    assert_eq!(
        error(&["/blog/[..id]/abc"]),
        "Segment names may not start with erroneous periods ('..id')."
    );
    assert_eq!(
        error(&["/[[.x]]"]),
        "Segment names may not start with erroneous periods ('.x')."
    );
    // A period elsewhere in a name is allowed.
    assert_eq!(order(&["/[a.b]"]), vec!["/[a.b]"]);
}

#[test]
fn the_three_dot_character_is_refused() {
    assert_eq!(
        error(&["/blog/[…slug]"]),
        "Detected a three-dot character ('…') at ('…slug'). Did you mean ('...')?"
    );
    assert_eq!(
        error(&["/[[…slug]]"]),
        "Detected a three-dot character ('…') at ('…slug'). Did you mean ('...')?"
    );
}

#[test]
fn an_optional_catch_all_beside_a_required_one_is_refused() {
    assert_eq!(
        error(&["/[...one]", "/[[...one]]"]),
        "You cannot use both an required and optional catch-all route at the same level (\"[...one]\" and \"[[...one]]\" )."
    );
    assert_eq!(
        error(&["/a/[...x]", "/a/[[...y]]"]),
        "You cannot use both an required and optional catch-all route at the same level (\"[...x]\" and \"[[...y]]\" )."
    );
}

#[test]
fn a_required_catch_all_beside_an_optional_one_is_refused() {
    assert_eq!(
        error(&["/[[...one]]", "/[...one]"]),
        "You cannot use both an optional and required catch-all route at the same level (\"[[...one]]\" and \"[...one]\")."
    );
    assert_eq!(
        error(&["/a/[[...y]]", "/a/[...x]"]),
        "You cannot use both an optional and required catch-all route at the same level (\"[[...y]]\" and \"[...x]\")."
    );
}

#[test]
fn a_route_with_the_same_specificity_as_an_optional_catch_all_is_refused() {
    let root = "You cannot define a route with the same specificity as a optional catch-all route (\"/\" and \"/[[...all]]\").";
    assert_eq!(error(&["/", "/[[...all]]"]), root);
    assert_eq!(error(&["/[[...all]]", "/"]), root);
    // Below the root Next.js leaves out the "/" before "[[": kept as is.
    let sub = "You cannot define a route with the same specificity as a optional catch-all route (\"/sub\" and \"/sub[[...all]]\").";
    assert_eq!(error(&["/sub", "/sub/[[...all]]"]), sub);
    assert_eq!(error(&["/sub/[[...all]]", "/sub"]), sub);
    assert_eq!(
        error(&["/[id]/[[...rest]]", "/[id]"]),
        "You cannot define a route with the same specificity as a optional catch-all route (\"/[id]\" and \"/[id][[...rest]]\")."
    );
    // Next checks a level only after walking its static children (in sorted order) and its `[x]`
    // child, so with two such conflicts the deeper one under a static child is reported.
    assert_eq!(
        error(&["/", "/[[...r]]", "/z", "/z/[[...q]]", "/a", "/a/[[...p]]"]),
        "You cannot define a route with the same specificity as a optional catch-all route (\"/a\" and \"/a[[...p]]\")."
    );
    assert_eq!(
        error(&["/", "/[[...r]]", "/[d]", "/[d]/[[...q]]"]),
        "You cannot define a route with the same specificity as a optional catch-all route (\"/[d]\" and \"/[d][[...q]]\")."
    );
}

#[test]
fn two_entries_with_the_same_pattern_are_refused() {
    let a = pattern_from_page_path("api/a");
    let b = pattern_from_page_path("api/a/index");
    assert_eq!(
        error(&["/x", &a, &b]),
        "Duplicate page detected. Entries #1 and #2 both resolve to /api/a."
    );
    assert_eq!(
        error(&["/", "/index/index", "/"]),
        "Duplicate page detected. Entries #0 and #2 both resolve to /."
    );
    assert_eq!(
        try_table(&["/[id]", "/[id]"]).err(),
        Some(RouteError::DuplicatePage {
            pattern: "/[id]".into(),
            first: 0,
            second: 1
        })
    );
}

#[test]
fn an_empty_segment_name_is_refused() {
    assert_eq!(error(&["/[]"]), "Segment names may not be empty ('[]').");
    assert_eq!(
        error(&["/a/[...]"]),
        "Segment names may not be empty ('[...]')."
    );
    assert_eq!(
        error(&["/a/[[...]]"]),
        "Segment names may not be empty ('[[...]]')."
    );
    // `[[]]` is refused by Next's own check first.
    assert_eq!(
        error(&["/[[]]"]),
        "Optional route parameters are not yet supported (\"[[]]\")."
    );
}

#[test]
fn any_error_refuses_the_whole_table_and_the_first_in_input_order_is_reported() {
    let bad = ["/ok", "/[a]/x", "/[b]/y", "/c/[[d]]"];
    assert_eq!(
        error(&bad),
        "You cannot use different slug names for the same dynamic path ('a' !== 'b')."
    );
    let mut reversed = bad;
    reversed.reverse();
    assert_eq!(
        error(&reversed),
        "Optional route parameters are not yet supported (\"[[d]]\")."
    );
    // The ordering pass (and its error) only runs once every entry was inserted, as in Next.js.
    assert_eq!(
        error(&["/", "/[[...all]]", "/x/[[y]]"]),
        "Optional route parameters are not yet supported (\"[[y]]\")."
    );
}

// ---------------------------------------------------------------------------------------------
// matching and decoding

#[test]
fn params_are_decoded_per_segment_so_an_encoded_slash_stays_in_one_value() {
    let t = table(&["/files/[name]", "/tree/[...path]"]);
    assert_eq!(params_of(&t, "/files/a%2Fb").get("name"), Some(&one("a/b")));
    assert_eq!(
        params_of(&t, "/tree/a%2Fb/c").get("path"),
        Some(&many(&["a/b", "c"]))
    );
    assert_eq!(
        params_of(&t, "/files/a%20b+c").get("name"),
        Some(&one("a b+c"))
    );
    assert_eq!(params_of(&t, "/files/%25").get("name"), Some(&one("%")));
}

#[test]
fn a_static_segment_matches_its_raw_or_decoded_form() {
    let t = table(&["/caf%C3%A9", "/a b", "/é/[x]"]);
    assert_eq!(route_of(&t, "/caf%C3%A9"), "/caf%C3%A9");
    assert_eq!(route_of(&t, "/caf%25C3%25A9"), "/caf%C3%A9");
    assert_eq!(route_of(&t, "/a%20b"), "/a b");
    assert_eq!(route_of(&t, "/%C3%A9/1"), "/é/[x]");
    assert_eq!(route_of(&t, "/é/1"), "/é/[x]");
    assert_eq!(route_of(&t, "/caf%c3%a9"), "404");
}

#[test]
fn a_bad_escape_or_invalid_utf8_in_a_param_is_bad_escape() {
    let t = table(&["/u/[id]", "/c/[...rest]", "/o/[[...rest]]", "/%zz"]);
    for p in [
        "/u/%",
        "/u/%2",
        "/u/%zz",
        "/u/%FF",
        "/u/%C3",
        "/u/%C0%80",
        "/c/ok/%E2%82",
        "/o/%ff",
    ] {
        assert_eq!(t.lookup(p), Lookup::BadEscape, "{p}");
    }
    // A static segment is compared raw when it cannot be decoded: no error there.
    assert_eq!(route_of(&t, "/%zz"), "/%zz");
    assert_eq!(route_of(&t, "/u/ok"), "/u/[id]");
}

#[test]
fn unicode_params_decode_to_utf8_text() {
    let t = table(&["/[name]", "/t/[...tags]"]);
    assert_eq!(
        params_of(&t, "/%C3%A9t%C3%A9").get("name"),
        Some(&one("été"))
    );
    assert_eq!(params_of(&t, "/%F0%9F%98%80").get("name"), Some(&one("😀")));
    assert_eq!(params_of(&t, "/日本").get("name"), Some(&one("日本")));
    assert_eq!(
        params_of(&t, "/t/%E6%97%A5/%D0%B6").get("tags"),
        Some(&many(&["日", "ж"]))
    );
}

#[test]
fn catch_all_values_are_lists_of_decoded_segments_in_path_order() {
    let t = table(&["/[org]/[repo]/[...path]"]);
    let p = params_of(&t, "/o/r/a/b%20c/d");
    assert_eq!(
        p.0,
        vec![
            ("org".to_string(), one("o")),
            ("repo".to_string(), one("r")),
            ("path".to_string(), many(&["a", "b c", "d"])),
        ]
    );
    assert_eq!(
        p.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        vec!["org", "repo", "path"]
    );
}

#[test]
fn matching_is_case_sensitive() {
    let t = table(&["/About", "/api/[id]"]);
    assert_eq!(route_of(&t, "/About"), "/About");
    assert_eq!(route_of(&t, "/about"), "404");
    assert_eq!(route_of(&t, "/API/1"), "404");
    assert_eq!(params_of(&t, "/api/AbC").get("id"), Some(&one("AbC")));
}

#[test]
fn paths_with_empty_segments_or_no_leading_slash_match_nothing() {
    let t = table(&["/", "/a", "/[x]/[...y]", "/b/[[...z]]"]);
    for p in ["", "a", "/a/", "//a", "/q//r", "/q/r/", "/b//c"] {
        assert_eq!(t.lookup(p), Lookup::NotFound, "{p}");
    }
    assert_eq!(route_of(&t, "/"), "/");
    assert_eq!(route_of(&t, "/b"), "/b/[[...z]]");
    assert_eq!(route_of(&t, "/q/r"), "/[x]/[...y]");
}

#[test]
fn an_empty_table_finds_nothing() {
    let t = RouteTable::<()>::new(Vec::new()).unwrap();
    assert!(t.is_empty());
    assert_eq!(t.len(), 0);
    assert_eq!(t.lookup("/"), Lookup::NotFound);
}

// ---------------------------------------------------------------------------------------------
// normalisation

#[test]
fn backslashes_and_repeated_slashes_redirect_once_to_the_clean_path() {
    assert_eq!(
        normalize("/a//b", None),
        Normalized::Redirect("/a/b".into())
    );
    assert_eq!(
        normalize("/a\\b", Some("x=1")),
        Normalized::Redirect("/a/b?x=1".into())
    );
    // The trailing slash goes in the same redirect.
    assert_eq!(
        normalize("//a\\\\b//", Some("q")),
        Normalized::Redirect("/a/b?q".into())
    );
    assert_eq!(normalize("//", None), Normalized::Redirect("/".into()));
    // Encoded slashes and backslashes are data, not separators.
    assert_eq!(
        normalize("/a%2F%2Fb%5C", None),
        Normalized::Clean("/a%2F%2Fb%5C")
    );
}

#[test]
fn a_trailing_slash_redirects_to_the_path_without_it() {
    assert_eq!(
        normalize("/api/users/", None),
        Normalized::Redirect("/api/users".into())
    );
    assert_eq!(
        normalize("/api/users/", Some("a=1&b=2")),
        Normalized::Redirect("/api/users?a=1&b=2".into())
    );
    assert_eq!(normalize("/", Some("a=1")), Normalized::Clean("/"));
    // An empty query leaves no "?" behind, as in Next.js.
    assert_eq!(
        normalize("/a/", Some("")),
        Normalized::Redirect("/a".into())
    );
}

#[test]
fn a_clean_path_is_routed_as_is() {
    for p in ["/", "/api", "/api/users/42", "/a%20b"] {
        assert_eq!(normalize(p, Some("x")), Normalized::Clean(p));
    }
}
