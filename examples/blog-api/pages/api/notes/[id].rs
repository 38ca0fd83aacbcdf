//! /api/notes/[id]: a note in the `default` SQL database.
//!
//! `PUT ?title=...` with any body saves the note (title as text, body as bytes); `GET` answers
//! `{"id", "title", "body": [bytes]}`, or 404. Values are bound as parameters, never spliced
//! into the SQL, so a title such as `'; DROP TABLE notes; --` is just a title.

use routelet_sdk::sql::{Database, params};
use routelet_sdk::{Config, Error, Request, Response, Result};
use serde::{Deserialize, Serialize};

/// Raw bodies of any type, unparsed.
pub const CONFIG: Config = Config::new().body_parser(false);

#[derive(Serialize, Deserialize)]
struct Note {
    id: String,
    title: String,
    body: Vec<u8>,
}

pub fn handler(req: Request) -> Result {
    let id = req.param("id").unwrap_or_default().to_owned();
    let db = Database::open_default()?;
    match req.method() {
        "PUT" => {
            let title = req.query().get("title").unwrap_or_default().to_owned();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut req.into_body_reader(), &mut body)?;
            db.execute(
                "INSERT INTO notes (id, title, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body",
                params![id.as_str(), title, body],
            )?;
            Ok(Response::new().status(204))
        }
        "GET" => {
            let note: Option<Note> = db.query_opt(
                "SELECT id, title, body FROM notes WHERE id = $1",
                params![id.as_str()],
            )?;
            match note {
                Some(note) => Ok(Response::json(&note)),
                None => Err(Error::not_found(format!("no note {id}"))),
            }
        }
        _ => Err(Error::method_not_allowed(&["GET", "PUT"])),
    }
}
