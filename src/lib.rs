//! gongshi (公示): administrative-penalty disclosure, credit repair and
//! companion-notice service for a Chinese enforcement bureau, over gRPC.
//!
//! # Layout
//!
//! - [`domain`]: pure rules and types — identifiers, the publicity policy,
//!   the working-day calendar, records and their states, the clock. No I/O.
//! - [`store`]: the [`store::Store`] trait with PostgreSQL and SQLite
//!   implementations; owns all SQL, transactions and cursors.
//! - [`app`]: each official act as one transaction over the store, applying
//!   the domain rules. No SQL, no protobuf.
//! - [`api`]: tonic services — protobuf ⇄ domain, authentication and roles,
//!   errors as rich gRPC statuses. No SQL.
//! - [`render`]: documents as printed — each notice as a PDF in the layout
//!   of GB/T 9704-2012, in fonts compiled into the binary. Pure.
//! - [`admin`]: the operator's listener — Prometheus metrics, `/livez`,
//!   `/readyz`. Reads through [`app`] like `api`.
//! - [`web`]: the public face over plain HTTP — the query page, JSON and
//!   Atom — over the application's public read models. No SQL.
//! - [`wire`]: the generated protobuf messages and the public record's
//!   `Disclosure` encoding, pure, shared by the store (which keeps each
//!   record's encoding) and the adapters.
//! - [`server`]: wiring — health, reflection, edge layers, background jobs,
//!   the admin listener, shutdown.
//! - [`config`]: settings from defaults, file, environment.
//! - [`demo`]: the demo history behind `gongshi demo`.
//! - [`import`]: `gongshi import FILE` — historical decisions from CSV/XLSX.
//!
//! `src/main.rs` is the command line (`serve`, `migrate`, `keys`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod api;
pub mod app;
pub mod config;
pub mod demo;
pub mod domain;
pub mod import;
pub mod render;
pub mod server;
pub mod store;
pub mod web;
pub mod wire;
