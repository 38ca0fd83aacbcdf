//! Reads `{"name": .., "items": [numbers]}` and answers `{"greeting": .., "count": .., "sum": ..}`;
//! a body that is not such JSON is answered 400.

use serde::{Deserialize, Serialize};
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

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

struct Json;

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut bytes = Vec::new();
    let Ok(body) = request.consume() else {
        return bytes;
    };
    if let Ok(stream) = body.stream() {
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > 1 << 20 {
                break;
            }
        }
    }
    bytes
}

fn respond(out: ResponseOutparam, status: u16, bytes: &[u8]) {
    let headers = Fields::from_list(&[("content-type".into(), b"application/json".to_vec())])
        .expect("valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("valid status");
    let body = response.body().expect("body once");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("stream once");
    stream.blocking_write_and_flush(bytes).expect("writing the body");
    drop(stream);
    OutgoingBody::finish(body, None).expect("finishing the body");
}

impl Guest for Json {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let body = read_body(&request);
        match serde_json::from_slice::<Order>(&body) {
            Ok(order) => {
                let answer = Answer {
                    greeting: format!("Hello, {}!", order.name),
                    count: order.items.len(),
                    sum: order.items.iter().sum(),
                };
                respond(out, 200, &serde_json::to_vec(&answer).expect("serializable"));
            }
            Err(_) => respond(out, 400, br#"{"error":"Invalid JSON"}"#),
        }
    }
}

wasi::http::proxy::export!(Json);
