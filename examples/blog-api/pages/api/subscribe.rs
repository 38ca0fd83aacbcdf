//! POST /api/subscribe: subscribe an email address.
//!
//! Accepts the HTML form on `/` (`application/x-www-form-urlencoded`) and JSON
//! (`{"email": "..."}`). A form post is answered with a 303 to `/subscribed.html`, so reloading
//! that page does not post again; JSON gets `201 {"ok":true,"email":...}`. An address that is
//! not valid is `422 {"ok":false,"error":...}` either way. The address is saved in the `default`
//! SQL database (table `subscribers`, from `migrations/`): one already there is
//! `409 {"ok":false,"error":"already subscribed"}`, and a database that cannot be reached is a 503.
//! Other methods get a 405 with `Allow: POST`: Next.js leaves that to the handler, and so does
//! Routelet.

use routelet_sdk::sql::{Database, SqlErrorKind, params};
use routelet_sdk::{Body, Cookie, Error, Request, Response, Result, SameSite};
use serde::Deserialize;

#[derive(Deserialize)]
struct Subscription {
    email: Option<String>,
}

pub fn handler(req: Request) -> Result {
    if req.method() != "POST" {
        return Err(Error::method_not_allowed(&["POST"]));
    }
    let from_form = matches!(req.body(), Body::Form(_));
    let subscription: Subscription = if from_form { req.form()? } else { req.json()? };
    let email = subscription.email.unwrap_or_default().trim().to_owned();

    if let Err(problem) = check_email(&email) {
        let error = serde_json::json!({ "ok": false, "error": problem });
        return Ok(Response::json(&error).status(422));
    }

    let saved = Database::open_default().and_then(|db| {
        db.execute(
            "INSERT INTO subscribers (email, source) VALUES ($1, $2)",
            params![email.as_str(), if from_form { "form" } else { "json" }],
        )
    });
    match saved {
        Ok(_) => {}
        Err(e) if e.kind() == SqlErrorKind::ConstraintViolation => {
            let error = serde_json::json!({ "ok": false, "error": "already subscribed" });
            return Ok(Response::json(&error).status(409));
        }
        Err(e) if e.kind() == SqlErrorKind::Unavailable => {
            eprintln!("subscribe: {e}");
            let error = serde_json::json!({ "ok": false, "error": "try again later" });
            return Ok(Response::json(&error).status(503).header("retry-after", "5"));
        }
        Err(e) => return Err(Error::internal(e)),
    }

    let remember = Cookie::new("subscriber", email.as_str())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(60 * 60 * 24 * 365);
    let response = if from_form {
        Response::redirect_with(303, "/subscribed.html")
    } else {
        Response::json(&serde_json::json!({ "ok": true, "email": email })).status(201)
    };
    Ok(response.set_cookie(remember))
}

/// A plain shape check: one `@`, something before it, a dotted domain after it, no spaces.
fn check_email(email: &str) -> std::result::Result<(), &'static str> {
    if email.is_empty() {
        return Err("email is required");
    }
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("email is not a valid address");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("email must contain @");
    };
    let labels_ok = domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || !labels_ok {
        return Err("email is not a valid address");
    }
    Ok(())
}
