//! Request ids: the client's `x-request-id` when it is sane, else one made here, unique within
//! this process and unlikely to repeat across restarts.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The id of a request with these headers.
pub fn of(headers: &http::HeaderMap) -> Arc<str> {
    static IDS: LazyLock<RequestIds> = LazyLock::new(RequestIds::new);
    match client_request_id(headers) {
        Some(id) => id.into(),
        None => IDS.next().into(),
    }
}

/// The client's `x-request-id` when it is sane: 1 to 128 visible ASCII characters, no spaces.
fn client_request_id(headers: &http::HeaderMap) -> Option<&str> {
    let id = headers.get("x-request-id")?.to_str().ok()?;
    let sane = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b));
    sane.then_some(id)
}

struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or_default();
        Self {
            prefix: nanos ^ std::process::id(),
            counter: AtomicU64::new(1),
        }
    }

    fn next(&self) -> String {
        format!(
            "{:08x}-{:06x}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_client_ids_and_makes_the_rest() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-request-id", "trace-1".parse().unwrap());
        assert_eq!(&*of(&headers), "trace-1");
        headers.insert("x-request-id", "has space".parse().unwrap());
        let made = of(&headers);
        assert_ne!(&*made, "has space");
        assert_ne!(of(&headers), made, "made ids do not repeat");
    }
}
