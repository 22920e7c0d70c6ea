//! The integration tests: one binary (to keep link time low), each module a
//! feature, every test against real SQLite and real PostgreSQL through a real
//! tonic client over TCP.

mod access;
mod auth;
mod binary;
mod conformance;
mod decisions;
mod demo;
mod expiry;
mod export;
mod feed;
mod import;
mod notice;
mod pg_harness;
mod publication;
mod repair;
mod repair_support;
mod report;
mod shutdown;
mod support;
