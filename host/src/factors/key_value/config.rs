//! `[key_value.stores.NAME]` in `routelet.toml`: where each named store keeps its data.
//!
//! ```toml
//! [key_value.stores.cache]
//! url = "redis://127.0.0.1:6379"        # or { env = "CACHE_URL" }; absent: embedded SQLite
//!
//! [routes."/api/counter"]
//! key_value_stores = ["cache"]          # `default` is granted to every API route
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::factors::named::Entry;

/// The store every API route may open without a grant.
pub const DEFAULT_STORE: &str = crate::factors::named::DEFAULT;

/// `[key_value]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValueConfig {
    /// The stores besides `default` (which may also be listed, to move it to Redis).
    #[serde(default)]
    pub stores: BTreeMap<String, Entry>,
}
