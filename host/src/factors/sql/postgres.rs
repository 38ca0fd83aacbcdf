//! The PostgreSQL backend: a bounded pool of `tokio-postgres` connections.
//!
//! Every wait is bounded: taking a connection, connecting, and each statement. A server that is
//! down is an `unavailable` error the route can answer with a status of its choosing.

use std::error::Error as _;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{Error, Rows, Value};

/// How long connecting to the server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a request waits for a free pooled connection.
pub const POOL_WAIT: Duration = Duration::from_secs(5);
/// How long one statement may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per database and host.
const POOL_SIZE: usize = 16;

/// A database's pool; no connection is made until the first request needs one.
pub struct Pool {
    name: String,
    pool: deadpool_postgres::Pool,
}

impl Pool {
    /// Parses the URL and sets up the pool.
    pub fn new(name: &str, url: &str) -> anyhow::Result<Self> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            anyhow::anyhow!("[sql.databases.{name}] url is not a valid PostgreSQL URL: {e}")
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_millis(500)))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| anyhow::anyhow!("[sql.databases.{name}]: {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            pool,
        })
    }

    /// A pooled connection, or `unavailable` within the bounded waits.
    pub async fn get(&self, read_only: bool) -> Result<Pooled, Error> {
        let client = self.pool.get().await.map_err(|e| {
            let detail = e.source().map(|s| format!(": {s}")).unwrap_or_default();
            Error::Unavailable(format!(
                "database {} is unavailable: {e}{detail}",
                self.name
            ))
        })?;
        Ok(Pooled {
            client: Some(client),
            in_transaction: false,
            read_only,
        })
    }

    /// Runs migration work on a pooled connection.
    pub async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("connecting to database {}: {e}", self.name))
    }
}

/// A connection checked out of the pool; dropping it inside a transaction rolls it back.
pub struct Pooled {
    client: Option<deadpool_postgres::Object>,
    in_transaction: bool,
    read_only: bool,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && self.in_transaction
        {
            // Roll back before the connection goes back to the pool.
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(STATEMENT_TIMEOUT, client.batch_execute("ROLLBACK")).await;
            });
        }
    }
}

async fn bounded<T>(
    work: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, work).await {
        Ok(outcome) => outcome.map_err(error),
        Err(_) => Err(Error::Unavailable(format!(
            "the statement did not finish within {STATEMENT_TIMEOUT:?}"
        ))),
    }
}

impl Pooled {
    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("present until drop")
    }

    async fn prepare(&self, statement: &str) -> Result<tokio_postgres::Statement, Error> {
        bounded(self.client().prepare_cached(statement)).await
    }

    fn bind<'a>(
        statement: &tokio_postgres::Statement,
        params: &'a [Value],
    ) -> Result<Vec<Param<'a>>, Error> {
        let expected = statement.params().len();
        if expected != params.len() {
            return Err(Error::Other(format!(
                "the statement has {expected} placeholders but {} values were given",
                params.len()
            )));
        }
        Ok(params.iter().map(Param).collect())
    }

    /// Runs a statement and returns the number of rows it changed.
    pub async fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64, Error> {
        if self.read_only {
            return Err(Error::ReadOnly(
                "read-only: pages may not write to the database".into(),
            ));
        }
        let prepared = self.prepare(statement).await?;
        let bound = Self::bind(&prepared, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
        bounded(self.client().execute(&prepared, &refs)).await
    }

    /// Runs a statement and returns its rows; a read-only handle runs it in a read-only
    /// transaction, so a write is refused by the server itself.
    pub async fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows, Error> {
        let wrap = self.read_only && !self.in_transaction;
        if wrap {
            bounded(self.client().batch_execute("BEGIN READ ONLY")).await?;
        }
        let outcome = self.query_inner(statement, params).await;
        if wrap {
            bounded(self.client().batch_execute("ROLLBACK")).await?;
        }
        outcome
    }

    async fn query_inner(&mut self, statement: &str, params: &[Value]) -> Result<Rows, Error> {
        let prepared = self.prepare(statement).await?;
        let bound = Self::bind(&prepared, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
        let rows = bounded(self.client().query(&prepared, &refs)).await?;
        let columns: Vec<String> = prepared
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for (index, column) in prepared.columns().iter().enumerate() {
                values.push(column_value(row, index, column.type_(), column.name())?);
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    /// `BEGIN` (or `BEGIN READ ONLY` for a read-only handle).
    pub async fn begin(&mut self) -> Result<(), Error> {
        if self.in_transaction {
            return Err(Error::Other("a transaction is already open".into()));
        }
        let sql = if self.read_only {
            "BEGIN READ ONLY"
        } else {
            "BEGIN"
        };
        bounded(self.client().batch_execute(sql)).await?;
        self.in_transaction = true;
        Ok(())
    }

    /// `COMMIT` or `ROLLBACK`.
    pub async fn finish(&mut self, sql: &str) -> Result<(), Error> {
        if !self.in_transaction {
            return Err(Error::Other("no transaction is open".into()));
        }
        self.in_transaction = false;
        bounded(self.client().batch_execute(sql)).await
    }
}

fn column_value(
    row: &tokio_postgres::Row,
    index: usize,
    ty: &Type,
    name: &str,
) -> Result<Value, Error> {
    let get_error = |e: tokio_postgres::Error| Error::Other(format!("column {name}: {e}"));
    let value = match *ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)
            .map_err(get_error)?
            .map(|b| Value::Integer(b as i64)),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)
            .map_err(get_error)?
            .map(|i| Value::Integer(i.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)
            .map_err(get_error)?
            .map(|i| Value::Integer(i.into())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(index)
            .map_err(get_error)?
            .map(Value::Integer),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(index)
            .map_err(get_error)?
            .map(|r| Value::Real(r.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(index)
            .map_err(get_error)?
            .map(Value::Real),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(index)
            .map_err(get_error)?
            .map(Value::Blob),
        _ => match row.try_get::<_, Option<String>>(index) {
            Ok(text) => text.map(Value::Text),
            Err(_) => {
                return Err(Error::Other(format!(
                    "column {name} has type {ty}, which has no SQL value here; cast it in the \
                     query, e.g. {name}::text"
                )));
            }
        },
    };
    Ok(value.unwrap_or(Value::Null))
}

/// One bound value, converted to the type the server inferred for its placeholder.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Integer(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Integer(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Integer(i), &Type::FLOAT4) => (*i as f32).to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT8) => r.to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT4) => (*r as f32).to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (Value::Text(t), _) if <&str as ToSql>::accepts(ty) => t.as_str().to_sql(ty, out),
            (value, ty) => Err(format!(
                "a {} value cannot be bound to a placeholder of type {ty}",
                match value {
                    Value::Null => "null",
                    Value::Integer(_) => "integer",
                    Value::Real(_) => "real",
                    Value::Text(_) => "text",
                    Value::Blob(_) => "blob",
                }
            )
            .into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Sorts PostgreSQL's errors into the interface's cases.
fn error(e: tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let message = format!("{}: {}", db.severity(), db.message());
        if code.code().starts_with("23") {
            return Error::ConstraintViolation(message);
        }
        if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            return Error::ReadOnly(format!("read-only: {message}"));
        }
        return Error::Other(message);
    }
    if e.is_closed() {
        return Error::Unavailable(format!("the connection to the database closed: {e}"));
    }
    let detail = e.source().map(|s| format!(": {s}")).unwrap_or_default();
    Error::Other(format!("{e}{detail}"))
}
