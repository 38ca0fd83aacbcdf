//! GET /api/stream?n=100000 → `n` lines of text (default 1000, at most 1,000,000), streamed.
//!
//! The lines are written while they are sent, in 4 KiB chunks, so the response never sits whole
//! in memory and the client sees the first bytes at once.

use routelet_sdk::{Error, Request, Response, Result};
use serde::Deserialize;

const MAX_LINES: u64 = 1_000_000;

#[derive(Deserialize)]
struct Params {
    n: Option<u64>,
}

pub fn handler(req: Request) -> Result {
    // `?n=abc` is a 400 that says why: "Invalid query: invalid value: string "abc", ...".
    let n = req.query_as::<Params>()?.n.unwrap_or(1000);
    if n > MAX_LINES {
        return Err(Error::bad_request(format!("n may be at most {MAX_LINES}")));
    }
    Ok(Response::stream("text/plain; charset=utf-8", move |out| {
        for i in 1..=n {
            writeln!(out, "line {i} of {n}")?;
        }
        Ok(())
    }))
}
