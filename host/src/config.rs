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
//! This module knows only the file's shape: each host capability (a factor) and the limits
//! read their own sections and route keys from it, and the app check refuses what no one
//! reads. A route's section is keyed by its pattern as `routelet routes` prints it, and naming
//! a route that does not exist is an error.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The file name, in an app folder and in a dist folder.
pub const CONFIG_FILE: &str = "routelet.toml";

/// The whole of `routelet.toml`; an absent file is the default.
#[derive(Debug, Default, Deserialize)]
pub struct AppConfig {
    /// Settings of single routes, keyed by pattern (`/api/users/[id]`).
    #[serde(default)]
    pub routes: BTreeMap<String, RouteConfig>,
    /// Every other top-level section, e.g. `[limits]` or `[key_value]`, read by its owner.
    #[serde(flatten)]
    sections: toml::Table,
}

/// `[routes."PATTERN"]`.
#[derive(Debug, Default, Deserialize)]
pub struct RouteConfig {
    /// Environment variables this route's guest sees, and no other route.
    #[serde(default)]
    pub env: BTreeMap<String, Value>,
    /// Every other key, e.g. `limits` or `key_value_stores`, read by its owner.
    #[serde(flatten)]
    keys: toml::Table,
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

    /// Section `[NAME]` as its owner's type; absent is the type's default.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> anyhow::Result<T> {
        match self.sections.get(name) {
            None => Ok(T::default()),
            Some(value) => value
                .clone()
                .try_into()
                .with_context(|| format!("{CONFIG_FILE} [{name}]")),
        }
    }

    /// Refuses sections that nothing reads, `[routes."…"]` sections that name no route, and
    /// route keys that nothing reads, so a typo is never silently ignored.
    pub fn check_known<'a>(
        &self,
        sections: &[&str],
        route_keys: &[&str],
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> anyhow::Result<()> {
        for name in self.sections.keys() {
            if !sections.contains(&name.as_str()) {
                bail!(
                    "{CONFIG_FILE}: unknown section [{name}]; known sections are [routes], {}",
                    sections
                        .iter()
                        .map(|s| format!("[{s}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let known: std::collections::HashSet<&str> = patterns.into_iter().collect();
        for (pattern, route) in &self.routes {
            if !known.contains(pattern.as_str()) {
                bail!(
                    "{CONFIG_FILE}: [routes.\"{pattern}\"] names no route; patterns are written \
                     as `routelet routes` prints them, e.g. /api/users/[id]"
                );
            }
            for key in route.keys.keys() {
                if !route_keys.contains(&key.as_str()) {
                    bail!(
                        "{CONFIG_FILE}: [routes.\"{pattern}\"]: unknown field `{key}`, expected \
                         one of `env`, {}",
                        route_keys
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        Ok(())
    }

    /// The settings of one route, or the defaults.
    pub fn route(&self, pattern: &str) -> Option<&RouteConfig> {
        self.routes.get(pattern)
    }
}

impl RouteConfig {
    /// Key `name` of this route's section as its owner's type; absent is `None`.
    pub fn key<T: DeserializeOwned>(&self, pattern: &str, name: &str) -> anyhow::Result<Option<T>> {
        match self.keys.get(name) {
            None => Ok(None),
            Some(value) => value
                .clone()
                .try_into()
                .map(Some)
                .with_context(|| format!("{CONFIG_FILE} [routes.\"{pattern}\"] {name}")),
        }
    }

    /// Whether this route's section sets `name` at all.
    pub fn has(&self, name: &str) -> bool {
        self.keys.contains_key(name)
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
    fn unknown_sections_keys_and_routes_are_refused() {
        let config = AppConfig::parse("[routes.\"/a\"]\nenvv = {}").unwrap();
        let error = config
            .check_known(&["limits"], &["limits"], ["/a"])
            .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `envv`"),
            "{error}"
        );
        let config = AppConfig::parse("[limitz]\nmemory = \"1MiB\"").unwrap();
        let error = config.check_known(&["limits"], &[], []).unwrap_err();
        assert!(
            error.to_string().contains("unknown section [limitz]"),
            "{error}"
        );
        let config = AppConfig::parse("[routes.\"/api/nope\"]").unwrap();
        let error = config.check_known(&[], &[], ["/api/yes"]).unwrap_err();
        assert!(error.to_string().contains("/api/nope"), "{error}");
    }

    #[test]
    fn sections_and_keys_are_read_by_their_owner() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Section {
            size: Option<String>,
        }
        let config = AppConfig::parse(
            "[thing]\nsize = \"1\"\n[routes.\"/a\"]\nlist = [\"x\"]\n[other]\nsise = 1",
        )
        .unwrap();
        let section: Section = config.section("thing").unwrap();
        assert_eq!(section.size.as_deref(), Some("1"));
        assert!(config.section::<Section>("absent").unwrap().size.is_none());
        let error = config.section::<Section>("other").unwrap_err();
        assert!(
            format!("{error:#}").contains("unknown field `sise`"),
            "{error:#}"
        );
        let route = config.route("/a").unwrap();
        assert_eq!(
            route.key::<Vec<String>>("/a", "list").unwrap().unwrap(),
            ["x"]
        );
        assert!(route.key::<Vec<String>>("/a", "none").unwrap().is_none());
    }
}
