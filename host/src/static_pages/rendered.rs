//! What a page produced for one path, checked with Next.js's rules and wording.

use bytes::Bytes;

use super::bindings::{PropsOutcome, PropsResult};

/// The redirect status codes Next.js accepts in a `redirect` result.
const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

/// One path's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A page: its HTML and its props as JSON.
    Page { html: Bytes, props: Bytes },
    /// `notFound`: a 404.
    NotFound,
    /// `redirect`: a 3xx to `location`.
    Redirect { location: String, status: u16 },
}

/// An outcome and how long it stays fresh.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub outcome: Outcome,
    /// Seconds until a request regenerates it; `None` keeps it until the next deploy.
    pub revalidate: Option<u32>,
}

/// Checks `get-static-props` (and `render`'s HTML) for `url`, the path being generated.
pub fn check(
    page: &str,
    url: &str,
    result: PropsResult,
    html: Option<String>,
) -> Result<Rendered, String> {
    let revalidate = match result.revalidate {
        None => None,
        Some(seconds) => Some(check_revalidate(seconds, url)?),
    };
    let outcome = match result.outcome {
        PropsOutcome::Props(json) => {
            match serde_json::from_str::<serde_json::Value>(&json) {
                Ok(serde_json::Value::Object(_)) => {}
                Ok(other) => {
                    return Err(format!(
                        "Error serializing props returned from `getStaticProps` in \"{page}\".\n\
                         Reason: Props must be returned as a plain object from getStaticProps: \
                         `{{ props: {{ ... }} }}` (received: `{}`).",
                        object_label(&other)
                    ));
                }
                Err(error) => {
                    return Err(format!(
                        "Error serializing props returned from `getStaticProps` in \"{page}\".\n\
                         Reason: the props are not valid JSON: {error}"
                    ));
                }
            }
            Outcome::Page {
                html: Bytes::from(html.unwrap_or_default()),
                props: Bytes::from(json),
            }
        }
        PropsOutcome::NotFound => Outcome::NotFound,
        PropsOutcome::Redirect(redirect) => {
            let mut errors = Vec::new();
            if redirect.destination.is_empty() {
                errors.push("`destination` should be string but received undefined".to_owned());
            }
            if let Some(code) = redirect.status_code
                && !REDIRECT_CODES.contains(&code)
            {
                errors.push(
                    "`statusCode` must undefined or one of 301, 302, 303, 307, 308".to_owned(),
                );
            }
            if !errors.is_empty() {
                return Err(format!(
                    "Invalid redirect object returned from getStaticProps for {url}\n{}",
                    errors.join(" and ")
                ));
            }
            let status = redirect
                .status_code
                .unwrap_or(if redirect.permanent { 308 } else { 307 });
            Outcome::Redirect {
                location: redirect.destination,
                status,
            }
        }
    };
    Ok(Rendered {
        outcome,
        revalidate,
    })
}

fn check_revalidate(seconds: f64, url: &str) -> Result<u32, String> {
    if !seconds.is_finite() || seconds.fract() != 0.0 {
        return Err(format!(
            "A page's revalidate option must be seconds expressed as a natural number for {url}. \
             Mixed numbers, such as '{seconds}', cannot be used.\nTry changing the value to \
             '{}' or using `Math.ceil()` if you're computing the value.",
            seconds.ceil()
        ));
    }
    if seconds <= 0.0 {
        return Err(format!(
            "A page's revalidate option can not be less than or equal to zero for {url}. A \
             revalidate option of zero means to revalidate after _every_ request, and implies \
             stale data cannot be tolerated.\n\nTo never revalidate, you can set revalidate to \
             `false` (only ran once at build-time).\nTo revalidate as soon as possible, you can \
             set the value to `1`."
        ));
    }
    if seconds > 31_536_000.0 {
        tracing::warn!(
            "Warning: A page's revalidate option was set to more than a year for {url}. This may \
             have been done in error."
        );
    }
    Ok(seconds.min(f64::from(u32::MAX)) as u32)
}

fn object_label(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "[object Null]",
        serde_json::Value::Array(_) => "[object Array]",
        serde_json::Value::String(_) => "[object String]",
        serde_json::Value::Number(_) => "[object Number]",
        serde_json::Value::Bool(_) => "[object Boolean]",
        serde_json::Value::Object(_) => "[object Object]",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_pages::bindings::exports::routelet::route::page::Redirect;

    fn props(json: &str, revalidate: Option<f64>) -> PropsResult {
        PropsResult {
            outcome: PropsOutcome::Props(json.into()),
            revalidate,
        }
    }

    #[test]
    fn props_and_html_pass_through() {
        let rendered = check(
            "/a",
            "/a",
            props(r#"{"x":1}"#, Some(5.0)),
            Some("<p>".into()),
        );
        assert_eq!(
            rendered,
            Ok(Rendered {
                outcome: Outcome::Page {
                    html: Bytes::from_static(b"<p>"),
                    props: Bytes::from_static(br#"{"x":1}"#)
                },
                revalidate: Some(5)
            })
        );
    }

    #[test]
    fn revalidate_must_be_a_natural_number() {
        let error = check("/a", "/a", props("{}", Some(1.5)), None).unwrap_err();
        assert!(
            error.starts_with(
                "A page's revalidate option must be seconds expressed as a natural number for /a. \
                 Mixed numbers, such as '1.5', cannot be used.\nTry changing the value to '2'"
            ),
            "{error}"
        );
        let error = check("/a", "/a", props("{}", Some(0.0)), None).unwrap_err();
        assert!(
            error.starts_with(
                "A page's revalidate option can not be less than or equal to zero for /a."
            ),
            "{error}"
        );
    }

    #[test]
    fn props_must_be_an_object() {
        let error = check("/p/[x]", "/p/1", props("[1]", None), None).unwrap_err();
        assert!(error.contains("(received: `[object Array]`)"), "{error}");
        assert!(check("/p", "/p", props("{", None), None).is_err());
    }

    #[test]
    fn redirects_get_307_308_or_an_allowed_code() {
        let redirect = |permanent, status_code| PropsResult {
            outcome: PropsOutcome::Redirect(Redirect {
                destination: "/x".into(),
                permanent,
                status_code,
            }),
            revalidate: None,
        };
        let status = |r: Rendered| match r.outcome {
            Outcome::Redirect { status, .. } => status,
            _ => 0,
        };
        assert_eq!(
            status(check("/a", "/a", redirect(false, None), None).unwrap()),
            307
        );
        assert_eq!(
            status(check("/a", "/a", redirect(true, None), None).unwrap()),
            308
        );
        assert_eq!(
            status(check("/a", "/a", redirect(false, Some(301)), None).unwrap()),
            301
        );
        let error = check("/a", "/a", redirect(false, Some(200)), None).unwrap_err();
        assert_eq!(
            error,
            "Invalid redirect object returned from getStaticProps for /a\n`statusCode` must \
             undefined or one of 301, 302, 303, 307, 308"
        );
    }
}
