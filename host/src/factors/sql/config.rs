//! `[sql.databases.NAME]` in `routelet.toml`: where each named database lives.
//!
//! ```toml
//! [sql.databases.default]
//! url = "postgres://app@127.0.0.1/app"   # or { env = "DATABASE_URL" }; absent: embedded SQLite
//!
//! [routes."/api/report"]
//! sql_databases = ["analytics"]          # `default` is granted to every API route
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::factors::named::Entry;

/// The database every API route may open without a grant, and the one migrations apply to.
pub const DEFAULT_DATABASE: &str = crate::factors::named::DEFAULT;

/// `[sql]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// The databases besides `default` (which may also be listed, to move it to PostgreSQL).
    #[serde(default)]
    pub databases: BTreeMap<String, Entry>,
}
