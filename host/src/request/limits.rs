//! `[limits]` in `routelet.toml`, for the whole app and per route, resolved into the limits one
//! route runs under.
//!
//! ```toml
//! [limits]                      # every route and page; these are the defaults
//! memory = "128MiB"             # linear memory per instance (500, logged as a memory limit)
//! timeout = "30s"               # until the response starts (504)
//! body = "100MB"                # request body, checked by the host (413)
//! body_timeout = "10s"          # longest pause in the request body (408)
//! response_warning = "4MB"      # a larger response is logged, as Next.js warns
//!
//! [routes."/api/upload".limits] # the same keys for one API route, plus:
//! max_concurrent = 4            # instances of this route at once (503 with Retry-After)
//! ```
//!
//! Sizes take `B`, `KB`/`KiB` (1024), `MB`/`MiB`, `GB`/`GiB`, in any case; times `ms`, `s`, `m`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::engine::limits::Limits;
use crate::units::{parse_duration, parse_size};

/// `[limits]` or `[routes."P".limits]` as written; unset keys fall back.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Linear memory per instance, e.g. `"64MiB"`.
    pub memory: Option<String>,
    /// Time until the response starts, e.g. `"10s"`.
    pub timeout: Option<String>,
    /// Request body size the host lets through, e.g. `"10MB"`.
    pub body: Option<String>,
    /// Longest wait for the next request body bytes, e.g. `"10s"`.
    pub body_timeout: Option<String>,
    /// Response size past which a warning is logged, e.g. `"4MB"`.
    pub response_warning: Option<String>,
    /// Instances of one route at once.
    pub max_concurrent: Option<u32>,
}

/// The limits one route runs under, resolved once per deployment.
#[derive(Debug, Clone)]
pub struct RouteLimits {
    /// Linear memory per instance.
    pub memory_bytes: usize,
    /// Until the response starts.
    pub timeout: Duration,
    /// Request body bytes the guest may receive.
    pub body_bytes: u64,
    /// Longest the guest waits for more of the request body before the client gets 408.
    pub body_timeout: Duration,
    /// Response bytes past which a warning is logged.
    pub response_warning_bytes: u64,
    /// Held while an instance of the route runs, when the route is capped.
    pub concurrency: Option<Arc<Semaphore>>,
}

/// The default request body cap: roomy, since routes can stream their bodies.
const DEFAULT_BODY: u64 = 100 * 1024 * 1024;

/// The default pause allowed in a request body: well under the guest's own 30 s, so a client
/// that stops sending frees its instance early.
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Next.js's API response size warning.
const DEFAULT_RESPONSE_WARNING: u64 = 4 * 1024 * 1024;

impl RouteLimits {
    /// The app's limits (`[limits]`) over the host's defaults; `host` bounds memory, since the
    /// instance pool's slots were sized when the host started.
    pub fn app(config: &LimitsConfig, host: &Limits) -> anyhow::Result<Self> {
        let defaults = RouteLimits {
            memory_bytes: host.memory_bytes,
            timeout: host.timeout,
            body_bytes: DEFAULT_BODY,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            response_warning_bytes: DEFAULT_RESPONSE_WARNING,
            concurrency: None,
        };
        if config.max_concurrent.is_some() {
            bail!(
                "routelet.toml [limits]: max_concurrent is set per route, under \
                 [routes.\"/api/...\".limits]"
            );
        }
        defaults
            .with(config, host)
            .context("routelet.toml [limits]")
    }

    /// One route's limits: its own section over the app's.
    pub fn route(
        &self,
        pattern: &str,
        config: Option<&LimitsConfig>,
        host: &Limits,
    ) -> anyhow::Result<Self> {
        match config {
            Some(config) => self
                .with(config, host)
                .with_context(|| format!("routelet.toml [routes.\"{pattern}\".limits]")),
            None => Ok(self.clone()),
        }
    }

    fn with(&self, config: &LimitsConfig, host: &Limits) -> anyhow::Result<Self> {
        let mut limits = self.clone();
        if let Some(memory) = &config.memory {
            let bytes = parse_size(memory).with_context(|| format!("memory = {memory:?}"))?;
            if bytes > host.memory_bytes as u64 {
                bail!(
                    "memory = {memory:?} is above this host's largest instance, {} MiB",
                    host.memory_bytes >> 20
                );
            }
            if bytes < 64 * 1024 {
                bail!("memory = {memory:?} is below one wasm page (64 KiB)");
            }
            limits.memory_bytes = bytes as usize;
        }
        if let Some(timeout) = &config.timeout {
            limits.timeout =
                parse_duration(timeout).with_context(|| format!("timeout = {timeout:?}"))?;
        }
        if let Some(body) = &config.body {
            limits.body_bytes = parse_size(body).with_context(|| format!("body = {body:?}"))?;
        }
        if let Some(timeout) = &config.body_timeout {
            limits.body_timeout =
                parse_duration(timeout).with_context(|| format!("body_timeout = {timeout:?}"))?;
        }
        if let Some(warning) = &config.response_warning {
            limits.response_warning_bytes =
                parse_size(warning).with_context(|| format!("response_warning = {warning:?}"))?;
        }
        if let Some(max) = config.max_concurrent {
            if max == 0 {
                bail!("max_concurrent = 0 would refuse every request");
            }
            limits.concurrency = Some(Arc::new(Semaphore::new(max as usize)));
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_overrides_the_app_which_overrides_the_host() {
        let host = Limits::default();
        let app = RouteLimits::app(
            &LimitsConfig {
                timeout: Some("10s".into()),
                body: Some("1MB".into()),
                ..Default::default()
            },
            &host,
        )
        .unwrap();
        assert_eq!(app.timeout, Duration::from_secs(10));
        assert_eq!(app.memory_bytes, host.memory_bytes);
        let route = app
            .route(
                "/api/x",
                Some(&LimitsConfig {
                    memory: Some("16MiB".into()),
                    max_concurrent: Some(2),
                    ..Default::default()
                }),
                &host,
            )
            .unwrap();
        assert_eq!(route.memory_bytes, 16 << 20);
        assert_eq!(route.timeout, Duration::from_secs(10));
        assert_eq!(route.body_bytes, 1 << 20);
        assert_eq!(route.concurrency.unwrap().available_permits(), 2);
    }

    #[test]
    fn bad_values_name_their_key_and_section() {
        let host = Limits::default();
        let app = RouteLimits::app(&LimitsConfig::default(), &host).unwrap();
        let error = app
            .route(
                "/api/x",
                Some(&LimitsConfig {
                    memory: Some("1GiB".into()),
                    ..Default::default()
                }),
                &host,
            )
            .unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("[routes.\"/api/x\".limits]")
                && message.contains("memory = \"1GiB\" is above this host's largest instance"),
            "{message}"
        );
        let error = RouteLimits::app(
            &LimitsConfig {
                max_concurrent: Some(3),
                ..Default::default()
            },
            &host,
        )
        .unwrap_err();
        assert!(error.to_string().contains("set per route"), "{error}");
    }
}
