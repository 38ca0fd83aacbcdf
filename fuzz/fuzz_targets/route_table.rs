//! Route layouts: any list of page paths either is refused with an error or gives a table in
//! which every static route finds itself and every lookup ends without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routelet_router::{Lookup, RouteTable, pattern_from_page_path};

fuzz_target!(|data: &str| {
    let entries: Vec<(String, usize)> = data
        .lines()
        .take(64)
        .enumerate()
        .map(|(index, line)| (pattern_from_page_path(line), index))
        .collect();
    let Ok(table) = RouteTable::new(entries.clone()) else {
        return;
    };
    assert_eq!(table.len(), entries.len());
    for (route, _) in table.iter() {
        let pattern = route.pattern();
        if route.is_dynamic() || pattern.contains(['%', '?', '#']) {
            continue;
        }
        match table.lookup(pattern) {
            Lookup::Found(found) => assert_eq!(
                found.route.pattern(),
                pattern,
                "a static route must find itself first"
            ),
            other => panic!("{pattern} does not find itself: {other:?}"),
        }
    }
    for (_, line) in entries.iter().zip(data.lines()) {
        let _ = table.lookup(line);
    }
});
