//! Lookup time in a table of 10,000 routes: 9,000 static, 1,000 with a dynamic segment.

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use routelet_router::{Lookup, RouteTable};

fn table() -> RouteTable<usize> {
    let mut entries = Vec::with_capacity(10_000);
    for service in 0..100 {
        for route in 0..90 {
            entries.push((format!("/api/s{service}/r{route}"), entries.len()));
        }
        for route in 0..10 {
            entries.push((format!("/api/s{service}/d{route}/[id]"), entries.len()));
        }
    }
    RouteTable::new(entries).expect("a valid layout")
}

fn lookup(c: &mut Criterion) {
    let table = table();
    assert_eq!(table.len(), 10_000);
    let mut group = c.benchmark_group("lookup_10000_routes");
    for path in ["/api/s99/r89", "/api/s50/d9/42", "/api/s99/none"] {
        group.bench_with_input(BenchmarkId::from_parameter(path), path, |b, path| {
            b.iter(|| match table.lookup(black_box(path)) {
                Lookup::Found(found) => black_box(*found.value),
                _ => usize::MAX,
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
