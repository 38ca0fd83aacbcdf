//! `routelet:route/preview`: Preview Mode and on-demand revalidation for API routes.
//!
//! The guest only asks; the host answers. `set-preview-data` records what the response should
//! carry, and the host turns it into the signed, encrypted cookie pair once the guest's response
//! arrives, so a guest never sees the secret.

pub mod cookies;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use anyhow::Context;
use serde::Deserialize;
use wasmtime::component::{HasSelf, Linker};

use super::bindings::preview;
use super::{AppSetup, Factor, PageAccess, RequestSetup, ResponseHook, RouteSetup};
use crate::config::Value;
use crate::dist::PREVIEW_SECRET_FILE;
use cookies::{CookieStyle, PREVIEW_DATA_LIMIT, PreviewKeys};

/// What the route's response should do to the preview cookies.
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewAction {
    /// Set both cookies; the values are ready to send.
    Enter {
        bypass: String,
        data: String,
        max_age: Option<u32>,
    },
    /// Expire both cookies.
    Exit,
}

/// Regenerates a page path on demand; the pages module implements it for the live route table.
pub trait Revalidate: Send + Sync {
    /// Renders `path` again and replaces the cached page; the error is the guest's to show.
    fn revalidate<'a>(
        &'a self,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The preview capability of one request.
pub struct PreviewHost {
    keys: Arc<PreviewKeys>,
    action: Arc<Mutex<Option<PreviewAction>>>,
    revalidator: Option<Arc<dyn Revalidate>>,
}

impl PreviewHost {
    /// A fresh capability; `revalidator` is absent where there are no pages to revalidate.
    pub fn new(keys: Arc<PreviewKeys>, revalidator: Option<Arc<dyn Revalidate>>) -> Self {
        Self {
            keys,
            action: Arc::default(),
            revalidator,
        }
    }

    /// Where the host reads the requested action once the response has started.
    /// How this app's preview cookies are sent.
    pub fn cookie_style(&self) -> CookieStyle {
        self.keys.style()
    }

    pub fn action_slot(&self) -> Arc<Mutex<Option<PreviewAction>>> {
        self.action.clone()
    }
}

impl preview::Host for PreviewHost {
    fn set_preview_data(&mut self, data: String, max_age: Option<u32>) -> Result<(), String> {
        if serde_json::from_str::<serde_json::Value>(&data).is_err() {
            return Err("preview data must be JSON".to_owned());
        }
        let (bypass, sealed) = self.keys.seal(&data, max_age);
        if sealed.len() > PREVIEW_DATA_LIMIT {
            return Err(
                "Preview data is limited to 2KB currently, reduce how much data you are \
                        storing as preview data to continue"
                    .to_owned(),
            );
        }
        *self.action.lock().expect("preview slot") = Some(PreviewAction::Enter {
            bypass,
            data: sealed,
            max_age,
        });
        Ok(())
    }

    fn clear_preview_data(&mut self) {
        *self.action.lock().expect("preview slot") = Some(PreviewAction::Exit);
    }

    async fn revalidate(&mut self, url_path: String) -> Result<(), String> {
        if !url_path.starts_with('/') {
            return Err(format!(
                "Invalid urlPath provided to revalidate(), must be a path e.g. /blog/post-1, \
                 received {url_path}"
            ));
        }
        match &self.revalidator {
            Some(revalidator) => revalidator.revalidate(&url_path).await,
            None => Err(format!(
                "Failed to revalidate {url_path}: this deployment has no pages"
            )),
        }
    }
}

/// `[preview]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewConfig {
    /// Signs and encrypts the preview cookies; without it each build makes its own.
    pub secret: Option<Value>,
}

/// A deployment's preview keys, and the pages an API route may revalidate.
pub struct Preview {
    keys: Arc<PreviewKeys>,
    revalidator: OnceLock<Weak<dyn Revalidate>>,
}

impl Preview {
    /// The keys that seal and open the preview cookies; pages check requests with them.
    pub fn keys(&self) -> &Arc<PreviewKeys> {
        &self.keys
    }

    /// Connects on-demand revalidation to the deployment's pages once they are loaded.
    ///
    /// Held weakly: the pages hold this deployment's factors, so a strong link would be a cycle.
    pub fn set_revalidator(&self, revalidator: Weak<dyn Revalidate>) {
        let _ = self.revalidator.set(revalidator);
    }
}

/// The factor: Preview Mode and revalidation for API routes; pages never get it.
pub struct PreviewFactor;

impl Factor for PreviewFactor {
    type App = Preview;
    type Route = ();
    type Request = PreviewHost;
    const SECTION: Option<&'static str> = Some("preview");
    const PAGES: PageAccess = PageAccess::Never;

    fn open(setup: &AppSetup<'_>) -> anyhow::Result<Preview> {
        let config: PreviewConfig = setup.config.section("preview")?;
        Ok(Preview {
            keys: Arc::new(
                preview_secret(setup.dist, &config)?.with_style(if setup.dev {
                    CookieStyle::Dev
                } else {
                    CookieStyle::Production
                }),
            ),
            revalidator: OnceLock::new(),
        })
    }

    fn route(_: &Preview, _: &RouteSetup<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut PreviewHost,
    ) -> wasmtime::Result<()> {
        preview::add_to_linker::<T, HasSelf<PreviewHost>>(linker, get)
    }

    fn request(app: &Preview, _: &(), _: &mut RequestSetup) -> PreviewHost {
        let revalidator = app.revalidator.get().and_then(Weak::upgrade);
        PreviewHost::new(app.keys.clone(), revalidator)
    }

    fn respond(state: &PreviewHost) -> Option<ResponseHook> {
        let slot = state.action_slot();
        let style = state.cookie_style();
        Some(Box::new(move |headers| {
            let cookies = match slot.lock().expect("preview slot").take() {
                Some(PreviewAction::Enter {
                    bypass,
                    data,
                    max_age,
                }) => style.enter_cookies(&bypass, &data, max_age),
                Some(PreviewAction::Exit) => style.exit_cookies(),
                None => return,
            };
            for cookie in cookies {
                if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                    headers.append(http::header::SET_COOKIE, value);
                }
            }
        }))
    }
}

/// The preview secret: configured, else the one the build generated, else one for this process.
fn preview_secret(dist: &std::path::Path, config: &PreviewConfig) -> anyhow::Result<PreviewKeys> {
    if let Some(secret) = &config.secret {
        let secret = secret.resolve("[preview] secret")?;
        return Ok(PreviewKeys::from_secret(secret.as_bytes()));
    }
    let file = dist.join(PREVIEW_SECRET_FILE);
    if file.is_file() {
        let secret = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        return Ok(PreviewKeys::from_secret(&secret));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(PreviewKeys::from_secret(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use preview::Host;

    fn host() -> PreviewHost {
        PreviewHost::new(Arc::new(PreviewKeys::from_secret(b"test secret")), None)
    }

    #[test]
    fn set_records_a_sealed_pair_and_clear_records_exit() {
        let mut host = host();
        let slot = host.action_slot();
        host.set_preview_data(r#"{"slug":"draft"}"#.into(), Some(60))
            .unwrap();
        let Some(PreviewAction::Enter {
            bypass,
            data,
            max_age,
        }) = slot.lock().unwrap().clone()
        else {
            panic!("no action recorded")
        };
        assert_eq!(max_age, Some(60));
        assert!(!data.contains("draft"), "the data is encrypted: {data}");
        assert!(!bypass.is_empty());
        host.clear_preview_data();
        assert_eq!(*slot.lock().unwrap(), Some(PreviewAction::Exit));
    }

    #[test]
    fn refuses_more_than_2kb_with_nextjs_wording() {
        let mut host = host();
        let big = format!("\"{}\"", "x".repeat(2100));
        let error = host.set_preview_data(big, None).unwrap_err();
        assert!(
            error.starts_with("Preview data is limited to 2KB"),
            "{error}"
        );
        assert!(host.action_slot().lock().unwrap().is_none());
    }

    #[test]
    fn revalidate_refuses_what_is_not_a_path() {
        let mut host = host();
        let error = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(host.revalidate("blog/first".into()))
            .unwrap_err();
        assert_eq!(
            error,
            "Invalid urlPath provided to revalidate(), must be a path e.g. /blog/post-1, \
             received blog/first"
        );
    }
}
