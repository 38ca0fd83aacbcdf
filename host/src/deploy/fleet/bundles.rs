//! Bundles in the control plane: the packed dist, in 1 MiB `bytea` chunks keyed by the
//! bundle's SHA-256. A bundle is written once and never changed; a host checks the hash of
//! what it reads back before it unpacks a byte of it.

use anyhow::bail;
use sha2::{Digest, Sha256};

use super::{ControlPlane, bounded};

/// Bytes per stored chunk: small enough for one statement, large enough to be few.
const CHUNK_BYTES: usize = 1 << 20;

/// Stores `bytes` under their SHA-256 unless a bundle with that hash is already stored.
pub async fn put(control: &ControlPlane, sha256: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut client = control.client().await?;
    let transaction = bounded(control, client.transaction()).await?;
    let chunks = bytes.len().div_ceil(CHUNK_BYTES) as i32;
    let inserted = bounded(
        control,
        transaction.execute(
            "INSERT INTO routelet_control.bundles (sha256, size, chunks) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&sha256, &(bytes.len() as i64), &chunks],
        ),
    )
    .await?;
    if inserted == 1 {
        for (part, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
            bounded(
                control,
                transaction.execute(
                    "INSERT INTO routelet_control.bundle_chunks (bundle, part, bytes) \
                     VALUES ($1, $2, $3)",
                    &[&sha256, &(part as i32), &chunk],
                ),
            )
            .await?;
        }
    }
    bounded(control, transaction.commit()).await?;
    Ok(())
}

/// Reads bundle `sha256` back, refusing it unless every chunk is there and the bytes hash to it.
pub async fn get(control: &ControlPlane, sha256: &str) -> anyhow::Result<Vec<u8>> {
    let client = control.client().await?;
    let Some(row) = bounded(
        control,
        client.query_opt(
            "SELECT size, chunks FROM routelet_control.bundles WHERE sha256 = $1",
            &[&sha256],
        ),
    )
    .await?
    else {
        bail!("bundle {sha256} is missing from the control plane");
    };
    let (size, chunks): (i64, i32) = (row.get(0), row.get(1));
    let rows = bounded(
        control,
        client.query(
            "SELECT part, bytes FROM routelet_control.bundle_chunks WHERE bundle = $1 \
             ORDER BY part",
            &[&sha256],
        ),
    )
    .await?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for (expected, row) in rows.iter().enumerate() {
        let part: i32 = row.get(0);
        if part != expected as i32 {
            bail!("bundle {sha256} in the control plane lacks chunk {expected}; refusing it");
        }
        bytes.extend_from_slice(row.get::<_, &[u8]>(1));
    }
    if rows.len() != chunks as usize || bytes.len() as i64 != size {
        bail!(
            "bundle {sha256} in the control plane is incomplete ({} of {chunks} chunks, {} of \
             {size} bytes); refusing it",
            rows.len(),
            bytes.len()
        );
    }
    check(sha256, &bytes)?;
    Ok(bytes)
}

/// The SHA-256 of a bundle, as it is keyed.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuses bytes that do not hash to the key they were stored under.
fn check(sha256: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let actual = sha256_hex(bytes);
    if actual != sha256 {
        bail!(
            "bundle {sha256} in the control plane was changed after it was stored: its bytes \
             hash to {actual}; refusing it"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_do_not_hash_to_their_key_are_refused() {
        let key = sha256_hex(b"bundle");
        assert!(check(&key, b"bundle").is_ok());
        let refused = format!("{:#}", check(&key, b"bundlE").unwrap_err());
        assert!(
            refused.contains("was changed after it was stored"),
            "{refused}"
        );
    }
}
