//! POST /api/notes/batch: saves several notes (`[{"id", "title"}]`) in one transaction, so
//! either all of them are saved (201) or, when one id is taken, none is (409).

use routelet_sdk::sql::{Database, SqlError, SqlErrorKind, params};
use routelet_sdk::{Error, Request, Response, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct NewNote {
    id: String,
    title: String,
}

pub fn handler(req: Request) -> Result {
    if req.method() != "POST" {
        return Err(Error::method_not_allowed(&["POST"]));
    }
    let notes: Vec<NewNote> = req.json()?;
    let db = Database::open_default()?;
    let saved = db.transaction(|db| {
        for note in &notes {
            db.execute(
                "INSERT INTO notes (id, title, body) VALUES ($1, $2, $3)",
                params![note.id.as_str(), note.title.as_str(), Vec::<u8>::new()],
            )?;
        }
        Ok::<_, SqlError>(notes.len())
    });
    match saved {
        Ok(count) => Ok(Response::json(&serde_json::json!({ "saved": count })).status(201)),
        Err(e) if e.kind() == SqlErrorKind::ConstraintViolation => {
            let error = serde_json::json!({ "error": "a note with one of these ids exists; none was saved" });
            Ok(Response::json(&error).status(409))
        }
        Err(e) => Err(Error::internal(e)),
    }
}
