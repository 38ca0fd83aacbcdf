//! What `has` and `missing` read from a request: its headers as Node joins them, its cookies as
//! the `cookie` package parses them (first one wins, percent-decoded) and its query as Node's
//! `querystring` does (the last value wins).

use http::HeaderMap;
use routelet_router::custom::RequestFacts;

/// A request's parts the conditions read.
pub struct Facts<'a> {
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// What followed `?`, raw.
    pub query: Option<&'a str>,
    /// The authority of the URI, which HTTP/2 sends instead of `Host`.
    pub authority: Option<&'a str>,
}

impl RequestFacts for Facts<'_> {
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(';'))
            .find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key.trim() == name).then(|| {
                    let value = value.trim();
                    let value = value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(value);
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .map(|v| v.into_owned())
                        .unwrap_or_else(|_| value.to_owned())
                })
            })
    }

    fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query?.as_bytes())
            .filter(|(key, _)| key == name)
            .last()
            .map(|(_, value)| value.into_owned())
    }

    fn host(&self) -> Option<String> {
        let host = self
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or(self.authority)?;
        let name = match host.strip_prefix('[') {
            // An IPv6 literal keeps its colons.
            Some(v6) => v6.split(']').next().map(|v| format!("[{v}]"))?,
            None => host.split(':').next()?.to_owned(),
        };
        Some(name.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_read_as_node_reads_them() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        headers.append("cookie", "team=red%20one; team=blue".parse().unwrap());
        headers.append("cookie", "q=\"quoted\"".parse().unwrap());
        headers.append("host", "Example.COM:8080".parse().unwrap());
        let facts = Facts {
            headers: &headers,
            query: Some("a=1&a=2&b=x+y"),
            authority: None,
        };
        assert_eq!(facts.header("x-a").as_deref(), Some("1, 2"));
        assert_eq!(facts.header("x-b"), None);
        assert_eq!(facts.cookie("team").as_deref(), Some("red one"));
        assert_eq!(facts.cookie("q").as_deref(), Some("quoted"));
        assert_eq!(facts.query("a").as_deref(), Some("2"));
        assert_eq!(facts.query("b").as_deref(), Some("x y"));
        assert_eq!(facts.host().as_deref(), Some("example.com"));
    }
}
