//! Where key-value data lives: embedded SQLite in the data directory, or Redis.
//!
//! Both keep the same semantics: values are bytes; `increment` treats the value as a decimal
//! integer (absent: 0), the way Redis's `INCRBY` does, so a store can move between backends.
//! Every Redis call is bounded in time, so a server that is down is an error, never a hang.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::factors::data_dir::DataDir;

/// How long connecting to a Redis server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one Redis command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys per page of `list-keys`.
const PAGE: u64 = 1000;

/// A backend failure, worded for the route's author.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend could not be reached or answered too late.
    #[error("store {store} is unavailable: {message}")]
    Unavailable { store: String, message: String },
    /// The operation failed.
    #[error("store {store}: {message}")]
    Failed { store: String, message: String },
}

/// One store's backend.
pub enum Backend {
    /// Rows of `kv.sqlite` in the data directory, one table shared by every embedded store.
    Sqlite(SqliteKv),
    /// A Redis server; keys are used as they are.
    Redis(RedisKv),
}

impl Backend {
    /// Chooses the backend from a store's `url` (absent or `sqlite`: embedded).
    pub fn from_url(name: &str, url: Option<&str>, data_dir: &DataDir) -> anyhow::Result<Self> {
        match url {
            None | Some("sqlite") => Ok(Backend::Sqlite(SqliteKv::new(data_dir.clone()))),
            Some(url) if url.starts_with("redis://") => {
                let client = redis::Client::open(url).map_err(|e| {
                    anyhow::anyhow!("[key_value.stores.{name}] url is not a valid Redis URL: {e}")
                })?;
                Ok(Backend::Redis(RedisKv {
                    client,
                    connection: tokio::sync::Mutex::new(None),
                }))
            }
            Some(other) => bail!(
                "[key_value.stores.{name}] url {other:?} is not supported: use redis://HOST:PORT \
                 or leave it out for the embedded store"
            ),
        }
    }

    /// The value of `key`.
    pub async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Backend::Sqlite(db) => db.run(store, |c| {
                c.query_row(
                    "SELECT value FROM kv WHERE store = ?1 AND key = ?2",
                    params![store, key],
                    |row| row.get(0),
                )
                .optional()
            }),
            Backend::Redis(redis) => redis.run(store, redis::cmd("GET").arg(key)).await,
        }
    }

    /// Stores every pair, all or nothing.
    pub async fn set_many(&self, store: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        if pairs.is_empty() {
            return Ok(());
        }
        match self {
            Backend::Sqlite(db) => db.run(store, |c| {
                let tx = c.transaction()?;
                for (key, value) in &pairs {
                    tx.execute(
                        "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                        params![store, key, value],
                    )?;
                }
                tx.commit()
            }),
            Backend::Redis(redis) => {
                let mut cmd = redis::cmd("MSET");
                for (key, value) in &pairs {
                    cmd.arg(key).arg(value.as_slice());
                }
                redis.run(store, &cmd).await
            }
        }
    }

    /// Removes every key; absent keys are not an error.
    pub async fn delete_many(&self, store: &str, keys: Vec<String>) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        match self {
            Backend::Sqlite(db) => db.run(store, |c| {
                let tx = c.transaction()?;
                for key in &keys {
                    tx.execute(
                        "DELETE FROM kv WHERE store = ?1 AND key = ?2",
                        params![store, key],
                    )?;
                }
                tx.commit()
            }),
            Backend::Redis(redis) => redis.run(store, redis::cmd("DEL").arg(&keys)).await,
        }
    }

    /// Adds `delta` to the decimal integer at `key` (absent: 0), atomically.
    pub async fn increment(&self, store: &str, key: &str, delta: u64) -> Result<u64, Error> {
        match self {
            Backend::Sqlite(db) => {
                let outcome = db.run(store, |c| {
                    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let old: Option<Vec<u8>> = tx
                        .query_row(
                            "SELECT value FROM kv WHERE store = ?1 AND key = ?2",
                            params![store, key],
                            |row| row.get(0),
                        )
                        .optional()?;
                    let old = match old {
                        None => Some(0),
                        Some(bytes) => std::str::from_utf8(&bytes)
                            .ok()
                            .and_then(|text| text.parse::<u64>().ok()),
                    };
                    let Some(new) = old.and_then(|old| old.checked_add(delta)) else {
                        return Ok(None);
                    };
                    tx.execute(
                        "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                        params![store, key, new.to_string().into_bytes()],
                    )?;
                    tx.commit()?;
                    Ok(Some(new))
                })?;
                outcome.ok_or_else(|| Error::Failed {
                    store: store.to_owned(),
                    message: format!(
                        "the value at {key:?} is not a decimal integer, or the sum overflows"
                    ),
                })
            }
            Backend::Redis(redis) => {
                let delta = i64::try_from(delta).map_err(|_| Error::Failed {
                    store: store.to_owned(),
                    message: "increment delta too large for Redis".into(),
                })?;
                let value: i64 = redis
                    .run(store, redis::cmd("INCRBY").arg(key).arg(delta))
                    .await?;
                u64::try_from(value).map_err(|_| Error::Failed {
                    store: store.to_owned(),
                    message: format!("the value at {key:?} is negative"),
                })
            }
        }
    }

    /// One page of keys from `cursor`, and the cursor of the next page if there is one.
    pub async fn list_keys(
        &self,
        store: &str,
        cursor: Option<u64>,
    ) -> Result<(Vec<String>, Option<u64>), Error> {
        match self {
            Backend::Sqlite(db) => {
                let offset = cursor.unwrap_or(0);
                let keys = db.run(store, |c| {
                    let mut statement = c.prepare_cached(
                        "SELECT key FROM kv WHERE store = ?1 ORDER BY key LIMIT ?2 OFFSET ?3",
                    )?;
                    let rows = statement
                        .query_map(params![store, PAGE as i64 + 1, offset as i64], |row| {
                            row.get::<_, String>(0)
                        })?;
                    rows.collect::<Result<Vec<_>, _>>()
                })?;
                let mut keys = keys;
                let next = if keys.len() as u64 > PAGE {
                    keys.truncate(PAGE as usize);
                    Some(offset + PAGE)
                } else {
                    None
                };
                Ok((keys, next))
            }
            Backend::Redis(redis) => {
                let (next, keys): (u64, Vec<String>) = redis
                    .run(
                        store,
                        redis::cmd("SCAN")
                            .arg(cursor.unwrap_or(0))
                            .arg("COUNT")
                            .arg(PAGE),
                    )
                    .await?;
                Ok((keys, (next != 0).then_some(next)))
            }
        }
    }
}

/// The embedded backend: one connection, opened on first use, serialising all writes.
pub struct SqliteKv {
    data_dir: DataDir,
    connection: Mutex<Option<rusqlite::Connection>>,
}

impl SqliteKv {
    fn new(data_dir: DataDir) -> Self {
        Self {
            data_dir,
            connection: Mutex::new(None),
        }
    }

    /// Runs `f` on the connection, off the async workers' hot path.
    fn run<T>(
        &self,
        store: &str,
        f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let failed = |message: String| Error::Failed {
            store: store.to_owned(),
            message,
        };
        let work = || {
            let mut guard = self.connection.lock().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                let connection = self
                    .data_dir
                    .open_sqlite("kv.sqlite")
                    .and_then(|c| {
                        c.execute_batch(
                            "CREATE TABLE IF NOT EXISTS kv (store TEXT NOT NULL, key TEXT NOT NULL, \
                             value BLOB NOT NULL, PRIMARY KEY (store, key)) WITHOUT ROWID",
                        )?;
                        Ok(c)
                    })
                    .map_err(|e| failed(format!("{e:#}")))?;
                *guard = Some(connection);
            }
            f(guard.as_mut().expect("opened above")).map_err(|e| failed(e.to_string()))
        };
        crate::factors::data_dir::blocking(work)
    }
}

/// The Redis backend: one multiplexed connection, made on first use and remade after a failure.
pub struct RedisKv {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl RedisKv {
    async fn connection(&self, store: &str) -> Result<redis::aio::MultiplexedConnection, Error> {
        let mut guard = self.connection.lock().await;
        if let Some(connection) = guard.as_ref() {
            return Ok(connection.clone());
        }
        let unavailable = |message: String| Error::Unavailable {
            store: store.to_owned(),
            message,
        };
        let connection = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| unavailable(format!("no connection within {CONNECT_TIMEOUT:?}")))?
        .map_err(|e| unavailable(e.to_string()))?;
        *guard = Some(connection.clone());
        Ok(connection)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        store: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, Error> {
        let mut connection = self.connection(store).await?;
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let unavailable = error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.is_timeout();
                if unavailable {
                    *self.connection.lock().await = None;
                    Err(Error::Unavailable {
                        store: store.to_owned(),
                        message: error.to_string(),
                    })
                } else {
                    Err(Error::Failed {
                        store: store.to_owned(),
                        message: error.to_string(),
                    })
                }
            }
            Err(_) => {
                *self.connection.lock().await = None;
                Err(Error::Unavailable {
                    store: store.to_owned(),
                    message: format!("no answer within {COMMAND_TIMEOUT:?}"),
                })
            }
        }
    }
}
