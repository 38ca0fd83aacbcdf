//! `req.query`: the query string parsed like Node's `querystring`, with route params laid over it.

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize, Serializer};

use crate::Error;

/// Node's `querystring.parse` stops after this many `&`-separated pieces (its `maxKeys`).
const MAX_PIECES: usize = 1000;

/// One value in a [`Query`]: a single string, or a list when a key repeats or a catch-all matched.
///
/// It serializes the way Next.js shows `req.query`: a string, or an array of strings.
///
/// # Example
///
/// ```
/// use routelet_sdk::{Query, QueryValue};
///
/// let q = Query::parse("tag=a&tag=b&page=2");
/// assert_eq!(q.value("page"), Some(&QueryValue::Single("2".into())));
/// assert_eq!(q.value("tag").unwrap().as_slice(), ["a", "b"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryValue {
    /// A key that appeared once, or a `[name]` route param.
    Single(String),
    /// A key that appeared more than once, or a `[...name]` / `[[...name]]` route param.
    Multiple(Vec<String>),
}

impl QueryValue {
    /// The value of a [`Single`](QueryValue::Single); `None` for a list.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            QueryValue::Single(s) => Some(s),
            QueryValue::Multiple(_) => None,
        }
    }

    /// The first value: the single one, or the first of the list (like `URLSearchParams.get`).
    pub fn first(&self) -> &str {
        match self {
            QueryValue::Single(s) => s,
            QueryValue::Multiple(list) => list.first().map_or("", String::as_str),
        }
    }

    /// Every value, in order; a single value is a list of one.
    pub fn as_slice(&self) -> &[String] {
        match self {
            QueryValue::Single(s) => std::slice::from_ref(s),
            QueryValue::Multiple(list) => list,
        }
    }
}

impl From<&str> for QueryValue {
    fn from(value: &str) -> Self {
        QueryValue::Single(value.to_owned())
    }
}

impl From<String> for QueryValue {
    fn from(value: String) -> Self {
        QueryValue::Single(value)
    }
}

impl From<Vec<String>> for QueryValue {
    fn from(value: Vec<String>) -> Self {
        QueryValue::Multiple(value)
    }
}

impl From<&[&str]> for QueryValue {
    fn from(value: &[&str]) -> Self {
        QueryValue::Multiple(value.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for QueryValue {
    fn from(value: [&str; N]) -> Self {
        QueryValue::from(&value[..])
    }
}

impl Serialize for QueryValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            QueryValue::Single(s) => serializer.serialize_str(s),
            QueryValue::Multiple(list) => list.serialize(serializer),
        }
    }
}

/// An ordered map from names to [`QueryValue`]s: Next.js's `req.query`, a form body, or the
/// route params.
///
/// Keys keep the order they first appeared in. It serializes as a JSON object of strings and
/// arrays, exactly what a Next.js handler would see, and deserializes into your own types with
/// [`Query::deserialize`].
///
/// # Example
///
/// ```
/// use routelet_sdk::Query;
///
/// let q = Query::parse("name=Ada+Lovelace&tag=a&tag=b&bad=%zz");
/// assert_eq!(q.get("name"), Some("Ada Lovelace"));
/// assert_eq!(q.get_all("tag"), ["a", "b"]);
/// assert_eq!(q.get("bad"), Some("%zz")); // a bad escape is kept literally, like Node
/// assert_eq!(q.get("missing"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    entries: Vec<(String, QueryValue)>,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Query::default()
    }

    /// Parses a query string (without the leading `?`) the way Node's `querystring.parse` does,
    /// which is what Next.js uses for `req.query` and for form bodies.
    ///
    /// Pairs split on `&`, key from value on the first `=`; a piece without `=` is a key with an
    /// empty value; empty pieces are skipped; `+` is a space; percent escapes are decoded as
    /// UTF-8, a bad escape is kept as written and bytes that are not UTF-8 become U+FFFD; a key
    /// seen again turns its value into a list; only the first 1000 pieces count.
    pub fn parse(query: &str) -> Query {
        let mut parsed = Query::new();
        for piece in query.split('&').take(MAX_PIECES) {
            if piece.is_empty() {
                continue;
            }
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            parsed.append(unescape(key), unescape(value));
        }
        parsed
    }

    /// The value of `key`: the single value, or the first of a list. `None` if absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.value(key).map(QueryValue::first)
    }

    /// Every value of `key` in order; empty if absent.
    pub fn get_all(&self, key: &str) -> &[String] {
        self.value(key).map_or(&[], QueryValue::as_slice)
    }

    /// The value of `key` as a [`QueryValue`], telling a single value from a list.
    pub fn value(&self, key: &str) -> Option<&QueryValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.value(key).is_some()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &QueryValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `key` to `value`, replacing any earlier value in place (this is how route params are
    /// laid over the query string: params win, like Next.js's `Object.assign(query, params)`).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<QueryValue>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Adds one more value to `key`: a repeated key becomes a list.
    pub fn append(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => match slot {
                QueryValue::Multiple(list) => list.push(value),
                QueryValue::Single(first) => {
                    let first = std::mem::take(first);
                    *slot = QueryValue::Multiple(vec![first, value]);
                }
            },
            None => self.entries.push((key, QueryValue::Single(value))),
        }
    }

    /// Reads the query into your own type with serde.
    ///
    /// Values are strings, so numbers and booleans are parsed from text (`true`/`false`,
    /// `on`/`off`, `1`/`0` for booleans); a list fills a `Vec`, and a single value fills a
    /// `Vec` of one; an absent key fills an `Option` with `None`. A mismatch is a
    /// `400 Invalid query: ...` [`Error`].
    ///
    /// # Example
    ///
    /// ```
    /// use routelet_sdk::Query;
    /// use serde::Deserialize;
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Page { page: u32, tag: Vec<String>, q: Option<String> }
    ///
    /// let page: Page = Query::parse("page=3&tag=rust").deserialize().unwrap();
    /// assert_eq!((page.page, page.tag, page.q), (3, vec!["rust".to_string()], None));
    ///
    /// let err = Query::parse("page=three").deserialize::<Page>().unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// ```
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        T::deserialize(crate::de::QueryDeserializer::new(self))
            .map_err(|e| Error::bad_request(crate::shape::explain("Invalid query", e)))
    }

    pub(crate) fn entries(&self) -> &[(String, QueryValue)] {
        &self.entries
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(k, v)| (k, v)))
    }
}

impl<K: Into<String>, V: Into<QueryValue>> FromIterator<(K, V)> for Query {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut query = Query::new();
        for (k, v) in iter {
            query.insert(k, v);
        }
        query
    }
}

/// Node's `querystring.unescape` after `+` became a space: `decodeURIComponent`, and where that
/// throws, decode the valid escapes only and read the bytes as UTF-8 with replacement.
fn unescape(text: &str) -> String {
    let spaced;
    let text = if text.contains('+') {
        spaced = text.replace('+', " ");
        &spaced
    } else {
        text
    };
    if !text.contains('%') {
        return text.to_owned();
    }
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// `decodeURIComponent`: `None` on a bad escape or bytes that are not UTF-8.
pub(crate) fn decode_uri_component(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let valid = i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !valid {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(s: &str) -> QueryValue {
        QueryValue::Single(s.into())
    }

    #[test]
    fn parses_like_node_querystring() {
        let q = Query::parse("a=1&b=2&a=3&c&d=&=e&&f=x=y");
        let got: Vec<_> = q.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
        assert_eq!(
            got,
            vec![
                (
                    "a".into(),
                    QueryValue::Multiple(vec!["1".into(), "3".into()])
                ),
                ("b".into(), single("2")),
                ("c".into(), single("")),
                ("d".into(), single("")),
                ("".into(), single("e")),
                ("f".into(), single("x=y")),
            ]
        );
    }

    #[test]
    fn decodes_plus_and_escapes() {
        let q = Query::parse("q=hello+world&k%20ey=v%2Fw&emoji=%F0%9F%A6%80&plus=%2B");
        assert_eq!(q.get("q"), Some("hello world"));
        assert_eq!(q.get("k ey"), Some("v/w"));
        assert_eq!(q.get("emoji"), Some("🦀"));
        assert_eq!(q.get("plus"), Some("+"));
    }

    #[test]
    fn bad_escapes_are_kept_literally() {
        let q = Query::parse("a=%zz&b=100%&c=%4&d=%41%zz%42&e=%E9");
        assert_eq!(q.get("a"), Some("%zz"));
        assert_eq!(q.get("b"), Some("100%"));
        assert_eq!(q.get("c"), Some("%4"));
        assert_eq!(q.get("d"), Some("A%zzB"));
        assert_eq!(q.get("e"), Some("\u{FFFD}"));
    }

    #[test]
    fn empty_and_trailing_separators() {
        assert!(Query::parse("").is_empty());
        assert!(Query::parse("&&&").is_empty());
        assert_eq!(Query::parse("a=1&").len(), 1);
    }

    #[test]
    fn stops_after_a_thousand_pieces() {
        let qs: Vec<String> = (0..1500).map(|i| format!("k{i}=v")).collect();
        let q = Query::parse(&qs.join("&"));
        assert_eq!(q.len(), 1000);
        assert!(q.contains_key("k999"));
        assert!(!q.contains_key("k1000"));
    }

    #[test]
    fn params_win_in_place() {
        let mut q = Query::parse("id=from-query&x=1");
        q.insert("id", "42");
        q.insert("slug", ["a", "b"]);
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"{"id":"42","x":"1","slug":["a","b"]}"#
        );
    }

    #[test]
    fn accessors() {
        let q = Query::parse("one=1&many=a&many=b");
        assert_eq!(q.get("many"), Some("a"));
        assert_eq!(q.get_all("many"), ["a", "b"]);
        assert_eq!(q.get_all("one"), ["1"]);
        assert!(q.get_all("none").is_empty());
        assert_eq!(q.value("one").and_then(QueryValue::as_str), Some("1"));
        assert_eq!(q.value("many").and_then(QueryValue::as_str), None);
        let collected: Query = [("a", "1")].into_iter().collect();
        assert_eq!(collected.get("a"), Some("1"));
    }

    #[test]
    fn decode_uri_component_is_strict() {
        assert_eq!(decode_uri_component("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_uri_component("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode_uri_component("%zz"), None);
        assert_eq!(decode_uri_component("%4"), None);
        assert_eq!(decode_uri_component("%"), None);
        assert_eq!(decode_uri_component("%E9"), None);
    }
}
