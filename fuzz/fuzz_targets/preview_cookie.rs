//! Preview Mode cookies: any `Cookie` header is checked without a panic and never turns Preview
//! Mode on unless this host sealed the pair; data the host seals comes back exactly.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use routelet::factors::preview::cookies::{PreviewKeys, PreviewState};

fn keys() -> &'static PreviewKeys {
    static KEYS: OnceLock<PreviewKeys> = OnceLock::new();
    KEYS.get_or_init(|| PreviewKeys::from_secret(b"fuzzing secret, not a real one"))
}

fuzz_target!(|data: &str| {
    assert!(
        !matches!(keys().check([data]), PreviewState::On(_)),
        "a cookie this host did not seal turned Preview Mode on: {data:?}"
    );

    let (bypass, sealed) = keys().seal(data, None);
    let header = format!("__prerender_bypass={bypass}; __next_preview_data={sealed}");
    match keys().check([header.as_str()]) {
        PreviewState::On(back) => assert_eq!(back, data),
        other => panic!("sealed data did not open: {other:?}"),
    }
    // Another key opens nothing.
    let other = PreviewKeys::from_secret(b"another secret");
    assert!(!matches!(
        other.check([header.as_str()]),
        PreviewState::On(_)
    ));
});
