//! Request headers with case-insensitive lookup.

/// The request's headers, in the order received, with case-insensitive lookup.
///
/// Names are stored lower-cased, as Node shows them in `req.headers`. A header sent more than
/// once keeps every value: [`get`](Headers::get) gives the first, [`get_all`](Headers::get_all)
/// gives them all.
///
/// # Example
///
/// ```
/// use routelet_sdk::Request;
///
/// let req = Request::builder()
///     .header("Accept", "text/html")
///     .header("accept", "application/json")
///     .build()
///     .unwrap();
/// assert_eq!(req.headers().get("ACCEPT"), Some("text/html"));
/// assert_eq!(req.headers().get_all("accept").count(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// The first value of `name`, compared without regard to case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name` in the order received.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` was sent at all.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every `(name, value)` pair in the order received; names are lower-case.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no header was sent.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one header line; the name is lower-cased.
    pub(crate) fn append(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((name.to_ascii_lowercase(), value.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_keeps_order() {
        let mut h = Headers::default();
        h.append("Content-Type", "text/plain");
        h.append("X-Tag", "a");
        h.append("x-tag", "b");
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(h.get_all("X-TAG").collect::<Vec<_>>(), ["a", "b"]);
        assert!(h.contains("x-tag"));
        assert!(!h.contains("x-other"));
        assert_eq!(h.iter().next(), Some(("content-type", "text/plain")));
        assert_eq!(h.len(), 3);
    }
}
