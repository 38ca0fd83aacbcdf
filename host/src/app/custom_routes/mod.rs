//! Next.js's `redirects`, `rewrites` and `headers` from `routelet.toml`, applied in Next.js's
//! order: `headers` entries add to the answer of every request whose path they match (a later
//! entry overrides an earlier one's key), the first matching redirect answers before anything
//! else, then `beforeFiles` rewrites, files and routes without parameters, `afterFiles`
//! rewrites, dynamic routes, and `fallback` rewrites.

mod entries;
pub mod facts;

use http::{HeaderName, HeaderValue, StatusCode};
use routelet_router::custom::{Captures, check_all, put_in};

use crate::config::AppConfig;
pub use entries::{HeaderRule, Redirect, Rewrite, Routed};
use entries::{HeadersEntry, RedirectEntry, RewriteEntry};
pub use facts::Facts;

/// The config sections (and top-level keys) this module reads.
pub const SECTIONS: [&str; 5] = [
    "redirects",
    "rewrites",
    "headers",
    "basePath",
    "trailingSlash",
];

/// When a rewrite is tried, as Next.js's three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `beforeFiles`: before public files and routes.
    BeforeFiles,
    /// `afterFiles` (a plain list is this one): after files and routes without parameters,
    /// before dynamic routes.
    AfterFiles,
    /// `fallback`: when nothing else answers, before the 404.
    Fallback,
}

/// The phases as `[rewrites]` names them.
const PHASES: [(&str, Phase); 3] = [
    ("beforeFiles", Phase::BeforeFiles),
    ("afterFiles", Phase::AfterFiles),
    ("fallback", Phase::Fallback),
];

/// One deployment's redirects, rewrites and header rules, checked, and where it is mounted.
#[derive(Debug, Default)]
pub struct CustomRoutes {
    /// `basePath`: every path of the app is under it; empty for none.
    pub base_path: String,
    /// `trailingSlash = true`: paths end in `/`, and the 308 goes the other way.
    pub trailing_slash: bool,
    redirects: Vec<Redirect>,
    rewrites: Vec<(Phase, Rewrite)>,
    headers: Vec<HeaderRule>,
}

/// A rewritten request target: the path (percent-encoded) and the query.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub path: String,
    pub query: Option<String>,
}

impl CustomRoutes {
    /// Reads and checks `basePath`, `trailingSlash`, `[[redirects]]`, `rewrites` and
    /// `[[headers]]`; the first bad entry is the error.
    pub fn from_config(config: &AppConfig) -> anyhow::Result<Self> {
        let base = base_path(config)?;
        let redirects: Vec<RedirectEntry> = config.section("redirects")?;
        let headers: Vec<HeadersEntry> = config.section("headers")?;
        Ok(Self {
            rewrites: rewrites(config, &base)?,
            redirects: redirects
                .iter()
                .enumerate()
                .map(|(index, entry)| entry.check(&base, index))
                .collect::<anyhow::Result<_>>()?,
            headers: headers
                .iter()
                .enumerate()
                .map(|(index, entry)| entry.check(&base, index))
                .collect::<anyhow::Result<_>>()?,
            trailing_slash: config
                .section::<Option<bool>>("trailingSlash")?
                .unwrap_or(false),
            base_path: base,
        })
    }

    /// True when there is nothing to apply, so a request skips this step entirely.
    pub fn is_empty(&self) -> bool {
        self.redirects.is_empty() && self.headers.is_empty() && self.rewrites.is_empty()
    }

    /// The app's own path for a request path: `basePath` taken off (the base itself is `/`);
    /// `None` for a path outside it, which is a 404.
    pub fn in_app<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.base_path.is_empty() {
            return Some(path);
        }
        match path.strip_prefix(self.base_path.as_str())? {
            "" => Some("/"),
            rest if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// Whether any rewrite of `phase` exists, so routing asks only when one may apply.
    pub fn rewrites_in(&self, phase: Phase) -> bool {
        self.rewrites.iter().any(|(p, _)| *p == phase)
    }

    /// The first rewrite of `phase` that takes `path`: where the request goes instead.
    pub fn rewrite_for(
        &self,
        phase: Phase,
        path: &str,
        query: Option<&str>,
        facts: &Facts<'_>,
    ) -> Option<Result<Rewritten, String>> {
        self.rewrites
            .iter()
            .filter(|(p, _)| *p == phase)
            .find_map(|(_, rewrite)| {
                let captures =
                    captured(&rewrite.source, &rewrite.has, &rewrite.missing, path, facts)?;
                Some(
                    rewrite
                        .destination
                        .compile_rewrite(&captures, query)
                        .map(|target| match target.split_once('?') {
                            Some((path, query)) => Rewritten {
                                path: path.to_owned(),
                                query: Some(query.to_owned()),
                            },
                            None => Rewritten {
                                path: target,
                                query: None,
                            },
                        })
                        .map_err(|why| format!("rewrite of {}: {why}", rewrite.source.text())),
                )
            })
    }

    /// The headers every matching entry adds to the answer for `path`, in order.
    pub fn headers_for(&self, path: &str, facts: &Facts<'_>) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        for rule in &self.headers {
            let Some(captures) = captured(&rule.source, &rule.has, &rule.missing, path, facts)
            else {
                continue;
            };
            for (key, value) in &rule.headers {
                let (key, value) = (put_in(key, &captures), put_in(value, &captures));
                match (
                    HeaderName::from_bytes(key.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    (Ok(name), Ok(value)) => out.push((name, value)),
                    _ => tracing::warn!(
                        source = rule.source.text(),
                        "header {key:?}: {value:?} is not a valid header once its parameters \
                         are put in; not sent"
                    ),
                }
            }
        }
        out
    }

    /// The first redirect that takes `path`, with its status and location.
    pub fn redirect_for(
        &self,
        path: &str,
        query: Option<&str>,
        facts: &Facts<'_>,
    ) -> Option<Result<(StatusCode, String), String>> {
        self.redirects.iter().find_map(|redirect| {
            let captures = captured(
                &redirect.to.source,
                &redirect.to.has,
                &redirect.to.missing,
                path,
                facts,
            )?;
            Some(
                redirect
                    .to
                    .destination
                    .compile(&captures, query)
                    .map(|location| (redirect.status, location))
                    .map_err(|why| format!("redirect from {}: {why}", redirect.to.source.text())),
            )
        })
    }
}

/// `rewrites` as a list (`[[rewrites]]`: the `afterFiles` phase) or as a table of the three
/// phases (`[[rewrites.beforeFiles]]`, `[[rewrites.afterFiles]]`, `[[rewrites.fallback]]`).
/// `basePath`, checked with Next.js's messages; empty for none.
fn base_path(config: &AppConfig) -> anyhow::Result<String> {
    let Some(base) = config.section::<Option<String>>("basePath")? else {
        return Ok(String::new());
    };
    if base.is_empty() {
        return Ok(base);
    }
    if !base.starts_with('/') {
        anyhow::bail!("routelet.toml: Specified basePath has to start with a /, found \"{base}\"");
    }
    if base == "/" {
        anyhow::bail!(
            "routelet.toml: Specified basePath /. basePath has to be either an empty string or \
             a path prefix"
        );
    }
    if base.ends_with('/') {
        anyhow::bail!("routelet.toml: Specified basePath should not end with /, found \"{base}\"");
    }
    if routelet_router::custom::source::parse(&base).is_ok_and(|tokens| {
        tokens
            .iter()
            .any(|t| matches!(t, routelet_router::custom::source::Token::Key(_)))
    }) {
        anyhow::bail!(
            "routelet.toml: basePath \"{base}\" must be a plain path, without parameters"
        );
    }
    Ok(base)
}

fn rewrites(config: &AppConfig, base: &str) -> anyhow::Result<Vec<(Phase, Rewrite)>> {
    let section: Option<toml::Value> = config.section("rewrites")?;
    let lists: Vec<(&str, Phase, toml::Value)> = match section {
        None => Vec::new(),
        Some(list @ toml::Value::Array(_)) => vec![("rewrites", Phase::AfterFiles, list)],
        Some(toml::Value::Table(table)) => {
            let mut lists = Vec::new();
            for (key, value) in table {
                let Some((name, phase)) = PHASES.iter().find(|(name, _)| *name == key) else {
                    anyhow::bail!(
                        "routelet.toml [rewrites]: unknown key `{key}`; rewrites are a list                          ([[rewrites]]) or the lists beforeFiles, afterFiles and fallback"
                    );
                };
                lists.push((*name, *phase, value));
            }
            lists.sort_by_key(|(_, phase, _)| *phase as u8);
            lists
        }
        Some(_) => anyhow::bail!(
            "routelet.toml rewrites: a list ([[rewrites]]) or the lists beforeFiles, afterFiles              and fallback"
        ),
    };
    let mut out = Vec::new();
    for (name, phase, value) in lists {
        let section = if name == "rewrites" {
            "rewrites".to_owned()
        } else {
            format!("rewrites.{name}")
        };
        let entries: Vec<RewriteEntry> = value
            .try_into()
            .map_err(|e| anyhow::anyhow!("routelet.toml [[{section}]]: {e}"))?;
        for (index, entry) in entries.iter().enumerate() {
            out.push((phase, entry.check(base, &section, index)?));
        }
    }
    Ok(out)
}

/// The source's and the conditions' parameters when both match.
fn captured(
    source: &routelet_router::custom::Source,
    has: &[routelet_router::custom::Condition],
    missing: &[routelet_router::custom::Condition],
    path: &str,
    facts: &Facts<'_>,
) -> Option<Captures> {
    let mut captures = source.matches(path)?;
    captures.extend(check_all(has, missing, facts)?);
    Some(captures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(toml: &str) -> anyhow::Result<CustomRoutes> {
        CustomRoutes::from_config(&AppConfig::parse(toml).unwrap())
    }

    fn facts(headers: &http::HeaderMap) -> Facts<'_> {
        Facts {
            headers,
            query: None,
            authority: None,
        }
    }

    #[test]
    fn redirects_take_the_first_match_with_its_status() {
        let routes = routes(
            r#"
            [[redirects]]
            source = "/old/:slug"
            destination = "/new/:slug"
            permanent = true

            [[redirects]]
            source = "/old/:slug"
            destination = "/never"
            statusCode = 302

            [[redirects]]
            source = "/beta"
            destination = "/beta/:team"
            permanent = false
            has = [{ type = "cookie", key = "team" }]
            "#,
        )
        .unwrap();
        let headers = http::HeaderMap::new();
        let got = routes.redirect_for("/old/a", Some("x=1"), &facts(&headers));
        assert_eq!(
            got,
            Some(Ok((StatusCode::PERMANENT_REDIRECT, "/new/a?x=1".into())))
        );
        assert_eq!(routes.redirect_for("/beta", None, &facts(&headers)), None);
        let mut with_cookie = http::HeaderMap::new();
        with_cookie.insert("cookie", "team=red".parse().unwrap());
        assert_eq!(
            routes.redirect_for("/beta", None, &facts(&with_cookie)),
            Some(Ok((StatusCode::TEMPORARY_REDIRECT, "/beta/red".into())))
        );
    }

    #[test]
    fn later_header_entries_override_earlier_ones() {
        let routes = routes(
            r#"
            [[headers]]
            source = "/:path*"
            headers = [{ key = "x-frame-options", value = "DENY" }, { key = "x-a", value = "1" }]

            [[headers]]
            source = "/blog/:slug"
            headers = [{ key = "x-a", value = "2" }, { key = "x-slug", value = "post :slug" }]
            "#,
        )
        .unwrap();
        let headers = http::HeaderMap::new();
        let got: Vec<(String, String)> = routes
            .headers_for("/blog/hi", &facts(&headers))
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            got,
            pairs(&[
                ("x-frame-options", "DENY"),
                ("x-a", "1"),
                ("x-a", "2"),
                ("x-slug", "post hi")
            ])
        );
    }

    #[test]
    fn rewrites_are_a_list_or_three_phases() {
        let headers = http::HeaderMap::new();
        let list = routes("[[rewrites]]\nsource = \"/a\"\ndestination = \"/b\"\n").unwrap();
        assert!(list.rewrites_in(Phase::AfterFiles));
        assert!(!list.rewrites_in(Phase::BeforeFiles));
        let phased = routes(
            "[[rewrites.fallback]]\nsource = \"/a/:x\"\ndestination = \"/c/:x\"\n\
             [[rewrites.beforeFiles]]\nsource = \"/a/:x\"\ndestination = \"/b\"\n",
        )
        .unwrap();
        assert_eq!(
            phased.rewrite_for(Phase::BeforeFiles, "/a/1", Some("q=2"), &facts(&headers)),
            Some(Ok(Rewritten {
                path: "/b".into(),
                query: Some("q=2&x=1".into())
            }))
        );
        assert_eq!(
            phased.rewrite_for(Phase::Fallback, "/a/1", None, &facts(&headers)),
            Some(Ok(Rewritten {
                path: "/c/1".into(),
                query: None
            }))
        );
        let error = format!(
            "{:#}",
            routes("[[rewrites.before]]\nsource = \"/a\"\ndestination = \"/b\"\n").unwrap_err()
        );
        assert!(error.contains("unknown key `before`"), "{error}");
        let error = format!(
            "{:#}",
            routes("[[rewrites.afterFiles]]\nsource = \"/a\"\n").unwrap_err()
        );
        assert_eq!(
            error,
            "routelet.toml [[rewrites.afterFiles]] entry 1 (source \"/a\"): `destination` is missing"
        );
    }

    #[test]
    fn bad_entries_are_named_with_nextjs_wording() {
        let error = |toml: &str| format!("{:#}", routes(toml).unwrap_err());
        let got = error("[[redirects]]\nsource = \"/a\"\ndestination = \"/b\"\n");
        assert_eq!(
            got,
            "routelet.toml [[redirects]] entry 1 (source \"/a\"): `permanent` is not set to \
             `true` or `false`"
        );
        let got = error(
            "[[redirects]]\nsource = \"/a\"\ndestination = \"/b\"\npermanent = true\n\
             [[redirects]]\nsource = \"a\"\ndestination = \"/b\"\npermanent = true\n",
        );
        assert!(
            got.contains("entry 2 (source \"a\"): `source` does not start with /"),
            "{got}"
        );
        let got =
            error("[[redirects]]\nsource = \"/a\"\ndestination = \"/b/:id\"\npermanent = true\n");
        assert!(
            got.ends_with("`destination` has segments not in `source` or `has` (id)"),
            "{got}"
        );
        let got =
            error("[[redirects]]\nsource = \"/a/:\"\ndestination = \"/b\"\npermanent = true\n");
        assert!(got.contains("invalid-route-source"), "{got}");
        let got = error("[[redirects]]\nsource = \"/a\"\ndestination = \"/b\"\nstatusCode = 304\n");
        assert!(
            got.ends_with("`statusCode` is not undefined or valid statusCode"),
            "{got}"
        );
        let got = error("[[redirects]]\nsource = \"/a\"\ndestinaton = \"/b\"\n");
        assert!(got.contains("unknown field `destinaton`"), "{got}");
        let got =
            error("[[headers]]\nsource = \"/a\"\nheaders = [{ key = \"x a\", value = \"1\" }]\n");
        assert!(got.contains("\"x a\" is not a valid header name"), "{got}");
        let got = error(
            "[[redirects]]\nsource = \"/a\"\ndestination = \"/b\"\npermanent = true\n\
             has = [{ type = \"ip\", key = \"x\" }]\n",
        );
        assert!(
            got.contains("invalid `has` item found (invalid type \"ip\""),
            "{got}"
        );
    }
}
