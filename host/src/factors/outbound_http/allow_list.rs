//! `allowed_outbound_hosts`: the schemes, hosts and ports one route may call.
//!
//! ```toml
//! [routes."/api/weather"]
//! allowed_outbound_hosts = [
//!     "https://api.weather.example",   # port 443 only: a missing port is the scheme's default
//!     "https://*.example.com:8443",    # any subdomain (not example.com itself), one port
//!     "*://cdn.example.net:*",         # http or https, any port
//!     "http://127.0.0.1:8080",         # an IP address, even a private one, when written out
//!     "http://10.0.0.0/8:80",          # or a network of them
//! ]
//! ```
//!
//! A host written as a name only ever reaches public addresses, whatever its DNS answers.

use std::fmt;
use std::net::IpAddr;

use http::Uri;

use super::address::{Network, is_public};

/// A route's entries; empty denies everything.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    written: String,
    scheme: Option<Scheme>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    /// `*`: any name and any public address.
    Any,
    /// `api.example.com`, lower-cased.
    Name(String),
    /// `*.example.com`, stored as `.example.com`.
    Subdomains(String),
    /// `127.0.0.1`, `[::1]`, `10.0.0.0/8`: these addresses even when they are private.
    Addresses(Network),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PortPattern {
    /// None written: the scheme's default port.
    Default,
    Any,
    Range(u16, u16),
}

/// `http` or `https`, the only schemes outbound requests may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

/// Where an outgoing request goes, taken from its URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
}

/// A request's host: a name to resolve, or an address written in the URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Target {
    /// The target of a request URL, or why it has none.
    pub fn of(uri: &Uri) -> Result<Self, String> {
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| format!("{uri} has no scheme"))?;
        let scheme = Scheme::parse(scheme)
            .ok_or_else(|| format!("{uri}: only http and https requests can be sent"))?;
        let host = uri.host().ok_or_else(|| format!("{uri} has no host"))?;
        // `example.com.` is `example.com`, and `127.0.0.1.` is still an address.
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.');
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            // `1.2.3` would resolve as 1.2.0.3: a name that is not one is refused.
            Err(_) if bare.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                return Err(format!("{uri}: {host} is not a valid IP address"));
            }
            Err(_) if !is_host_name(bare) => {
                return Err(format!("{uri}: {host} is not a host name"));
            }
            Err(_) => Host::Name(bare.to_ascii_lowercase()),
        };
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        if port == 0 {
            return Err(format!("{uri}: port 0 cannot be connected to"));
        }
        Ok(Target { scheme, host, port })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Name(name) => write!(f, "{}://{name}:{}", self.scheme, self.port),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "{}://[{ip}]:{}", self.scheme, self.port),
            Host::Ip(ip) => write!(f, "{}://{ip}:{}", self.scheme, self.port),
        }
    }
}

/// What the allow-list says about one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No entry matches: `HTTP-request-denied`.
    Denied,
    /// An entry matches, but the URL's address is private and no entry writes it out:
    /// `destination-IP-prohibited`.
    Prohibited,
    /// Send it.
    Allowed,
}

impl AllowList {
    /// Parses the entries as written in `routelet.toml`; an error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let entries = entries
            .iter()
            .map(|text| Entry::parse(text).map_err(|why| format!("{text:?}: {why}")))
            .collect::<Result<_, _>>()?;
        Ok(AllowList { entries })
    }

    /// Whether no request at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries as written, for log lines.
    pub fn written(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.written.as_str()).collect()
    }

    /// Judges one request's target.
    pub fn check(&self, target: &Target) -> Verdict {
        let mut matched = false;
        for entry in &self.entries {
            if !entry.matches_scheme_and_port(target) {
                continue;
            }
            match (&entry.host, &target.host) {
                (HostPattern::Addresses(net), Host::Ip(ip)) if net.contains(*ip) => {
                    return Verdict::Allowed;
                }
                (HostPattern::Any, _) => matched = true,
                (HostPattern::Name(name), Host::Name(host)) if name == host => matched = true,
                (HostPattern::Subdomains(suffix), Host::Name(host))
                    if host.len() > suffix.len() && host.ends_with(suffix.as_str()) =>
                {
                    matched = true
                }
                _ => {}
            }
        }
        match (&target.host, matched) {
            (_, false) => Verdict::Denied,
            (Host::Ip(ip), true) if !is_public(*ip) => Verdict::Prohibited,
            _ => Verdict::Allowed,
        }
    }
}

impl Entry {
    fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("write the scheme too, as in \"https://api.example.com\"")?;
        let scheme = match scheme {
            "*" => None,
            other => Some(
                Scheme::parse(other)
                    .ok_or_else(|| format!("the scheme {other:?} is not http, https or *"))?,
            ),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['?', '#', '@']) {
            return Err("an entry is scheme://host[:port], with no query or user".into());
        }
        let (host, port) = split_host_port(rest)?;
        let host = HostPattern::parse(host)?;
        let port = match port {
            None => PortPattern::Default,
            Some("*") => PortPattern::Any,
            Some(port) if port.contains('/') => {
                return Err("an entry is scheme://host[:port], with no path".into());
            }
            Some(port) => {
                let (low, high) = port.split_once('-').unwrap_or((port, port));
                let parse = |p: &str| {
                    p.parse::<u16>()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or_else(|| format!("the port {port:?} is not 1 to 65535, a range or *"))
                };
                let (low, high) = (parse(low)?, parse(high)?);
                if low > high {
                    return Err(format!("the port range {port:?} is empty"));
                }
                PortPattern::Range(low, high)
            }
        };
        if scheme.is_none() && port == PortPattern::Default {
            return Err("with the scheme *, write the port too (\":443\", or \":*\")".into());
        }
        Ok(Entry {
            written: text.to_owned(),
            scheme,
            host,
            port,
        })
    }

    fn matches_scheme_and_port(&self, target: &Target) -> bool {
        if self.scheme.is_some_and(|s| s != target.scheme) {
            return false;
        }
        match self.port {
            PortPattern::Default => target.port == target.scheme.default_port(),
            PortPattern::Any => true,
            PortPattern::Range(low, high) => (low..=high).contains(&target.port),
        }
    }
}

/// `host:port`, `[v6]:port`, `10.0.0.0/8:80` → host and optional port.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(after_bracket) = text.strip_prefix('[') {
        let close = after_bracket
            .find(']')
            .ok_or("an IPv6 address is written in brackets, as in \"http://[::1]:8080\"")?;
        let host = &text[..close + 2];
        // `[fd00::]/8` keeps its prefix with the host.
        let rest = &text[close + 2..];
        let (prefix, port) = match rest.split_once(':') {
            Some((prefix, port)) => (prefix, Some(port)),
            None => (rest, None),
        };
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(format!("unexpected {rest:?} after the IPv6 address"));
        }
        let host = &text[..host.len() + prefix.len()];
        return Ok((host, port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

impl HostPattern {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(HostPattern::Any);
        }
        let looks_like_address = text.starts_with('[')
            || text.contains('/')
            || text.chars().all(|c| c.is_ascii_digit() || c == '.');
        if looks_like_address {
            return text.parse().map(HostPattern::Addresses).map_err(|why| {
                if text.contains('/')
                    && !text.starts_with('[')
                    && text.contains(char::is_alphabetic)
                {
                    "an entry is scheme://host[:port], with no path".to_owned()
                } else {
                    why
                }
            });
        }
        let (subdomains, name) = match text.strip_prefix("*.") {
            Some(name) => (true, name),
            None => (false, text),
        };
        if !is_host_name(name) {
            return Err(if name.contains('*') {
                "a wildcard is only `*` or a leading `*.`, as in \"https://*.example.com\"".into()
            } else {
                format!("{name:?} is not a host name")
            });
        }
        let name = name.to_ascii_lowercase();
        Ok(if subdomains {
            HostPattern::Subdomains(format!(".{name}"))
        } else {
            HostPattern::Name(name)
        })
    }
}

/// Whether `name` is a host name: dot-separated labels of letters, digits, `-` and `_`.
fn is_host_name(name: &str) -> bool {
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    !name.is_empty() && name.split('.').all(valid_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn check(list: &AllowList, url: &str) -> Verdict {
        list.check(&Target::of(&url.parse().unwrap()).unwrap())
    }

    #[test]
    fn a_missing_port_is_the_schemes_default() {
        let allow = list(&["https://api.example.com"]);
        assert_eq!(check(&allow, "https://api.example.com/x"), Verdict::Allowed);
        assert_eq!(
            check(&allow, "https://API.Example.com:443/"),
            Verdict::Allowed
        );
        assert_eq!(
            check(&allow, "https://api.example.com:8443/"),
            Verdict::Denied
        );
        assert_eq!(check(&allow, "http://api.example.com/"), Verdict::Denied);
        assert_eq!(check(&allow, "https://other.example.com/"), Verdict::Denied);
    }

    #[test]
    fn wildcards_for_subdomains_schemes_and_ports() {
        let allow = list(&[
            "https://*.example.com",
            "*://cdn.example.net:*",
            "http://a.test:8000-8009",
        ]);
        assert_eq!(check(&allow, "https://a.example.com/"), Verdict::Allowed);
        assert_eq!(check(&allow, "https://a.b.example.com/"), Verdict::Allowed);
        assert_eq!(check(&allow, "https://example.com/"), Verdict::Denied);
        assert_eq!(check(&allow, "https://badexample.com/"), Verdict::Denied);
        assert_eq!(check(&allow, "http://cdn.example.net:9/"), Verdict::Allowed);
        assert_eq!(check(&allow, "https://cdn.example.net/"), Verdict::Allowed);
        assert_eq!(check(&allow, "http://a.test:8005/"), Verdict::Allowed);
        assert_eq!(check(&allow, "http://a.test:8010/"), Verdict::Denied);
    }

    #[test]
    fn private_addresses_need_to_be_written_out() {
        let allow = list(&["http://*:*"]);
        assert_eq!(check(&allow, "http://1.1.1.1/"), Verdict::Allowed);
        assert_eq!(check(&allow, "http://127.0.0.1:8080/"), Verdict::Prohibited);
        assert_eq!(check(&allow, "http://[::1]:8080/"), Verdict::Prohibited);
        assert_eq!(
            check(&allow, "http://169.254.169.254/"),
            Verdict::Prohibited
        );

        let allow = list(&[
            "http://127.0.0.1:8080",
            "http://[::1]:*",
            "http://10.0.0.0/8:80",
        ]);
        assert_eq!(check(&allow, "http://127.0.0.1:8080/"), Verdict::Allowed);
        assert_eq!(check(&allow, "http://127.0.0.1:8081/"), Verdict::Denied);
        assert_eq!(check(&allow, "http://127.0.0.2:8080/"), Verdict::Denied);
        assert_eq!(check(&allow, "http://[::1]:3000/"), Verdict::Allowed);
        assert_eq!(check(&allow, "http://10.9.8.7/"), Verdict::Allowed);
        assert_eq!(check(&allow, "http://localhost:8080/"), Verdict::Denied);
    }

    #[test]
    fn an_empty_list_denies_everything() {
        let allow = AllowList::default();
        assert!(allow.is_empty());
        assert_eq!(check(&allow, "https://example.com/"), Verdict::Denied);
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, expected) in [
            ("api.example.com", "write the scheme"),
            ("ftp://example.com", "not http, https or *"),
            ("https://example.com/path", "no path"),
            ("https://example.com:8080/path", "no path"),
            ("https://api.*.com", "leading `*.`"),
            ("https://example.com:0", "not 1 to 65535"),
            ("https://example.com:99999", "not 1 to 65535"),
            ("https://example.com:90-80", "empty"),
            ("*://example.com", "write the port"),
            ("http://10.0.0.0/40", "prefix length"),
            ("http://[::1", "brackets"),
            ("https://user@example.com", "no query or user"),
            ("https://exa mple.com", "not a host name"),
        ] {
            let error = AllowList::parse(&[entry.to_owned()]).unwrap_err();
            assert!(error.contains(expected), "{entry}: {error}");
            assert!(error.contains(entry), "{entry}: {error}");
        }
    }

    #[test]
    fn targets_come_from_request_urls() {
        let target = Target::of(&"https://Example.COM./a?b".parse().unwrap()).unwrap();
        assert_eq!(target.host, Host::Name("example.com".into()));
        assert_eq!(target.port, 443);
        assert_eq!(target.to_string(), "https://example.com:443");
        let target = Target::of(&"http://[::1]:81/".parse().unwrap()).unwrap();
        assert_eq!(target.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(target.to_string(), "http://[::1]:81");
        let target = Target::of(&"http://127.0.0.1./".parse().unwrap()).unwrap();
        assert_eq!(target.host, Host::Ip("127.0.0.1".parse().unwrap()));
        assert!(Target::of(&"ftp://example.com/".parse().unwrap()).is_err());
        assert!(Target::of(&"http://1.2.3/".parse().unwrap()).is_err());
        assert!(Target::of(&"http://127.0.0.1:0/".parse().unwrap()).is_err());
        assert!(Target::of(&"http://a!b/".parse().unwrap()).is_err());
        assert!(Target::of(&"/relative".parse().unwrap()).is_err());
    }
}
