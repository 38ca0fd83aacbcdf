-- Notes of /api/notes/[id]: a title (text) and a body (bytes, so NULs survive on every backend).
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body BYTEA NOT NULL
);
