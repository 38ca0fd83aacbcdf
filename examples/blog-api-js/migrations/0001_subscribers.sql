-- Subscribers of the form on /. Portable SQL: the same file runs on SQLite and PostgreSQL.
CREATE TABLE subscribers (
    email TEXT PRIMARY KEY,
    source TEXT NOT NULL
);
