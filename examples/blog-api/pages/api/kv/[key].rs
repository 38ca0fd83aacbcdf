//! /api/kv/[key]: raw bytes in the `default` key-value store.
//!
//! `PUT` stores the request body verbatim, `GET` answers it verbatim
//! (`application/octet-stream`), `DELETE` removes it; an absent key is a 404.

use routelet_sdk::kv::Store;
use routelet_sdk::{Config, Error, Request, Response, Result};

/// Raw bodies of any type, unparsed.
pub const CONFIG: Config = Config::new().body_parser(false);

pub fn handler(req: Request) -> Result {
    let key = req.param("key").unwrap_or_default().to_owned();
    let store = Store::open_default()?;
    match req.method() {
        "PUT" => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut req.into_body_reader(), &mut body)?;
            store.set(&key, &body)?;
            Ok(Response::new().status(204))
        }
        "GET" => match store.get(&key)? {
            Some(value) => Ok(Response::bytes("application/octet-stream", value)),
            None => Err(Error::not_found(format!("no value at {key}"))),
        },
        "DELETE" => {
            store.delete(&key)?;
            Ok(Response::new().status(204))
        }
        _ => Err(Error::method_not_allowed(&["GET", "PUT", "DELETE"])),
    }
}
