//! `routelet routes DIST`: the route table in match order, computed without compiling anything.

use std::path::Path;

use crate::support::{run_routelet, scratch_dir};

/// A dist whose components are empty files: `routes` must not read or compile them.
fn dist_with(name: &str, files: &[&str]) -> std::path::PathBuf {
    let dist = scratch_dir(name);
    for file in files {
        let path = dist.join("pages").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"not compiled").unwrap();
    }
    dist
}

fn routes(dist: &Path) -> (bool, String, String) {
    let output = run_routelet(&["routes", dist.to_str().unwrap()]);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn prints_routes_in_match_order_with_their_files() {
    let dist = dist_with(
        "routes-order",
        &[
            "api/docs/[[...path]].wasm",
            "api/posts/[...slug].wasm",
            "api/users/[id].wasm",
            "api/users/me.wasm",
            "api/index.wasm",
            "index.wasm",
        ],
    );
    let (ok, stdout, stderr) = routes(&dist);
    assert!(ok, "{stderr}");
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["/", "pages/index.wasm"],
            vec!["/api", "pages/api/index.wasm"],
            vec!["/api/docs/[[...path]]", "pages/api/docs/[[...path]].wasm"],
            vec!["/api/posts/[...slug]", "pages/api/posts/[...slug].wasm"],
            vec!["/api/users/me", "pages/api/users/me.wasm"],
            vec!["/api/users/[id]", "pages/api/users/[id].wasm"],
        ]
    );
}

#[test]
fn refuses_an_invalid_layout_with_nextjs_message() {
    let dist = dist_with("routes-slugs", &["api/[id].wasm", "api/[slug]/edit.wasm"]);
    let (ok, stdout, stderr) = routes(&dist);
    assert!(
        !ok,
        "an invalid layout must exit non-zero; printed {stdout}"
    );
    assert!(
        stderr.contains(
            "You cannot use different slug names for the same dynamic path ('id' !== 'slug')."
        ),
        "{stderr}"
    );
    assert!(
        stdout.is_empty(),
        "nothing of the table may be printed: {stdout}"
    );
}

#[test]
fn refuses_a_catch_all_that_is_not_last() {
    let dist = dist_with("routes-catchall", &["api/[...all]/x.wasm"]);
    let (ok, _, stderr) = routes(&dist);
    assert!(!ok);
    assert!(
        stderr.contains("Catch-all must be the last part of the URL."),
        "{stderr}"
    );
}

#[test]
fn a_missing_dist_is_a_clear_error() {
    let output = run_routelet(&["routes", "/nonexistent/routelet-dist"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/routelet-dist does not exist"),
        "{stderr}"
    );
}
