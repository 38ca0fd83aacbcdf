//! Route files: the builder's parser accepts or refuses any source text with a message, in
//! every place a file can sit, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routelet::builder::route_file::{Place, inspect};

fuzz_target!(|source: &str| {
    for (pattern, is_api, is_dynamic) in [
        ("/api/users/[id]", true, true),
        ("/about", false, false),
        ("/blog/[slug]", false, true),
    ] {
        let place = Place {
            pattern,
            is_api,
            is_dynamic,
        };
        if let Err(error) = inspect(source, &place) {
            assert!(!error.to_string().is_empty());
        }
    }
});
