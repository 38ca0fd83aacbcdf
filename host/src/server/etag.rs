//! ETags for API answers that are not streamed, as Next.js's `res.send` and `res.json` add
//! them (`sendEtagResponse` in `send-payload.ts`, which the JavaScript runtime's `res` does
//! itself): an answer with a declared length of at most [`MAX_TAGGED`] and no `ETag` of its own
//! gets one made from its body, whatever its method or status, and a request whose
//! `If-None-Match` matches it gets a 304 without the body. A streamed answer (no length), a
//! 204 or 304, and the answer to a HEAD (which has no body to tag) pass through untouched.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;

use crate::dist::sha256_hex;
use crate::response::{self, Body};

/// The largest declared body the host reads whole to tag; larger ones pass through.
pub const MAX_TAGGED: u64 = 1024 * 1024;

/// What the request said that decides whether its answer is fresh.
pub struct Conditions {
    method: Method,
    if_none_match: Vec<String>,
    no_cache: bool,
}

impl Conditions {
    /// Read before the request goes to the route.
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        let values = |name| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        };
        Self {
            method: method.clone(),
            if_none_match: values(header::IF_NONE_MATCH),
            no_cache: values(header::CACHE_CONTROL)
                .iter()
                .any(|v| v.eq_ignore_ascii_case("no-cache")),
        }
    }

    /// Whether `etag` matches, with the weak comparison `If-None-Match` uses.
    fn matches(&self, etag: &str) -> bool {
        let bare = |tag: &str| tag.strip_prefix("W/").unwrap_or(tag).to_owned();
        !self.no_cache
            && self
                .if_none_match
                .iter()
                .any(|candidate| candidate == "*" || bare(candidate) == bare(etag))
    }
}

/// Tags `response` when it qualifies; a body that fails while it is read is a 500 here, since
/// nothing of the answer has been sent yet.
pub async fn tag(
    conditions: &Conditions,
    response: hyper::Response<Body>,
) -> hyper::Response<Body> {
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let qualifies = conditions.method != Method::HEAD
        && !matches!(
            response.status(),
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        )
        && !response.headers().contains_key(header::ETAG)
        && declared.is_some_and(|length| length <= MAX_TAGGED);
    if !qualifies {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::error!("the route's answer failed while it was read: {error}");
            return response::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let etag = format!("\"{}\"", &sha256_hex(&bytes)[..32]);
    if let Ok(value) = HeaderValue::from_str(&etag) {
        parts.headers.insert(header::ETAG, value);
    }
    if conditions.matches(&etag) {
        parts.status = StatusCode::NOT_MODIFIED;
        for name in [
            header::CONTENT_LENGTH,
            header::CONTENT_TYPE,
            header::TRANSFER_ENCODING,
        ] {
            parts.headers.remove(name);
        }
        return hyper::Response::from_parts(parts, response::empty());
    }
    hyper::Response::from_parts(parts, response::full(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &'static str, length: bool) -> hyper::Response<Body> {
        let mut response = hyper::Response::new(response::full(body));
        if length {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        response
    }

    fn conditions(method: Method, pairs: &[(&'static str, &str)]) -> Conditions {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        Conditions::of(&method, &headers)
    }

    #[tokio::test]
    async fn a_whole_answer_is_tagged_and_a_matching_request_gets_a_304() {
        let first = tag(&conditions(Method::GET, &[]), answer("{\"a\":1}", true)).await;
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(
            first.into_body().collect().await.unwrap().to_bytes(),
            "{\"a\":1}"
        );
        for sent in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let again = tag(
                &conditions(Method::GET, &[("if-none-match", &sent)]),
                answer("{\"a\":1}", true),
            )
            .await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{sent}");
            assert!(!again.headers().contains_key(header::CONTENT_LENGTH));
        }
        let no_cache = tag(
            &conditions(
                Method::GET,
                &[("if-none-match", &etag), ("cache-control", "no-cache")],
            ),
            answer("{\"a\":1}", true),
        )
        .await;
        assert_eq!(no_cache.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn streamed_head_or_own_tagged_answers_pass_through() {
        let streamed = tag(&conditions(Method::GET, &[]), answer("x", false)).await;
        assert!(!streamed.headers().contains_key(header::ETAG));
        let head = tag(&conditions(Method::HEAD, &[]), answer("x", true)).await;
        assert!(!head.headers().contains_key(header::ETAG));
        let posted = tag(&conditions(Method::POST, &[]), answer("x", true)).await;
        assert!(posted.headers().contains_key(header::ETAG), "as in Next.js");
        let mut own = answer("x", true);
        own.headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("\"mine\""));
        let own = tag(&conditions(Method::GET, &[]), own).await;
        assert_eq!(own.headers()[header::ETAG], "\"mine\"");
    }
}
