//! `[[redirects]]`, `rewrites` and `[[headers]]` in `routelet.toml`, written as in
//! `next.config.js` (`source`, `destination`, `permanent` or `statusCode`, `has`, `missing`,
//! `headers`), and checked as Next.js checks them (`load-custom-routes.ts`): a bad entry stops the start or the
//! deploy, naming the entry and saying what is wrong.

use serde::Deserialize;

use routelet_router::custom::{Condition, Destination, Source};

/// The status codes a redirect may use, as Next.js allows them.
const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

/// One `[[redirects]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectEntry {
    source: Option<String>,
    /// `false` keeps the app's `basePath` off this entry, as in Next.js.
    #[serde(rename = "basePath", alias = "base_path")]
    base_path: Option<bool>,
    destination: Option<String>,
    permanent: Option<bool>,
    #[serde(rename = "statusCode", alias = "status_code")]
    status_code: Option<u16>,
    #[serde(default)]
    has: Vec<ConditionEntry>,
    #[serde(default)]
    missing: Vec<ConditionEntry>,
}

/// One rewrite as written, in `[[rewrites]]` or one of its phases.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteEntry {
    source: Option<String>,
    /// `false` keeps the app's `basePath` off this entry, as in Next.js.
    #[serde(rename = "basePath", alias = "base_path")]
    base_path: Option<bool>,
    destination: Option<String>,
    #[serde(default)]
    has: Vec<ConditionEntry>,
    #[serde(default)]
    missing: Vec<ConditionEntry>,
}

/// One `[[headers]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersEntry {
    source: Option<String>,
    /// `false` keeps the app's `basePath` off this entry, as in Next.js.
    #[serde(rename = "basePath", alias = "base_path")]
    base_path: Option<bool>,
    headers: Option<Vec<HeaderEntry>>,
    #[serde(default)]
    has: Vec<ConditionEntry>,
    #[serde(default)]
    missing: Vec<ConditionEntry>,
}

/// `{ key = "...", value = "..." }` in a `headers` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderEntry {
    key: Option<String>,
    value: Option<String>,
}

/// A `has` or `missing` item as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionEntry {
    #[serde(rename = "type")]
    kind: String,
    key: Option<String>,
    value: Option<String>,
}

/// A checked source, destination and conditions: what a redirect and a rewrite both are.
#[derive(Debug)]
pub struct Routed {
    /// Which paths it takes.
    pub source: Source,
    /// Where they go, or the path (and query) they are served as.
    pub destination: Destination,
    /// What else the request needs, or must not have.
    pub has: Vec<Condition>,
    pub missing: Vec<Condition>,
}

/// A checked redirect.
#[derive(Debug)]
pub struct Redirect {
    pub to: Routed,
    /// 307, 308 or the `statusCode` given.
    pub status: http::StatusCode,
}

/// A checked rewrite: a path of the app served as another one.
pub type Rewrite = Routed;

/// A checked `headers` entry.
#[derive(Debug)]
pub struct HeaderRule {
    /// Which paths it applies to.
    pub source: Source,
    /// The headers, whose keys and values may name parameters.
    pub headers: Vec<(String, String)>,
    pub has: Vec<Condition>,
    pub missing: Vec<Condition>,
}

/// An entry's check with the entry named in its error: `[[redirects]] entry 2 (source "/old")`.
fn named<T>(
    checked: Result<T, String>,
    section: &str,
    index: usize,
    source: Option<&str>,
) -> anyhow::Result<T> {
    checked.map_err(|why| {
        let entry = match source {
            Some(source) => format!("[[{section}]] entry {} (source {source:?})", index + 1),
            None => format!("[[{section}]] entry {}", index + 1),
        };
        anyhow::anyhow!("routelet.toml {entry}: {why}")
    })
}

fn conditions(items: &[ConditionEntry], field: &str) -> Result<Vec<Condition>, String> {
    items
        .iter()
        .map(|item| {
            Condition::new(&item.kind, item.key.as_deref(), item.value.as_deref()).map_err(|why| {
                format!(
                    "invalid `{field}` item found ({why}); `{field}` items have the shape \
                         {{ type = \"header\" | \"cookie\" | \"query\" | \"host\", key = \"...\", \
                         value = \"...\" (optional) }}"
                )
            })
        })
        .collect()
}

/// Checks a source, destination and conditions; every parameter the destination names must
/// come from the source or the conditions.
fn routed(
    base: &str,
    source_text: Option<&str>,
    destination: Option<&str>,
    has: &[ConditionEntry],
    missing: &[ConditionEntry],
) -> Result<Routed, String> {
    let source = source(base, source_text)?;
    let destination = destination.ok_or("`destination` is missing")?;
    let destination = if destination.starts_with('/') {
        Destination::new(&under(base, destination))?
    } else {
        Destination::new(destination)?
    };
    let has = conditions(has, "has")?;
    let missing = conditions(missing, "missing")?;
    let known: Vec<String> = source
        .names()
        .map(str::to_owned)
        .chain(has.iter().flat_map(Condition::names))
        .collect();
    let unknown: Vec<String> = destination
        .names()
        .into_iter()
        .filter(|name| !known.contains(name))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "`destination` has segments not in `source` or `has` ({})",
            unknown.join(", ")
        ));
    }
    Ok(Routed {
        source,
        destination,
        has,
        missing,
    })
}

fn source(base: &str, text: Option<&str>) -> Result<Source, String> {
    let text = text.ok_or("`source` is missing")?;
    if !text.starts_with('/') {
        return Err("`source` does not start with /".to_owned());
    }
    Source::new(&under(base, text))
}

/// `path` under the app's `basePath`, as Next.js prefixes sources and internal destinations
/// (`/` becomes the base path itself).
fn under(base: &str, path: &str) -> String {
    match (base, path) {
        ("", _) => path.to_owned(),
        (_, "/") => base.to_owned(),
        _ => format!("{base}{path}"),
    }
}

/// The base path an entry is under: none when it says `basePath = false`.
fn base_of(base: &str, entry: Option<bool>) -> Result<&str, String> {
    match entry {
        None => Ok(base),
        Some(false) => Ok(""),
        Some(true) => Err("`basePath` must be undefined or false".to_owned()),
    }
}

impl RedirectEntry {
    /// Checks the entry; the error names it.
    pub fn check(&self, base: &str, index: usize) -> anyhow::Result<Redirect> {
        named(
            self.checked(base),
            "redirects",
            index,
            self.source.as_deref(),
        )
    }

    fn checked(&self, base: &str) -> Result<Redirect, String> {
        let to = routed(
            base_of(base, self.base_path)?,
            self.source.as_deref(),
            self.destination.as_deref(),
            &self.has,
            &self.missing,
        )?;
        let status = match (self.permanent, self.status_code) {
            (Some(_), Some(_)) => {
                return Err("`permanent` and `statusCode` can not both be provided".to_owned());
            }
            (Some(true), None) => 308,
            (Some(false), None) => 307,
            (None, Some(code)) if REDIRECT_CODES.contains(&code) => code,
            (None, Some(_)) => {
                return Err("`statusCode` is not undefined or valid statusCode".to_owned());
            }
            (None, None) => return Err("`permanent` is not set to `true` or `false`".to_owned()),
        };
        Ok(Redirect {
            to,
            status: http::StatusCode::from_u16(status).expect("a redirect code"),
        })
    }
}

impl RewriteEntry {
    /// Checks the entry; the error names it and the phase it is in.
    pub fn check(&self, base: &str, section: &str, index: usize) -> anyhow::Result<Rewrite> {
        named(self.checked(base), section, index, self.source.as_deref())
    }

    fn checked(&self, base: &str) -> Result<Rewrite, String> {
        let rewrite = routed(
            base_of(base, self.base_path)?,
            self.source.as_deref(),
            self.destination.as_deref(),
            &self.has,
            &self.missing,
        )?;
        if rewrite.destination.is_absolute() {
            return Err(
                "a rewrite to another origin is not supported: Routelet does not proxy \
                 (redirect there, or fetch it from an API route whose outbound allow-list \
                 names it)"
                    .to_owned(),
            );
        }
        Ok(rewrite)
    }
}

impl HeadersEntry {
    /// Checks the entry; the error names it.
    pub fn check(&self, base: &str, index: usize) -> anyhow::Result<HeaderRule> {
        named(self.checked(base), "headers", index, self.source.as_deref())
    }

    fn checked(&self, base: &str) -> Result<HeaderRule, String> {
        let source = source(base_of(base, self.base_path)?, self.source.as_deref())?;
        let items = self
            .headers
            .as_ref()
            .ok_or("`headers` field must be an array")?;
        let mut headers = Vec::with_capacity(items.len());
        for item in items {
            let key = item
                .key
                .clone()
                .ok_or("`key` in header item must be string")?;
            let value = item
                .value
                .clone()
                .ok_or("`value` in header item must be string")?;
            if !key.contains(':') && http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                return Err(format!("{key:?} is not a valid header name"));
            }
            if !value.contains(':') && http::HeaderValue::from_str(&value).is_err() {
                return Err(format!("the value of {key:?} is not a valid header value"));
            }
            headers.push((key, value));
        }
        Ok(HeaderRule {
            source,
            headers,
            has: conditions(&self.has, "has")?,
            missing: conditions(&self.missing, "missing")?,
        })
    }
}
