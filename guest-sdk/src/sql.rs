//! SQL databases: parameterised statements, typed values, rows into serde types, transactions.
//!
//! Every API route may open the `default` database; others are granted per route in
//! `routelet.toml`. Placeholders are `$1`, `$2`, ... on every backend (embedded SQLite and
//! PostgreSQL), and values are only ever bound, never spliced into the text, so text that looks
//! like SQL stays text. Migrations in `APP/migrations/*.sql` run before the host serves.
//!
//! # Example
//!
//! ```no_run
//! use routelet_sdk::sql::{Database, params};
//! use routelet_sdk::{Request, Response, Result};
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct Subscriber {
//!     email: String,
//! }
//!
//! pub fn handler(_req: Request) -> Result {
//!     let db = Database::open_default()?;
//!     db.execute("INSERT INTO subscribers (email) VALUES ($1)", params!["ada@example.com"])?;
//!     let all: Vec<Subscriber> = db.query_as("SELECT email FROM subscribers", params![])?;
//!     Ok(Response::json(&all))
//! }
//! ```

use std::fmt;

use serde::de::DeserializeOwned;

use crate::bindings::sql_raw as raw;

/// The database every API route may open without a grant.
pub const DEFAULT_DATABASE: &str = "default";

/// A value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (booleans are 0 and 1).
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

macro_rules! value_from {
    ($($t:ty => $variant:ident via $conv:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant($conv(v))
            }
        })*
    };
}

value_from! {
    i64 => Integer via |v| v,
    i32 => Integer via i64::from,
    u32 => Integer via i64::from,
    i16 => Integer via i64::from,
    bool => Integer via i64::from,
    f64 => Real via |v| v,
    f32 => Real via f64::from,
    String => Text via |v| v,
    &str => Text via str::to_owned,
    &String => Text via |v: &String| v.clone(),
    Vec<u8> => Blob via |v| v,
    &[u8] => Blob via <[u8]>::to_vec,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds the parameter list of a statement: `params![email, 42, None::<i64>]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($value)),*][..]
    };
}
pub use crate::params;

/// The kind of a [`SqlError`], so a route can choose its answer (409 for a duplicate, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlErrorKind {
    /// No database has this name.
    NoSuchDatabase,
    /// The database is not granted to this route.
    AccessDenied,
    /// The handle is read-only and the statement writes.
    ReadOnly,
    /// A unique, primary-key, foreign-key, not-null or check constraint refused the write.
    ConstraintViolation,
    /// The backend could not be reached in time.
    Unavailable,
    /// Anything else: invalid SQL, a type that does not fit, rows that do not deserialize.
    Other,
}

/// What went wrong, with a message for people; `?` turns it into a 500 whose detail is logged.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlError {
    kind: SqlErrorKind,
    message: String,
}

impl SqlError {
    /// What kind of failure this is.
    pub fn kind(&self) -> SqlErrorKind {
        self.kind
    }

    /// The backend's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn other(message: impl Into<String>) -> Self {
        Self {
            kind: SqlErrorKind::Other,
            message: message.into(),
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for SqlError {}

impl From<raw::Error> for SqlError {
    fn from(error: raw::Error) -> Self {
        let (kind, message) = match error {
            raw::Error::NoSuchDatabase(m) => (SqlErrorKind::NoSuchDatabase, m),
            raw::Error::AccessDenied(m) => (SqlErrorKind::AccessDenied, m),
            raw::Error::ReadOnly(m) => (SqlErrorKind::ReadOnly, m),
            raw::Error::ConstraintViolation(m) => (SqlErrorKind::ConstraintViolation, m),
            raw::Error::Unavailable(m) => (SqlErrorKind::Unavailable, m),
            raw::Error::Other(m) => (SqlErrorKind::Other, m),
        };
        Self { kind, message }
    }
}

fn to_raw(params: &[Value]) -> Vec<raw::Value> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => raw::Value::Null,
            Value::Integer(i) => raw::Value::Integer(*i),
            Value::Real(r) => raw::Value::Real(*r),
            Value::Text(t) => raw::Value::Text(t.clone()),
            Value::Blob(b) => raw::Value::Blob(b.clone()),
        })
        .collect()
}

fn from_raw(value: raw::Value) -> Value {
    match value {
        raw::Value::Null => Value::Null,
        raw::Value::Integer(i) => Value::Integer(i),
        raw::Value::Real(r) => Value::Real(r),
        raw::Value::Text(t) => Value::Text(t),
        raw::Value::Blob(b) => Value::Blob(b),
    }
}

/// The rows of a query, with the column names in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// One list of values per row, in column order.
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Each row as a JSON object keyed by column name (blobs become arrays of bytes).
    pub fn to_json(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .zip(row)
                    .map(|(name, value)| {
                        let json = match value {
                            Value::Null => serde_json::Value::Null,
                            Value::Integer(i) => (*i).into(),
                            Value::Real(r) => serde_json::Number::from_f64(*r)
                                .map_or(serde_json::Value::Null, Into::into),
                            Value::Text(t) => t.clone().into(),
                            Value::Blob(b) => b.clone().into(),
                        };
                        (name.clone(), json)
                    })
                    .collect()
            })
            .collect()
    }

    /// Each row deserialized into `T`, fields matched by column name.
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<Vec<T>, SqlError> {
        self.to_json()
            .into_iter()
            .map(|row| {
                serde_json::from_value(serde_json::Value::Object(row))
                    .map_err(|e| SqlError::other(format!("a row does not fit the type: {e}")))
            })
            .collect()
    }
}

/// An open database: a pooled connection, held until dropped.
pub struct Database {
    name: String,
    connection: raw::Connection,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("name", &self.name)
            .finish()
    }
}

impl Database {
    /// Opens the database `name`; one not granted is [`SqlErrorKind::AccessDenied`].
    pub fn open(name: &str) -> Result<Self, SqlError> {
        let connection = raw::Connection::open(name)?;
        Ok(Self {
            name: name.to_owned(),
            connection,
        })
    }

    /// Opens the `default` database, the one migrations apply to.
    pub fn open_default() -> Result<Self, SqlError> {
        Self::open(DEFAULT_DATABASE)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, SqlError> {
        Ok(self.connection.execute(statement, &to_raw(params))?)
    }

    /// Runs a query and returns its rows.
    pub fn query(&self, statement: &str, params: &[Value]) -> Result<Rows, SqlError> {
        let rows = self.connection.query(statement, &to_raw(params))?;
        Ok(Rows {
            columns: rows.columns,
            rows: rows
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(from_raw).collect())
                .collect(),
        })
    }

    /// Runs a query and deserializes each row into `T` by column name.
    pub fn query_as<T: DeserializeOwned>(
        &self,
        statement: &str,
        params: &[Value],
    ) -> Result<Vec<T>, SqlError> {
        self.query(statement, params)?.into_typed()
    }

    /// The first row as `T`, or `None` when there is none.
    pub fn query_opt<T: DeserializeOwned>(
        &self,
        statement: &str,
        params: &[Value],
    ) -> Result<Option<T>, SqlError> {
        Ok(self.query_as(statement, params)?.into_iter().next())
    }

    /// Runs `work` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn transaction<T, E: From<SqlError>>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, E>,
    ) -> Result<T, E> {
        self.connection.begin().map_err(SqlError::from)?;
        match work(self) {
            Ok(value) => {
                self.connection.commit().map_err(SqlError::from)?;
                Ok(value)
            }
            Err(error) => {
                let _ = self.connection.rollback();
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_convert_and_rows_deserialize_by_column() {
        let none: Option<i64> = None;
        assert_eq!(
            params!["a", 1, 2.5, true, none, vec![0u8]],
            &[
                Value::Text("a".into()),
                Value::Integer(1),
                Value::Real(2.5),
                Value::Integer(1),
                Value::Null,
                Value::Blob(vec![0])
            ]
        );
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Row {
            email: String,
            n: i64,
            note: Option<String>,
        }
        let rows = Rows {
            columns: vec!["email".into(), "n".into(), "note".into()],
            rows: vec![vec![
                Value::Text("x@y.z".into()),
                Value::Integer(3),
                Value::Null,
            ]],
        };
        assert_eq!(
            rows.into_typed::<Row>().unwrap(),
            vec![Row {
                email: "x@y.z".into(),
                n: 3,
                note: None
            }]
        );
    }
}
