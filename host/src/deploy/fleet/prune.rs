//! The control plane keeps what the hosts keep: after each commit, committed deployments
//! beyond the newest `--keep-deployments` go, with their bundles (unless another deployment
//! shares them), their generations and their regenerated pages. The active deployment and one
//! being prepared always stay. Runs under the fleet's deploy lock, so no deploy is storing a
//! bundle meanwhile.

use super::{ControlPlane, bounded};

/// Removes what is beyond the newest `keep` committed deployments; the ids removed.
pub async fn prune(control: &ControlPlane, keep: usize) -> anyhow::Result<Vec<String>> {
    let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
    let mut client = control.client().await?;
    let transaction = bounded(control, client.transaction()).await?;
    let removed = bounded(
        control,
        transaction.query(
            "WITH kept AS (
                 SELECT d.seq FROM routelet_control.deployments d
                 WHERE EXISTS (SELECT 1 FROM routelet_control.generations g
                               WHERE g.deployment = d.id AND g.state = 'committed')
                 ORDER BY d.seq DESC LIMIT $1
             )
             DELETE FROM routelet_control.deployments d
             WHERE d.seq < (SELECT min(seq) FROM kept)
               AND d.id IS DISTINCT FROM (SELECT deployment FROM routelet_control.active)
               AND NOT EXISTS (SELECT 1 FROM routelet_control.generations g
                               WHERE g.deployment = d.id AND g.state = 'preparing')
             RETURNING d.id",
            &[&keep],
        ),
    )
    .await?;
    let removed: Vec<String> = removed.iter().map(|row| row.get(0)).collect();
    if !removed.is_empty() {
        bounded(
            control,
            transaction.execute(
                "DELETE FROM routelet_control.pages WHERE deployment = ANY($1)",
                &[&removed],
            ),
        )
        .await?;
        bounded(
            control,
            transaction.execute(
                "DELETE FROM routelet_control.bundles b
                 WHERE NOT EXISTS (SELECT 1 FROM routelet_control.deployments d
                                   WHERE d.bundle = b.sha256)",
                &[],
            ),
        )
        .await?;
    }
    bounded(control, transaction.commit()).await?;
    Ok(removed)
}
