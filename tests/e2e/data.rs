//! Data for routes, end to end: the blog-api example's key-value and SQL routes on a real host,
//! the same cases on the embedded backend (SQLite) and on real Redis and PostgreSQL servers, a
//! crash mid-stream of writes, and backends that are down or never answer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::backends::{Postgres, Redis};
use crate::support::{Server, client, copy_dir, example_dist, scratch_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Copies an example's dist and writes its `routelet.toml`, so one build serves on every
/// backend.
fn dist_with_config(example: &str, name: &str, config: &str) -> PathBuf {
    let dist = scratch_dir(name).join("dist");
    copy_dir(&example_dist(example), &dist);
    std::fs::write(dist.join("routelet.toml"), config).unwrap();
    dist
}

fn backend_config(redis: &str, postgres: &str) -> String {
    format!(
        "[key_value.stores.default]\nurl = \"{redis}\"\n\n\
         [sql.databases.default]\nurl = \"{postgres}\"\n"
    )
}

async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, value)
}

/// Every case, run against one host; `backend` names it in failure messages.
async fn run_cases(server: &Server, backend: &str) {
    let started = Instant::now();
    subscribe_stores_in_sql_with_409_and_422(server, backend).await;
    a_thousand_concurrent_increments_end_at_exactly_a_thousand(server, backend).await;
    awkward_values_round_trip_verbatim(server, backend).await;
    sql_injection_through_parameters_is_inert(server, backend).await;
    a_transaction_saves_all_or_nothing(server, backend).await;
    eprintln!("{backend}: all cases passed in {:.1?}", started.elapsed());
}

async fn subscribe_stores_in_sql_with_409_and_422(server: &Server, backend: &str) {
    let http = client();
    let (status, body) = json(
        http.get(server.url("/api/subscribers"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({ "count": 0 })),
        "{backend}"
    );
    let post = |email: &str| {
        http.post(server.url("/api/subscribe"))
            .json(&json!({ "email": email }))
            .send()
    };
    let (status, body) = json(post("ada@example.com").await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
    let (status, body) = json(post("ada@example.com").await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
    assert_eq!(
        body,
        json!({ "ok": false, "error": "already subscribed" }),
        "{backend}"
    );
    let (status, body) = json(post("not an email").await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{backend}: {body}"
    );
    let form = http
        .post(server.url("/api/subscribe"))
        .form(&[("email", "grace@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::SEE_OTHER, "{backend}");
    let (_, body) = json(
        http.get(server.url("/api/subscribers"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({ "count": 2 }), "{backend}");
}

async fn a_thousand_concurrent_increments_end_at_exactly_a_thousand(
    server: &Server,
    backend: &str,
) {
    let started = Instant::now();
    let http = client();
    let url = server.url("/api/counter");
    let mut clients = Vec::new();
    for _ in 0..50 {
        let (http, url) = (http.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..20 {
                let response = http.post(&url).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let body: Value = response.json().await.unwrap();
                seen.push(body["value"].as_u64().unwrap());
            }
            seen
        }));
    }
    let mut values = Vec::new();
    for c in clients {
        values.extend(c.await.unwrap());
    }
    values.sort_unstable();
    assert_eq!(
        values,
        (1..=1000).collect::<Vec<u64>>(),
        "{backend}: every increment saw a distinct value"
    );
    let (_, body) = json(http.get(&url).send().await.unwrap()).await;
    assert_eq!(body, json!({ "value": 1000 }), "{backend}");
    eprintln!(
        "{backend}: 1,000 increments from 50 clients in {:.1?}",
        started.elapsed()
    );
}

/// Quotes, NULs, emoji, SQL-looking text and every byte value.
fn awkward_values() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("quotes", b"it's \"quoted\" `twice`".to_vec()),
        ("nul", b"before\0after\0".to_vec()),
        (
            "emoji",
            "snow \u{2603} and \u{1F600}, ZWJ \u{1F469}\u{200D}\u{1F4BB}"
                .as_bytes()
                .to_vec(),
        ),
        ("sql", b"'); DROP TABLE notes; -- and \\x00 $1 ?1".to_vec()),
        ("bytes", (0..=255u8).collect()),
        ("empty", Vec::new()),
    ]
}

async fn awkward_values_round_trip_verbatim(server: &Server, backend: &str) {
    let http = client();
    for (name, value) in awkward_values() {
        // Key-value: raw bytes.
        let put = http
            .put(server.url(&format!("/api/kv/{name}")))
            .body(value.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::NO_CONTENT, "{backend} kv {name}");
        let got = http
            .get(server.url(&format!("/api/kv/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK, "{backend} kv {name}");
        assert_eq!(
            got.bytes().await.unwrap().to_vec(),
            value,
            "{backend} kv {name}"
        );

        // SQL: the bytes as a blob, and as a title (text) where they are text without NULs.
        let title = String::from_utf8(value.clone())
            .ok()
            .filter(|t| !t.contains('\0'))
            .unwrap_or_else(|| format!("{name} \u{1F600} 'x'"));
        let put = http
            .put(server.url(&format!("/api/notes/{name}")))
            .query(&[("title", title.as_str())])
            .body(value.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.status(),
            StatusCode::NO_CONTENT,
            "{backend} note {name}"
        );
        let (status, note) = json(
            http.get(server.url(&format!("/api/notes/{name}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend} note {name}");
        assert_eq!(note["title"], json!(title), "{backend} note {name}");
        assert_eq!(note["body"], json!(value), "{backend} note {name}");
    }
}

async fn sql_injection_through_parameters_is_inert(server: &Server, backend: &str) {
    let http = client();
    let search = |title: &'static str| {
        http.get(server.url("/api/notes"))
            .query(&[("title", title)])
            .send()
    };
    let (_, before) = json(search("nothing").await.unwrap()).await;
    let total = before["total"].as_i64().unwrap();
    assert!(total >= 6, "{backend}: {before}");
    for attack in [
        "x' OR '1'='1",
        "x\" OR \"1\"=\"1",
        "'; DROP TABLE notes; --",
        "'); DELETE FROM notes; --",
        "$1",
    ] {
        let (status, found) = json(search(attack).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {attack}");
        assert_eq!(found["ids"], json!([]), "{backend}: {attack} matched rows");
        assert_eq!(
            found["total"],
            json!(total),
            "{backend}: {attack} changed the table"
        );
    }
    // A title that is itself SQL is stored and found as plain text.
    let (_, found) = json(
        search("'); DROP TABLE notes; -- and \\x00 $1 ?1")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found["ids"], json!(["sql"]), "{backend}");
}

async fn a_transaction_saves_all_or_nothing(server: &Server, backend: &str) {
    let http = client();
    let batch = |notes: Value| {
        http.post(server.url("/api/notes/batch"))
            .json(&notes)
            .send()
    };
    let (status, body) = json(
        batch(json!([{ "id": "t1", "title": "one" }, { "id": "t2", "title": "two" }]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::CREATED, json!({ "saved": 2 })),
        "{backend}"
    );
    let (status, body) = json(
        batch(json!([{ "id": "t3", "title": "three" }, { "id": "t1", "title": "again" }]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
    let t3 = http.get(server.url("/api/notes/t3")).send().await.unwrap();
    assert_eq!(
        t3.status(),
        StatusCode::NOT_FOUND,
        "{backend}: t3 was rolled back"
    );
    let (_, t1) = json(http.get(server.url("/api/notes/t1")).send().await.unwrap()).await;
    assert_eq!(t1["title"], "one", "{backend}: t1 is unchanged");
    // The connection went back to the pool clean: the next request writes normally.
    let (status, _) = json(
        batch(json!([{ "id": "t3", "title": "three" }]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{backend}");
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_backend_cases() {
    let server = Server::start(&example_dist("blog-api"));
    run_cases(&server, "embedded SQLite").await;
}

/// The same cases against the JavaScript example: `kv` and `sql` from `'routelet'` over the same
/// host interfaces, with `ConstraintViolation` as a 409 and a transaction rolled back.
#[tokio::test(flavor = "multi_thread")]
async fn embedded_backend_cases_from_javascript() {
    let server = Server::start(&example_dist("blog-api-js"));
    run_cases(&server, "embedded SQLite, JavaScript routes").await;
}

/// The rows of `routelet_migrations` in `url`: each file applied, and when.
async fn applied_migrations(url: &str) -> Vec<(String, String)> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT name, applied_at FROM routelet_migrations ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_and_postgresql_backend_cases() {
    let dir = scratch_dir("servers");
    let redis = Redis::start(&dir.join("redis"));
    let postgres = Postgres::start(&dir.join("postgres"));
    let dist = dist_with_config(
        "blog-api",
        "on-servers",
        &backend_config(&redis.url, &postgres.url),
    );
    let server = Server::start(&dist);
    let applied = applied_migrations(&postgres.url).await;
    let names: Vec<&str> = applied.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["0001_subscribers.sql", "0002_notes.sql"]);
    assert!(
        server.wait_for_log("applied migration migrations/0002_notes.sql"),
        "{}",
        server.log()
    );
    run_cases(&server, "Redis + PostgreSQL").await;

    // A second host on the same servers shares the state and does not migrate again: the
    // migrations table still holds the first host's rows, with their times.
    let second = Server::start(&dist);
    assert_eq!(applied_migrations(&postgres.url).await, applied);
    let (_, body) = json(
        client()
            .get(second.url("/api/subscribers"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({ "count": 2 }));
    let (_, body) = json(
        client()
            .get(second.url("/api/counter"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({ "value": 1000 }));
}

/// SIGKILL in the middle of a stream of writes: every write answered 2xx is there afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_stream_loses_no_acknowledged_write() {
    let dist = example_dist("blog-api");
    let data = crate::support::fresh_data_dir();
    let mut server = Server::builder().dist(&dist).data_dir(&data).start();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let http = client();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, acked, base) = (http.clone(), acknowledged.clone(), server.url(""));
        writers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let id = format!("w{w}-{i}");
                let note = http
                    .put(format!("{base}/api/notes/{id}"))
                    .query(&[("title", id.as_str())])
                    .body(id.clone())
                    .send()
                    .await;
                let kv = match note {
                    Ok(r) if r.status().is_success() => {
                        http.put(format!("{base}/api/kv/{id}"))
                            .body(id.clone())
                            .send()
                            .await
                    }
                    _ => return,
                };
                match kv {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(id),
                    _ => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(90), writer)
            .await
            .expect("writers stop once the host is gone")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 200,
        "only {} writes before the deadline",
        acknowledged.len()
    );

    let server = Server::builder().dist(&dist).data_dir(&data).start();
    for id in &acknowledged {
        let (status, note) = json(
            http.get(server.url(&format!("/api/notes/{id}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "note {id} was acknowledged but is gone"
        );
        assert_eq!(note["body"], json!(id.as_bytes()), "note {id}");
        let value = http
            .get(server.url(&format!("/api/kv/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            value.status(),
            StatusCode::OK,
            "key {id} was acknowledged but is gone"
        );
        assert_eq!(value.bytes().await.unwrap(), id.as_bytes(), "key {id}");
    }
    eprintln!(
        "all {} acknowledged writes survived SIGKILL",
        acknowledged.len()
    );
}

/// Backends that refuse connections, or accept and never answer: the routes answer their own
/// 503 quickly, and the host serves on.
#[tokio::test(flavor = "multi_thread")]
async fn backends_that_are_down_give_the_routes_503_quickly() {
    // Nothing listens on `refused`; `silent` accepts connections (the kernel's backlog) and
    // never says a word.
    let refused = crate::support::backends::free_port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let cases = [("refused", refused), ("silent", silent_port)]
        .into_iter()
        .flat_map(|case| ["blog-api", "blog-api-js"].map(|example| (example, case)));
    for (example, (label, port)) in cases {
        let label = format!("{example} {label}");
        let dist = dist_with_config(
            example,
            &format!("down-{}", label.replace(' ', "-")),
            &backend_config(
                &format!("redis://127.0.0.1:{port}"),
                &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            ),
        );
        // Migrations need the database, so this dist has none: the routes meet the outage.
        std::fs::remove_dir_all(dist.join("migrations")).unwrap();
        let server = Server::start(&dist);
        let http = client();
        for (method, path) in [("POST", "/api/counter"), ("GET", "/api/subscribers")] {
            let started = Instant::now();
            let request = http.request(method.parse().unwrap(), server.url(path));
            let (status, body) = json(request.send().await.unwrap()).await;
            let took = started.elapsed();
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{label} {path}: {body}"
            );
            assert!(body["error"].is_string(), "{label} {path}: {body}");
            assert!(
                took < Duration::from_secs(10),
                "{label} {path} took {took:?}"
            );
            eprintln!("{label}: {method} {path} → 503 in {took:.1?}");
        }
        let subscribe = http
            .post(server.url("/api/subscribe"))
            .json(&json!({ "email": "ada@example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            subscribe.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{label}"
        );
        let index = http.get(server.url("/api")).send().await.unwrap();
        assert_eq!(
            index.status(),
            StatusCode::OK,
            "{label}: the host serves on"
        );
    }
    drop(silent);
}

/// A migration that fails stops the start, naming its file; nothing is served.
#[test]
fn a_failed_migration_stops_the_start_naming_its_file() {
    let dist = dist_with_config("blog-api", "bad-migration", "");
    std::fs::write(
        dist.join("migrations/0003_broken.sql"),
        "CREATE TABLE broken (;",
    )
    .unwrap();
    let error = match Server::builder().dist(&dist).try_start() {
        Ok(_) => panic!("the host started despite a broken migration"),
        Err(error) => error,
    };
    assert!(error.contains("migrations/0003_broken.sql"), "{error}");
}

/// A grant of a store that is not defined stops the start, naming it.
#[test]
fn granting_an_undefined_store_stops_the_start() {
    let dist = dist_with_config(
        "blog-api",
        "bad-grant",
        "[routes.\"/api/counter\"]\nkey_value_stores = [\"cache\"]\n",
    );
    let error = match Server::builder().dist(&dist).try_start() {
        Ok(_) => panic!("the host started despite a grant of an undefined store"),
        Err(error) => error,
    };
    assert!(error.contains("[key_value.stores.cache]"), "{error}");
}
