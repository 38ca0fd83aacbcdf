//! Next.js's custom routes (`redirects`, `rewrites`, `headers` in `next.config.js`): sources
//! in path-to-regexp syntax, `has`/`missing` conditions, and destinations with parameters.
//! What the host reads from `routelet.toml` is built from these parts.

pub mod conditions;
pub mod destination;
pub mod source;

pub use conditions::{Condition, RequestFacts, check_all};
pub use destination::{Destination, put_in};
pub use source::{Captured, Captures, Source};

#[cfg(test)]
mod tests {
    use super::*;

    /// What `fuzz/fuzz_targets/custom_routes.rs` checks, on the seeds of its corpus.
    #[test]
    fn the_fuzz_targets_properties_hold_on_its_seeds() {
        let seeds = [
            ("/blog/:slug", "/news/:slug?x=1", "/blog/hello"),
            (
                "/docs/:path*",
                "https://:path.example.com/:path*",
                "/docs/a/b",
            ),
            ("/:path((?!api).*)", "/x", "/about"),
            ("/plain/path-1_a", "/elsewhere", "/plain/path-1_a"),
        ];
        for (source, destination, path) in seeds {
            let compiled = Source::new(source).unwrap();
            let captured = compiled.matches(path).unwrap();
            if !source.contains(':') {
                assert!(compiled.matches(source).is_some());
            }
            let destination = Destination::new(destination).unwrap();
            destination.compile(&captured, Some("q=1")).unwrap();
            destination.compile_rewrite(&captured, None).unwrap();
        }
    }
}
