//! Many hosts, one app: one real PostgreSQL as the control plane, three `routelet serve`
//! processes with data folders of their own, and Debian's HAProxy in front of them, as a user
//! would run them. Deploys, a killed host, a rollback, the database crashing under load, two
//! deploys at once and a bundle changed in the database, with every wait bounded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::deploy::{admin, succeeded, version_dist};
use crate::support::backends::{Postgres, free_port};
use crate::support::{Server, client, fresh_data_dir, header_text as header, scratch_dir};

/// The most a host may take, after a commit, to serve what was committed.
const SWITCH_BOUND: Duration = Duration::from_secs(1);

/// One fleet member: its process and its data folder (admin token, deployments, caches).
struct Host {
    server: Server,
    data: PathBuf,
    name: &'static str,
}

fn start_host(name: &'static str, data: &Path, control: &str) -> Host {
    start_host_with(name, data, control, &[])
}

/// [`start_host`] with more `routelet serve` arguments.
fn start_host_with(name: &'static str, data: &Path, control: &str, args: &[&str]) -> Host {
    let server = Server::builder()
        .data_dir(data)
        .admin()
        .args(&["--control", control])
        .args(args)
        .start();
    Host {
        server,
        data: data.to_owned(),
        name,
    }
}

/// HAProxy in the foreground, balancing round-robin over the hosts and naming the one that
/// answered in `x-served-by`; it retries a request a dead host refused on another one.
struct Balancer {
    child: Child,
    addr: SocketAddr,
}

impl Balancer {
    fn start(hosts: &[&Host]) -> Balancer {
        let port = free_port();
        let mut config = format!(
            "global\n  maxconn 2000\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 20s\n  \
             timeout server 20s\n  retries 3\n  option redispatch\n  \
             retry-on conn-failure empty-response response-timeout\n\
             frontend web\n  bind 127.0.0.1:{port}\n  default_backend hosts\n\
             backend hosts\n  balance roundrobin\n  http-response set-header x-served-by %s\n"
        );
        for host in hosts {
            config.push_str(&format!(
                "  server {} {} check inter 200ms fall 1 rise 2\n",
                host.name, host.server.addr
            ));
        }
        let file = scratch_dir("cluster-haproxy").join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let binary = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("haproxy is not installed: run scripts/test-services");
        let mut child = Command::new(binary)
            .args(["-db", "-f"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting haproxy");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not listen in 10 s");
            assert!(child.try_wait().unwrap().is_none(), "haproxy exited");
            std::thread::sleep(Duration::from_millis(50));
        }
        Balancer { child, addr }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer seen through the balancer.
struct Sample {
    started: Instant,
    ended: Instant,
    host: String,
    version: String,
}

/// Requests through the balancer from a few clients until told to stop (or 60 s, or 200,000
/// requests, whichever comes first).
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<(Vec<Sample>, Vec<String>)>>,
}

impl Load {
    fn start(balancer: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(60);
        let workers = (0..6)
            .map(|_| {
                let stop = stop.clone();
                let url = format!("http://{balancer}/api/version");
                tokio::spawn(async move {
                    let http = client();
                    let (mut samples, mut failures) = (Vec::new(), Vec::new());
                    while !stop.load(Ordering::Relaxed)
                        && Instant::now() < deadline
                        && samples.len() + failures.len() < 200_000 / 6
                    {
                        let started = Instant::now();
                        match answer(&http, &url).await {
                            Ok((host, version)) => samples.push(Sample {
                                started,
                                ended: Instant::now(),
                                host,
                                version,
                            }),
                            Err(failure) => failures.push(failure),
                        }
                    }
                    (samples, failures)
                })
            })
            .collect();
        Load { stop, workers }
    }

    async fn finish(self) -> (Vec<Sample>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut samples, mut failures) = (Vec::new(), Vec::new());
        for worker in self.workers {
            let (s, f) = worker.await.unwrap();
            samples.extend(s);
            failures.extend(f);
        }
        (samples, failures)
    }
}

/// The host and version of one whole answer, or why it failed.
async fn answer(http: &reqwest::Client, url: &str) -> Result<(String, String), String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let (host, version) = (
        header(&response, "x-served-by"),
        header(&response, "x-version"),
    );
    let body = response.text().await.map_err(|e| e.to_string())?;
    if status != StatusCode::OK || version.is_empty() || body != version.repeat(8 * 1024) {
        return Err(format!("{status} from {host}: {} bytes", body.len()));
    }
    Ok((host, version))
}

/// When each host first answered `new`, and every answer of an older version from a request
/// that started after its host had answered `new`.
fn switch_of(samples: &[Sample], new: &str) -> (HashMap<String, Instant>, Vec<String>) {
    let mut first: HashMap<String, Instant> = HashMap::new();
    for sample in samples.iter().filter(|s| s.version == new) {
        let at = first.entry(sample.host.clone()).or_insert(sample.ended);
        *at = (*at).min(sample.ended);
    }
    let regressions = samples
        .iter()
        .filter(|s| s.version != new && first.get(&s.host).is_some_and(|at| s.started > *at))
        .map(|s| format!("{} answered {} after {new}", s.host, s.version))
        .collect();
    (first, regressions)
}

/// What a host answers directly: the version and the deployment that served it.
async fn direct(host: &Host) -> (StatusCode, String, String) {
    let response = client()
        .get(host.server.url("/api/version"))
        .send()
        .await
        .unwrap();
    let found = (
        response.status(),
        header(&response, "x-version"),
        header(&response, "x-routelet-deployment"),
    );
    let _ = response.bytes().await;
    found
}

/// Waits (bounded) until every host answers `version` directly; how long that took.
async fn all_serve(hosts: &[&Host], version: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut all = true;
        for host in hosts {
            all &= direct(host).await.1 == version;
        }
        if all {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not every host serves {version} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One counter or gauge from a host's `/metrics`.
async fn metric(host: &Host, name: &str) -> f64 {
    let text = host.server.metrics(&host.data).await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// Deploys `dist` through `host` and returns what the command printed.
fn deploy(host: &Host, dist: &Path) -> String {
    succeeded(&admin(
        &host.server,
        &host.data,
        &["deploy", dist.to_str().unwrap()],
    ))
}

/// The deployment id `routelet deploy` printed.
fn deployed_id(printed: &str) -> String {
    printed
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no id in {printed}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hosts_behind_haproxy_serve_one_app_through_deploys_crashes_and_rollback() {
    let versions: Vec<PathBuf> = (1..=6).map(|n| version_dist(&format!("c{n}"))).collect();
    let mut postgres = Postgres::start(&scratch_dir("cluster-postgres"));
    let control = postgres.url.clone();
    let data: Vec<PathBuf> = (0..3).map(|_| fresh_data_dir()).collect();
    let h1 = start_host("h1", &data[0], &control);
    let h2 = start_host("h2", &data[1], &control);
    let mut h3 = start_host("h3", &data[2], &control);

    // A first deploy reaches every host.
    let first = deployed_id(&deploy(&h1, &versions[0]));
    all_serve(&[&h1, &h2, &h3], "c1", Duration::from_secs(5)).await;
    assert_eq!(direct(&h2).await.2, first, "x-routelet-deployment names it");
    let balancer = Balancer::start(&[&h1, &h2, &h3]);

    // Under steady load, a deploy through host 2.
    let load = Load::start(balancer.addr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (h2_admin, h2_data) = (h2.server.admin_url(), h2.data.clone());
    let dist = versions[1].clone();
    let printed = tokio::task::spawn_blocking(move || {
        let token = h2_data.join("admin-token");
        let out = crate::support::run_routelet(&[
            "deploy",
            dist.to_str().unwrap(),
            "--to",
            &h2_admin,
            "--token-file",
            token.to_str().unwrap(),
        ]);
        (succeeded(&out), Instant::now())
    })
    .await
    .unwrap();
    let (printed, answered) = printed;
    assert!(printed.contains("generation"), "{printed}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (samples, failures) = load.finish().await;
    let (first_new, regressions) = switch_of(&samples, "c2");
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(regressions.is_empty(), "{regressions:?}");
    assert_eq!(first_new.len(), 3, "every host served c2: {first_new:?}");
    let earliest = *first_new.values().min().unwrap();
    let latest = *first_new.values().max().unwrap();
    let spread = latest - earliest;
    assert!(spread <= SWITCH_BOUND, "switch spread {spread:?}");
    assert!(
        latest <= answered + SWITCH_BOUND,
        "a host served c2 only {:?} after the deploy answered",
        latest - answered
    );
    println!(
        "cluster: deploy under load through h2: {} requests, {} failed, switch spread {:.1} ms",
        samples.len(),
        failures.len(),
        spread.as_secs_f64() * 1000.0
    );

    // Host 3 dies; a deploy through host 1 goes on without it, and host 3 comes back on the
    // newest version, from its own compile cache.
    h3.server.kill();
    let started = Instant::now();
    let printed = deploy(&h1, &versions[2]);
    let took = started.elapsed();
    assert!(!printed.contains("still preparing"), "{printed}");
    assert!(took < Duration::from_secs(8), "the deploy waited {took:?}");
    all_serve(&[&h1, &h2], "c3", SWITCH_BOUND).await;
    println!("cluster: deploy with h3 killed took {took:?}");
    h3 = start_host("h3", &data[2], &control);
    assert_eq!(
        direct(&h3).await.1,
        "c3",
        "h3 serves the newest from its first request"
    );
    assert_eq!(
        metric(&h3, "routelet_compile_cache_misses_total").await,
        0.0
    );

    // A rollback through host 3 reaches every host, with no compile-cache miss anywhere.
    let misses_before = [
        metric(&h1, "routelet_compile_cache_misses_total").await,
        metric(&h2, "routelet_compile_cache_misses_total").await,
    ];
    succeeded(&admin(&h3.server, &h3.data, &["rollback"]));
    let reached = all_serve(&[&h1, &h2, &h3], "c2", SWITCH_BOUND).await;
    println!("cluster: rollback through h3: every host served c2 {reached:?} after it answered");
    assert_eq!(
        misses_before,
        [
            metric(&h1, "routelet_compile_cache_misses_total").await,
            metric(&h2, "routelet_compile_cache_misses_total").await,
        ]
    );
    assert_eq!(
        metric(&h3, "routelet_compile_cache_misses_total").await,
        0.0
    );

    // The database crashes under load: no request fails, deploys are refused with nothing
    // changed, and the hosts say so; once it is back they reconnect by themselves.
    let balancer = Balancer::start(&[&h1, &h2, &h3]);
    let load = Load::start(balancer.addr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    postgres.stop_immediately();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refused = admin(
        &h1.server,
        &h1.data,
        &["deploy", versions[3].to_str().unwrap()],
    );
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success() && said.contains("503"), "{said}");
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(metric(&h2, "routelet_control_plane_up").await, 0.0);
    let (_, ready) = h1.server.admin_get(&h1.data, "/readyz").await;
    assert!(ready.contains("unreachable"), "{ready}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (samples, failures) = load.finish().await;
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(samples.iter().all(|s| s.version == "c2"));
    println!(
        "cluster: PostgreSQL stopped under load: {} requests, {} failed",
        samples.len(),
        failures.len()
    );
    postgres.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    for host in [&h1, &h2, &h3] {
        while metric(host, "routelet_control_plane_up").await != 1.0 {
            assert!(Instant::now() < deadline, "{} did not reconnect", host.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    deploy(&h2, &versions[3]);
    all_serve(&[&h1, &h2, &h3], "c4", SWITCH_BOUND).await;

    // Two deploys at the same moment through two hosts: every host ends on the same one.
    let both: Vec<_> = [(&h1, &versions[4]), (&h2, &versions[5])]
        .into_iter()
        .map(|(host, dist)| {
            let (url, token, dist) = (
                host.server.admin_url(),
                host.data.join("admin-token"),
                dist.clone(),
            );
            std::thread::spawn(move || {
                crate::support::run_routelet(&[
                    "deploy",
                    dist.to_str().unwrap(),
                    "--to",
                    &url,
                    "--token-file",
                    token.to_str().unwrap(),
                ])
            })
        })
        .collect();
    for deploy in both {
        let out = deploy.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    tokio::time::sleep(SWITCH_BOUND).await;
    let ends: Vec<_> = [direct(&h1).await, direct(&h2).await, direct(&h3).await]
        .into_iter()
        .map(|(_, version, id)| (version, id))
        .collect();
    assert!(ends.iter().all(|end| *end == ends[0]), "{ends:?}");
    assert!(ends[0].0 == "c5" || ends[0].0 == "c6", "{ends:?}");

    // A bundle changed in the database is refused by a host that has to fetch it.
    let (db, connection) = tokio_postgres::connect(&control, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let changed = db
        .execute(
            "UPDATE routelet_control.bundle_chunks c \
             SET bytes = set_byte(bytes, 100, (get_byte(bytes, 100) + 1) % 256) \
             FROM routelet_control.deployments d, routelet_control.active a \
             WHERE d.id = a.deployment AND c.bundle = d.bundle AND c.part = 0",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let h4 = start_host("h4", &fresh_data_dir(), &control);
    assert!(
        h4.server.wait_for_log("was changed after it was stored"),
        "{}",
        h4.server.log()
    );
    let (status, _, id) = direct(&h4).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "h4 serves nothing it could not check"
    );
    assert!(id.is_empty(), "{id}");
}

/// What `path` answers on `host`, with its cookies.
async fn page_of(host: &Host, path: &str, cookie: &str) -> (StatusCode, String, String) {
    let response = client()
        .get(host.server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let (status, cache_control) = (response.status(), header(&response, "cache-control"));
    (status, cache_control, response.text().await.unwrap())
}

/// Polls `path` on `host` until its body contains `needle`; how long that took.
async fn until_served(host: &Host, path: &str, needle: &str, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (_, _, body) = page_of(host, path, "").await;
        if body.contains(needle) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "{} did not serve {needle:?} at {path} within {bound:?}:\n{body}",
            host.name
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revalidation_or_a_preview_cookie_from_one_host_works_on_every_host() {
    let blog = crate::static_pages::blog_copy("cluster-blog");
    let postgres = Postgres::start(&scratch_dir("cluster-pages-postgres"));
    let keep = ["--keep-deployments", "2"];
    let h1 = start_host_with("h1", &fresh_data_dir(), &postgres.url, &keep);
    let h2 = start_host_with("h2", &fresh_data_dir(), &postgres.url, &keep);
    let id = deployed_id(&deploy(&h1, &blog));
    until_served(
        &h2,
        "/blog/hello-world",
        "Hello, world",
        Duration::from_secs(5),
    )
    .await;

    // The post changes in host 1's copy only: what host 2 serves next can only come from the
    // page host 1 regenerated and kept in the control plane.
    let post = |host: &Host| {
        host.data
            .join("deployments")
            .join(&id)
            .join("data/posts/hello-world.md")
    };
    let text = std::fs::read_to_string(post(&h1)).unwrap();
    std::fs::write(post(&h1), text.replace("Hello, world", "Hello, edited")).unwrap();
    let revalidated = client()
        .post(
            h1.server
                .url("/api/revalidate?secret=revalidate-token&path=/blog/hello-world"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::OK);
    let took = until_served(&h2, "/blog/hello-world", "Hello, edited", SWITCH_BOUND).await;
    println!("cluster: a revalidation through h1 was served by h2 {took:?} after it answered");
    assert!(
        std::fs::read_to_string(post(&h2))
            .unwrap()
            .contains("Hello, world")
    );

    // A host that joins later serves it from its first request.
    let h3 = start_host("h3", &fresh_data_dir(), &postgres.url);
    let (status, _, body) = page_of(&h3, "/blog/hello-world", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Hello, edited"), "{body}");

    // Preview Mode entered on host 1 opens on host 2: the secret came with the deployment.
    let enter = client()
        .get(
            h1.server
                .url("/api/preview?secret=preview-token&slug=draft-post"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(enter.status(), StatusCode::TEMPORARY_REDIRECT);
    let (jar, _) = crate::static_pages::set_cookies(enter.headers());
    let (status, cache_control, body) = page_of(&h2, "/blog/draft-post", &jar.join("; ")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        cache_control,
        "private, no-cache, no-store, max-age=0, must-revalidate"
    );
    assert!(body.contains("Work in progress"), "{body}");
    let (status, _, _) = page_of(&h2, "/blog/draft-post", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no draft without the cookie");

    // Two deploys later the control plane, like each host, keeps two deployments: the blog's
    // rows, bundle and pages are gone.
    let (db, connection) = tokio_postgres::connect(&postgres.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let count = async |sql: &str| -> i64 { db.query_one(sql, &[]).await.unwrap().get(0) };
    let pages = "SELECT count(*) FROM routelet_control.pages";
    // The revalidated post, and the draft's `notFound` rendered for the request without it,
    // which is kept in the background after its answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(pages).await < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(pages).await, 2);
    for version in ["p1", "p2"] {
        deploy(&h2, &version_dist(version));
    }
    assert_eq!(
        count("SELECT count(*) FROM routelet_control.deployments").await,
        2
    );
    assert_eq!(
        count("SELECT count(*) FROM routelet_control.bundles").await,
        2
    );
    assert_eq!(count(pages).await, 0);
    let listed = succeeded(&admin(&h3.server, &h3.data, &["deployments"]));
    assert!(!listed.contains(&id), "{listed}");
}
