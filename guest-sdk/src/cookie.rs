//! Cookies: reading the `Cookie` header like Next.js's `req.cookies`, and building `Set-Cookie`.

use std::collections::BTreeMap;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::query::decode_uri_component;

/// What `encodeURIComponent` leaves alone, which is how the `cookie` package encodes values.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Parses `Cookie` header text the way the `cookie` npm package does for `req.cookies`.
///
/// Pairs split on `;`, name from value on the first `=`, both trimmed; a pair without `=` is
/// skipped; the first of two same-named cookies wins; surrounding double quotes are dropped; a
/// value is percent-decoded, and kept as sent if that fails.
pub(crate) fn parse_cookie_header(header: &str, into: &mut BTreeMap<String, String>) {
    for pair in header.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || into.contains_key(name) {
            continue;
        }
        let mut value = value.trim();
        if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            value = &value[1..value.len() - 1];
        }
        let value = if value.contains('%') {
            decode_uri_component(value).unwrap_or_else(|| value.to_owned())
        } else {
            value.to_owned()
        };
        into.insert(name.to_owned(), value);
    }
}

/// The `SameSite` attribute of a cookie: whether the browser sends it on cross-site requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Only on same-site requests.
    Strict,
    /// On same-site requests and top-level cross-site navigations (the browsers' default).
    Lax,
    /// On every request; browsers require [`Cookie::secure`] with it.
    None,
}

/// A cookie to send with [`Response::set_cookie`](crate::Response::set_cookie).
///
/// The value is percent-encoded like `encodeURIComponent` (what the `cookie` package does), so
/// any text round-trips through [`Request::cookie`](crate::Request::cookie). Nothing is set
/// unless asked for: no `Path` means the browser scopes the cookie to the current path, which is
/// rarely what an API wants, so most cookies want `.path("/")`.
///
/// # Example
///
/// ```
/// use routelet_sdk::{Cookie, Response, SameSite};
///
/// let res = Response::redirect("/dashboard").set_cookie(
///     Cookie::new("session", "abc 123")
///         .http_only(true)
///         .secure(true)
///         .same_site(SameSite::Lax)
///         .path("/")
///         .max_age(60 * 60 * 24),
/// );
/// assert_eq!(
///     res.header_value("set-cookie"),
///     Some("session=abc%20123; Max-Age=86400; Path=/; HttpOnly; Secure; SameSite=Lax")
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    max_age: Option<i64>,
    expires: Option<u64>,
    domain: Option<String>,
    path: Option<String>,
    http_only: bool,
    secure: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A session cookie named `name` holding `value`.
    ///
    /// The name is sent as given, so keep it to letters, digits and `-_.`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Cookie {
            name: name.into(),
            value: value.into(),
            max_age: None,
            expires: None,
            domain: None,
            path: None,
            http_only: false,
            secure: false,
            same_site: None,
        }
    }

    /// A cookie that tells the browser to delete `name` now: empty, `Max-Age=0` and an
    /// `Expires` in 1970. Give it the same `path` and `domain` the cookie was set with.
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Cookie;
    /// assert_eq!(
    ///     Cookie::expired("session").path("/").to_string(),
    ///     "session=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    /// );
    /// ```
    pub fn expired(name: impl Into<String>) -> Self {
        Cookie::new(name, "").max_age(0).expires(0)
    }

    /// Lifetime in seconds from now (`Max-Age`); 0 or less deletes the cookie.
    pub fn max_age(mut self, seconds: i64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Expiry as a Unix time in seconds (`Expires`), for clients that ignore `Max-Age`.
    pub fn expires(mut self, unix_seconds: u64) -> Self {
        self.expires = Some(unix_seconds);
        self
    }

    /// The hosts that receive the cookie (`Domain`); without it, only the host that set it.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The path prefix the cookie is sent for (`Path`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Hides the cookie from page scripts (`HttpOnly`): what a session cookie wants.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// Sends the cookie over HTTPS only (`Secure`).
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// Whether cross-site requests carry the cookie (`SameSite`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value, not yet encoded.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The `Set-Cookie` header value, attributes in the order the `cookie` package writes them.
impl fmt::Display for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}",
            self.name,
            utf8_percent_encode(&self.value, URI_COMPONENT)
        )?;
        if let Some(max_age) = self.max_age {
            write!(f, "; Max-Age={max_age}")?;
        }
        if let Some(domain) = &self.domain {
            write!(f, "; Domain={domain}")?;
        }
        if let Some(path) = &self.path {
            write!(f, "; Path={path}")?;
        }
        if let Some(expires) = self.expires {
            write!(f, "; Expires={}", HttpDate(expires))?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        match self.same_site {
            Some(SameSite::Strict) => f.write_str("; SameSite=Strict")?,
            Some(SameSite::Lax) => f.write_str("; SameSite=Lax")?,
            Some(SameSite::None) => f.write_str("; SameSite=None")?,
            None => {}
        }
        Ok(())
    }
}

/// A Unix time written as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
struct HttpDate(u64);

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let days = self.0 / 86_400;
        let secs = self.0 % 86_400;
        // Howard Hinnant's civil_from_days, for days since 1970-01-01.
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
            DAYS[(days % 7) as usize],
            day,
            MONTHS[(month - 1) as usize],
            year,
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        parse_cookie_header(header, &mut map);
        map
    }

    #[test]
    fn parses_like_the_cookie_package() {
        let c =
            parse(r#"a=1; b = two words ; a=ignored; c="quoted"; d=%E2%9C%93; e=%zz; junk; f=x=y"#);
        assert_eq!(c["a"], "1");
        assert_eq!(c["b"], "two words");
        assert_eq!(c["c"], "quoted");
        assert_eq!(c["d"], "✓");
        assert_eq!(c["e"], "%zz");
        assert_eq!(c["f"], "x=y");
        assert!(!c.contains_key("junk"));
        assert_eq!(c.len(), 6);
    }

    #[test]
    fn serializes_attributes() {
        let all = Cookie::new("id", "a;b é")
            .max_age(10)
            .domain("example.com")
            .path("/")
            .expires(784_111_777)
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict);
        assert_eq!(
            all.to_string(),
            "id=a%3Bb%20%C3%A9; Max-Age=10; Domain=example.com; Path=/; \
             Expires=Sun, 06 Nov 1994 08:49:37 GMT; HttpOnly; Secure; SameSite=Strict"
        );
        assert_eq!(
            Cookie::new("plain", "v-1_2.3!~*'()").to_string(),
            "plain=v-1_2.3!~*'()"
        );
        assert_eq!(
            Cookie::new("n", "v").same_site(SameSite::None).to_string(),
            "n=v; SameSite=None"
        );
    }

    #[test]
    fn http_dates() {
        assert_eq!(HttpDate(0).to_string(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            HttpDate(951_782_400).to_string(),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate(4_102_444_799).to_string(),
            "Thu, 31 Dec 2099 23:59:59 GMT"
        );
    }
}
