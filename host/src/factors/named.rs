//! Named things a deployment opens once and routes are granted by name: key-value stores and
//! SQL databases share this registry, so grants and refusals read the same for both.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::bail;
use serde::Deserialize;

use crate::config::Value;

/// The name every API route may open without a grant.
pub const DEFAULT: &str = "default";

/// `[SECTION.KIND.NAME]` as written: where one named thing lives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Its backend, e.g. `redis://...` or `postgres://...`; absent means embedded SQLite.
    #[serde(default)]
    pub url: Option<Value>,
}

/// How one kind of named thing is spelled in messages and in `routelet.toml`.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// `store` or `database`.
    pub noun: &'static str,
    /// The top-level section, e.g. `key_value`.
    pub section: &'static str,
    /// The table inside it, e.g. `stores`.
    pub table: &'static str,
    /// The route key that grants more names, e.g. `key_value_stores`.
    pub grant_key: &'static str,
}

/// Every named thing of one kind in a deployment, opened once and shared by all requests.
pub struct Named<B> {
    kind: Kind,
    items: HashMap<String, Arc<B>>,
}

impl<B> Named<B> {
    /// Opens each entry of `entries` with `open(name, url)`, plus an embedded `default`.
    ///
    /// `open` may not connect: backends connect on first use, with bounded waits.
    pub fn open(
        kind: Kind,
        entries: &BTreeMap<String, Entry>,
        mut open: impl FnMut(&str, Option<&str>) -> anyhow::Result<B>,
    ) -> anyhow::Result<Self> {
        let mut items = HashMap::new();
        for (name, entry) in entries {
            let url = match &entry.url {
                Some(url) => {
                    Some(url.resolve(&format!("[{}.{}.{name}] url", kind.section, kind.table))?)
                }
                None => None,
            };
            items.insert(name.clone(), Arc::new(open(name, url.as_deref())?));
        }
        if !items.contains_key(DEFAULT) {
            items.insert(DEFAULT.to_owned(), Arc::new(open(DEFAULT, None)?));
        }
        Ok(Self { kind, items })
    }

    /// Checks a route's grants against what exists, so a typo stops the start.
    pub fn check_grants(&self, pattern: &str, granted: &[String]) -> anyhow::Result<()> {
        let Kind {
            noun,
            section,
            table,
            grant_key,
        } = self.kind;
        for name in granted {
            if !self.items.contains_key(name) {
                bail!(
                    "routelet.toml: [routes.\"{pattern}\"] {grant_key} grants {noun} \
                     \"{name}\", which is not defined; add [{section}.{table}.{name}]"
                );
            }
        }
        Ok(())
    }

    /// What `route` may open by `name`: `Ok(None)` when granted but absent.
    pub fn grant(
        &self,
        route: &str,
        granted: &[String],
        name: &str,
    ) -> Result<Option<&Arc<B>>, Refused> {
        if name != DEFAULT && !granted.iter().any(|g| g == name) {
            let Kind {
                noun, grant_key, ..
            } = self.kind;
            tracing::warn!(route = %route, "opening {noun} \"{name}\" refused: not granted");
            return Err(Refused(format!(
                "{noun} \"{name}\" is not granted to route {route}; grant it with {grant_key} = \
                 [\"{name}\"] under [routes.\"{route}\"] in routelet.toml"
            )));
        }
        Ok(self.items.get(name))
    }

    /// The `default` entry, which migrations apply to.
    pub fn default_entry(&self) -> Option<&Arc<B>> {
        self.items.get(DEFAULT)
    }
}

/// Why a name could not be opened: the message the guest receives.
#[derive(Debug)]
pub struct Refused(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind {
        noun: "thing",
        section: "things",
        table: "items",
        grant_key: "thing_grants",
    };

    #[test]
    fn default_always_exists_and_grants_are_checked_by_name() {
        let mut entries = BTreeMap::new();
        entries.insert("extra".to_owned(), Entry::default());
        let named = Named::open(KIND, &entries, |name, _| Ok(name.to_owned())).unwrap();
        assert_eq!(named.default_entry().map(|b| b.as_str()), Some("default"));
        named.check_grants("/api/a", &["extra".into()]).unwrap();
        let error = named.check_grants("/api/a", &["typo".into()]).unwrap_err();
        assert!(
            error.to_string().contains("add [things.items.typo]"),
            "{error}"
        );
        assert!(named.grant("/api/a", &[], "default").unwrap().is_some());
        let refused = named.grant("/api/a", &[], "extra").unwrap_err();
        assert!(
            refused.0.contains("thing_grants = [\"extra\"]"),
            "{}",
            refused.0
        );
        assert!(
            named
                .grant("/api/a", &["extra".into()], "extra")
                .unwrap()
                .is_some()
        );
        assert!(
            named
                .grant("/api/a", &["gone".into()], "gone")
                .unwrap()
                .is_none()
        );
    }
}
