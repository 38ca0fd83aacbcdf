//! `[limits]` in routelet.toml, end to end: memory, time, concurrency and body limits per route
//! over the app's, each hit answered with its status, logged with its route and limit, and
//! counted; bad values stop the start naming the key.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{Server, built_app, client, dist_with_config, open_fds};
use reqwest::StatusCode;

const HOG: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1u8; 1 << 20]);
        if kept.len() > 100_000 {
            return Response::text(format!("{}", kept.len()));
        }
    }
}
"#;

const SPIN: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    eprintln!("spinning");
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
        if n == u64::MAX {
            return Response::text("never");
        }
    }
}
"#;

const UPLOAD: &str = r#"
use std::io::Read;

use routelet_sdk::{Config, Request, Response, Result};

pub const CONFIG: Config = Config::new().body_parser(false);

pub fn handler(req: Request) -> Result {
    let mut bytes = Vec::new();
    req.into_body_reader().read_to_end(&mut bytes)?;
    Ok(Response::text(bytes.len().to_string()))
}
"#;

const BIG: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::text("x".repeat(2 << 20))
}
"#;

const TRICKLE: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::stream("text/plain", |out| {
        out.write_all(&[b't'; 64 * 1024])?;
        out.flush()?;
        eprintln!("trickled");
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
            if n == u64::MAX {
                return Ok(());
            }
        }
    })
}
"#;

const PING: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::text("pong")
}
"#;

const PANIC: &str = r#"
use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    panic!("on purpose")
}
"#;

const CONFIG: &str = r#"
[limits]
body = "64KiB"

[routes."/api/hog".limits]
memory = "16MiB"

[routes."/api/spin".limits]
timeout = "1500ms"
max_concurrent = 1

[routes."/api/big".limits]
response_warning = "1MiB"

[routes."/api/upload".limits]
body_timeout = "1s"

[routes."/api/trickle".limits]
timeout = "1s"
"#;

/// The app's dist with `config` as its `routelet.toml`.
fn dist_with(name: &str, config: &str) -> PathBuf {
    let built = built_app(
        "limits-app",
        &[
            ("pages/api/hog.rs", HOG),
            ("pages/api/spin.rs", SPIN),
            ("pages/api/upload.rs", UPLOAD),
            ("pages/api/big.rs", BIG),
            ("pages/api/ping.rs", PING),
            ("pages/api/trickle.rs", TRICKLE),
            ("pages/api/panic.rs", PANIC),
        ],
    );
    dist_with_config(&built, name, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_limit_answers_with_its_status_and_names_the_route_and_limit() {
    let server = Server::start(&dist_with("limits-ok", CONFIG));
    let http = client();

    // Memory: the guest's allocation fails at 16 MiB and it traps.
    let response = http.get(server.url("/api/hog")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        server.wait_for_log("memory limit reached"),
        "{}",
        server.log()
    );

    // Time, and one instance at a time: the second request is refused at once with 503.
    let started = Instant::now();
    let first = tokio::spawn(http.get(server.url("/api/spin")).send());
    // Once the guest says it runs, its one instance is taken.
    assert!(server.wait_for_log("spinning"), "{}", server.log());
    let second = http.get(server.url("/api/spin")).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::GATEWAY_TIMEOUT);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    assert!(server.wait_for_log("max_concurrent"), "{}", server.log());

    // Body: a declared length over the cap is refused before the guest runs...
    let response = http
        .post(server.url("/api/upload"))
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The unread rest of the body ends the connection, and the answer says so, so a pooling
    // client never sends its next request into the closing socket.
    assert_eq!(response.headers()["connection"], "close");
    // ...and a chunked body is cut off at the cap. The host answers before the client has
    // sent everything and closes the connection, so read the answer from a raw socket.
    let chunk = format!("4000\r\n{}\r\n", "b".repeat(16 * 1024));
    let answer = crate::support::raw_request(
        server.addr,
        &format!(
            "POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
            chunk.repeat(10)
        ),
    );
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.contains("connection: close\r\n"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // A body that stops coming is a 408 after the body timeout, long before the guest's own
    // timeout, and the connection closes.
    let started = Instant::now();
    let answer = crate::support::raw_request(
        server.addr,
        "POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
    );
    assert!(
        answer.starts_with("HTTP/1.1 408") && answer.contains("connection: close\r\n"),
        "{answer}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(8),
        "{elapsed:?}"
    );
    // Under the cap it passes.
    let response = http
        .post(server.url("/api/upload"))
        .body(vec![b'c'; 60 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), (60 * 1024).to_string());

    // Response size: served, and logged once, in Next.js's words.
    let response = http.get(server.url("/api/big")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len(), 2 << 20);
    assert!(
        server.wait_for_log("API response for /api/big exceeds 1MB"),
        "{}",
        server.log()
    );

    let log = server.log();
    for needle in [
        "route /api/hog failed: memory limit reached",
        "route /api/spin failed: timed out after 1.5s",
        "refused: request body larger than the limit of 65536 bytes",
        "route=/api/upload limit=\"body-size\"",
        "route=/api/upload limit=\"body-timeout\"",
        "route=/api/spin limit=\"instances\"",
        "limit=\"response-size\"",
    ] {
        assert!(log.contains(needle), "{needle} missing from\n{log}");
    }
}

#[test]
fn a_bad_limit_stops_the_start_naming_the_key_and_the_route() {
    for (config, needle) in [
        (
            "[routes.\"/api/hog\".limits]\nmemory = \"lots\"\n",
            "[routes.\"/api/hog\".limits]: memory = \"lots\"",
        ),
        (
            "[limits]\nmemory = \"4GiB\"\n",
            "memory = \"4GiB\" is above this host's largest instance, 128 MiB",
        ),
        ("[limits]\ntimeout = \"0s\"\n", "timeout = \"0s\""),
        ("[limits]\nspeed = \"fast\"\n", "unknown field `speed`"),
    ] {
        let dist = dist_with("limits-bad", config);
        let error = Server::builder()
            .dist(&dist)
            .try_start()
            .err()
            .expect("the start must fail");
        assert!(error.contains(needle), "{needle} missing from\n{error}");
    }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One hostile client on a raw socket: what it sends, and the status line it must get (if the
/// host answers at all before closing).
fn hostile_client(addr: std::net::SocketAddr, kind: usize) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let expect = match kind {
        0 => {
            let huge = "h".repeat(100 * 1024);
            let _ = write!(
                stream,
                "GET /api/ping HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\n\r\n"
            );
            "HTTP/1.1 431"
        }
        1 => {
            // An endless body, as far as the host can tell: chunks until it stops reading.
            let _ = write!(
                stream,
                "POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            let chunk = format!("4000\r\n{}\r\n", "e".repeat(16 * 1024));
            for _ in 0..64 {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
            // 413 at the cap, or 429 while the pool attack holds this address's share.
            "HTTP/1.1 4"
        }
        2 => {
            let _ = stream.write_all(b"THIS IS NOT HTTP\r\n\r\n");
            "HTTP/1.1 400"
        }
        3 => {
            // Abrupt reset mid-request: SO_LINGER 0, then close.
            let _ = stream.write_all(
                b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
            );
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: sets SO_LINGER on a socket this function owns, from a live local value.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&stream),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            return Ok(());
        }
        _ => {
            // Slowloris: a header byte every 500 ms; the host cuts it off at its header timeout.
            let _ = stream.write_all(b"GET /api/ping HTTP/1.1\r\nHost: x\r\n");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(15) {
                if stream.write_all(b"x").is_err() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(500));
                stream.set_nonblocking(true).unwrap();
                let mut probe = [0u8; 64];
                let read = stream.read(&mut probe);
                stream.set_nonblocking(false).unwrap();
                match read {
                    Ok(0) => return Ok(()),
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return Ok(()),
                }
            }
            return Err("a slowloris client was not cut off within 15 s".into());
        }
    };
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    if answer.starts_with(expect) {
        Ok(())
    } else {
        Err(format!(
            "expected {expect}, got {:?}",
            &answer[..answer.len().min(120)]
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn torture_healthy_requests_succeed_while_guests_and_clients_misbehave() {
    // A small host, so the pool attack below would take all of it without client shares.
    let server = Server::builder()
        .dist(&dist_with("torture", CONFIG))
        .pool(64, 8, 24)
        .args(&["--header-timeout", "2s", "--idle-timeout", "3s"])
        .start();
    let pid = server.pid();
    // The attackers come from 127.0.0.1; healthy clients and hostile guests from elsewhere,
    // as distinct clients of one host would.
    let http = crate::hostile_clients::client_from("127.0.0.2");
    let guests_http = crate::hostile_clients::client_from("127.0.0.3");
    let addr = server.addr;

    // Warm up every path once, so the baseline includes what a first request allocates.
    for path in [
        "/api/ping",
        "/api/panic",
        "/api/hog",
        "/api/spin",
        "/api/big",
    ] {
        let _ = http
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }
    for kind in 0..4 {
        let _ = tokio::task::spawn_blocking(move || hostile_client(addr, kind)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_before, fds_before) = (rss_kib(pid), open_fds(pid));

    let stop_at = Instant::now() + Duration::from_secs(12);
    // A steady stream of healthy requests: every one must succeed.
    let healthy = {
        let (http, url) = (http.clone(), server.url("/api/ping"));
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0, Vec::new());
            while Instant::now() < stop_at {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        if r.text().await.map(|t| t == "pong").unwrap_or(false) {
                            ok += 1;
                        } else {
                            failed.push("a body that is not pong".to_owned());
                        }
                    }
                    Ok(r) => failed.push(format!("status {}", r.status())),
                    Err(e) => failed.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (ok, failed)
        })
    };
    // Hostile guests, each with the status it must get.
    let guests = {
        let http = guests_http.clone();
        let base = format!("http://{addr}");
        tokio::spawn(async move {
            let mut wrong = Vec::new();
            let mut rounds = 0;
            while Instant::now() < stop_at {
                for (path, allowed) in [
                    ("/api/panic", &[500u16][..]),
                    ("/api/hog", &[500][..]),
                    ("/api/spin", &[504, 503][..]),
                ] {
                    let status = http
                        .get(format!("{base}{path}"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if !allowed.contains(&status) {
                        wrong.push(format!("{path}: {status}"));
                    }
                }
                rounds += 1;
            }
            (rounds, wrong)
        })
    };
    // Hostile clients, several of each kind, side by side.
    let clients: Vec<_> = (0..15)
        .map(|n| tokio::task::spawn_blocking(move || hostile_client(addr, n % 5)))
        .collect();
    // Pool exhaustion: h2c connections whose uploads never send a body, reopened as the host
    // answers them (429 past the client's share, 408 at the body timeout).
    let pool_attack = tokio::spawn(async move {
        let mut wrong = Vec::new();
        let mut sockets = Vec::new();
        while Instant::now() < stop_at {
            let mut streams = tokio::task::JoinSet::new();
            for _ in 0..3 {
                let (sender, socket) =
                    crate::support::h2c_from::<crate::hostile_clients::Silent>(addr, "127.0.0.1")
                        .await;
                sockets.push(socket);
                for _ in 0..40 {
                    let mut sender = sender.clone();
                    streams.spawn(async move {
                        let request = hyper::Request::post("http://x/api/upload")
                            .body(crate::hostile_clients::Silent)
                            .unwrap();
                        match sender.send_request(request).await {
                            Ok(response) => response.status().as_u16(),
                            Err(_) => 0,
                        }
                    });
                }
            }
            for status in streams.join_all().await {
                if ![429, 408].contains(&status) {
                    wrong.push(status);
                }
            }
        }
        for socket in sockets {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        wrong
    });
    // Silent connections, and h2c ones that go quiet after their preface, reopened as the
    // host closes them.
    let silent_attack = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut rounds = 0;
        while Instant::now() < stop_at {
            let mut quiet: Vec<std::net::TcpStream> = (0..40)
                .filter_map(|_| std::net::TcpStream::connect(addr).ok())
                .collect();
            for stream in quiet.iter_mut().take(10) {
                let _ = stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0");
            }
            for stream in &mut quiet {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            }
            rounds += 1;
        }
        rounds
    });

    let (ok, failed) = healthy.await.unwrap();
    assert!(failed.is_empty(), "healthy requests failed: {failed:?}");
    assert!(ok > 100, "only {ok} healthy requests in 12 s");
    let (rounds, wrong) = guests.await.unwrap();
    assert!(
        wrong.is_empty(),
        "hostile guests got the wrong status: {wrong:?}"
    );
    assert!(rounds >= 3, "{rounds}");
    for client in clients {
        client.await.unwrap().unwrap();
    }
    let wrong = pool_attack.await.unwrap();
    assert!(wrong.is_empty(), "attack streams got {wrong:?}");
    let silent_rounds = silent_attack.await.unwrap();
    assert!(silent_rounds >= 2, "{silent_rounds}");

    // Memory and file descriptors come back: bounded waits for connections to close.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut fds_after = open_fds(pid);
    while fds_after > fds_before + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        fds_after = open_fds(pid);
    }
    let rss_after = rss_kib(pid);
    eprintln!(
        "torture: {ok} healthy requests, {rounds} rounds of hostile guests, \
         {silent_rounds} rounds of silent connections; RSS {rss_before} -> {rss_after} KiB, fds {fds_before} -> {fds_after}"
    );
    assert!(
        fds_after <= fds_before + 2,
        "file descriptors leaked: {fds_before} before, {fds_after} after"
    );
    // Instances are pooled: a slot a hog used keeps at most its resident reset pages, so the
    // host may grow by a few slots' worth, never by what the hogs allocated.
    assert!(
        rss_after <= rss_before + 48 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    // And it still answers.
    let response = http.get(server.url("/api/ping")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_times_out_mid_response_leaves_the_response_visibly_cut_off() {
    let server = Server::start(&dist_with("cut-off", CONFIG));
    // HTTP/1.1: the bytes written so far, then the connection closes without the final chunk.
    let answer = crate::support::raw_request(
        server.addr,
        "GET /api/trickle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("transfer-encoding: chunked"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    assert!(answer.len() > 64 * 1024, "{} bytes", answer.len());
    assert!(
        !answer.ends_with("0\r\n\r\n"),
        "a cut-off body ended with the final chunk"
    );
    // HTTP/2: the stream is reset, so the client's read fails instead of ending.
    let (mut sender, _) =
        crate::support::h2c_from::<http_body_util::Empty<bytes::Bytes>>(server.addr, "127.0.0.1")
            .await;
    let response = sender
        .send_request(
            hyper::Request::get("http://x/api/trickle")
                .body(http_body_util::Empty::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let read = http_body_util::BodyExt::collect(response.into_body()).await;
    let error = read.expect_err("an HTTP/2 body cut off by a timeout must not end cleanly");
    assert!(
        format!("{error:?}").contains("INTERNAL_ERROR") || format!("{error:?}").contains("Reset"),
        "{error:?}"
    );
    assert!(
        server.wait_for_log("route /api/trickle failed: timed out after 1s"),
        "{}",
        server.log()
    );
}
