//! The subscribe form of both blog-api examples (Rust and TypeScript routes), end to end in a
//! real browser: headless Chromium (Debian's `chromium`, driven by the npm package
//! `playwright-core` that `scripts/test-services` installs) fills in the form on `/`, submits
//! it, lands on the success page, and the row is then found in the database.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Server, example_dist, repo_root};

#[test]
fn the_form_in_chromium_saves_a_subscriber_in_the_database() {
    submit_the_form_in_chromium("blog-api");
}

/// The same form, served by the example whose routes are Next.js handlers in TypeScript.
#[test]
fn the_javascript_examples_form_in_chromium_saves_a_subscriber_too() {
    submit_the_form_in_chromium("blog-api-js");
}

fn submit_the_form_in_chromium(example: &str) {
    let browser_dir = repo_root().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/test-services"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "chromium is not installed: run scripts/test-services"
    );
    let data = crate::support::fresh_data_dir();
    let server = Server::builder()
        .dist(&example_dist(example))
        .data_dir(&data)
        .start();
    let profile = crate::support::scratch_dir("chromium-profile");
    let email = "browser@example.com";

    let started = Instant::now();
    let mut child = Command::new("node")
        .current_dir(&browser_dir)
        .arg("subscribe.mjs")
        .arg(server.url(""))
        .arg(email)
        .arg(&profile)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node (scripts/test-services installs it)");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{example}: the browser test did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        status.success(),
        "{example}: the browser run failed:\n{stdout}\n{}\nhost log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["heading"], "You are subscribed", "{seen}");
    assert!(
        seen["url"].as_str().unwrap().ends_with("/subscribed.html"),
        "{seen}"
    );
    eprintln!(
        "{example}: Chromium submitted the form in {:.1?}",
        started.elapsed()
    );

    // The row is in the embedded database, written by the form post.
    let db = rusqlite::Connection::open(data.join("default.sqlite")).unwrap();
    let source: String = db
        .query_row(
            "SELECT source FROM subscribers WHERE email = ?1",
            [email],
            |row| row.get(0),
        )
        .expect("the subscriber's row is in the database");
    assert_eq!(source, "form");
}
