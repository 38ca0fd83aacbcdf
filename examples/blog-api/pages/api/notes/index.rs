//! GET /api/notes?title=...: the ids of the notes with exactly this title, and how many notes
//! there are in all (a search whose text is bound as a parameter).

use routelet_sdk::sql::{Database, params};
use routelet_sdk::{Request, Response, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Count {
    total: i64,
}

pub fn handler(req: Request) -> Result {
    let title = req.query().get("title").unwrap_or_default().to_owned();
    let db = Database::open_default()?;
    let ids: Vec<Id> = db.query_as(
        "SELECT id FROM notes WHERE title = $1 ORDER BY id",
        params![title],
    )?;
    let total = db
        .query_opt::<Count>("SELECT count(*) AS total FROM notes", params![])?
        .map_or(0, |c| c.total);
    let ids: Vec<String> = ids.into_iter().map(|i| i.id).collect();
    Ok(Response::json(&serde_json::json!({ "ids": ids, "total": total })))
}
