//! A fleet's regenerated pages, one row per deployment and path in the control plane, so a
//! page regenerated on one host (stale, a fallback render, an on-demand `revalidate()`) is what
//! every host serves next. A save wakes the other hosts; each reads what changed itself.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{CHANNEL, ControlPlane, Unreachable, bounded};
use crate::static_pages::kept::{KeptPage, PageStore, StoreFuture};

/// How far back each read of changes looks before the last one: a row saved just before a
/// read but committed just after it is still found by the next read. A row may so come back a
/// few times; adopting it again changes nothing.
const LOOKBACK: Duration = Duration::from_secs(5);

/// One deployment's pages in the control plane.
pub struct FleetPages {
    control: Arc<ControlPlane>,
    deployment: String,
    /// The database's time at the last read; `None` before the first one, which reads all.
    read_at: Mutex<Option<SystemTime>>,
}

impl FleetPages {
    /// The pages of `deployment`.
    pub fn new(control: Arc<ControlPlane>, deployment: &str) -> Self {
        Self {
            control,
            deployment: deployment.to_owned(),
            read_at: Mutex::new(None),
        }
    }

    async fn save_now(&self, path: &str, page: &KeptPage) -> anyhow::Result<()> {
        if !self.control.is_up() {
            // Asked while the database is away, the pool would wait out its timeouts on every
            // regenerated page; the follower notices when it is back.
            return Err(Unreachable(
                self.control
                    .down_reason()
                    .unwrap_or_else(|| "not reached yet".into()),
            )
            .into());
        }
        let client = self.control.client().await?;
        let generated_ms = i64::try_from(page.generated_ms).unwrap_or(i64::MAX);
        // One round trip: the notification goes out only when the row changed, and at commit.
        bounded(
            &self.control,
            client.execute(
                "WITH saved AS (
                     INSERT INTO routelet_control.pages AS kept
                         (deployment, path, generated_ms, saved_at, page)
                     VALUES ($1, $2, $3, clock_timestamp(), $4)
                     ON CONFLICT (deployment, path) DO UPDATE
                         SET generated_ms = EXCLUDED.generated_ms,
                             saved_at = EXCLUDED.saved_at, page = EXCLUDED.page
                         WHERE kept.generated_ms < EXCLUDED.generated_ms
                     RETURNING 1
                 )
                 SELECT pg_notify($5, 'pages') FROM saved",
                &[
                    &self.deployment,
                    &path,
                    &generated_ms,
                    &page.encode(),
                    &CHANNEL,
                ],
            ),
        )
        .await?;
        Ok(())
    }

    async fn changes_now(&self) -> anyhow::Result<Vec<(String, KeptPage)>> {
        let since = *self.read_at.lock().unwrap_or_else(|e| e.into_inner());
        let client = self.control.client().await?;
        // One round trip whether or not anything changed: the database's clock comes back in
        // the one row a left join of nothing still gives.
        let rows = bounded(
            &self.control,
            client.query(
                "SELECT clock.at, kept.path, kept.page
                 FROM (SELECT now() AS at) AS clock
                 LEFT JOIN routelet_control.pages AS kept
                     ON kept.deployment = $1
                     AND ($2::timestamptz IS NULL OR kept.saved_at > $2)",
                &[&self.deployment, &since.map(|at| at - LOOKBACK)],
            ),
        )
        .await?;
        let now: SystemTime = rows
            .first()
            .map(|row| row.get(0))
            .ok_or_else(|| anyhow::anyhow!("the control plane gave no time"))?;
        *self.read_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        let mut pages = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(path) = row.get::<_, Option<String>>(1) else {
                continue;
            };
            match KeptPage::decode(row.get(2)) {
                Ok(page) => pages.push((path, page)),
                Err(error) => tracing::warn!(
                    "the control plane's page {path} of deployment {} is skipped: {error:#}",
                    self.deployment
                ),
            }
        }
        Ok(pages)
    }
}

impl PageStore for FleetPages {
    fn save<'a>(&'a self, path: &'a str, page: &'a KeptPage) -> StoreFuture<'a, ()> {
        Box::pin(self.save_now(path, page))
    }

    fn changes(&self) -> StoreFuture<'_, Vec<(String, KeptPage)>> {
        Box::pin(self.changes_now())
    }
}
