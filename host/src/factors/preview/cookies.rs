//! Preview Mode's cookie pair, as Next.js names them: `__prerender_bypass` proves the secret was
//! used, `__next_preview_data` carries the route's data, encrypted and authenticated.
//!
//! Both are derived from one secret (configured, or generated per build): the bypass value is an
//! HMAC of it, and the data is sealed with AES-256-GCM under a key derived from it, with the
//! bypass value as associated data so the two cookies only count as a pair.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Next.js's cookie that says "this browser is in Preview Mode".
pub const BYPASS_COOKIE: &str = "__prerender_bypass";
/// Next.js's cookie that carries the preview data.
pub const DATA_COOKIE: &str = "__next_preview_data";
/// The most a sealed preview data cookie may hold, as in Next.js.
pub const PREVIEW_DATA_LIMIT: usize = 2048;

const NONCE_LEN: usize = 12;

/// Keys derived from the preview secret.
pub struct PreviewKeys {
    bypass: String,
    cipher: Aes256Gcm,
    /// How this app's preview cookies are sent.
    style: CookieStyle,
}

/// What a request's cookies say about Preview Mode.
#[derive(Debug, PartialEq)]
pub enum PreviewState {
    /// Neither cookie: a normal request.
    Off,
    /// A valid pair, with the data the API route set.
    On(String),
    /// One cookie without the other, a forged value or expired data: ignored, and cleared.
    Invalid,
}

impl PreviewKeys {
    /// How this app's preview cookies are sent.
    pub fn style(&self) -> CookieStyle {
        self.style
    }

    /// Derives the keys; the same secret always gives the same keys, so hosts can share it.
    pub fn from_secret(secret: &[u8]) -> Self {
        let derive = |label: &[u8]| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
            mac.update(label);
            mac.finalize().into_bytes()
        };
        let bypass = hex::encode(&derive(b"routelet preview bypass v1")[..16]);
        let key = derive(b"routelet preview data key v1");
        Self {
            bypass,
            cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key"),
            style: CookieStyle::default(),
        }
    }

    /// The same keys, their cookies sent in `style`.
    pub fn with_style(self, style: CookieStyle) -> Self {
        Self { style, ..self }
    }

    /// The bypass cookie's value and the sealed data cookie's value for `data`.
    pub fn seal(&self, data: &str, max_age: Option<u32>) -> (String, String) {
        let expires = max_age.map(|age| unix_now() + u64::from(age));
        let plain = serde_json::json!({ "data": data, "expires": expires }).to_string();
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the system's random source");
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: self.bypass.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short message");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        (self.bypass.clone(), URL_SAFE_NO_PAD.encode(out))
    }

    /// Checks a request's `Cookie` header values for a valid pair.
    pub fn check<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> PreviewState {
        let (mut bypass, mut data) = (None, None);
        for header in cookie_headers {
            for pair in header.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                match name.trim() {
                    BYPASS_COOKIE => bypass = Some(value.trim()),
                    DATA_COOKIE => data = Some(value.trim()),
                    _ => {}
                }
            }
        }
        match (bypass, data) {
            (None, None) => PreviewState::Off,
            (Some(bypass), Some(data)) => match self.open(bypass, data) {
                Some(data) => PreviewState::On(data),
                None => PreviewState::Invalid,
            },
            _ => PreviewState::Invalid,
        }
    }

    fn open(&self, bypass: &str, data: &str) -> Option<String> {
        if !constant_time_eq(bypass.as_bytes(), self.bypass.as_bytes()) {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(data).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: self.bypass.as_bytes(),
                },
            )
            .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&plain).ok()?;
        if let Some(expires) = value.get("expires").and_then(|e| e.as_u64())
            && expires <= unix_now()
        {
            return None;
        }
        value.get("data")?.as_str().map(str::to_owned)
    }
}

/// How the preview cookies are sent: as Next.js sends them in production, or as `next dev`
/// does, so Preview Mode works over plain HTTP on a developer's machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CookieStyle {
    /// `Secure; SameSite=None`.
    #[default]
    Production,
    /// `SameSite=Lax`, without `Secure` (`routelet dev`).
    Dev,
}

impl CookieStyle {
    fn attributes(self) -> &'static str {
        match self {
            CookieStyle::Production => "Path=/; HttpOnly; Secure; SameSite=None",
            CookieStyle::Dev => "Path=/; HttpOnly; SameSite=Lax",
        }
    }

    /// The `Set-Cookie` values that enter Preview Mode.
    pub fn enter_cookies(self, bypass: &str, data: &str, max_age: Option<u32>) -> [String; 2] {
        let age = max_age
            .map(|age| format!("; Max-Age={age}"))
            .unwrap_or_default();
        let attributes = self.attributes();
        [
            format!("{BYPASS_COOKIE}={bypass}; {attributes}{age}"),
            format!("{DATA_COOKIE}={data}; {attributes}{age}"),
        ]
    }

    /// The `Set-Cookie` values that leave Preview Mode (or clear a broken pair).
    pub fn exit_cookies(self) -> [String; 2] {
        // Next.js expires them with a date in 1970 and no Max-Age.
        let expired = "Expires=Thu, 01 Jan 1970 00:00:00 GMT";
        let attributes = self.attributes();
        [
            format!("{BYPASS_COOKIE}=; {attributes}; {expired}"),
            format!("{DATA_COOKIE}=; {attributes}; {expired}"),
        ]
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bypass: &str, data: &str) -> String {
        format!("theme=dark; {BYPASS_COOKIE}={bypass}; {DATA_COOKIE}={data}")
    }

    #[test]
    fn a_sealed_pair_opens_to_its_data() {
        let keys = PreviewKeys::from_secret(b"s");
        let (bypass, data) = keys.seal(r#"{"slug":"x"}"#, None);
        assert_eq!(
            keys.check([header(&bypass, &data).as_str()]),
            PreviewState::On(r#"{"slug":"x"}"#.to_owned())
        );
    }

    #[test]
    fn no_cookies_is_off_and_half_a_pair_is_invalid() {
        let keys = PreviewKeys::from_secret(b"s");
        let (bypass, data) = keys.seal("1", None);
        assert_eq!(keys.check(["theme=dark"]), PreviewState::Off);
        assert_eq!(keys.check([]), PreviewState::Off);
        let only_bypass = format!("{BYPASS_COOKIE}={bypass}");
        assert_eq!(keys.check([only_bypass.as_str()]), PreviewState::Invalid);
        let only_data = format!("{DATA_COOKIE}={data}");
        assert_eq!(keys.check([only_data.as_str()]), PreviewState::Invalid);
    }

    #[test]
    fn tampering_or_another_secret_is_invalid() {
        let keys = PreviewKeys::from_secret(b"s");
        let (bypass, data) = keys.seal("1", None);
        let mut flipped = data.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            keys.check([header(&bypass, &flipped).as_str()]),
            PreviewState::Invalid
        );
        assert_eq!(
            keys.check([header("00", &data).as_str()]),
            PreviewState::Invalid
        );
        let other = PreviewKeys::from_secret(b"t");
        assert_eq!(
            other.check([header(&bypass, &data).as_str()]),
            PreviewState::Invalid
        );
        assert_eq!(
            keys.check([header(&bypass, "%%%").as_str()]),
            PreviewState::Invalid
        );
    }

    #[test]
    fn expired_data_is_invalid() {
        let keys = PreviewKeys::from_secret(b"s");
        let (bypass, data) = keys.seal("1", Some(0));
        assert_eq!(
            keys.check([header(&bypass, &data).as_str()]),
            PreviewState::Invalid
        );
    }

    #[test]
    fn cookie_attributes_follow_nextjs() {
        let [bypass, data] = CookieStyle::Production.enter_cookies("b", "d", Some(60));
        assert_eq!(
            bypass,
            "__prerender_bypass=b; Path=/; HttpOnly; Secure; SameSite=None; Max-Age=60"
        );
        assert!(data.starts_with("__next_preview_data=d; Path=/; HttpOnly"));
        assert!(
            CookieStyle::Production
                .exit_cookies()
                .iter()
                .all(|c| c.contains("Expires=Thu, 01 Jan 1970"))
        );
        // `next dev` sends them without Secure, SameSite=Lax.
        let [bypass, _] = CookieStyle::Dev.enter_cookies("b", "d", None);
        assert_eq!(
            bypass,
            "__prerender_bypass=b; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(!CookieStyle::Dev.exit_cookies()[1].contains("Secure"));
    }
}
