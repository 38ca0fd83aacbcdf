//! Regenerated pages outlive the host's memory: each one generated after the build (a fallback
//! render, a stale page regenerated, an on-demand `revalidate()`) is handed to the
//! deployment's [`PageStore`], and what the store holds is adopted at load and whenever it
//! changes. One host keeps them in its data folder; a fleet keeps them in its control plane,
//! so every host serves the newest version of every path.

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::rendered::{Outcome, Rendered};

/// A boxed future, as the stores' methods return them.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// Where one deployment's regenerated pages are kept, for its own hosts (or its next start).
pub trait PageStore: Send + Sync {
    /// Keeps `page` as the newest version of `path`, unless a newer one is kept already.
    fn save<'a>(&'a self, path: &'a str, page: &'a KeptPage) -> StoreFuture<'a, ()>;
    /// What was kept since the last call: everything on the first call, then what other hosts
    /// (or this one) saved since. A page may come back more than once.
    fn changes(&self) -> StoreFuture<'_, Vec<(String, KeptPage)>>;
}

/// One regenerated path as a store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptPage {
    /// The page's pattern (`/blog/[slug]`), which finds it in the deployment's routes.
    pub pattern: String,
    /// When it was generated, in milliseconds since the Unix epoch: the newest one wins.
    pub generated_ms: u64,
    /// Seconds it stays fresh, from `generated_ms`.
    pub revalidate: Option<u32>,
    pub outcome: KeptOutcome,
}

/// A page's result in a form JSON carries: a rendered page is text (its HTML comes from
/// `render`, its props are JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeptOutcome {
    Page { html: String, props: String },
    NotFound,
    Redirect { location: String, status: u16 },
}

impl KeptPage {
    /// The kept form of a page generated at `generated_at`; `None` for a body that is not
    /// UTF-8, which is served but not kept.
    pub fn new(pattern: &str, rendered: &Rendered, generated_at: SystemTime) -> Option<Self> {
        let outcome = match &rendered.outcome {
            Outcome::Page { html, props } => KeptOutcome::Page {
                html: String::from_utf8(html.to_vec()).ok()?,
                props: String::from_utf8(props.to_vec()).ok()?,
            },
            Outcome::NotFound => KeptOutcome::NotFound,
            Outcome::Redirect { location, status } => KeptOutcome::Redirect {
                location: location.clone(),
                status: *status,
            },
        };
        Some(Self {
            pattern: pattern.to_owned(),
            generated_ms: millis_since_epoch(generated_at),
            revalidate: rendered.revalidate,
            outcome,
        })
    }

    /// The page as served, and when it was generated.
    pub fn rendered(&self) -> (Rendered, SystemTime) {
        let outcome = match &self.outcome {
            KeptOutcome::Page { html, props } => Outcome::Page {
                html: Bytes::from(html.clone()),
                props: Bytes::from(props.clone()),
            },
            KeptOutcome::NotFound => Outcome::NotFound,
            KeptOutcome::Redirect { location, status } => Outcome::Redirect {
                location: location.clone(),
                status: *status,
            },
        };
        let rendered = Rendered {
            outcome,
            revalidate: self.revalidate,
        };
        (
            rendered,
            SystemTime::UNIX_EPOCH + Duration::from_millis(self.generated_ms),
        )
    }

    /// The bytes a store writes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a kept page is plain JSON")
    }

    /// Reads what [`KeptPage::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> anyhow::Result<Self> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// Milliseconds since the Unix epoch (0 for a clock set before it).
pub fn millis_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_survives_the_round_trip() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_765_000_000_123);
        for outcome in [
            Outcome::Page {
                html: Bytes::from_static(b"<h1>caf\xc3\xa9</h1>"),
                props: Bytes::from_static(br#"{"a":1}"#),
            },
            Outcome::NotFound,
            Outcome::Redirect {
                location: "/elsewhere".into(),
                status: 308,
            },
        ] {
            let rendered = Rendered {
                outcome,
                revalidate: Some(5),
            };
            let kept = KeptPage::new("/[p]", &rendered, at).unwrap();
            let back = KeptPage::decode(&kept.encode()).unwrap();
            assert_eq!(back, kept);
            assert_eq!(back.rendered(), (rendered, at));
        }
    }

    #[test]
    fn a_body_that_is_not_text_is_not_kept() {
        let rendered = Rendered {
            outcome: Outcome::Page {
                html: Bytes::from_static(b"\xff\xfe"),
                props: Bytes::from_static(b"{}"),
            },
            revalidate: None,
        };
        assert!(KeptPage::new("/", &rendered, SystemTime::now()).is_none());
    }
}
