//! Migrations: `APP/migrations/*.sql`, copied into the dist, applied to the `default` database
//! in file-name order, once each, before the host serves.
//!
//! Each file runs in its own transaction together with the row that records it in
//! `routelet_migrations`, so a file is applied entirely or not at all. A failed file stops the
//! start with its name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use super::{Database, sqlite};

/// The folder, in an app and in a dist.
pub const MIGRATIONS_DIR: &str = "migrations";

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS routelet_migrations \
     (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)";

/// The `*.sql` files of `dir`, in the order they apply; none when there is no folder.
pub fn files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "sql") {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                bail!("migration file name {} is not valid UTF-8", path.display());
            };
            files.push((name.to_owned(), path.clone()));
        }
    }
    files.sort();
    Ok(files)
}

/// Applies the migrations of `dir` not yet applied; returns the names it applied.
pub async fn apply(database: &Database, dir: &Path) -> anyhow::Result<Vec<String>> {
    let files = files(dir)?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut applied = Vec::new();
    for (name, path) in files {
        let sql = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {MIGRATIONS_DIR}/{name}"))?;
        let ran = match database {
            Database::Sqlite(pool) => apply_sqlite(pool, &name, &sql),
            Database::Postgres(pool) => apply_postgres(pool, &name, &sql).await,
        }
        .with_context(|| {
            format!("migration {MIGRATIONS_DIR}/{name} failed; nothing of it was applied")
        })?;
        if ran {
            applied.push(name);
        }
    }
    Ok(applied)
}

fn apply_sqlite(pool: &Arc<sqlite::Pool>, name: &str, sql: &str) -> anyhow::Result<bool> {
    sqlite::Pool::with_connection(pool, |connection| {
        connection.execute_batch(CREATE_TABLE)?;
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM routelet_migrations WHERE name = ?1)",
            [name],
            |row| row.get(0),
        )?;
        if done {
            return Ok(false);
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO routelet_migrations (name, applied_at) VALUES (?1, datetime('now'))",
            [name],
        )?;
        tx.commit()?;
        Ok(true)
    })
}

async fn apply_postgres(
    pool: &super::postgres::Pool,
    name: &str,
    sql: &str,
) -> anyhow::Result<bool> {
    let mut client = pool.client().await?;
    let tx = client.transaction().await?;
    // Hosts starting together take turns; the lock ends with the transaction.
    tx.batch_execute("SELECT pg_advisory_xact_lock(7262657374)")
        .await?;
    tx.batch_execute(CREATE_TABLE).await?;
    let done: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM routelet_migrations WHERE name = $1)",
            &[&name],
        )
        .await?
        .get(0);
    if done {
        return Ok(false);
    }
    tx.batch_execute(sql).await.map_err(|e| {
        let detail = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string());
        anyhow::anyhow!("{detail}")
    })?;
    tx.execute(
        "INSERT INTO routelet_migrations (name, applied_at) VALUES ($1, now()::text)",
        &[&name],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
