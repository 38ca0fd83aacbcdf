//! Unit tests of the SQL capability on the embedded backend (the e2e suite covers PostgreSQL).

use super::wit::HostConnection as _;
use super::*;

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("routelet-sql-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn state(dir: &std::path::Path) -> Sql {
    let databases = Databases::from_config(&SqlConfig::default(), &DataDir::new(dir)).unwrap();
    Sql::new(Arc::new(databases), "/api/t".into(), Arc::from(Vec::new()))
}

fn borrow(c: &Resource<Connection>) -> Resource<Connection> {
    Resource::new_borrow(c.rep())
}

#[test]
fn placeholders_become_sqlites_outside_quotes() {
    assert_eq!(
        sqlite_placeholders("SELECT $1, '$2', \"$3\", $10 WHERE a = $2"),
        "SELECT ?1, '$2', \"$3\", ?10 WHERE a = ?2"
    );
    assert_eq!(sqlite_placeholders("SELECT 1"), "SELECT 1");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_connections_query_but_never_write() {
    let dir = temp("ro");
    let mut writer = state(&dir);
    let c = writer.open("default".into()).await.unwrap();
    writer
        .execute(borrow(&c), "CREATE TABLE t (v TEXT)".into(), vec![])
        .await
        .unwrap();
    writer
        .execute(
            borrow(&c),
            "INSERT INTO t VALUES ($1)".into(),
            vec![Value::Text("kept".into())],
        )
        .await
        .unwrap();

    let mut reader = state(&dir).read_only();
    let c = reader.open("default".into()).await.unwrap();
    let rows = reader
        .query(borrow(&c), "SELECT v FROM t".into(), vec![])
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), 1);
    for statement in [
        "INSERT INTO t VALUES ('x')",
        "DELETE FROM t",
        "DROP TABLE t",
    ] {
        let refused = reader.execute(borrow(&c), statement.into(), vec![]).await;
        assert!(
            matches!(refused, Err(Error::ReadOnly(_))),
            "{statement}: {refused:?}"
        );
        let refused = reader.query(borrow(&c), statement.into(), vec![]).await;
        assert!(
            matches!(refused, Err(Error::ReadOnly(_))),
            "{statement}: {refused:?}"
        );
    }
    let rows = reader
        .query(borrow(&c), "SELECT count(*) AS n FROM t".into(), vec![])
        .await
        .unwrap();
    assert!(matches!(rows.rows[0][0], Value::Integer(1)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_transaction_rolls_back_and_constraints_are_named() {
    let dir = temp("tx");
    let mut sql = state(&dir);
    let c = sql.open("default".into()).await.unwrap();
    sql.execute(
        borrow(&c),
        "CREATE TABLE t (k TEXT PRIMARY KEY)".into(),
        vec![],
    )
    .await
    .unwrap();
    sql.begin(borrow(&c)).await.unwrap();
    sql.execute(borrow(&c), "INSERT INTO t VALUES ('a')".into(), vec![])
        .await
        .unwrap();
    wasmtime::component::ResourceTable::delete(&mut sql.table, c).unwrap();

    let c = sql.open("default".into()).await.unwrap();
    let rows = sql
        .query(borrow(&c), "SELECT count(*) FROM t".into(), vec![])
        .await
        .unwrap();
    assert!(matches!(rows.rows[0][0], Value::Integer(0)), "{rows:?}");
    sql.execute(borrow(&c), "INSERT INTO t VALUES ('a')".into(), vec![])
        .await
        .unwrap();
    let duplicate = sql
        .execute(borrow(&c), "INSERT INTO t VALUES ('a')".into(), vec![])
        .await;
    assert!(
        matches!(duplicate, Err(Error::ConstraintViolation(_))),
        "{duplicate:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_not_granted_is_an_error_naming_it() {
    let dir = temp("grant");
    let mut sql = state(&dir);
    match sql.open("analytics".into()).await {
        Err(Error::AccessDenied(message)) => {
            assert!(message.contains("\"analytics\""), "{message}")
        }
        other => panic!("expected access denied, got {:?}", other.map(|c| c.rep())),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_in_order_once_and_a_failure_names_its_file() {
    let dir = temp("migrate");
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("0002_b.sql"), "INSERT INTO t VALUES ('b');").unwrap();
    std::fs::write(migrations.join("0001_a.sql"), "CREATE TABLE t (v TEXT);").unwrap();
    let databases =
        Databases::from_config(&SqlConfig::default(), &DataDir::new(dir.join("data"))).unwrap();
    let database = databases.default_database().unwrap();
    let applied = migrations::apply(database, &migrations).await.unwrap();
    assert_eq!(applied, ["0001_a.sql", "0002_b.sql"]);
    assert!(
        migrations::apply(database, &migrations)
            .await
            .unwrap()
            .is_empty()
    );

    std::fs::write(
        migrations.join("0003_bad.sql"),
        "INSERT INTO t VALUES ('c'); NOT SQL;",
    )
    .unwrap();
    let error = migrations::apply(database, &migrations).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("migrations/0003_bad.sql"),
        "{error:#}"
    );
    let Database::Sqlite(pool) = database else {
        unreachable!()
    };
    let count: i64 = sqlite::Pool::with_connection(pool, |c| {
        Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    })
    .unwrap();
    assert_eq!(count, 1, "the failed file left nothing behind");
    let _ = std::fs::remove_dir_all(&dir);
}
