//! `has` and `missing`: conditions on a request's headers, cookies, query and host that an
//! entry needs to match, with Next.js's rules (`matchHas` in `prepare-destination.ts`): a
//! condition without `value` needs a non-empty value and captures it under the key's letters;
//! a `value` is a regular expression matched against the whole value, whose named groups (and,
//! for `host`, the whole host) become parameters.

use super::source::{Captured, Captures};

/// What the conditions read from a request.
pub trait RequestFacts {
    /// A header's values joined with `, ` (the name is lower case), as Node presents them.
    fn header(&self, name: &str) -> Option<String>;
    /// The first cookie of that name, decoded.
    fn cookie(&self, name: &str) -> Option<String>;
    /// The last query value of that name, decoded.
    fn query(&self, name: &str) -> Option<String>;
    /// The `Host` header without its port, lower case.
    fn host(&self) -> Option<String>;
}

/// Where a condition looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
    /// A query parameter.
    Query,
    /// The host name.
    Host,
}

/// One `has` or `missing` item.
#[derive(Debug)]
pub struct Condition {
    kind: Kind,
    key: String,
    value: Option<fancy_regex::Regex>,
}

impl Condition {
    /// A condition as written; the error says what is wrong, in Next.js's words.
    pub fn new(kind: &str, key: Option<&str>, value: Option<&str>) -> Result<Self, String> {
        let kind = match kind {
            "header" => Kind::Header,
            "cookie" => Kind::Cookie,
            "query" => Kind::Query,
            "host" => Kind::Host,
            _ => {
                return Err(format!(
                    "invalid type \"{kind}\" (`type` must be one of header, cookie, host, query)"
                ));
            }
        };
        let key = match (kind, key) {
            (Kind::Host, _) => String::new(),
            (_, Some(key)) if !key.is_empty() => key.to_owned(),
            _ => return Err("invalid key \"undefined\"".to_owned()),
        };
        if kind == Kind::Host && value.is_none() {
            return Err("value is required for \"host\" type".to_owned());
        }
        let value = value
            .map(|value| {
                fancy_regex::Regex::new(&format!("^{value}$"))
                    .map_err(|e| format!("invalid value \"{value}\": {e}"))
            })
            .transpose()?;
        Ok(Self { kind, key, value })
    }

    /// The parameter names this condition can capture, for checking destinations.
    pub fn names(&self) -> Vec<String> {
        match &self.value {
            None => vec![safe_name(&self.key)],
            Some(regex) => {
                let mut names: Vec<String> =
                    regex.capture_names().flatten().map(str::to_owned).collect();
                if self.kind == Kind::Host {
                    names.push("host".to_owned());
                }
                names
            }
        }
    }

    fn check(&self, request: &dyn RequestFacts, captures: &mut Captures) -> bool {
        let value = match self.kind {
            Kind::Header => request.header(&self.key.to_ascii_lowercase()),
            Kind::Cookie => request.cookie(&self.key),
            Kind::Query => request.query(&self.key),
            Kind::Host => request.host(),
        };
        // An empty value is no value, as in JavaScript.
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return false;
        };
        let Some(regex) = &self.value else {
            captures.insert(safe_name(&self.key), Captured::One(value));
            return true;
        };
        let Ok(Some(found)) = regex.captures(&value) else {
            return false;
        };
        let mut named = false;
        for name in regex.capture_names().flatten() {
            named = true;
            if let Some(group) = found.name(name) {
                captures.insert(name.to_owned(), Captured::One(group.as_str().to_owned()));
            }
        }
        if !named && self.kind == Kind::Host {
            captures.insert("host".to_owned(), Captured::One(value));
        }
        true
    }
}

/// Checks every `has` item and no `missing` one; what they captured when they all agree.
pub fn check_all(
    has: &[Condition],
    missing: &[Condition],
    request: &dyn RequestFacts,
) -> Option<Captures> {
    let mut captures = Captures::new();
    let all = has.iter().all(|c| c.check(request, &mut captures))
        && !missing
            .iter()
            .any(|c| c.check(request, &mut Captures::new()));
    all.then_some(captures)
}

/// Only the ASCII letters of a key, as Next.js names the parameter a bare condition captures.
fn safe_name(key: &str) -> String {
    key.chars().filter(char::is_ascii_alphabetic).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Facts(HashMap<&'static str, &'static str>);

    impl RequestFacts for Facts {
        fn header(&self, name: &str) -> Option<String> {
            self.0
                .get(format!("h:{name}").as_str())
                .map(|v| v.to_string())
        }
        fn cookie(&self, name: &str) -> Option<String> {
            self.0
                .get(format!("c:{name}").as_str())
                .map(|v| v.to_string())
        }
        fn query(&self, name: &str) -> Option<String> {
            self.0
                .get(format!("q:{name}").as_str())
                .map(|v| v.to_string())
        }
        fn host(&self) -> Option<String> {
            self.0.get("host").map(|v| v.to_string())
        }
    }

    fn facts(pairs: &[(&'static str, &'static str)]) -> Facts {
        Facts(pairs.iter().copied().collect())
    }

    #[test]
    fn bare_conditions_need_a_value_and_capture_it_by_the_keys_letters() {
        let has = [Condition::new("header", Some("X-Beta-Flag"), None).unwrap()];
        let captured = check_all(&has, &[], &facts(&[("h:x-beta-flag", "on")])).unwrap();
        assert_eq!(captured["XBetaFlag"], Captured::One("on".into()));
        assert!(check_all(&has, &[], &facts(&[("h:x-beta-flag", "")])).is_none());
        assert!(check_all(&has, &[], &facts(&[])).is_none());
    }

    #[test]
    fn values_are_whole_value_regexes_with_named_groups() {
        let has = [Condition::new("cookie", Some("team"), Some("(?<team>red|blue)")).unwrap()];
        let captured = check_all(&has, &[], &facts(&[("c:team", "blue")])).unwrap();
        assert_eq!(captured["team"], Captured::One("blue".into()));
        assert!(check_all(&has, &[], &facts(&[("c:team", "blueish")])).is_none());
        let host = [Condition::new("host", None, Some("example\\.com")).unwrap()];
        let captured = check_all(&host, &[], &facts(&[("host", "example.com")])).unwrap();
        assert_eq!(captured["host"], Captured::One("example.com".into()));
    }

    #[test]
    fn a_missing_item_that_matches_refuses_the_entry() {
        let missing = [Condition::new("query", Some("draft"), None).unwrap()];
        assert!(check_all(&[], &missing, &facts(&[("q:draft", "1")])).is_none());
        assert!(check_all(&[], &missing, &facts(&[])).is_some());
    }

    #[test]
    fn bad_conditions_say_why() {
        let error = |kind, key, value| Condition::new(kind, key, value).unwrap_err();
        assert!(error("ip", Some("x"), None).starts_with("invalid type \"ip\""));
        assert_eq!(error("header", None, None), "invalid key \"undefined\"");
        assert_eq!(
            error("host", None, None),
            "value is required for \"host\" type"
        );
        assert!(error("query", Some("a"), Some("(")).starts_with("invalid value \"(\""));
    }
}
