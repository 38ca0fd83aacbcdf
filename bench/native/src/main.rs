//! `bench-native ADDR`: hello at any path but `/api/json`, which parses a JSON body and answers
//! JSON, exactly like the benchmark's wasm components, with hyper and tokio as Routelet uses them.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Order {
    name: String,
    items: Vec<f64>,
}

#[derive(Serialize)]
struct Answer {
    greeting: String,
    count: usize,
    sum: f64,
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/api/json" {
        return Ok(Response::builder()
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"Hello, world!\n")))
            .expect("valid response"));
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, bytes) = match serde_json::from_slice::<Order>(&body) {
        Ok(order) => (
            200,
            serde_json::to_vec(&Answer {
                greeting: format!("Hello, {}!", order.name),
                count: order.items.len(),
                sum: order.items.iter().sum(),
            })
            .expect("serializable"),
        ),
        Err(_) => (400, br#"{"error":"Invalid JSON"}"#.to_vec()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("valid response"))
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3100".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("binding");
    println!("native: listening on http://{addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handle))
                .await;
        });
    }
}
