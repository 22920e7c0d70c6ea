//! The integration tests: one binary (to keep link time low), each module a
//! feature, every test against real SQLite and real PostgreSQL through a real
//! tonic client over TCP.

mod pg_harness;
mod support;
