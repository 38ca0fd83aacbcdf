//! Request paths: normalising never panics and is idempotent on its clean output, and looking
//! the result up in a table of every kind of segment never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use routelet_router::{Normalized, RouteTable, normalize};

fn table() -> &'static RouteTable<()> {
    static TABLE: OnceLock<RouteTable<()>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let patterns = [
            "/",
            "/api",
            "/api/users/me",
            "/api/users/[id]",
            "/api/posts/[...slug]",
            "/api/docs/[[...path]]",
            "/blog/[slug]/comments/[comment]",
            "/[locale]/about",
        ];
        RouteTable::new(patterns.iter().map(|p| (p.to_string(), ())).collect())
            .expect("a valid table")
    })
}

fuzz_target!(|data: &str| {
    // Request paths always start with `/`: hyper gives the origin-form path (an absolute-form
    // target's path too), so a path without one is not a request the host can receive.
    let data = match data.starts_with('/') {
        true => data.to_owned(),
        false => format!("/{data}"),
    };
    let (path, query) = match data.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (data.as_str(), None),
    };
    match normalize(path, query) {
        Normalized::Clean(clean) => {
            match normalize(clean, query) {
                Normalized::Clean(again) => assert_eq!(again, clean, "normalize is idempotent"),
                Normalized::Redirect(to) => panic!("clean {clean:?} redirects to {to:?}"),
            }
            let _ = table().lookup(clean);
        }
        Normalized::Redirect(location) => {
            assert!(
                location.starts_with('/'),
                "a redirect stays on the site: {location:?}"
            );
            assert!(
                !location.starts_with("//"),
                "not a protocol-relative URL: {location:?}"
            );
        }
    }
});
