//! `routelet:route/preview`: Preview Mode and on-demand revalidation for API routes.
//!
//! The guest only asks; the host answers. `set-preview-data` records what the response should
//! carry, and the host turns it into the signed, encrypted cookie pair once the guest's response
//! arrives, so a guest never sees the secret.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use super::bindings::preview;
use crate::pages::preview_cookies::{PREVIEW_DATA_LIMIT, PreviewKeys};

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

/// Adds the import to a linker; `get` finds the request's capability in the store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut PreviewHost,
) -> wasmtime::Result<()> {
    preview::add_to_linker::<T, HasSelf<PreviewHost>>(linker, get)
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
