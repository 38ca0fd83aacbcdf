//! Where a redirect (or rewrite) goes: its destination with the source's and the conditions'
//! parameters put in, as Next.js's `prepareDestination` does. The path is compiled with
//! path-to-regexp (`:slug`, `:path*` repeating with its prefix); the host name, query values
//! and hash take `:name` anywhere; the request's query is kept, and the destination's own
//! query values win over it.

use super::source::{Captured, Captures, Key, Modifier, Token, parse};

/// A parsed destination, checked once when the config is read.
#[derive(Debug)]
pub struct Destination {
    /// `https://` and the like for an absolute destination.
    scheme: Option<String>,
    /// The host name (parameters allowed) and `:port`, for an absolute destination.
    host: Option<(String, String)>,
    path: Vec<Token>,
    query: Vec<(String, String)>,
    hash: String,
}

impl Destination {
    /// Parses a destination: a path starting with `/`, or an absolute `http(s)://` URL.
    pub fn new(text: &str) -> Result<Self, String> {
        let (rest, hash) = match text.split_once('#') {
            Some((rest, hash)) => (rest, format!("#{hash}")),
            None => (text, String::new()),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, query),
            None => (rest, ""),
        };
        let (scheme, host, path) = if rest.starts_with('/') {
            (None, None, rest)
        } else if let Some((scheme, after)) = rest.split_once("://")
            && (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        {
            let (authority, path) = match after.find('/') {
                Some(slash) => after.split_at(slash),
                None => (after, "/"),
            };
            let (name, port) = match authority.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
                    (name, format!(":{port}"))
                }
                _ => (authority, String::new()),
            };
            if name.is_empty() {
                return Err(format!("`destination` {text:?} has no host name"));
            }
            (
                Some(format!("{scheme}://")),
                Some((name.to_owned(), port)),
                path,
            )
        } else {
            return Err(format!(
                "`destination` {text:?} must start with / or be an absolute http(s) URL"
            ));
        };
        let path = parse(path)
            .map_err(|reason| format!("Error parsing `destination` {text:?}: {reason}"))?;
        let query = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Self {
            scheme,
            host,
            path,
            query,
            hash,
        })
    }

    /// The parameters its path and host name use, which the source or the conditions must
    /// provide.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .path
            .iter()
            .filter_map(|token| match token {
                Token::Key(Key {
                    name: Some(name), ..
                }) => Some(name.clone()),
                _ => None,
            })
            .collect();
        if let Some((host, _)) = &self.host
            && let Ok(tokens) = parse(host)
        {
            names.extend(tokens.into_iter().filter_map(|token| match token {
                Token::Key(Key {
                    name: Some(name), ..
                }) => Some(name),
                _ => None,
            }));
        }
        names
    }

    /// The location, with `captures` put in and the request's `query` (raw, after `?`) kept
    /// under the destination's own values.
    pub fn compile(&self, captures: &Captures, query: Option<&str>) -> Result<String, String> {
        self.compile_with(captures, query, false)
    }

    /// Whether this destination is on another origin.
    pub fn is_absolute(&self) -> bool {
        self.scheme.is_some()
    }

    /// [`Destination::compile`] for a rewrite: when its path and host use none of the
    /// parameters, they all go into the query as well (unless the destination's query names
    /// them), as Next.js passes them to the rewritten route.
    pub fn compile_rewrite(
        &self,
        captures: &Captures,
        query: Option<&str>,
    ) -> Result<String, String> {
        self.compile_with(captures, query, true)
    }

    fn compile_with(
        &self,
        captures: &Captures,
        query: Option<&str>,
        append_params: bool,
    ) -> Result<String, String> {
        let mut location = String::new();
        if let (Some(scheme), Some((host, port))) = (&self.scheme, &self.host) {
            location.push_str(scheme);
            location.push_str(&put_in(host, captures));
            location.push_str(port);
        }
        compile_path(&self.path, captures, &mut location)?;
        let mut own: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), put_in(v, captures)))
            .collect();
        let used = self.names();
        if append_params && !captures.keys().any(|name| used.contains(name)) {
            for (name, value) in captures {
                if self.query.iter().any(|(k, _)| k == name) {
                    continue;
                }
                match value {
                    Captured::One(value) => own.push((name.clone(), value.clone())),
                    Captured::Many(values) => {
                        own.extend(values.iter().map(|v| (name.clone(), v.clone())));
                    }
                }
            }
        }
        let mut merged = form_urlencoded::Serializer::new(String::new());
        let mut any = false;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !own.iter().any(|(k, _)| *k == key) {
                merged.append_pair(&key, &value);
                any = true;
            }
        }
        for (key, value) in &own {
            merged.append_pair(key, value);
            any = true;
        }
        if any {
            location.push('?');
            location.push_str(&merged.finish());
        }
        location.push_str(&put_in(&self.hash, captures));
        Ok(location)
    }
}

/// path-to-regexp's `compile` without validation, as Next.js calls it for destinations.
fn compile_path(tokens: &[Token], captures: &Captures, out: &mut String) -> Result<(), String> {
    for token in tokens {
        let key = match token {
            Token::Text(text) => {
                out.push_str(text);
                continue;
            }
            Token::Key(key) => key,
        };
        let name = key.name.clone().unwrap_or_else(|| "0".to_owned());
        let optional = matches!(key.modifier, Modifier::Optional | Modifier::Any);
        let repeats = matches!(key.modifier, Modifier::Any | Modifier::Some);
        match key.name.as_ref().and_then(|n| captures.get(n)) {
            Some(Captured::One(value)) => {
                out.push_str(&key.prefix);
                out.push_str(value);
                out.push_str(&key.suffix);
            }
            Some(Captured::Many(values)) => {
                if !repeats {
                    return Err(
                        "To use a multi-match in the destination you must add `*` at the end \
                         of the param name to signify it should repeat. \
                         https://nextjs.org/docs/messages/invalid-multi-match"
                            .to_owned(),
                    );
                }
                if values.is_empty() && !optional {
                    return Err(format!("Expected \"{name}\" to not be empty"));
                }
                for value in values {
                    out.push_str(&key.prefix);
                    out.push_str(value);
                    out.push_str(&key.suffix);
                }
            }
            None if optional => {}
            None => return Err(format!("Expected \"{name}\" to be a string")),
        }
    }
    Ok(())
}

/// `:name` (optionally followed by `*`, `+` or `?`) replaced by its value wherever a known
/// parameter is named, as Next.js's `compileNonPath` does for host names and query values.
pub fn put_in(text: &str, captures: &Captures) -> String {
    if !text.contains(':') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(colon) = rest.find(':') {
        out.push_str(&rest[..colon]);
        let after = &rest[colon + 1..];
        let length = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        match captures.get(&after[..length]) {
            Some(value) if length > 0 => {
                out.push_str(&value.joined());
                let mut tail = &after[length..];
                if let Some(stripped) = tail.strip_prefix(['*', '+', '?']) {
                    tail = stripped;
                }
                rest = tail;
            }
            _ => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(pairs: &[(&str, Captured)]) -> Captures {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn one(v: &str) -> Captured {
        Captured::One(v.into())
    }

    #[test]
    fn parameters_go_into_the_path_and_the_query_is_kept() {
        let to = Destination::new("/news/:slug").unwrap();
        let got = to
            .compile(&captures(&[("slug", one("hello"))]), Some("a=1&b=x%20y"))
            .unwrap();
        assert_eq!(got, "/news/hello?a=1&b=x+y");
        assert_eq!(to.names(), ["slug"]);
    }

    #[test]
    fn the_destinations_own_query_wins_and_takes_parameters() {
        let to = Destination::new("/search?q=:term&page=1").unwrap();
        let got = to
            .compile(&captures(&[("term", one("rust"))]), Some("page=9&x=1"))
            .unwrap();
        assert_eq!(got, "/search?x=1&q=rust&page=1");
    }

    #[test]
    fn repeating_parameters_keep_their_prefix() {
        let to = Destination::new("/docs/:path*").unwrap();
        let many = Captured::Many(vec!["a".into(), "b".into()]);
        assert_eq!(
            to.compile(&captures(&[("path", many.clone())]), None)
                .unwrap(),
            "/docs/a/b"
        );
        assert_eq!(to.compile(&Captures::new(), None).unwrap(), "/docs");
        let single = Destination::new("/docs/:path").unwrap();
        assert!(
            single
                .compile(&captures(&[("path", many)]), None)
                .unwrap_err()
                .contains("invalid-multi-match")
        );
        assert_eq!(
            single.compile(&Captures::new(), None).unwrap_err(),
            "Expected \"path\" to be a string"
        );
    }

    #[test]
    fn absolute_destinations_take_parameters_in_the_host_name() {
        let to = Destination::new("https://:region.example.com:8443/p/:id#top").unwrap();
        let got = to
            .compile(&captures(&[("region", one("eu")), ("id", one("7"))]), None)
            .unwrap();
        assert_eq!(got, "https://eu.example.com:8443/p/7#top");
        assert_eq!(to.names(), ["id", "region"]);
        assert!(Destination::new("ftp://x/y").is_err());
        assert!(Destination::new("elsewhere").is_err());
    }

    #[test]
    fn a_rewrite_passes_unused_parameters_in_the_query() {
        let to = Destination::new("/api/post").unwrap();
        let got = to
            .compile_rewrite(&captures(&[("slug", one("hi"))]), Some("a=1"))
            .unwrap();
        assert_eq!(got, "/api/post?a=1&slug=hi");
        // Once the path uses one of them, none is added (Next.js's all-or-nothing rule).
        let to = Destination::new("/api/post/:slug").unwrap();
        let got = to
            .compile_rewrite(&captures(&[("slug", one("hi")), ("x", one("1"))]), None)
            .unwrap();
        assert_eq!(got, "/api/post/hi");
    }

    #[test]
    fn put_in_leaves_unknown_names_alone() {
        let got = put_in(":a-:b:c*", &captures(&[("a", one("1")), ("c", one("3"))]));
        assert_eq!(got, "1-:b3");
    }
}
