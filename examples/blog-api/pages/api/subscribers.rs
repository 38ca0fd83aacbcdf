//! GET /api/subscribers: how many addresses have subscribed, from the `default` SQL database.

use routelet_sdk::sql::{Database, SqlErrorKind, params};
use routelet_sdk::{Error, Request, Response, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Count {
    count: i64,
}

pub fn handler(req: Request) -> Result {
    if req.method() != "GET" {
        return Err(Error::method_not_allowed(&["GET"]));
    }
    let counted = Database::open_default().and_then(|db| {
        db.query_opt::<Count>("SELECT count(*) AS count FROM subscribers", params![])
    });
    match counted {
        Ok(count) => {
            let count = count.map_or(0, |c| c.count);
            Ok(Response::json(&serde_json::json!({ "count": count })))
        }
        Err(e) if e.kind() == SqlErrorKind::Unavailable => {
            eprintln!("subscribers: {e}");
            Ok(Response::json(&serde_json::json!({ "error": "try again later" })).status(503))
        }
        Err(e) => Err(Error::internal(e)),
    }
}
