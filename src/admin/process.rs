//! Process metrics in the names every Prometheus client library uses
//! (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
//! `process_open_fds`, …), read from `/proc/self` at each scrape. On a system
//! without `/proc` the families are simply absent.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on
/// every Linux architecture gongshi runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// What `/proc/self` says now.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessFigures {
    /// User + system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
    /// Threads.
    pub threads: Option<u64>,
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Parses the figures out of `/proc/self/stat`, `/proc/self/status`,
/// `/proc/self/limits` and `/proc/stat` texts (pure, for the tests).
pub fn parse(stat: &str, status: &str, limits: &str, proc_stat: &str) -> ProcessFigures {
    // The command name may contain spaces and parentheses: fields start
    // after the last ')'. Field 3 (state) is then index 0.
    let fields: Vec<&str> = stat
        .rfind(')')
        .map(|i| stat[i + 1..].split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let cpu_seconds = match (field(14), field(15)) {
        (Some(u), Some(s)) => Some((u + s) as f64 / TICKS_PER_SECOND),
        _ => None,
    };
    let boot_time = proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    let start_time_seconds = match (boot_time, field(22)) {
        (Some(b), Some(t)) => Some(b as f64 + t as f64 / TICKS_PER_SECOND),
        _ => None,
    };
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l["Max open files".len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok());
    ProcessFigures {
        cpu_seconds,
        resident_bytes: status_kb(status, "VmRSS"),
        virtual_bytes: status_kb(status, "VmSize"),
        open_fds: None,
        max_fds,
        start_time_seconds,
        threads: field(20),
    }
}

/// Reads the figures of this process now.
pub fn read() -> ProcessFigures {
    let text = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mut f = parse(
        &text("/proc/self/stat"),
        &text("/proc/self/status"),
        &text("/proc/self/limits"),
        &text("/proc/stat"),
    );
    f.open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64);
    f
}

/// The collector, registered in the admin listener's own registry.
#[derive(Debug, Default)]
pub struct ProcessCollector;

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue + std::fmt::Debug + Send + Sync + 'static>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: Option<N>,
) -> Result<(), std::fmt::Error> {
    if let Some(v) = v {
        let g = ConstGauge::new(v);
        g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)?;
    }
    Ok(())
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let f = read();
        if let Some(cpu) = f.cpu_seconds {
            let c = ConstCounter::new(cpu);
            c.encode(enc.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                c.metric_type(),
            )?)?;
        }
        gauge(
            &mut enc,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            f.resident_bytes,
        )?;
        gauge(
            &mut enc,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            f.virtual_bytes,
        )?;
        gauge(
            &mut enc,
            "process_open_fds",
            "Number of open file descriptors",
            f.open_fds,
        )?;
        gauge(
            &mut enc,
            "process_max_fds",
            "Maximum number of open file descriptors",
            f.max_fds,
        )?;
        gauge(
            &mut enc,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            f.start_time_seconds,
        )?;
        gauge(
            &mut enc,
            "process_threads",
            "Number of OS threads in the process",
            f.threads,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_texts() {
        // Fields 3.. of a real stat line, with a command name holding ") (".
        let stat = "4242 (gong shi) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 123456 \
                    987654321 2500 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let status = "Name:\tgongshi\nVmSize:\t  964480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        let proc_stat = "cpu  1 2 3\nbtime 1700000000\nprocesses 1\n";
        let f = parse(stat, status, limits, proc_stat);
        assert_eq!(f.cpu_seconds, Some(3.0));
        assert_eq!(f.resident_bytes, Some(10240 * 1024));
        assert_eq!(f.virtual_bytes, Some(964480 * 1024));
        assert_eq!(f.max_fds, Some(1024));
        assert_eq!(f.threads, Some(7));
        assert_eq!(f.start_time_seconds, Some(1700000000.0 + 1234.56));
        assert_eq!(parse("", "", "", ""), ProcessFigures::default());
    }

    #[test]
    fn reads_this_process() {
        let f = read();
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(f.resident_bytes.is_some_and(|b| b > 0), "{f:?}");
            assert!(f.open_fds.is_some_and(|n| n > 0), "{f:?}");
            assert!(f.cpu_seconds.is_some(), "{f:?}");
        }
    }
}
