//! CPU accounting for a scenario, from `/proc`: the whole machine's busy time
//! (every process: client, server, PostgreSQL backends, kernel), this
//! process's (the client's) and the server process's. On a machine whose
//! cores are saturated, CPU time per request is the cost that sets the rate,
//! so these figures say where a scenario's time goes and what rate the work
//! it must do could reach at best.

/// Clock ticks per second of `/proc` figures (`USER_HZ`; 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// A reading of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snap {
    busy: u64,
    total: u64,
    client: u64,
    server: u64,
    bystander: u64,
}

/// CPU used between two readings, in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Used {
    /// Busy time summed over all cores (everything but idle and iowait).
    pub machine_s: f64,
    /// Busy plus idle time summed over all cores: the capacity of the interval.
    pub capacity_s: f64,
    /// This process (the load generator's client side, and in-process SQL references).
    pub client_s: f64,
    /// The server process.
    pub server_s: f64,
    /// An idle server that is not the one measured (the main server while a
    /// floor scenario runs): not part of the scenario's work.
    pub bystander_s: f64,
}

impl Used {
    /// This share of it (for two kinds of request that ran in one window).
    pub fn share(&self, f: f64) -> Used {
        Used {
            machine_s: self.machine_s * f,
            capacity_s: self.capacity_s * f,
            client_s: self.client_s * f,
            server_s: self.server_s * f,
            bystander_s: self.bystander_s * f,
        }
    }

    /// Share of the machine's capacity that was busy.
    pub fn busy_share(&self) -> f64 {
        if self.capacity_s > 0.0 {
            self.machine_s / self.capacity_s
        } else {
            0.0
        }
    }
}

/// Reads the counters now; `server_pid` is the server process measured,
/// `bystander_pid` another server that should be idle.
pub fn snap(server_pid: u32, bystander_pid: Option<u32>) -> Snap {
    let (busy, total) = machine_ticks();
    Snap {
        busy,
        total,
        client: process_ticks("self"),
        server: process_ticks(&server_pid.to_string()),
        bystander: bystander_pid.map_or(0, |p| process_ticks(&p.to_string())),
    }
}

/// What was used since `before`.
pub fn since(before: Snap, server_pid: u32, bystander_pid: Option<u32>) -> Used {
    let now = snap(server_pid, bystander_pid);
    let s = |a: u64, b: u64| a.saturating_sub(b) as f64 / TICKS_PER_S;
    Used {
        machine_s: s(now.busy, before.busy),
        capacity_s: s(now.total, before.total),
        client_s: s(now.client, before.client),
        server_s: s(now.server, before.server),
        bystander_s: s(now.bystander, before.bystander),
    }
}

/// (busy, total) ticks of all cores from the first line of `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal guest guest_nice; guest
    // time is already counted in user.
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// utime + stime of a process (`/proc/<pid>/stat` fields 14 and 15).
fn process_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; count from after its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state), so utime (14) is index 11 and stime (15) index 12.
    let get = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}
