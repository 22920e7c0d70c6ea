//! Fuzz targets for every parser and validator that sees untrusted input
//! (issue 7, "Hostile input"), on the stable toolchain: each target feeds
//! random inputs — random bytes and strings, and mutations of valid seeds —
//! to one public function of the library and catches panics.
//!
//! ```text
//! cargo bench --bench fuzz -- [--iterations N] [--smoke] [--target NAME[,NAME…]] [--seed S] [--list]
//! ```
//!
//! Prints one line per target (iterations, panics, seconds) and, for each
//! target that panicked, the first offending input (escaped, or hex) with the
//! iteration and the seed to replay it. Exits 1 if anything panicked.

#![forbid(unsafe_code)]

mod input;
#[path = "../../tests/testkit/sample.rs"]
mod sample;
mod targets;

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use crate::input::Gen;
use crate::targets::*;

/// Fuzz the parsers and validators of gongshi.
#[derive(Parser, Debug)]
#[command(name = "fuzz")]
struct Args {
    /// Inputs per target.
    #[arg(long, default_value_t = 1_000_000)]
    iterations: u64,
    /// CI smoke run: 10,000 inputs per target.
    #[arg(long)]
    smoke: bool,
    /// Run only these targets (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// Seed of the run (default: from the clock); each target's inputs follow
    /// from it and the target's name, so one target replays alone.
    #[arg(long)]
    seed: Option<u64>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The first panic of a target.
struct Failure {
    iteration: u64,
    input: String,
    message: String,
}

/// What one target did.
struct Stats {
    iterations: u64,
    panics: u64,
    seconds: f64,
    first: Option<Failure>,
}

/// The message of the latest panic (the hook keeps it instead of printing it).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// A target, type-erased.
trait Runner {
    fn run(&self, g: &mut Gen, iterations: u64) -> Stats;
}

impl<T: Fuzz> Runner for T {
    fn run(&self, g: &mut Gen, iterations: u64) -> Stats {
        let started = Instant::now();
        let mut panics = 0;
        let mut first = None;
        for i in 0..iterations {
            let input = self.input(g);
            if panic::catch_unwind(AssertUnwindSafe(|| self.check(&input))).is_err() {
                panics += 1;
                if first.is_none() {
                    let message = LAST_PANIC
                        .lock()
                        .map(|mut m| m.take().unwrap_or_default())
                        .unwrap_or_default();
                    first = Some(Failure {
                        iteration: i,
                        input: self.show(&input),
                        message,
                    });
                }
            }
        }
        Stats {
            iterations,
            panics,
            seconds: started.elapsed().as_secs_f64(),
            first,
        }
    }
}

/// A target's name, what it covers, and how to build it (seeded, so its
/// seeds are the same for a given run seed).
type Entry = (&'static str, &'static str, fn(&mut Gen) -> Box<dyn Runner>);

const TARGETS: &[Entry] = &[
    (
        "credit_code",
        "domain::ids::CreditCode::parse, compute_check_char",
        |g| Box::new(CreditCodeTarget::new(g)),
    ),
    (
        "id_number",
        "domain::ids::IdNumber::parse, compute_id_check_char",
        |g| Box::new(IdNumberTarget::new(g)),
    ),
    (
        "page_token",
        "api::page::position (own, foreign, mutated tokens), page::size",
        |_| Box::new(PageTokenTarget::new()),
    ),
    (
        "field_validation",
        "api::convert::Violations text/credit_code/date/finish",
        |g| Box::new(ViolationsTarget::new(g)),
    ),
    (
        "decision_doc",
        "api::convert::decision_doc on decoded and hostile PenaltyDecisions",
        |g| Box::new(DecisionDocTarget::new(g)),
    ),
    (
        "protobuf_decode",
        "prost decode of every gongshi.v1 request message",
        |_| Box::new(ProtobufTarget::new()),
    ),
    (
        "time_and_amounts",
        "convert::from_ts/ts, clock::from_micros, fen_to_wanyuan, add_months",
        |_| Box::new(TimeTarget),
    ),
    (
        "import_row",
        "import::validate_row (one CSV/XLSX row, national layout)",
        |g| Box::new(ImportRowTarget::new(g)),
    ),
    (
        "import_header",
        "import::Layout::from_header (column detection)",
        |_| Box::new(ImportHeaderTarget::new()),
    ),
    (
        "import_csv",
        "import::parse_csv (UTF-8/GB18030, CSV) + header + rows",
        |_| Box::new(ImportCsvTarget::new()),
    ),
    (
        "import_values",
        "import::wanyuan_to_fen, parse_sector/severity/procedure",
        |_| Box::new(ImportValuesTarget::new()),
    ),
    (
        "receipt_code",
        "domain::repair::normalize_receipt, receipt_code",
        |_| Box::new(ReceiptTarget::new()),
    ),
    (
        "search_query",
        "domain::search::SearchTerm::parse (the public q) + bigrams",
        |_| Box::new(SearchQueryTarget::new()),
    ),
    (
        "calendar_csv",
        "domain::calendar::WorkingCalendar::from_csv + working days",
        |_| Box::new(CalendarTarget::new()),
    ),
    ("policy_toml", "domain::policy::PublicityPolicy::from_toml", |_| {
        Box::new(PolicyTomlTarget::new())
    }),
    (
        "policy_decide",
        "PublicityPolicy::decide on any date and enum combination",
        |_| Box::new(PolicyDecideTarget::new()),
    ),
];

/// FNV-1a, to derive a target's seed from its name.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for (name, about, _) in TARGETS {
            println!("{name:<18} {about}");
        }
        return ExitCode::SUCCESS;
    }
    let unknown: Vec<&String> = args
        .target
        .iter()
        .filter(|t| !TARGETS.iter().any(|(n, _, _)| n == t))
        .collect();
    if !unknown.is_empty() {
        eprintln!("fuzz: unknown target {unknown:?}; --list shows them");
        return ExitCode::from(2);
    }
    if let Err(e) = targets::check_seeds() {
        eprintln!("fuzz: {e}");
        return ExitCode::from(2);
    }
    let iterations = if args.smoke { 10_000 } else { args.iterations };
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    println!(
        "fuzz: seed {seed}, {iterations} inputs per target (replay: cargo bench --bench fuzz -- --seed {seed} --target NAME)"
    );

    // Keep panic messages for the report instead of printing thousands.
    panic::set_hook(Box::new(|info| {
        if let Ok(mut m) = LAST_PANIC.lock() {
            *m = Some(info.to_string());
        }
    }));

    println!("{:<18} {:>12} {:>8} {:>9}", "target", "iterations", "panics", "seconds");
    let mut failures = Vec::new();
    let (mut total_n, mut total_p, mut total_s) = (0, 0, 0.0);
    for (name, _, make) in TARGETS {
        if !args.target.is_empty() && !args.target.iter().any(|t| t == name) {
            continue;
        }
        let mut g = Gen::new(seed ^ fnv(name));
        let target = make(&mut g);
        let stats = target.run(&mut g, iterations);
        println!(
            "{name:<18} {:>12} {:>8} {:>9.2}",
            stats.iterations, stats.panics, stats.seconds
        );
        total_n += stats.iterations;
        total_p += stats.panics;
        total_s += stats.seconds;
        if let Some(f) = stats.first {
            failures.push((name, stats.panics, f));
        }
    }
    println!("{:<18} {total_n:>12} {total_p:>8} {total_s:>9.2}", "total");

    let _ = panic::take_hook();
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    for (name, panics, f) in failures {
        eprintln!(
            "\n{name}: {panics} panics; the first at iteration {} (replay: --seed {seed} --target {name} --iterations {})",
            f.iteration,
            f.iteration + 1
        );
        eprintln!("  input: {}", f.input);
        eprintln!("  {}", f.message);
    }
    ExitCode::FAILURE
}
