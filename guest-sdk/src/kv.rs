//! Key-value stores through the standard `wasi:keyvalue` interfaces.
//!
//! Every API route may open the `default` store; other stores are granted per route in
//! `routelet.toml`. Values are bytes; [`Store::get_json`] and [`Store::set_json`] store serde
//! types as JSON, and [`Store::increment`] counts atomically, even across hosts.
//!
//! # Example
//!
//! ```no_run
//! use routelet_sdk::{Request, Response, Result, kv::Store};
//!
//! pub fn handler(_req: Request) -> Result {
//!     let store = Store::open_default()?;
//!     let visits = store.increment("visits", 1)?;
//!     Ok(Response::json(&serde_json::json!({ "visits": visits })))
//! }
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::kv::{atomics, batch, store};

/// The store every API route may open without a grant.
pub const DEFAULT_STORE: &str = "default";

/// What went wrong with a store; `?` turns it into a 500 whose detail goes to the log.
#[derive(Debug, Clone, PartialEq)]
pub enum KvError {
    /// No store has this name.
    NoSuchStore(String),
    /// The store is not granted to this route (or the handle is read-only), with the reason.
    AccessDenied(String),
    /// The backend could not be reached in time, or the operation failed; with the reason.
    Other(String),
    /// A JSON value could not be encoded or decoded.
    Json(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NoSuchStore(name) => write!(f, "no key-value store is named {name:?}"),
            KvError::AccessDenied(message) | KvError::Other(message) | KvError::Json(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for KvError {}

fn convert(name: &str) -> impl Fn(store::Error) -> KvError + '_ {
    move |error| match error {
        store::Error::NoSuchStore => KvError::NoSuchStore(name.to_owned()),
        store::Error::AccessDenied => {
            KvError::AccessDenied(format!("access to store {name:?} denied"))
        }
        store::Error::Other(message) if message.starts_with("access denied") => {
            KvError::AccessDenied(message)
        }
        store::Error::Other(message) => KvError::Other(message),
    }
}

/// An open key-value store.
pub struct Store {
    name: String,
    bucket: store::Bucket,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("name", &self.name).finish()
    }
}

impl Store {
    /// Opens the store `name`; one not granted to this route is [`KvError::AccessDenied`].
    pub fn open(name: &str) -> Result<Self, KvError> {
        let bucket = store::open(name).map_err(convert(name))?;
        Ok(Self {
            name: name.to_owned(),
            bucket,
        })
    }

    /// Opens the `default` store.
    pub fn open_default() -> Result<Self, KvError> {
        Self::open(DEFAULT_STORE)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.bucket.get(key).map_err(convert(&self.name))
    }

    /// The value at `key` decoded from JSON, if any.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| KvError::Json(format!("the value at {key:?} is not that JSON: {e}"))),
        }
    }

    /// Stores `value` at `key`.
    pub fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Result<(), KvError> {
        self.bucket
            .set(key, value.as_ref())
            .map_err(convert(&self.name))
    }

    /// Stores `value` as JSON at `key`.
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvError> {
        let bytes = serde_json::to_vec(value).map_err(|e| KvError::Json(e.to_string()))?;
        self.set(key, bytes)
    }

    /// Removes `key`; an absent key is not an error.
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        self.bucket.delete(key).map_err(convert(&self.name))
    }

    /// Whether `key` has a value.
    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.bucket.exists(key).map_err(convert(&self.name))
    }

    /// Every key of the store, all pages.
    pub fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.bucket.list_keys(cursor).map_err(convert(&self.name))?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// Adds `delta` to the decimal integer at `key` (absent: 0) atomically; the new value.
    pub fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        atomics::increment(&self.bucket, key, delta).map_err(convert(&self.name))
    }

    /// The values of `keys`, in order.
    pub fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let values = batch::get_many(&self.bucket, &keys).map_err(convert(&self.name))?;
        Ok(values
            .into_iter()
            .map(|v| v.map(|(_, value)| value))
            .collect())
    }

    /// Stores every pair.
    pub fn set_many(&self, pairs: &[(&str, &[u8])]) -> Result<(), KvError> {
        let pairs: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        batch::set_many(&self.bucket, &pairs).map_err(convert(&self.name))
    }

    /// Removes every key.
    pub fn delete_many(&self, keys: &[&str]) -> Result<(), KvError> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        batch::delete_many(&self.bucket, &keys).map_err(convert(&self.name))
    }
}
