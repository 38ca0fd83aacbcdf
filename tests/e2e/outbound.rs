//! Outbound HTTP end to end: a route calls a real upstream server on loopback through the SDK's
//! `fetch`. Only what `allowed_outbound_hosts` names is reachable, a name that resolves to
//! loopback is refused, the timeouts hold, connections are reused, HTTPS is verified (against
//! an authority made up for the test), and bad entries stop the start naming the route and the
//! entry.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Server, built_app, client, dist_with_config, fresh_data_dir};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Calls `?url=` with `?method=` and the request's body; answers what came back, or the error.
const PROXY: &str = r#"
use std::time::Duration;

use routelet_sdk::{FetchRequest, Request, Response, fetch};

pub fn handler(req: Request) -> Response {
    let query = req.query();
    let url = query.get("url").unwrap_or_default().to_owned();
    let method = query.get("method").unwrap_or("GET").to_owned();
    let first_byte = query.get("first_byte_ms").map(|ms| ms.parse::<u64>().unwrap());
    let connect = query.get("connect_ms").map(|ms| ms.parse::<u64>().unwrap());
    let body = req.text().unwrap_or_default();
    let mut request = FetchRequest::new(method, url);
    if !body.is_empty() {
        request = request.body(body);
    }
    if let Some(ms) = first_byte {
        request = request.first_byte_timeout(Duration::from_millis(ms));
    }
    if let Some(ms) = connect {
        request = request.connect_timeout(Duration::from_millis(ms));
    }
    match fetch(request) {
        Ok(res) => Response::json(&serde_json::json!({
            "status": res.status(),
            "body": res.text(),
            "upstream_header": res.header("x-upstream"),
        })),
        Err(error) => Response::json(&serde_json::json!({
            "error": format!("{:?}", error.kind()),
            "message": error.to_string(),
        })),
    }
}
"#;

/// The app's dist with `config` as its `routelet.toml`.
fn dist_with(name: &str, config: &str) -> PathBuf {
    let built = built_app(
        "outbound-app",
        &[
            ("pages/api/proxy.rs", PROXY),
            // The same code with no allow-list.
            ("pages/api/closed.rs", PROXY),
        ],
    );
    dist_with_config(&built, name, config)
}

/// A real HTTP/1.1 server on loopback: `/slow` answers after 10 s, `/echo` echoes the method and
/// body, anything else says hello. Counts the connections it accepts.
pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Upstream {
    pub(crate) async fn start() -> Upstream {
        Upstream::start_with(None).await
    }

    /// The same server over TLS, with a certificate for 127.0.0.1.
    async fn start_tls(authority: &TestAuthority) -> Upstream {
        Upstream::start_with(Some(authority.acceptor())).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (accepted, served) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let served = served.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                            served.fetch_add(1, Ordering::SeqCst);
                            answer(req)
                        });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        Upstream {
            addr,
            connections,
            requests,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A certificate authority made up for one test, and a certificate it signed for 127.0.0.1.
struct TestAuthority {
    ca_pem: String,
    certificate: CertificateDer<'static>,
    key: Vec<u8>,
}

impl TestAuthority {
    fn new() -> TestAuthority {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "routelet test authority");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_certificate = ca.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca, &ca_key))
            .unwrap();
        TestAuthority {
            ca_pem: ca_certificate.pem(),
            certificate: leaf.der().clone(),
            key: leaf_key.serialize_der(),
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.certificate.clone()], key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

async fn answer(req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "late".to_owned()
        }
        "/echo" => format!("{method} {}", String::from_utf8_lossy(&body)),
        _ => "hello from upstream".to_owned(),
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    response
        .headers_mut()
        .insert("x-upstream", http::HeaderValue::from_static("yes"));
    Ok(response)
}

/// `GET /api/ROUTE?url=URL&...` on the host, as the JSON the route answered.
async fn call(server: &Server, route: &str, url: &str, extra: &str) -> Value {
    let response = client()
        .get(server.url(&format!("/api/{route}?url={url}{extra}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_hosts_are_reachable_and_names_never_reach_loopback() {
    let upstream = Upstream::start().await;
    let other = Upstream::start().await;
    let port = upstream.addr.port();
    let dist = dist_with(
        "outbound-allow",
        &format!(
            r#"
[routes."/api/proxy"]
allowed_outbound_hosts = ["http://127.0.0.1:{port}", "http://localhost:{port}"]
"#
        ),
    );
    let server = Server::start(&dist);

    // The allowed address: reached, with its body, headers, and a request body on the way.
    let got = call(&server, "proxy", &upstream.url("/hello"), "").await;
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(got["body"], "hello from upstream");
    assert_eq!(got["upstream_header"], "yes");
    let got = client()
        .post(server.url(&format!(
            "/api/proxy?url={}&method=PUT",
            upstream.url("/echo")
        )))
        .header("content-type", "text/plain")
        .body("ping")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(got["body"], "PUT ping", "{got}");

    // Another port on the same address: denied with the standard code, logged, counted.
    let requests_before = other.requests.load(Ordering::SeqCst);
    let got = call(&server, "proxy", &other.url("/hello"), "").await;
    assert_eq!(got["error"], "Denied", "{got}");
    assert!(
        got["message"]
            .as_str()
            .unwrap()
            .contains("HTTP-request-denied"),
        "{got}"
    );
    let other_target = format!("http://127.0.0.1:{}", other.addr.port());
    assert!(
        server.wait_for_log(&format!(
            "outbound HTTP to {other_target} denied: not in this route's allowed_outbound_hosts"
        )),
        "{}",
        server.log()
    );

    // `localhost` is allowed by name, but it resolves to loopback: refused before connecting.
    let connections_before = upstream.connections.load(Ordering::SeqCst);
    let got = call(
        &server,
        "proxy",
        &format!("http://localhost:{port}/hello"),
        "",
    )
    .await;
    assert_eq!(got["error"], "Denied", "{got}");
    assert!(
        got["message"]
            .as_str()
            .unwrap()
            .contains("destination-IP-prohibited"),
        "{got}"
    );
    assert!(
        server.wait_for_log("localhost resolves to"),
        "{}",
        server.log()
    );
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        connections_before,
        "no connection may be made for a refused name"
    );

    // A route without an allow-list can call nothing, not even the allowed upstream.
    let got = call(&server, "closed", &upstream.url("/hello"), "").await;
    assert_eq!(got["error"], "Denied", "{got}");
    assert!(
        server.wait_for_log("denied: this route has no allowed_outbound_hosts"),
        "{}",
        server.log()
    );
    assert_eq!(other.requests.load(Ordering::SeqCst), requests_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_honoured_and_connections_are_reused() {
    let upstream = Upstream::start().await;
    let port = upstream.addr.port();
    let dist = dist_with(
        "outbound-timeouts",
        &format!(
            r#"
[outbound_http]
timeout = "3s"

[routes."/api/proxy"]
allowed_outbound_hosts = ["http://127.0.0.1:{port}"]
"#
        ),
    );
    let server = Server::start(&dist);

    // Sequential calls from separate requests share one pooled connection.
    for _ in 0..5 {
        let got = call(&server, "proxy", &upstream.url("/hello"), "").await;
        assert_eq!(got["status"], 200, "{got}");
    }
    let connections = upstream.connections.load(Ordering::SeqCst);
    assert!(
        connections < 5,
        "5 calls opened {connections} connections: none was reused"
    );

    // The guest's first-byte timeout, shorter than the host's.
    let started = Instant::now();
    let got = call(
        &server,
        "proxy",
        &upstream.url("/slow"),
        "&first_byte_ms=300",
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(got["error"], "Timeout", "{got}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );

    // The host's total timeout, when the guest sets none, or a longer one.
    for extra in ["", "&first_byte_ms=60000"] {
        let started = Instant::now();
        let got = call(&server, "proxy", &upstream.url("/slow"), extra).await;
        let elapsed = started.elapsed();
        assert_eq!(got["error"], "Timeout", "{got}");
        assert!(
            elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(9),
            "{elapsed:?}"
        );
    }

    // After all that, the upstream is still reachable.
    let got = call(&server, "proxy", &upstream.url("/hello"), "").await;
    assert_eq!(got["status"], 200, "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_timeout_holds_against_a_server_that_never_accepts() {
    // A listener whose accept queue is full: the kernel drops further SYNs, so a connection
    // attempt hangs until someone gives up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        let attempt = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(300), attempt).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => {
                full = true;
                break;
            }
        }
    }
    assert!(
        full,
        "the accept queue never filled, so this kernel cannot show a connect timeout"
    );

    let dist = dist_with(
        "outbound-connect",
        &format!(
            r#"
[outbound_http]
connect_timeout = "800ms"

[routes."/api/proxy"]
allowed_outbound_hosts = ["http://127.0.0.1:{}"]
"#,
            addr.port()
        ),
    );
    let server = Server::start(&dist);
    let url = format!("http://{addr}/hello");
    // The host's limit, and the guest's when it is shorter; a longer one changes nothing.
    for (extra, at_least, below) in [
        ("", 800, 2500),
        ("&connect_ms=300", 300, 790),
        ("&connect_ms=60000", 800, 2500),
    ] {
        let started = Instant::now();
        let got = call(&server, "proxy", &url, extra).await;
        let elapsed = started.elapsed();
        assert_eq!(got["error"], "Timeout", "{extra}: {got}");
        assert!(
            got["message"]
                .as_str()
                .unwrap()
                .contains("connecting timed out"),
            "{got}"
        );
        assert!(
            elapsed >= Duration::from_millis(at_least) && elapsed < Duration::from_millis(below),
            "{extra}: {elapsed:?}"
        );
    }
    drop(fillers);
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_verified_against_the_roots_and_the_apps_own_authority() {
    let authority = TestAuthority::new();
    let upstream = Upstream::start_tls(&authority).await;
    let url = format!("https://{}/hello", upstream.addr);
    let allow = format!(
        "[routes.\"/api/proxy\"]\nallowed_outbound_hosts = [\"https://{}\"]\n",
        upstream.addr
    );

    // The Mozilla roots do not vouch for this authority: the handshake fails, and says why.
    let server = Server::start(&dist_with("outbound-tls-untrusted", &allow));
    let got = call(&server, "proxy", &url, "").await;
    assert_eq!(got["error"], "Tls", "{got}");
    assert!(
        got["message"]
            .as_str()
            .unwrap()
            .contains("TLS-certificate-error"),
        "{got}"
    );
    assert!(
        server.wait_for_log("TLS with https://127.0.0.1:"),
        "{}",
        server.log()
    );
    assert_eq!(upstream.requests.load(Ordering::SeqCst), 0);
    drop(server);

    // Trusted once the app names its authority, and pooled like plain HTTP.
    let config = format!(
        "[outbound_http]\nca_certificates = '''\n{}'''\n\n{allow}",
        authority.ca_pem
    );
    let server = Server::start(&dist_with("outbound-tls-trusted", &config));
    let before = upstream.connections.load(Ordering::SeqCst);
    for _ in 0..3 {
        let got = call(&server, "proxy", &url, "").await;
        assert_eq!(got["status"], 200, "{got}");
        assert_eq!(got["body"], "hello from upstream");
    }
    let opened = upstream.connections.load(Ordering::SeqCst) - before;
    assert!(opened < 3, "3 HTTPS calls opened {opened} connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_are_counted_in_metrics() {
    let upstream = Upstream::start().await;
    let data = fresh_data_dir();
    let dist = dist_with("outbound-metrics", "");
    let server = Server::builder()
        .dist(&dist)
        .data_dir(&data)
        .admin()
        .start();
    for _ in 0..2 {
        let got = call(&server, "proxy", &upstream.url("/hello"), "").await;
        assert_eq!(got["error"], "Denied", "{got}");
    }
    let metrics = server.metrics(&data).await;
    assert!(
        metrics.contains("routelet_outbound_denied_total{route=\"/api/proxy\"} 2"),
        "{metrics}"
    );
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_host_still_means_public_addresses_even_inside_ipv6() {
    let dist = dist_with(
        "outbound-any",
        r#"
[routes."/api/proxy"]
allowed_outbound_hosts = ["http://*:*"]
"#,
    );
    let server = Server::start(&dist);
    // Loopback, a private network and the cloud metadata address, each wrapped in 6to4,
    // NAT64 and Teredo: refused before any connection is tried.
    for address in [
        "127.0.0.1",
        "[2002:7f00:1::1]",
        "[2002:a00:1::1]",
        "[2002:a9fe:a9fe::1]",
        "[64:ff9b:1::7f00:1]",
        "[2001:0:7f00:1::1]",
    ] {
        let got = call(&server, "proxy", &format!("http://{address}:9/x"), "").await;
        assert_eq!(got["error"], "Denied", "{address}: {got}");
        assert!(
            got["message"]
                .as_str()
                .unwrap()
                .contains("destination-IP-prohibited"),
            "{address}: {got}"
        );
    }
}

#[test]
fn bad_entries_stop_the_start_naming_route_and_entry() {
    for (config, expected) in [
        (
            r#"[routes."/api/proxy"]
allowed_outbound_hosts = ["api.example.com"]"#,
            "[routes.\"/api/proxy\"] allowed_outbound_hosts entry \"api.example.com\": write the scheme",
        ),
        (
            r#"[routes."/api/proxy"]
allowed_outbound_hosts = ["https://api.*.example.com"]"#,
            "a wildcard is only `*` or a leading `*.`",
        ),
        (
            r#"[outbound_http]
allowed_private_networks = ["10.0.0.0/33"]"#,
            "allowed_private_networks entry \"10.0.0.0/33\"",
        ),
    ] {
        let dist = dist_with("outbound-bad", config);
        let message = match Server::builder().dist(&dist).try_start() {
            Ok(_) => panic!("the host started with {config}"),
            Err(message) => message,
        };
        assert!(message.contains(expected), "{expected}\n{message}");
    }
}
