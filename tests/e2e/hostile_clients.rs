//! Clients that misbehave get a precise answer or a closed connection, never a stuck host:
//! headers past the limit (431), headers that never finish (closed after the header timeout),
//! and a healthy request still answers afterwards.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{Server, example_dist, raw_request};

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
    let server = Server::start(&example_dist("hello"));
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
        elapsed >= Duration::from_secs(9) && elapsed < Duration::from_secs(20),
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
