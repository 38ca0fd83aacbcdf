//! `allowed_outbound_hosts` and request URLs: any entries and any URL are judged without a panic,
//! an empty list denies everything, and an entry written from a URL's own scheme, host and port
//! always allows that URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routelet::factors::outbound_http::allow_list::{AllowList, Target, Verdict};

fuzz_target!(|data: &str| {
    let mut lines = data.split('\n');
    let url = lines.next().unwrap_or_default();
    let entries: Vec<String> = lines.take(64).map(str::to_owned).collect();
    let Ok(uri) = url.parse::<http::Uri>() else {
        let _ = AllowList::parse(&entries);
        return;
    };
    let Ok(target) = Target::of(&uri) else {
        return;
    };
    if let Ok(list) = AllowList::parse(&entries) {
        let _ = list.check(&target);
    }
    assert_eq!(AllowList::default().check(&target), Verdict::Denied);
    let own = AllowList::parse(&[target.to_string()])
        .unwrap_or_else(|why| panic!("{target} does not parse as an entry: {why}"));
    assert_eq!(own.check(&target), Verdict::Allowed, "{target}");
});
