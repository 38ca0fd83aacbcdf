//! Only the benches matter here; see benches/lookup.rs.
