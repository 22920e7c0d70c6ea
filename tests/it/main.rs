//! The integration tests: one binary (to keep link time low), each module a
//! feature, every test against real SQLite and real PostgreSQL through a real
//! tonic client over TCP.

mod access;
mod access_matrix;
mod auth;
mod binary;
mod browser;
mod calendar;
mod conformance;
mod crash;
mod decisions;
mod demo;
mod expiry;
mod export;
mod feed;
mod grpc_web;
mod import;
mod malformed;
mod metrics;
mod multi_instance;
mod notice;
mod notice_pdf;
mod outage;
mod overload;
mod pg_harness;
mod publication;
mod repair;
mod repair_support;
mod report;
mod rules_in_use;
mod sensitive_audit;
mod served;
mod shutdown;
mod support;
mod web;
mod web_privacy;
