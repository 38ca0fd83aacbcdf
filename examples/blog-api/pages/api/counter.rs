//! /api/counter: a counter in the `default` key-value store.
//!
//! `POST` adds one atomically (`?by=N` adds N) and answers the new value; `GET` reads it. A store
//! that cannot be reached is a 503 with a JSON error, chosen here, not by the host.

use routelet_sdk::kv::Store;
use routelet_sdk::{Error, Request, Response, Result};

const KEY: &str = "counter";

pub fn handler(req: Request) -> Result {
    let store = match Store::open_default() {
        Ok(store) => store,
        Err(e) => return Ok(unavailable(e)),
    };
    let value = match req.method() {
        "POST" => {
            let by = req.query().get("by").unwrap_or("1");
            let by: u64 = by
                .parse()
                .map_err(|_| Error::bad_request("by must be a whole number"))?;
            store.increment(KEY, by)
        }
        "GET" => store.get(KEY).map(|value| {
            value
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.parse().ok())
                .unwrap_or(0)
        }),
        _ => return Err(Error::method_not_allowed(&["GET", "POST"])),
    };
    match value {
        Ok(value) => Ok(Response::json(&serde_json::json!({ "value": value }))),
        Err(e) => Ok(unavailable(e)),
    }
}

fn unavailable(error: routelet_sdk::kv::KvError) -> Response {
    eprintln!("counter: {error}");
    Response::json(&serde_json::json!({ "error": "counter unavailable" })).status(503)
}
