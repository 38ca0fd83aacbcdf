//! `DIST/public/`, served at the site root: content types, ETag and If-None-Match, and no path
//! traversal, because only files found at start-up can ever be served.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use http::{HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;

use crate::dist::{sha256_file, slash_path};
use crate::response::{self as responses, Body};

/// One servable file.
#[derive(Debug)]
pub struct PublicFile {
    path: PathBuf,
    content_type: HeaderValue,
    etag: HeaderValue,
}

/// Every file under the public folder, keyed by its URL path (`/logo.svg`).
#[derive(Debug, Default)]
pub struct PublicFiles {
    files: HashMap<String, PublicFile>,
}

impl PublicFiles {
    /// Finds every regular file below `dir` (links are not followed); a missing folder is empty.
    pub fn scan(dir: &Path) -> anyhow::Result<Self> {
        let mut files = HashMap::new();
        if !dir.is_dir() {
            return Ok(Self { files });
        }
        for entry in walkdir::WalkDir::new(dir) {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = entry.path().strip_prefix(dir).expect("walked below dir");
            let url = format!("/{}", slash_path(relative)?);
            let digest = sha256_file(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            let etag = format!("\"{}\"", &hex::encode(digest)[..32]);
            let mime = mime_guess::from_path(entry.path()).first_or_octet_stream();
            let content_type = match mime.type_() {
                mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
                _ if mime.subtype() == mime_guess::mime::JAVASCRIPT
                    || mime.subtype() == mime_guess::mime::JSON =>
                {
                    format!("{mime}; charset=utf-8")
                }
                _ => mime.to_string(),
            };
            files.insert(
                url,
                PublicFile {
                    path: entry.path().to_path_buf(),
                    content_type: HeaderValue::from_str(&content_type)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    etag: HeaderValue::from_str(&etag).expect("hex is a valid header"),
                },
            );
        }
        Ok(Self { files })
    }

    /// The file at a (percent-encoded) request path, if there is one.
    pub fn get(&self, encoded_path: &str) -> Option<&PublicFile> {
        let decoded = percent_decode_str(encoded_path).decode_utf8().ok()?;
        self.files.get(decoded.as_ref())
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PublicFile {
    /// Answers GET and HEAD (with 304 for a matching If-None-Match); other methods get 405.
    pub async fn respond(
        &self,
        method: &Method,
        headers: &http::HeaderMap,
    ) -> hyper::Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            return responses::get_or_head_only();
        }
        if etag_matches(headers, &self.etag) {
            let mut response = hyper::Response::new(responses::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
                .headers_mut()
                .insert(header::ETAG, self.etag.clone());
            return response;
        }
        let opened = match tokio::fs::File::open(&self.path).await {
            Ok(file) => file.metadata().await.map(|meta| (file, meta.len())),
            Err(error) => Err(error),
        };
        let (file, length) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                tracing::error!(file = %self.path.display(), "reading a public file failed: {error}");
                return responses::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        let body = if method == Method::HEAD {
            responses::empty()
        } else {
            responses::file(file)
        };
        let mut response = hyper::Response::new(body);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        response
    }
}

/// If-None-Match: a list of tags or `*`; weak tags compare equal to strong ones (RFC 9110 13.1.2).
fn etag_matches(headers: &http::HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
        value
            .to_str()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mut headers = http::HeaderMap::new();
        assert!(!etag_matches(&headers, &etag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(etag_matches(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\""));
        assert!(!etag_matches(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(etag_matches(&headers, &etag));
    }

    #[test]
    fn serves_only_files_found_at_start() {
        let dir = std::env::temp_dir().join(format!("routelet-public-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("img")).unwrap();
        std::fs::write(dir.join("img/a b.svg"), "<svg/>").unwrap();
        let files = PublicFiles::scan(&dir).unwrap();
        assert!(files.get("/img/a%20b.svg").is_some());
        assert!(files.get("/img/../img/a%20b.svg").is_none());
        assert!(files.get("/%2e%2e/etc/passwd").is_none());
        assert_eq!(files.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
