//! `metrics`: what the per-call metrics layer costs (issue 17: at most 5% of
//! health-check req/s). The same `health` and `get` clients against two
//! servers on the same database, started the same way for this scenario
//! (so neither is warmed by the others), one with the layer (the default)
//! and one without (`metrics = false`), in the same run.
//!
//! The machine is shared and drifts, so the two are interleaved: each
//! scenario's time is cut into rounds, and within a round the order flips
//! (with, without; then without, with). Requests and seconds are summed per
//! server; latencies are pooled.

use std::time::Instant;

use tonic::transport::Channel;

use crate::ServerProcess;
use crate::cpu::Used;
use crate::scenarios::{MetricsPair, Outcome, Rec, Setup, Target, block, get_client, health_client, sample_ids};

/// Rounds per scenario (each server gets this many blocks).
const ROUNDS: u32 = 10;

/// The largest acceptable cost (share of req/s lost to the layer).
const BUDGET: f64 = 0.05;

fn add(a: Used, b: Used) -> Used {
    Used {
        machine_s: a.machine_s + b.machine_s,
        capacity_s: a.capacity_s + b.capacity_s,
        client_s: a.client_s + b.client_s,
        server_s: a.server_s + b.server_s,
        bystander_s: a.bystander_s + b.bystander_s,
    }
}

/// Runs one worker kind alternately on the two servers.
async fn interleaved<F, Fut>(s: &Setup, pair: &MetricsPair, name: &str, worker: F) -> (Outcome, Outcome)
where
    F: Fn(usize, Channel, Instant) -> Fut + Clone,
    Fut: Future<Output = Rec> + Send + 'static,
{
    // Each server gets the scenario's whole time, in ROUNDS blocks.
    let each = s.duration / ROUNDS;
    let mut totals = [
        (Rec::default(), 0.0f64, Used::default()),
        (Rec::default(), 0.0, Used::default()),
    ];
    for round in 0..ROUNDS {
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (server, channels): &(ServerProcess, Vec<Channel>) = if which == 0 { &pair.on } else { &pair.off };
            let (rec, secs, cpu) = block(s, channels, server, s.concurrency, each, worker.clone()).await;
            let t = &mut totals[which];
            t.0.merge(rec);
            t.1 += secs;
            t.2 = add(t.2, cpu);
        }
    }
    let [on, off] = totals;
    let mut with = Outcome::from_rec(&format!("{name}-metrics"), s.concurrency, on.0, on.1);
    with.cpu = Some(on.2);
    let mut without = Outcome::from_rec(&format!("{name}-nometrics"), s.concurrency, off.0, off.1);
    without.cpu = Some(off.2);
    let (r_on, r_off) = (with.req_per_s(), without.req_per_s());
    if r_off > 0.0 {
        let cost = 1.0 - r_on / r_off;
        // The server's own CPU per call is far steadier than req/s on a
        // shared machine: with every core busy, req/s goes as 1 / (machine
        // CPU per call), so the layer's share of that is its cost in req/s.
        let server_us = |o: &Outcome| {
            o.cpu
                .filter(|_| o.requests > 0)
                .map(|c| c.server_s * 1e6 / o.requests as f64)
        };
        let cpu = match (server_us(&with), server_us(&without), without.cpu_us_per_req()) {
            (Some(a), Some(b), Some(machine)) if machine > 0.0 => format!(
                "; server CPU/call {a:.1} vs {b:.1} µs: {:+.1}% of the {machine:.0} µs a call costs the machine",
                (a - b) / machine * 100.0
            ),
            _ => String::new(),
        };
        with.target = Some(Target {
            what: format!(
                "cost of the metrics layer {:.1}% <= {:.0}% ({r_on:.0} vs {r_off:.0} req/s{cpu})",
                cost * 100.0,
                BUDGET * 100.0
            ),
            value: cost,
            met: cost <= BUDGET,
            limit: None,
        });
    }
    (with, without)
}

/// The `metrics` scenario.
pub async fn run(s: &Setup) -> Result<Vec<Outcome>, String> {
    let pair = s
        .metrics_pair
        .as_ref()
        .ok_or("the servers of `metrics` were not started")?;
    let (h_on, h_off) = interleaved(s, pair, "health", health_client).await;

    let ids = std::sync::Arc::new(sample_ids(&s.url, 10_000).await?);
    if ids.is_empty() {
        return Err("no records".into());
    }
    let secret = s.secret.clone();
    let get = move |i: usize, ch: Channel, deadline: Instant| {
        get_client(i, ch, deadline, ids.clone(), secret.clone(), "disclosures/")
    };
    let (g_on, g_off) = interleaved(s, pair, "get", get).await;
    Ok(vec![h_on, h_off, g_on, g_off])
}
