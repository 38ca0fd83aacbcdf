//! An admin upload (a bundle or one component) written to a private file beside the
//! deployments as it arrives, so parallel uploads of large bundles cost disk, not memory.

use std::io;
use std::path::Path;

use bytes::Buf;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The prefix of upload files; [`super::store::DeploymentStore::open`] removes leftovers.
pub const UPLOAD_PREFIX: &str = ".staging-upload-";

/// An upload on disk, removed when dropped unless it is moved into a deployment.
pub struct Upload {
    file: tempfile::NamedTempFile,
    len: u64,
    sha256: [u8; 32],
}

/// Why an upload was not received; nothing was deployed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The body is longer than the admin API accepts.
    #[error("the upload is larger than {0} bytes")]
    TooLarge(u64),
    /// The client stopped sending before the body ended.
    #[error("the upload was cut off: {0}; nothing changed")]
    CutOff(String),
    /// The host could not write the upload down.
    #[error("writing the upload to {0}: {1}")]
    Disk(String, io::Error),
}

impl Upload {
    /// Streams `body` into a new private file in `dir`, refusing it past `max` bytes.
    pub async fn receive<B>(body: B, dir: &Path, max: u64) -> Result<Self, UploadError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let disk = |error| UploadError::Disk(dir.display().to_string(), error);
        // tempfile creates the file 0600, as everything the host writes.
        let file = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .tempfile_in(dir)
            .map_err(disk)?;
        let writer = tokio::fs::File::from_std(file.as_file().try_clone().map_err(disk)?);
        let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, writer);
        let mut digest = Sha256::new();
        let mut len: u64 = 0;
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| UploadError::CutOff(error.to_string()))?;
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            len += data.remaining() as u64;
            if len > max {
                return Err(UploadError::TooLarge(max));
            }
            digest.update(&data);
            writer.write_all_buf(&mut data).await.map_err(disk)?;
        }
        writer.flush().await.map_err(disk)?;
        Ok(Self {
            file,
            len,
            sha256: digest.finalize().into(),
        })
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its SHA-256 in hex, as manifests record it.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// A reader from its first byte.
    pub fn reader(&self) -> io::Result<std::fs::File> {
        self.file.reopen()
    }

    /// Moves it to `to` (on the same file system), keeping its private mode.
    pub fn persist(self, to: &Path) -> io::Result<()> {
        self.file.persist(to).map(drop).map_err(|e| e.error)
    }
}
