//! A deployment's regenerated pages from its store: taken at load, and again whenever the
//! store says another host (or an earlier start) kept a newer version of a path.

use std::collections::HashMap;

use super::{App, Target};

impl App {
    /// Serves what the store kept since the last call, where it is newer than what this host
    /// holds; the number of paths taken.
    pub async fn adopt_kept_pages(&self) -> anyhow::Result<usize> {
        let Some(store) = &self.pages else {
            return Ok(0);
        };
        let changes = store.changes().await?;
        if changes.is_empty() {
            return Ok(0);
        }
        let pages: HashMap<&str, _> = self
            .routes
            .iter()
            .filter_map(|(_, target)| match target {
                Target::Page(page) => Some((&*page.component.pattern, page)),
                Target::Handler(_) => None,
            })
            .collect();
        let mut taken = 0;
        for (path, kept) in changes {
            match pages.get(kept.pattern.as_str()) {
                Some(page) => taken += usize::from(page.adopt(&path, &kept)),
                None => tracing::warn!(
                    "a kept page for {path} names page {}, which this deployment does not have",
                    kept.pattern
                ),
            }
        }
        Ok(taken)
    }
}
