//! Query strings: any string parses without a panic, and pairs encoded the way a browser
//! encodes a form come back exactly, in order, with repeated keys as lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use routelet_sdk::Query;

fuzz_target!(|data: &str| {
    let _ = Query::parse(data);

    let pairs: Vec<(&str, &str)> = data
        .split('\n')
        .take(100)
        .map(|line| line.split_once('\t').unwrap_or((line, "")))
        .filter(|(key, value)| !(key.is_empty() && value.is_empty()))
        .collect();
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(key, NON_ALPHANUMERIC),
                utf8_percent_encode(value, NON_ALPHANUMERIC)
            )
        })
        .collect();
    let query = Query::parse(&encoded.join("&"));
    for (key, _) in &pairs {
        let expected: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(query.get_all(key), expected.as_slice(), "key {key:?}");
    }
});
