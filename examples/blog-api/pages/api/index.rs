//! GET /api → what this API offers, so a client (or a person with curl) can find its way.

use routelet_sdk::{Request, Response};

pub fn handler(_req: Request) -> Response {
    Response::json(&serde_json::json!({
        "name": "blog-api",
        "endpoints": [
            { "method": "GET", "path": "/api", "description": "this list" },
            { "method": "GET", "path": "/api/users/[id]", "description": "a user by id, with the merged query" },
            { "method": "GET", "path": "/api/users/me", "description": "the current user: a static route beats [id]" },
            { "method": "GET", "path": "/api/posts/[...slug]", "description": "a post by one or more path segments" },
            { "method": "GET", "path": "/api/docs/[[...path]]", "description": "docs at any depth, including /api/docs itself" },
            { "method": "POST", "path": "/api/subscribe", "description": "subscribe an email, from the form on / or as JSON" },
            { "method": "GET", "path": "/api/subscribers", "description": "how many have subscribed (SQL)" },
            { "method": "POST", "path": "/api/counter", "description": "adds one to a counter atomically (key-value); GET reads it" },
            { "method": "PUT", "path": "/api/kv/[key]", "description": "stores the body verbatim in the key-value store; GET and DELETE too" },
            { "method": "PUT", "path": "/api/notes/[id]?title=...", "description": "saves a note in SQL; GET reads it" },
            { "method": "POST", "path": "/api/notes/batch", "description": "saves several notes in one transaction: all or none" },
            { "method": "GET", "path": "/api/notes?title=...", "description": "the notes with this title" },
            { "method": "*", "path": "/api/echo", "description": "echoes the method, content type and parsed body" },
            { "method": "POST", "path": "/api/upload", "description": "streams the body without buffering it and counts it" },
            { "method": "GET", "path": "/api/stream?n=1000", "description": "a large response, streamed as n lines" },
            { "method": "GET", "path": "/api/panic", "description": "panics on purpose: the host answers 500 and keeps serving" },
        ],
    }))
}
