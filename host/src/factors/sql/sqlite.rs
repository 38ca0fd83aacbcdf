//! The embedded SQL backend: `NAME.sqlite` in the data directory, WAL mode, pooled connections.
//!
//! A request's connection is its own for the life of the handle, so a transaction spans calls;
//! writers wait for each other up to the busy timeout, then fail with an error, never hang.

use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use rusqlite::{ErrorCode, ffi};

use super::{Error, Rows, Value, sqlite_placeholders};
use crate::factors::data_dir::{DataDir, blocking};

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 16;

/// The open connections of one database file, made on first use and reused.
pub struct Pool {
    data_dir: DataDir,
    file: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl Pool {
    /// A pool for `NAME.sqlite`; nothing is opened yet.
    pub fn new(data_dir: DataDir, name: &str) -> anyhow::Result<Self> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            anyhow::bail!(
                "database name {name:?} cannot be a file name: use letters, digits, _ and -"
            );
        }
        Ok(Self {
            data_dir,
            file: format!("{name}.sqlite"),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A connection of this pool, opening one when none is idle.
    pub fn get(pool: &Arc<Pool>, read_only: bool) -> Result<Pooled, Error> {
        let idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => blocking(|| pool.data_dir.open_sqlite(&pool.file))
                .map_err(|e| Error::Unavailable(format!("{e:#}")))?,
        };
        Ok(Pooled {
            connection: Some(connection),
            pool: pool.clone(),
            in_transaction: false,
            read_only,
        })
    }

    /// Runs `f` on a pooled connection, for migrations.
    pub fn with_connection<T>(
        pool: &Arc<Pool>,
        f: impl FnOnce(&mut rusqlite::Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut pooled = Pool::get(pool, false).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        f(pooled.connection.as_mut().expect("present until drop"))
    }
}

/// A connection checked out of the pool; dropping it rolls back an open transaction.
pub struct Pooled {
    connection: Option<rusqlite::Connection>,
    pool: Arc<Pool>,
    in_transaction: bool,
    read_only: bool,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if (self.in_transaction || !connection.is_autocommit())
            && connection.execute_batch("ROLLBACK").is_err()
        {
            return; // a connection in an unknown state is not reused
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }
}

impl Pooled {
    fn connection(&self) -> &rusqlite::Connection {
        self.connection.as_ref().expect("present until drop")
    }

    fn prepare<'c>(
        connection: &'c rusqlite::Connection,
        statement: &str,
        params: &[Value],
        read_only: bool,
    ) -> Result<rusqlite::CachedStatement<'c>, Error> {
        let sql = sqlite_placeholders(statement);
        let mut prepared = connection.prepare_cached(&sql).map_err(error)?;
        if read_only && !prepared.readonly() {
            return Err(Error::ReadOnly(
                "read-only: pages may not write to the database".into(),
            ));
        }
        let expected = prepared.parameter_count();
        if expected != params.len() {
            return Err(Error::Other(format!(
                "the statement has {expected} placeholders but {} values were given",
                params.len()
            )));
        }
        for (index, value) in params.iter().enumerate() {
            let index = index + 1;
            let bound = match value {
                Value::Null => prepared.raw_bind_parameter(index, rusqlite::types::Null),
                Value::Integer(i) => prepared.raw_bind_parameter(index, i),
                Value::Real(r) => prepared.raw_bind_parameter(index, r),
                Value::Text(t) => prepared.raw_bind_parameter(index, t.as_str()),
                Value::Blob(b) => prepared.raw_bind_parameter(index, b.as_slice()),
            };
            bound.map_err(error)?;
        }
        Ok(prepared)
    }

    /// Runs a statement and returns the number of rows it changed.
    pub fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64, Error> {
        if self.read_only {
            return Err(Error::ReadOnly(
                "read-only: pages may not write to the database".into(),
            ));
        }
        let connection = self.connection();
        blocking(|| {
            let mut prepared = Self::prepare(connection, statement, params, false)?;
            let mut rows = prepared.raw_query();
            while rows.next().map_err(error)?.is_some() {}
            Ok(connection.changes())
        })
    }

    /// Runs a statement and returns its rows.
    pub fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows, Error> {
        let connection = self.connection();
        let read_only = self.read_only;
        blocking(|| {
            let mut prepared = Self::prepare(connection, statement, params, read_only)?;
            let columns: Vec<String> = prepared
                .column_names()
                .into_iter()
                .map(str::to_owned)
                .collect();
            let width = columns.len();
            let mut rows = prepared.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(error)? {
                let mut values = Vec::with_capacity(width);
                for index in 0..width {
                    values.push(match row.get_ref(index).map_err(error)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(i) => Value::Integer(i),
                        ValueRef::Real(r) => Value::Real(r),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    });
                }
                out.push(values);
            }
            Ok(Rows { columns, rows: out })
        })
    }

    /// `BEGIN IMMEDIATE` (a writer takes the write lock at once, so two transactions never
    /// deadlock on an upgrade), or a plain `BEGIN` for a read-only handle.
    pub fn begin(&mut self) -> Result<(), Error> {
        if self.in_transaction {
            return Err(Error::Other("a transaction is already open".into()));
        }
        let sql = if self.read_only {
            "BEGIN"
        } else {
            "BEGIN IMMEDIATE"
        };
        let connection = self.connection();
        blocking(|| connection.execute_batch(sql)).map_err(error)?;
        self.in_transaction = true;
        Ok(())
    }

    /// `COMMIT` or `ROLLBACK`.
    pub fn finish(&mut self, sql: &str) -> Result<(), Error> {
        if !self.in_transaction {
            return Err(Error::Other("no transaction is open".into()));
        }
        let connection = self.connection();
        let outcome = blocking(|| connection.execute_batch(sql)).map_err(error);
        if connection.is_autocommit() {
            self.in_transaction = false;
        }
        outcome
    }
}

/// Sorts SQLite's errors into the interface's cases.
fn error(e: rusqlite::Error) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(ffi::Error { code, .. }, _) => match code {
            ErrorCode::ConstraintViolation => Error::ConstraintViolation(e.to_string()),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                Error::Unavailable(format!("the database stayed busy: {e}"))
            }
            ErrorCode::ReadOnly => Error::ReadOnly(e.to_string()),
            _ => Error::Other(e.to_string()),
        },
        _ => Error::Other(e.to_string()),
    }
}
