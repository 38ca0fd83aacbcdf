//! `redirects`/`rewrites`/`headers` sources and destinations in path-to-regexp syntax, and the
//! request paths matched against them: any source either compiles or is refused with a reason,
//! matching any path never panics, a source made only of plain segments matches itself, and a
//! destination compiled with what its own source captured never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routelet_router::custom::{Destination, Source};

fuzz_target!(|data: &str| {
    let mut lines = data.splitn(3, '\n');
    let source = lines.next().unwrap_or_default();
    let destination = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let Ok(compiled) = Source::new(source) else {
        return;
    };
    let captured = compiled.matches(path);
    let plain = source.starts_with('/')
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_');
    if plain {
        assert!(
            compiled.matches(source).is_some(),
            "{source} does not match itself"
        );
    }
    if let (Some(captures), Ok(destination)) = (captured, Destination::new(destination)) {
        let _ = destination.compile(&captures, Some(path));
        let _ = destination.compile_rewrite(&captures, None);
    }
});
