//! The control plane's own schema, created on first use. Hosts starting together take an
//! advisory lock first, so only one of them creates it and the others find it made.

use super::{ControlPlane, bounded};

/// The schema every control-plane table lives in.
pub const SCHEMA: &str = "routelet_control";

/// The advisory lock key for creating the schema (`routelet` in ASCII, then 1).
const SCHEMA_LOCK: i64 = 0x726f_7574_656c_0001;

/// Version 1 of the schema; later versions add statements after these, never change them.
const CREATE: &str = "
SET LOCAL client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS routelet_control;
CREATE TABLE IF NOT EXISTS routelet_control.bundles (
    sha256     text PRIMARY KEY,
    size       bigint NOT NULL,
    chunks     integer NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS routelet_control.bundle_chunks (
    bundle  text NOT NULL REFERENCES routelet_control.bundles ON DELETE CASCADE,
    part    integer NOT NULL,
    bytes   bytea NOT NULL,
    PRIMARY KEY (bundle, part)
);
CREATE TABLE IF NOT EXISTS routelet_control.deployments (
    id           text PRIMARY KEY,
    seq          bigserial UNIQUE,
    bundle       text NOT NULL REFERENCES routelet_control.bundles,
    created      bigint NOT NULL,
    source       text NOT NULL,
    routes       jsonb NOT NULL,
    fingerprint  text NOT NULL,
    by_host      text NOT NULL
);
CREATE TABLE IF NOT EXISTS routelet_control.generations (
    generation  bigserial PRIMARY KEY,
    deployment  text NOT NULL REFERENCES routelet_control.deployments ON DELETE CASCADE,
    kind        text NOT NULL,
    state       text NOT NULL CHECK (state IN ('preparing', 'committed', 'abandoned')),
    by_host     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz
);
CREATE TABLE IF NOT EXISTS routelet_control.active (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation  bigint REFERENCES routelet_control.generations,
    deployment  text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO routelet_control.active (only_row) VALUES (true) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS routelet_control.hosts (
    id                   text PRIMARY KEY,
    address              text NOT NULL,
    started_at           timestamptz NOT NULL DEFAULT now(),
    last_seen            timestamptz NOT NULL DEFAULT now(),
    prepared_generation  bigint,
    prepare_error        text,
    active_generation    bigint
);
CREATE TABLE IF NOT EXISTS routelet_control.pages (
    deployment    text NOT NULL,
    path          text NOT NULL,
    generated_ms  bigint NOT NULL,
    saved_at      timestamptz NOT NULL,
    page          bytea NOT NULL,
    PRIMARY KEY (deployment, path)
);
CREATE INDEX IF NOT EXISTS pages_saved ON routelet_control.pages (deployment, saved_at);
";

/// Creates the schema unless it exists, under the advisory lock.
pub async fn ensure(control: &ControlPlane) -> anyhow::Result<()> {
    let mut client = control.client().await?;
    let transaction = bounded(control, client.transaction()).await?;
    bounded(
        control,
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]),
    )
    .await?;
    bounded(control, transaction.batch_execute(CREATE)).await?;
    bounded(control, transaction.commit()).await?;
    Ok(())
}
