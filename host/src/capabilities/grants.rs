//! Which stores and databases a guest may open besides `default`, from `routelet.toml`: the
//! same rule for API routes and pages.

use std::sync::Arc;

use super::key_value::Stores;
use super::sql::Databases;
use crate::config::RouteConfig;

/// A route's grants, shared by every request of the route.
#[derive(Clone, Default)]
pub struct Grants {
    /// Key-value stores granted beyond `default`.
    pub key_value_stores: Arc<[String]>,
    /// SQL databases granted beyond `default`.
    pub sql_databases: Arc<[String]>,
}

impl Grants {
    /// What `[routes."PATTERN"]` grants, or nothing beyond `default`.
    pub fn of(config: Option<&RouteConfig>) -> Self {
        match config {
            Some(config) => Self {
                key_value_stores: config.key_value_stores.clone().into(),
                sql_databases: config.sql_databases.clone().into(),
            },
            None => Self::default(),
        }
    }

    /// Refuses grants of stores or databases that do not exist, so a typo stops the start.
    pub fn check(
        &self,
        pattern: &str,
        stores: &Stores,
        databases: &Databases,
    ) -> anyhow::Result<()> {
        stores.check_grants(pattern, &self.key_value_stores)?;
        databases.check_grants(pattern, &self.sql_databases)
    }
}
