//! The compile cache across restarts: a second start with the same data folder compiles
//! nothing, and an artifact changed on disk is compiled again rather than loaded.

use std::path::Path;

use crate::support::{Server, client, example_dist, scratch_dir};
use reqwest::StatusCode;

/// Starts the blog-api example on `data`, checks it answers, and returns the cache log line.
async fn start_and_summary(data: &Path) -> String {
    let server = Server::builder()
        .dist(&example_dist("blog-api"))
        .data_dir(data)
        .start();
    assert!(server.wait_for_log(" reused, "), "{}", server.log());
    let response = client().get(server.url("/api")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let log = server.log();
    log.lines()
        .find(|line| line.contains(" reused, "))
        .unwrap()
        .to_owned()
}

fn artifacts(data: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(data.join("compile-cache"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect()
}

#[tokio::test]
async fn a_restart_compiles_nothing_and_a_tampered_artifact_is_recompiled() {
    let data = scratch_dir("compile-cache-restart");
    let first = start_and_summary(&data).await;
    assert!(first.contains(" 0 reused, "), "{first}");
    assert!(!first.contains(" 0 compiled"), "{first}");
    let stored = artifacts(&data);
    assert!(!stored.is_empty());

    let second = start_and_summary(&data).await;
    assert!(second.contains(" 0 compiled, 0 rejected"), "{second}");
    assert!(!second.contains(" 0 reused"), "{second}");

    // Flip one byte of machine code: the host must notice and compile that component again.
    let victim = &stored[0];
    let mut bytes = std::fs::read(victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(victim, &bytes).unwrap();
    let third = start_and_summary(&data).await;
    assert!(third.contains(" 0 compiled, 1 rejected"), "{third}");

    let fourth = start_and_summary(&data).await;
    assert!(fourth.contains(" 0 compiled, 0 rejected"), "{fourth}");
}

#[test]
fn the_key_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let data = scratch_dir("compile-cache-key");
    let server = Server::builder()
        .dist(&example_dist("hello"))
        .data_dir(&data.join("nested/data"))
        .start();
    drop(server);
    let mode = std::fs::metadata(data.join("nested/data/compile-cache/key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
