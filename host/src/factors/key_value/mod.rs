//! Key-value stores for routes, through the standard `wasi:keyvalue` 0.2 draft interfaces
//! (`store`, `atomics`, `batch`).
//!
//! Stores are named. `default` is granted to every API route, other names per route in
//! `routelet.toml`; opening a store that is not granted is an error that names it, not a trap.
//! Each store lives in one backend ([`backend`]): embedded SQLite in the data directory, or Redis.
//! A handle can be made read-only (pages): every write then fails with an error naming the store.

mod backend;
pub mod config;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

pub use backend::Backend;
use config::KeyValueConfig;

use super::data_dir::DataDir;
use super::named::{Kind, Named};
use super::{AppSetup, Factor, PageAccess, RequestSetup, Role, RouteSetup};
use crate::config::AppConfig;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:keyvalue/imports",
        imports: { default: async },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
        },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// Every store of a deployment, opened (lazily) once and shared by all requests.
pub type Stores = Named<Backend>;

/// How stores are named in `routelet.toml` and in messages.
const KIND: Kind = Kind {
    noun: "store",
    section: "key_value",
    table: "stores",
    grant_key: "key_value_stores",
};

impl Named<Backend> {
    /// Sets up the backends named in `[key_value.stores]`, plus the embedded `default`.
    ///
    /// No connection is made here: backends connect on first use, with bounded waits.
    pub fn from_config(config: &KeyValueConfig, data_dir: &DataDir) -> anyhow::Result<Self> {
        Named::open(KIND, &config.stores, |name, url| {
            Backend::from_url(name, url, data_dir)
        })
    }
}

/// The factor: `wasi:keyvalue` for API routes, read-only for pages.
pub struct KeyValueFactor;

impl Factor for KeyValueFactor {
    type App = Arc<Stores>;
    type Route = Arc<[String]>;
    type Request = KeyValue;
    const SECTION: Option<&'static str> = Some("key_value");
    const ROUTE_KEYS: &'static [&'static str] = &["key_value_stores"];
    const PAGES: PageAccess = PageAccess::ReadOnly;

    fn check(config: &AppConfig, _: &[RouteSetup<'_>]) -> anyhow::Result<()> {
        config.section::<KeyValueConfig>("key_value").map(drop)
    }

    fn open(setup: &AppSetup<'_>) -> anyhow::Result<Arc<Stores>> {
        let config: KeyValueConfig = setup.config.section("key_value")?;
        Ok(Arc::new(Stores::from_config(
            &config,
            &DataDir::new(setup.data_dir),
        )?))
    }

    fn route(stores: &Arc<Stores>, setup: &RouteSetup<'_>) -> anyhow::Result<Arc<[String]>> {
        let granted: Vec<String> = setup.key("key_value_stores")?.unwrap_or_default();
        stores.check_grants(setup.pattern, &granted)?;
        Ok(granted.into())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut KeyValue,
    ) -> wasmtime::Result<()> {
        store::add_to_linker::<T, KeyValueData>(linker, get)?;
        atomics::add_to_linker::<T, KeyValueData>(linker, get)?;
        batch::add_to_linker::<T, KeyValueData>(linker, get)?;
        Ok(())
    }

    fn request(
        stores: &Arc<Stores>,
        granted: &Arc<[String]>,
        setup: &mut RequestSetup,
    ) -> KeyValue {
        let state = KeyValue::new(stores.clone(), setup.pattern.clone(), granted.clone());
        match setup.role {
            Role::Route => state,
            Role::Page => state.read_only(),
        }
    }

    fn holds_resources(state: &KeyValue) -> bool {
        !state.table.is_empty()
    }
}

/// One open store, as a `wasi:keyvalue/store.bucket` resource.
pub struct Bucket {
    name: Arc<str>,
    backend: Arc<Backend>,
}

/// The key-value state of one request: which stores it may open, and its open buckets.
pub struct KeyValue {
    stores: Arc<Stores>,
    granted: Arc<[String]>,
    route: Arc<str>,
    read_only: bool,
    table: ResourceTable,
}

impl KeyValue {
    /// The state of one request of `route`, which may open `default` and `granted`.
    pub fn new(stores: Arc<Stores>, route: Arc<str>, granted: Arc<[String]>) -> Self {
        Self {
            stores,
            granted,
            route,
            read_only: false,
            table: ResourceTable::new(),
        }
    }

    /// Makes every bucket this state opens read-only: the mode pages run in.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    fn bucket(&self, bucket: &Resource<Bucket>) -> Result<&Bucket, store::Error> {
        self.table
            .get(bucket)
            .map_err(|e| store::Error::Other(format!("invalid bucket handle: {e}")))
    }

    /// The bucket, if this state may write to it.
    fn writable(&self, bucket: &Resource<Bucket>) -> Result<&Bucket, store::Error> {
        let open = self.bucket(bucket)?;
        if self.read_only {
            return Err(store::Error::Other(format!(
                "read-only: pages may not write to store {}",
                open.name
            )));
        }
        Ok(open)
    }
}

fn other(error: backend::Error) -> store::Error {
    store::Error::Other(error.to_string())
}

impl store::Host for KeyValue {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, store::Error> {
        let backend = match self.stores.grant(&self.route, &self.granted, &identifier) {
            Ok(Some(backend)) => backend,
            Ok(None) => return Err(store::Error::NoSuchStore),
            Err(refused) => {
                return Err(store::Error::Other(format!("access denied: {}", refused.0)));
            }
        };
        let bucket = Bucket {
            name: identifier.into(),
            backend: backend.clone(),
        };
        self.table
            .push(bucket)
            .map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::HostBucket for KeyValue {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let open = self.bucket(&bucket)?;
        open.backend.get(&open.name, &key).await.map_err(other)
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let open = self.writable(&bucket)?;
        open.backend
            .set_many(&open.name, vec![(key, value)])
            .await
            .map_err(other)
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), store::Error> {
        let open = self.writable(&bucket)?;
        open.backend
            .delete_many(&open.name, vec![key])
            .await
            .map_err(other)
    }

    async fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<bool, store::Error> {
        let open = self.bucket(&bucket)?;
        Ok(open
            .backend
            .get(&open.name, &key)
            .await
            .map_err(other)?
            .is_some())
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, store::Error> {
        let open = self.bucket(&bucket)?;
        let (keys, cursor) = open
            .backend
            .list_keys(&open.name, cursor)
            .await
            .map_err(other)?;
        Ok(store::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValue {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, store::Error> {
        let open = self.writable(&bucket)?;
        open.backend
            .increment(&open.name, &key, delta)
            .await
            .map_err(other)
    }
}

impl batch::Host for KeyValue {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        let open = self.bucket(&bucket)?;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let value = open.backend.get(&open.name, &key).await.map_err(other)?;
            values.push(value.map(|value| (key, value)));
        }
        Ok(values)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        let open = self.writable(&bucket)?;
        open.backend
            .set_many(&open.name, key_values)
            .await
            .map_err(other)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<(), store::Error> {
        let open = self.writable(&bucket)?;
        open.backend
            .delete_many(&open.name, keys)
            .await
            .map_err(other)
    }
}

struct KeyValueData;

impl HasData for KeyValueData {
    type Data<'a> = &'a mut KeyValue;
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{Host as _, HostBucket as _};

    fn state(dir: &std::path::Path, granted: &[&str]) -> KeyValue {
        let stores = Stores::from_config(&KeyValueConfig::default(), &DataDir::new(dir)).unwrap();
        KeyValue::new(
            Arc::new(stores),
            "/api/t".into(),
            granted.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("routelet-kv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn read_only_handles_read_but_every_write_is_an_error_naming_the_store() {
        let dir = temp("ro");
        let mut writer = state(&dir, &[]);
        let bucket = writer.open("default".into()).await.unwrap();
        writer
            .set(
                Resource::new_borrow(bucket.rep()),
                "k".into(),
                b"v".to_vec(),
            )
            .await
            .unwrap();

        let mut reader = state(&dir, &[]).read_only();
        let bucket = reader.open("default".into()).await.unwrap();
        let borrow = || Resource::<Bucket>::new_borrow(bucket.rep());
        assert_eq!(
            reader.get(borrow(), "k".into()).await.unwrap(),
            Some(b"v".to_vec())
        );
        let expected = "read-only: pages may not write to store default";
        let refusals = [
            reader.set(borrow(), "k".into(), b"w".to_vec()).await,
            reader.delete(borrow(), "k".into()).await,
            atomics::Host::increment(&mut reader, borrow(), "n".into(), 1)
                .await
                .map(drop),
            batch::Host::set_many(&mut reader, borrow(), vec![("a".into(), vec![])]).await,
            batch::Host::delete_many(&mut reader, borrow(), vec!["k".into()]).await,
        ];
        for refusal in refusals {
            match refusal {
                Err(store::Error::Other(message)) => assert_eq!(message, expected),
                other => panic!("expected a read-only error, got {other:?}"),
            }
        }
        assert_eq!(
            reader.get(borrow(), "k".into()).await.unwrap(),
            Some(b"v".to_vec()),
            "the value is unchanged"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_store_not_granted_is_an_error_naming_it() {
        let dir = temp("grant");
        let mut kv = state(&dir, &[]);
        match kv.open("cache".into()).await {
            Err(store::Error::Other(message)) => {
                assert!(message.contains("\"cache\""), "{message}");
                assert!(message.contains("/api/t"), "{message}");
            }
            other => panic!("expected access denied, got {:?}", other.map(|r| r.rep())),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn increment_counts_in_decimal_and_refuses_values_that_are_not_integers() {
        let dir = temp("incr");
        let mut kv = state(&dir, &[]);
        let bucket = kv.open("default".into()).await.unwrap();
        let borrow = || Resource::<Bucket>::new_borrow(bucket.rep());
        let incr = atomics::Host::increment;
        assert_eq!(incr(&mut kv, borrow(), "n".into(), 5).await.unwrap(), 5);
        assert_eq!(incr(&mut kv, borrow(), "n".into(), 2).await.unwrap(), 7);
        assert_eq!(
            kv.get(borrow(), "n".into()).await.unwrap(),
            Some(b"7".to_vec())
        );
        kv.set(borrow(), "text".into(), b"seven".to_vec())
            .await
            .unwrap();
        match incr(&mut kv, borrow(), "text".into(), 1).await {
            Err(store::Error::Other(message)) => assert!(message.contains("\"text\""), "{message}"),
            other => panic!("expected an error, got {other:?}"),
        }
        let many = batch::Host::get_many(&mut kv, borrow(), vec!["n".into(), "absent".into()])
            .await
            .unwrap();
        assert_eq!(many, vec![Some(("n".into(), b"7".to_vec())), None]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn grants_of_undefined_stores_stop_the_start() {
        let stores =
            Stores::from_config(&KeyValueConfig::default(), &DataDir::new(temp("undef"))).unwrap();
        let error = stores
            .check_grants("/api/x", &["cache".to_owned()])
            .unwrap_err();
        assert!(
            error.to_string().contains("[key_value.stores.cache]"),
            "{error}"
        );
        stores
            .check_grants("/api/x", &["default".to_owned()])
            .unwrap();
    }
}
