//! SQL databases for routes, through our own `routelet:route/sql` interface: parameterised
//! statements (`$1`, `$2`, ... on every backend), typed values, rows with column names, and
//! transactions.
//!
//! Databases are named; `default` is granted to every API route, other names per route in
//! `routelet.toml`. A database lives in embedded SQLite ([`sqlite`], WAL mode, in the data
//! directory) or in PostgreSQL ([`postgres`]); both pool their connections, so opening a
//! database in a request costs no connection set-up. [`migrations`] run before the host serves.

pub mod config;
pub mod migrations;
mod postgres;
mod sqlite;

use std::sync::Arc;

use anyhow::bail;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::data_dir::DataDir;
use super::named::{Kind, Named};
use super::{AppSetup, Factor, PageAccess, RequestSetup, Role, RouteSetup};
use crate::config::AppConfig;
use config::SqlConfig;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "routelet:route/sql-imports",
        imports: { default: async },
        with: {
            "routelet:route/sql.connection": super::Connection,
        },
    });
}

use bindings::routelet::route::sql as wit;
pub use bindings::routelet::route::sql::{Error, Rows, Value};

/// One database's backend, shared by every request.
pub enum Database {
    /// A file in the data directory.
    Sqlite(Arc<sqlite::Pool>),
    /// A PostgreSQL server, through a bounded pool.
    Postgres(postgres::Pool),
}

impl Database {
    fn from_url(name: &str, url: Option<&str>, data_dir: &DataDir) -> anyhow::Result<Self> {
        match url {
            None | Some("sqlite") => Ok(Database::Sqlite(Arc::new(sqlite::Pool::new(
                data_dir.clone(),
                name,
            )?))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Database::Postgres(postgres::Pool::new(name, url)?))
            }
            Some(other) => bail!(
                "[sql.databases.{name}] url {other:?} is not supported: use postgres://... or \
                 leave it out for the embedded SQLite database"
            ),
        }
    }

    /// Takes a connection from the pool, waiting a bounded time.
    async fn connect(&self, read_only: bool) -> Result<Conn, Error> {
        match self {
            Database::Sqlite(pool) => Ok(Conn::Sqlite(sqlite::Pool::get(pool, read_only)?)),
            Database::Postgres(pool) => Ok(Conn::Postgres(pool.get(read_only).await?)),
        }
    }
}

/// Every database of a deployment.
pub type Databases = Named<Database>;

/// How databases are named in `routelet.toml` and in messages.
const KIND: Kind = Kind {
    noun: "database",
    section: "sql",
    table: "databases",
    grant_key: "sql_databases",
};

impl Named<Database> {
    /// Sets up the databases named in `[sql.databases]`, plus the embedded `default`.
    ///
    /// No connection is made here; pools connect on first use, with bounded waits.
    pub fn from_config(config: &SqlConfig, data_dir: &DataDir) -> anyhow::Result<Self> {
        Named::open(KIND, &config.databases, |name, url| {
            Database::from_url(name, url, data_dir)
        })
    }

    /// The database migrations apply to.
    pub fn default_database(&self) -> Option<&Database> {
        self.default_entry().map(|database| &**database)
    }
}

/// The factor: `routelet:route/sql` for API routes, read-only for pages; migrations at start.
pub struct SqlFactor;

impl Factor for SqlFactor {
    type App = Arc<Databases>;
    type Route = Arc<[String]>;
    type Request = Sql;
    const SECTION: Option<&'static str> = Some("sql");
    const ROUTE_KEYS: &'static [&'static str] = &["sql_databases"];
    const PAGES: PageAccess = PageAccess::ReadOnly;

    fn check(config: &AppConfig, _: &[RouteSetup<'_>]) -> anyhow::Result<()> {
        config.section::<SqlConfig>("sql").map(drop)
    }

    fn open(setup: &AppSetup<'_>) -> anyhow::Result<Arc<Databases>> {
        let config: SqlConfig = setup.config.section("sql")?;
        Ok(Arc::new(Databases::from_config(
            &config,
            &DataDir::new(setup.data_dir),
        )?))
    }

    async fn start(databases: &Arc<Databases>, setup: &AppSetup<'_>) -> anyhow::Result<()> {
        if let Some(database) = databases.default_database() {
            let dir = setup.dist.join(migrations::MIGRATIONS_DIR);
            for name in migrations::apply(database, &dir).await? {
                tracing::info!("applied migration {}/{name}", migrations::MIGRATIONS_DIR);
            }
        }
        Ok(())
    }

    fn route(databases: &Arc<Databases>, setup: &RouteSetup<'_>) -> anyhow::Result<Arc<[String]>> {
        let granted: Vec<String> = setup.key("sql_databases")?.unwrap_or_default();
        databases.check_grants(setup.pattern, &granted)?;
        Ok(granted.into())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut Sql,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, SqlData>(linker, get)
    }

    fn request(
        databases: &Arc<Databases>,
        granted: &Arc<[String]>,
        setup: &mut RequestSetup,
    ) -> Sql {
        let state = Sql::new(databases.clone(), setup.pattern.clone(), granted.clone());
        match setup.role {
            Role::Route => state,
            Role::Page => state.read_only(),
        }
    }

    fn holds_resources(state: &Sql) -> bool {
        !state.table.is_empty()
    }
}

/// A pooled connection of either backend.
enum Conn {
    Sqlite(sqlite::Pooled),
    Postgres(postgres::Pooled),
}

/// An open database, as a `routelet:route/sql.connection` resource.
pub struct Connection {
    conn: Conn,
}

/// The SQL state of one request: which databases it may open, and its open connections.
pub struct Sql {
    databases: Arc<Databases>,
    granted: Arc<[String]>,
    route: Arc<str>,
    read_only: bool,
    table: ResourceTable,
}

impl Sql {
    /// The state of one request of `route`, which may open `default` and `granted`.
    pub fn new(databases: Arc<Databases>, route: Arc<str>, granted: Arc<[String]>) -> Self {
        Self {
            databases,
            granted,
            route,
            read_only: false,
            table: ResourceTable::new(),
        }
    }

    /// Makes every connection this state opens read-only: the mode pages run in.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    fn conn(&mut self, connection: &Resource<Connection>) -> Result<&mut Conn, Error> {
        self.table
            .get_mut(connection)
            .map(|c| &mut c.conn)
            .map_err(|e| Error::Other(format!("invalid connection handle: {e}")))
    }
}

impl wit::Host for Sql {}

impl wit::HostConnection for Sql {
    async fn open(&mut self, name: String) -> Result<Resource<Connection>, Error> {
        let database = match self.databases.grant(&self.route, &self.granted, &name) {
            Ok(Some(database)) => database,
            Ok(None) => {
                return Err(Error::NoSuchDatabase(format!(
                    "no database is named \"{name}\""
                )));
            }
            Err(refused) => return Err(Error::AccessDenied(refused.0)),
        };
        let conn = database.connect(self.read_only).await?;
        self.table
            .push(Connection { conn })
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn execute(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        params: Vec<Value>,
    ) -> Result<u64, Error> {
        match self.conn(&connection)? {
            Conn::Sqlite(c) => c.execute(&statement, &params),
            Conn::Postgres(c) => c.execute(&statement, &params).await,
        }
    }

    async fn query(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        params: Vec<Value>,
    ) -> Result<Rows, Error> {
        match self.conn(&connection)? {
            Conn::Sqlite(c) => c.query(&statement, &params),
            Conn::Postgres(c) => c.query(&statement, &params).await,
        }
    }

    async fn begin(&mut self, connection: Resource<Connection>) -> Result<(), Error> {
        match self.conn(&connection)? {
            Conn::Sqlite(c) => c.begin(),
            Conn::Postgres(c) => c.begin().await,
        }
    }

    async fn commit(&mut self, connection: Resource<Connection>) -> Result<(), Error> {
        match self.conn(&connection)? {
            Conn::Sqlite(c) => c.finish("COMMIT"),
            Conn::Postgres(c) => c.finish("COMMIT").await,
        }
    }

    async fn rollback(&mut self, connection: Resource<Connection>) -> Result<(), Error> {
        match self.conn(&connection)? {
            Conn::Sqlite(c) => c.finish("ROLLBACK"),
            Conn::Postgres(c) => c.finish("ROLLBACK").await,
        }
    }

    async fn drop(&mut self, connection: Resource<Connection>) -> wasmtime::Result<()> {
        // Dropping the pooled connection rolls back an open transaction and returns it.
        self.table.delete(connection)?;
        Ok(())
    }
}

/// Rewrites `$1`-style placeholders as SQLite's `?1`, leaving quoted text alone.
pub(crate) fn sqlite_placeholders(statement: &str) -> std::borrow::Cow<'_, str> {
    if !statement.contains('$') {
        return statement.into();
    }
    let mut out = String::with_capacity(statement.len());
    let mut quote: Option<char> = None;
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    out.push(c);
                }
                '$' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => out.push('?'),
                _ => out.push(c),
            },
        }
    }
    out.into()
}

struct SqlData;

impl HasData for SqlData {
    type Data<'a> = &'a mut Sql;
}

#[cfg(test)]
mod tests;
