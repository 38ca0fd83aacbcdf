//! POST /api/upload → {"bytes":..., "lines":..., "fnv1a":"..."} for a body of any size.
//!
//! `CONFIG` turns the body parser off (Next.js's `bodyParser: false`): the body is not buffered
//! and no size limit applies, so the handler reads it as a stream in constant memory.

use std::io::Read;

use routelet_sdk::{Config, Error, Request, Response, Result};

pub const CONFIG: Config = Config::new().body_parser(false);

pub fn handler(req: Request) -> Result {
    if req.method() != "POST" {
        return Err(Error::method_not_allowed(&["POST"]));
    }
    let mut body = req.into_body_reader();
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut bytes, mut lines, mut hash) = (0u64, 0u64, 0x811c_9dc5_u32);
    loop {
        let n = body.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        for &byte in &chunk[..n] {
            lines += u64::from(byte == b'\n');
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
    Ok(Response::json(&serde_json::json!({
        "bytes": bytes,
        "lines": lines,
        "fnv1a": format!("{hash:08x}"),
    })))
}
