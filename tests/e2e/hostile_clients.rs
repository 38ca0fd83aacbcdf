//! Clients that misbehave get a precise answer or a closed connection, never a stuck host:
//! headers past the limit (431), headers that never finish (closed after the header timeout),
//! and a healthy request still answers afterwards.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{Server, example_dist, h2c_from, open_fds, raw_request};

#[test]
fn headers_past_the_limit_get_431_and_are_logged() {
    let server = Server::start(&example_dist("hello"));
    let huge = "x".repeat(100 * 1024);
    let answer = raw_request(
        server.addr,
        &format!("GET /api/hello HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n"),
    );
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(
        server.wait_for_log("limit=\"header-size\""),
        "{}",
        server.log()
    );

    // Below the limit, a large cookie header is fine.
    let cookie = "c".repeat(32 * 1024);
    let answer = raw_request(
        server.addr,
        &format!(
            "GET /api/hello HTTP/1.1\r\nHost: x\r\nCookie: a={cookie}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(200)]
    );
}

#[test]
fn headers_that_never_finish_are_cut_off_after_the_header_timeout() {
    let server = Server::builder()
        .dist(&example_dist("hello"))
        .args(&["--header-timeout", "3s"])
        .start();
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    // A byte a second, never the blank line that ends the headers.
    slow.write_all(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut answer = Vec::new();
    for _ in 0..25 {
        if slow.write_all(b"X").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        slow.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 512];
        let read = slow.read(&mut buffer);
        slow.set_nonblocking(false).unwrap();
        match read {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(12),
        "closed after {elapsed:?}"
    );
    assert!(
        answer.is_empty() || String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        server.wait_for_log("limit=\"header-timeout\""),
        "{}",
        server.log()
    );
    // The host still serves.
    let answer = raw_request(
        server.addr,
        "GET /api/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_guest_never_sees_a_host_backtrace_whatever_the_environment() {
    let server = Server::builder()
        .dist(&example_dist("blog-api"))
        .env("RUST_BACKTRACE", "full")
        .start();
    // A chunked body that breaks after its first chunk: the streaming route's read fails with
    // the host's error, which the SDK route logs on stderr.
    let answer = raw_request(
        server.addr,
        "POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nabcde\r\nzz\r\nabc\r\n0\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(server.wait_for_log("POST /api/upload "), "{}", server.log());
    let log = server.log();
    let guest_lines = log.lines().filter(|l| l.contains("guest stderr")).count();
    assert!(
        guest_lines <= 3 && !log.contains("tokio::runtime") && !log.contains("/rustc/"),
        "{guest_lines} guest lines:\n{log}"
    );
}

/// A request body that never sends a byte and never ends.
pub struct Silent;

impl hyper::body::Body for Silent {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

/// A reqwest client whose connections come from `local`.
pub fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_that_never_send_a_body_hold_only_their_clients_share_of_instances() {
    let server = Server::builder()
        .dist(&example_dist("blog-api"))
        .pool(40, 8, 20)
        .start();
    // The attack: five h2c connections from 127.0.0.1, fifty uploads each whose body never
    // comes. Without shares they take the whole pool of 40.
    let (statuses, mut answered) = tokio::sync::mpsc::unbounded_channel();
    let mut connections = Vec::new();
    for _ in 0..5 {
        let (sender, socket) = h2c_from::<Silent>(server.addr, "127.0.0.1").await;
        for _ in 0..50 {
            let mut sender = sender.clone();
            let statuses = statuses.clone();
            tokio::spawn(async move {
                let request = hyper::Request::post("http://x/api/upload")
                    .body(Silent)
                    .unwrap();
                let status = match sender.send_request(request).await {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                };
                let _ = statuses.send(status);
            });
        }
        connections.push(socket);
    }
    // 20 are admitted and wait for their bodies; the other 230 are refused with 429 at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut refused = 0;
    while refused < 230 {
        let next = tokio::time::timeout_at(deadline.into(), answered.recv()).await;
        match next {
            Ok(Some(429)) => refused += 1,
            Ok(Some(other)) => panic!("an attack stream got {other}\n{}", server.log()),
            _ => panic!("only {refused} of 230 streams refused\n{}", server.log()),
        }
    }
    // A healthy client elsewhere is served while the attack holds its share.
    let healthy = client_from("127.0.0.2");
    let statuses = get_all(&healthy, &server.url("/api"), 20).await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{statuses:?}\n{}",
        server.log()
    );
    let log = server.log();
    for limit in [
        "limit=\"connection-instances\"",
        "limit=\"client-instances\"",
    ] {
        assert!(log.contains(limit), "{limit} missing from\n{log}");
    }
    // The attacker vanishes, and its address has its share back at once.
    for socket in connections {
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
    let started = Instant::now();
    let same_address = client_from("127.0.0.1");
    let mut statuses = Vec::new();
    while started.elapsed() < Duration::from_secs(5) {
        statuses = get_all(&same_address, &server.url("/api"), 20).await;
        if statuses.iter().all(|s| *s == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{statuses:?}\n{}",
        server.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the share came back only after {:?}",
        started.elapsed()
    );
}

/// `n` GETs of `url` side by side; a failed request counts as status 0.
async fn get_all(client: &reqwest::Client, url: &str, n: usize) -> Vec<u16> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url) = (client.clone(), url.to_owned());
        requests.spawn(async move {
            match client.get(url).send().await {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            }
        });
    }
    requests.join_all().await
}

/// Reads until the peer closes or `within` passes; returns what came and whether it closed.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (seen, true),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (seen, false);
            }
            // A reset is a close too.
            Err(_) => return (seen, true),
        }
    }
}

#[test]
fn silent_and_idle_connections_are_closed_and_their_number_is_capped() {
    let server = Server::builder()
        .dist(&example_dist("hello"))
        .args(&[
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "2s",
            "--max-connections",
            "100",
        ])
        .start();
    let pid = server.pid();
    let hello = "GET /api/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(raw_request(server.addr, hello).starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(200));
    let baseline = open_fds(pid);

    // 150 sockets that never send a byte: the host holds at most its cap of them...
    let mut silent: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let held = open_fds(pid);
    assert!(
        held <= baseline + 100,
        "{baseline} fds before, {held} with 150 silent clients"
    );
    // ...and closes every one of them by the first-byte timeout.
    let started = Instant::now();
    for stream in &mut silent {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(4));
        assert!(
            closed,
            "a silent connection still open after {:?}",
            started.elapsed()
        );
    }
    drop(silent);

    // h2c connections that send the preface and their settings, then nothing: closed once
    // idle, with a GOAWAY first.
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            stream
                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                .unwrap();
            // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
            stream.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    for stream in &mut idle {
        let (seen, closed) = read_until_closed(stream, Duration::from_secs(6));
        assert!(
            closed,
            "an idle h2c connection still open after {:?}",
            started.elapsed()
        );
        // The last frame is a GOAWAY (type 7).
        let goaway = seen.windows(4).any(|w| w[0..3] == [0, 0, 8] && w[3] == 7);
        assert!(goaway, "no GOAWAY in {seen:?}");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "idle connections closed after only {:?}",
        started.elapsed()
    );
    drop(idle);

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = open_fds(pid);
    while after > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = open_fds(pid);
    }
    assert!(after <= baseline, "{baseline} fds before, {after} after");
    let log = server.log();
    for limit in ["limit=\"connections\"", "limit=\"header-timeout\""] {
        assert!(log.contains(limit), "{limit} missing from\n{log}");
    }
    assert!(raw_request(server.addr, hello).starts_with("HTTP/1.1 200"));
}

#[test]
fn a_malformed_chunked_body_is_a_400_on_routes_that_stream_their_body() {
    let server = Server::start(&example_dist("blog-api"));
    for (method, path) in [
        ("POST", "/api/upload"),
        ("PUT", "/api/kv/broken"),
        ("PUT", "/api/notes/broken?title=t"),
    ] {
        // One good chunk, then a chunk size that is not hex.
        let answer = raw_request(
            server.addr,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nabcde\r\nzz\r\nabc\r\n0\r\n\r\n"
            ),
        );
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request"),
            "{method} {path}: {answer}\n{}",
            server.log()
        );
    }
    // Nothing half-received was stored.
    for path in ["/api/kv/broken", "/api/notes/broken"] {
        let answer = raw_request(
            server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_request_shapes_get_their_own_status_and_missing_authorities_are_filled_in() {
    let server = Server::start(&example_dist("hello"));
    let status_of = |request: &str| {
        let answer = raw_request(server.addr, request);
        answer.lines().next().unwrap_or_default().to_owned()
    };
    // A 64 KB target is too long a URI (414), not too large headers.
    let long = format!(
        "GET /api/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert_eq!(status_of(&long), "HTTP/1.1 414 URI Too Long");
    // Authority form is for CONNECT only.
    let authority = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", server.addr);
    assert_eq!(status_of(&authority), "HTTP/1.1 400 Bad Request");
    // More than 100 header fields: 431, like headers past 64 KiB.
    let many: String = (0..120).map(|n| format!("X-H{n}: v\r\n")).collect();
    let many = format!("GET /api/hello HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert!(
        status_of(&many).starts_with("HTTP/1.1 431"),
        "{}",
        status_of(&many)
    );
    // HTTP/1.1 must name its host; HTTP/1.0 need not, and the route runs.
    assert_eq!(
        status_of("GET /api/hello HTTP/1.1\r\nConnection: close\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    let answer = raw_request(server.addr, "GET /api/hello HTTP/1.0\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.0 200"),
        "{answer}\n{}",
        server.log()
    );
    // HTTP/2 without :authority, likewise.
    let (mut sender, _) =
        h2c_from::<http_body_util::Empty<bytes::Bytes>>(server.addr, "127.0.0.1").await;
    let request = hyper::Request::get("/api/hello")
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200, "{}", server.log());
    assert!(
        server.wait_for_log("limit=\"uri-size\""),
        "{}",
        server.log()
    );
}
