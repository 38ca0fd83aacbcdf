//! The admin API's bearer token: read from a file, or generated once into the data folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use subtle::ConstantTimeEq;

/// The file name of a generated token in the data folder.
pub const TOKEN_FILE: &str = "admin-token";

/// A secret every admin call must present as `Authorization: Bearer TOKEN`.
pub struct AdminToken {
    secret: String,
    /// Where it was read from, for the start-up message.
    pub path: PathBuf,
    /// Whether this start generated it.
    pub generated: bool,
}

impl AdminToken {
    /// Reads `file`, or else the data folder's token, generating it (mode 0600) when missing.
    pub fn load(file: Option<&Path>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(file) = file {
            let secret = read_token(file)?;
            return Ok(Self {
                secret,
                path: file.to_path_buf(),
                generated: false,
            });
        }
        let path = data_dir.join(TOKEN_FILE);
        if path.exists() {
            let secret = read_token(&path)?;
            return Ok(Self {
                secret,
                path,
                generated: false,
            });
        }
        crate::private::create_dir(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        let secret = hex::encode(random);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("creating the admin token {}", path.display()))?;
        writeln!(file, "{secret}").with_context(|| format!("writing {}", path.display()))?;
        Ok(Self {
            secret,
            path,
            generated: true,
        })
    }

    /// Whether an `Authorization` header value carries this token; constant-time.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(presented) = value.strip_prefix(b"Bearer ") else {
            return false;
        };
        bool::from(presented.ct_eq(self.secret.as_bytes()))
    }
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the admin token {}", path.display()))?;
    let secret = text.trim().to_owned();
    if secret.len() < 16 {
        bail!(
            "the admin token in {} is shorter than 16 characters; use a long random one",
            path.display()
        );
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "the admin token in {} must be printable ASCII without spaces",
            path.display()
        );
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_mode_0600_and_checks_bearer_values() {
        let dir = std::env::temp_dir().join(format!("routelet-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let token = AdminToken::load(None, &dir).unwrap();
        assert!(token.generated);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&token.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = AdminToken::load(None, &dir).unwrap();
        assert!(!again.generated);
        let header = format!("Bearer {}", token.secret);
        assert!(again.accepts(Some(header.as_bytes())));
        assert!(!again.accepts(Some(b"Bearer wrong")));
        assert!(!again.accepts(Some(token.secret.as_bytes())));
        assert!(!again.accepts(None));
        std::fs::write(dir.join("short"), "abc\n").unwrap();
        let error = AdminToken::load(Some(&dir.join("short")), &dir)
            .err()
            .unwrap();
        assert!(format!("{error:#}").contains("shorter than 16"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
