//! `routelet.toml`: an app's configuration, copied into the dist so a deploy carries it.
//!
//! ```toml
//! [preview]
//! secret = { env = "PREVIEW_SECRET" }   # signs preview cookies; generated per build if absent
//!
//! [routes."/api/preview".env]
//! PREVIEW_TOKEN = { env = "BLOG_PREVIEW_TOKEN", default = "letmein" }
//! GREETING = "hello"
//! ```
//!
//! Each capability owns its section; a route's section is keyed by its pattern as `routelet
//! routes` prints it, and naming a route that does not exist is an error.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::capabilities::outbound_http::AllowList;

/// The file name, in an app folder and in a dist folder.
pub const CONFIG_FILE: &str = "routelet.toml";

/// The whole of `routelet.toml`; an absent file is the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Preview Mode's cookie secret.
    #[serde(default)]
    pub preview: PreviewConfig,
    /// Settings of single routes, keyed by pattern (`/api/users/[id]`).
    #[serde(default)]
    pub routes: BTreeMap<String, RouteConfig>,
    /// `[key_value.stores.NAME]`: where named key-value stores live.
    #[serde(default)]
    pub key_value: crate::capabilities::key_value::config::KeyValueConfig,
    /// `[sql.databases.NAME]`: where named SQL databases live.
    #[serde(default)]
    pub sql: crate::capabilities::sql::config::SqlConfig,
    /// `[limits]`: memory, time and size limits of every route and page.
    #[serde(default)]
    pub limits: crate::runtime::route_limits::LimitsConfig,
    /// `[outbound_http]`: timeouts and private networks of the app's outbound client.
    #[serde(default)]
    pub outbound_http: crate::capabilities::outbound_http::config::OutboundConfig,
}

/// `[preview]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewConfig {
    /// Signs and encrypts the preview cookies; without it each build makes its own.
    pub secret: Option<Value>,
}

/// `[routes."PATTERN"]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Environment variables this route's guest sees, and no other route.
    #[serde(default)]
    pub env: BTreeMap<String, Value>,
    /// Key-value stores this route may open besides `default`.
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    /// SQL databases this route may open besides `default`.
    #[serde(default)]
    pub sql_databases: Vec<String>,
    /// This route's own limits, over `[limits]`.
    #[serde(default)]
    pub limits: Option<crate::runtime::route_limits::LimitsConfig>,
    /// Where this API route may send HTTP requests, e.g. `"https://api.example.com"`.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
}

/// A configuration value: written in the file, or read from the host's environment at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// `NAME = "text"`.
    Literal(String),
    /// `NAME = { env = "HOST_VAR", default = "..." }`: secrets stay out of the file.
    FromEnv {
        /// The host environment variable to read.
        env: String,
        /// Used when the variable is not set; without it, an unset variable is an error.
        #[serde(default)]
        default: Option<String>,
    },
}

impl Value {
    /// The value now, or an error naming the variable that is missing.
    pub fn resolve(&self, what: &str) -> anyhow::Result<String> {
        match self {
            Value::Literal(text) => Ok(text.clone()),
            Value::FromEnv { env, default } => match std::env::var(env) {
                Ok(value) => Ok(value),
                Err(_) => match default {
                    Some(value) => Ok(value.clone()),
                    None => bail!(
                        "{CONFIG_FILE}: {what} reads the environment variable {env}, which is \
                         not set"
                    ),
                },
            },
        }
    }
}

impl AppConfig {
    /// Reads `dir/routelet.toml`, or the default when there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(CONFIG_FILE);
        if !path.is_file() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Parses the text of a `routelet.toml`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// Refuses `[routes."…"]` sections that name no route, so a typo is not silently ignored,
    /// and outbound settings that do not parse, so `routelet build` reports them too.
    pub fn check_routes<'a>(
        &self,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> anyhow::Result<()> {
        let known: std::collections::HashSet<&str> = patterns.into_iter().collect();
        for (pattern, route) in &self.routes {
            if !known.contains(pattern.as_str()) {
                bail!(
                    "{CONFIG_FILE}: [routes.\"{pattern}\"] names no route; patterns are written \
                     as `routelet routes` prints them, e.g. /api/users/[id]"
                );
            }
            route.allow_list(pattern)?;
        }
        crate::capabilities::outbound_http::config::Settings::from_config(&self.outbound_http)?;
        Ok(())
    }

    /// The settings of one route, or the defaults.
    pub fn route(&self, pattern: &str) -> Option<&RouteConfig> {
        self.routes.get(pattern)
    }
}

impl RouteConfig {
    /// Refuses outbound hosts for a page: pages are rendered without network access.
    pub fn check_page(&self, pattern: &str, file: &str) -> anyhow::Result<()> {
        if !self.allowed_outbound_hosts.is_empty() {
            bail!(
                "{CONFIG_FILE}: [routes.\"{pattern}\"]: {file} is a page, and pages never get \
                 network access; allowed_outbound_hosts is for API routes"
            );
        }
        Ok(())
    }

    /// The route's `allowed_outbound_hosts`, parsed; an error names the route and the entry.
    pub fn allow_list(&self, pattern: &str) -> anyhow::Result<AllowList> {
        AllowList::parse(&self.allowed_outbound_hosts).map_err(|why| {
            anyhow::anyhow!(
                "{CONFIG_FILE}: [routes.\"{pattern}\"] allowed_outbound_hosts entry {why}"
            )
        })
    }

    /// The route's environment, resolved now, so a missing variable stops the start.
    pub fn resolved_env(&self, pattern: &str) -> anyhow::Result<Vec<(String, String)>> {
        self.env
            .iter()
            .map(|(name, value)| {
                Ok((
                    name.clone(),
                    value.resolve(&format!("[routes.\"{pattern}\".env] {name}"))?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_default() {
        let config = AppConfig::parse("").unwrap();
        assert!(config.routes.is_empty());
    }

    #[test]
    fn route_env_literal_and_from_env() {
        let config = AppConfig::parse(
            r#"
            [routes."/api/a".env]
            PLAIN = "x"
            FROM = { env = "ROUTELET_CONFIG_TEST_UNSET_VAR", default = "fallback" }
            "#,
        )
        .unwrap();
        let env = config
            .route("/api/a")
            .unwrap()
            .resolved_env("/api/a")
            .unwrap();
        assert_eq!(
            env,
            vec![
                ("FROM".to_owned(), "fallback".to_owned()),
                ("PLAIN".to_owned(), "x".to_owned())
            ]
        );
    }

    #[test]
    fn missing_env_var_is_named() {
        let config = AppConfig::parse(
            r#"[routes."/api/a".env]
            S = { env = "ROUTELET_CONFIG_TEST_UNSET_VAR" }"#,
        )
        .unwrap();
        let error = config
            .route("/api/a")
            .unwrap()
            .resolved_env("/api/a")
            .unwrap_err();
        assert!(
            error.to_string().contains("ROUTELET_CONFIG_TEST_UNSET_VAR"),
            "{error}"
        );
    }

    #[test]
    fn bad_outbound_entries_name_route_and_entry() {
        let config = AppConfig::parse(
            r#"[routes."/api/a"]
            allowed_outbound_hosts = ["https://ok.example.com", "example.com"]"#,
        )
        .unwrap();
        let error = config.check_routes(["/api/a"]).unwrap_err().to_string();
        assert!(error.contains("[routes.\"/api/a\"]"), "{error}");
        assert!(error.contains("\"example.com\""), "{error}");
        assert!(error.contains("write the scheme"), "{error}");
    }

    #[test]
    fn unknown_keys_and_routes_are_refused() {
        assert!(AppConfig::parse("[routes.\"/a\"]\nenvv = {}").is_err());
        let config = AppConfig::parse("[routes.\"/api/nope\"]").unwrap();
        let error = config.check_routes(["/api/yes"]).unwrap_err();
        assert!(error.to_string().contains("/api/nope"), "{error}");
    }
}
