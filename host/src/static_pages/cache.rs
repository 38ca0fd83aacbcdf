//! Generated pages kept in memory, with one generation per path at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::rendered::Rendered;
use crate::dist::sha256_hex;

/// One path's page as served.
#[derive(Debug)]
pub struct CacheEntry {
    pub rendered: Rendered,
    /// A strong validator of the body, for If-None-Match.
    pub etag: String,
    /// When it was generated, for `revalidate`.
    pub generated_at: Instant,
}

impl CacheEntry {
    /// Wraps a fresh result.
    pub fn new(rendered: Rendered) -> Self {
        let etag = match &rendered.outcome {
            super::rendered::Outcome::Page { html, .. } => {
                format!("\"{}\"", &sha256_hex(html)[..32])
            }
            _ => String::new(),
        };
        Self {
            rendered,
            etag,
            generated_at: Instant::now(),
        }
    }

    /// True once `revalidate` seconds have passed since it was generated.
    pub fn is_stale(&self) -> bool {
        self.rendered.revalidate.is_some_and(|seconds| {
            self.generated_at.elapsed() >= Duration::from_secs(u64::from(seconds))
        })
    }
}

type Flight = Arc<OnceCell<Result<Arc<CacheEntry>, String>>>;

/// Paths kept per page; beyond it new paths are rendered for each request but not kept, so
/// clients asking for endless made-up paths of a fallback page cannot fill the host's memory.
pub const MAX_PATHS_PER_PAGE: usize = 10_000;

/// Every generated path of one page.
#[derive(Default)]
pub struct PageCache {
    entries: RwLock<HashMap<String, Arc<CacheEntry>>>,
    flights: Mutex<HashMap<String, Flight>>,
}

impl PageCache {
    /// The entry of `path`, fresh or stale.
    pub fn get(&self, path: &str) -> Option<Arc<CacheEntry>> {
        self.entries.read().expect("cache").get(path).cloned()
    }

    /// Stores an entry, replacing the old one; a new path is dropped once the page is full.
    pub fn insert(&self, path: &str, entry: Arc<CacheEntry>) {
        let mut entries = self.entries.write().expect("cache");
        if entries.len() >= MAX_PATHS_PER_PAGE && !entries.contains_key(path) {
            tracing::warn!(
                "page cache full ({MAX_PATHS_PER_PAGE} paths): {path} is served but not kept"
            );
            return;
        }
        entries.insert(path.to_owned(), entry);
    }

    /// True while a generation of `path` runs.
    pub fn is_generating(&self, path: &str) -> bool {
        self.flights.lock().expect("flights").contains_key(path)
    }

    /// Runs `generate` for `path` unless a generation already runs, in which case this waits
    /// for that one; a success replaces the cached entry, a failure leaves it as it was.
    pub async fn generate_once(
        &self,
        path: &str,
        generate: impl Future<Output = Result<Rendered, String>>,
    ) -> Result<Arc<CacheEntry>, String> {
        let flight = self
            .flights
            .lock()
            .expect("flights")
            .entry(path.to_owned())
            .or_default()
            .clone();
        let result = flight
            .get_or_init(|| async {
                let entry = Arc::new(CacheEntry::new(generate.await?));
                self.insert(path, entry.clone());
                Ok(entry)
            })
            .await
            .clone();
        let mut flights = self.flights.lock().expect("flights");
        if flights.get(path).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(path);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_pages::rendered::Outcome;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn page(text: &'static str, revalidate: Option<u32>) -> Rendered {
        Rendered {
            outcome: Outcome::Page {
                html: text.into(),
                props: "{}".into(),
            },
            revalidate,
        }
    }

    #[tokio::test]
    async fn concurrent_generations_of_one_path_run_once() {
        let cache = Arc::new(PageCache::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, runs) = (cache.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .generate_once("/a", async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(page("a", None))
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!cache.is_generating("/a"));
        assert!(cache.get("/a").is_some());
    }

    #[tokio::test]
    async fn a_failure_keeps_the_old_entry() {
        let cache = PageCache::default();
        cache
            .generate_once("/a", async { Ok(page("old", Some(1))) })
            .await
            .unwrap();
        let error = cache
            .generate_once("/a", async { Err("boom".to_owned()) })
            .await;
        assert_eq!(error.unwrap_err(), "boom");
        let kept = cache.get("/a").unwrap();
        assert!(matches!(&kept.rendered.outcome, Outcome::Page { html, .. } if html == "old"));
    }

    #[test]
    fn a_full_page_keeps_its_paths_and_refuses_new_ones() {
        let cache = PageCache::default();
        for n in 0..MAX_PATHS_PER_PAGE {
            cache.insert(
                &format!("/p/{n}"),
                Arc::new(CacheEntry::new(page("a", None))),
            );
        }
        cache.insert("/p/new", Arc::new(CacheEntry::new(page("b", None))));
        assert!(cache.get("/p/new").is_none());
        cache.insert("/p/0", Arc::new(CacheEntry::new(page("c", None))));
        let replaced = cache.get("/p/0").unwrap();
        assert!(matches!(&replaced.rendered.outcome, Outcome::Page { html, .. } if html == "c"));
    }

    #[test]
    fn staleness_follows_revalidate() {
        let fresh = CacheEntry::new(page("a", None));
        assert!(!fresh.is_stale());
        let mut old = CacheEntry::new(page("a", Some(1)));
        old.generated_at -= Duration::from_secs(2);
        assert!(old.is_stale());
    }
}
