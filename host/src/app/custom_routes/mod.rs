//! Next.js's `redirects` and `headers` from `routelet.toml`, applied in Next.js's order:
//! `headers` entries add to the answer of every request whose path they match (a later entry
//! overrides an earlier one's key), then the first matching redirect answers before files and
//! routes are looked at.

mod entries;
pub mod facts;

use http::{HeaderName, HeaderValue, StatusCode};
use routelet_router::custom::{Captures, check_all, put_in};

use crate::config::AppConfig;
pub use entries::{HeaderRule, Redirect};
use entries::{HeadersEntry, RedirectEntry};
pub use facts::Facts;

/// The config sections this module reads.
pub const SECTIONS: [&str; 2] = ["redirects", "headers"];

/// One deployment's redirects and header rules, checked.
#[derive(Debug, Default)]
pub struct CustomRoutes {
    redirects: Vec<Redirect>,
    headers: Vec<HeaderRule>,
}

impl CustomRoutes {
    /// Reads and checks `[[redirects]]` and `[[headers]]`; the first bad entry is the error.
    pub fn from_config(config: &AppConfig) -> anyhow::Result<Self> {
        let redirects: Vec<RedirectEntry> = config.section("redirects")?;
        let headers: Vec<HeadersEntry> = config.section("headers")?;
        Ok(Self {
            redirects: redirects
                .iter()
                .enumerate()
                .map(|(index, entry)| entry.check(index))
                .collect::<anyhow::Result<_>>()?,
            headers: headers
                .iter()
                .enumerate()
                .map(|(index, entry)| entry.check(index))
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// True when there is nothing to apply, so a request skips this step entirely.
    pub fn is_empty(&self) -> bool {
        self.redirects.is_empty() && self.headers.is_empty()
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
                &redirect.source,
                &redirect.has,
                &redirect.missing,
                path,
                facts,
            )?;
            Some(
                redirect
                    .destination
                    .compile(&captures, query)
                    .map(|location| (redirect.status, location))
                    .map_err(|why| format!("redirect from {}: {why}", redirect.source.text())),
            )
        })
    }
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
