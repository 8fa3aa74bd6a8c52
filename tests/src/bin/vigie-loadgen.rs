//! `vigie-loadgen`: the collector's load benchmark.
//!
//! Starts a real `vigie-collector serve` (the binary beside this one, so build both with the
//! same profile) on 127.0.0.1 over a fresh SQLite database (or, with `--backend postgres`, a
//! fresh PostgreSQL server started for the run with its durable defaults, `fsync=on` and
//! `synchronous_commit=on`), enrolls `--agents` agents (a token each, named as the agent's id,
//! since a token posts for one agent) over `--orgs` organizations,
//! then posts reports as those agents would (each agent its own targets,
//! `--findings` findings a report, ~280 bytes of JSON each) from `--clients` keep-alive
//! connections, and prints the sustained rate and the latency percentiles of two phases:
//! the first report of every agent (every finding a new key and a history row), then
//! `--seconds` of the steady state (agents reporting again, verdicts unchanged).
//! With `--rss-every N`, the collector's resident memory (`VmRSS` of `/proc/PID/status`) is
//! sampled every N seconds of the steady state and printed as a series with its first, last
//! and highest values: a soak is `--seconds 600 --rss-every 30`. `--rate N` paces the steady
//! state to N reports a second: unpaced, 10 minutes at ~1,000 reports/s write ~50 GB of
//! SQLite (85 KiB a report), more than a small test machine's disk.
//!
//! ```text
//! cargo build --release -p vigie-collector -p vigie-tests --bins
//! target/release/vigie-loadgen --seconds 30
//! target/release/vigie-loadgen --seconds 30 --backend postgres
//! target/release/vigie-loadgen --seconds 600 --rss-every 30 --rate 600   # the memory soak
//! ```
//!
//! Every report is acknowledged only after its transaction commits (`synchronous=FULL`), so
//! the rate measured is the rate of durable reports.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use vigie_tests::scale::{self, Client, CollectorProcess};

#[derive(Debug, Clone)]
struct Options {
    orgs: usize,
    agents: usize,
    findings: usize,
    clients: usize,
    seconds: u64,
    dir: Option<std::path::PathBuf>,
    postgres: bool,
    /// Seconds between two samples of the collector's RSS; 0: none.
    rss_every: u64,
    /// Reports a second at most in the steady state; 0: as fast as the collector answers.
    rate: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: vigie-loadgen [--orgs N (1000)] [--agents N (5000)] [--findings N (200)] [--clients N (8)] [--seconds N (30)] [--dir PATH] [--backend sqlite|postgres (sqlite)] [--rss-every SECONDS (0: off)] [--rate REPORTS_PER_S (0: unpaced)]"
    );
    std::process::exit(2)
}

fn parse() -> Options {
    let mut options = Options {
        orgs: 1000,
        agents: 5000,
        findings: 200,
        clients: 8,
        seconds: 30,
        dir: None,
        postgres: false,
        rss_every: 0,
        rate: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = || value.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--orgs" => options.orgs = number() as usize,
            "--agents" => options.agents = number() as usize,
            "--findings" => options.findings = number() as usize,
            "--clients" => options.clients = number() as usize,
            "--seconds" | "--duration" => options.seconds = number(),
            "--rss-every" => options.rss_every = number(),
            "--rate" => options.rate = number(),
            "--dir" => options.dir = Some(value.into()),
            "--backend" => {
                options.postgres = match value.as_str() {
                    "sqlite" => false,
                    "postgres" => true,
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    if options.orgs == 0 || options.agents < options.orgs || options.clients == 0 {
        usage();
    }
    options
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn main() {
    let options = parse();
    // The collector binary is the one beside this one; never rebuild the workspace from here.
    std::env::set_var("VIGIE_TEST_NO_BUILD", "1");
    let scratch = tempfile_dir(options.dir.clone());
    let postgres = options
        .postgres
        .then(|| vigie_tests::postgres::PostgresServer::start_with("127.0.73.1", true));
    let collector = match &postgres {
        Some(server) => CollectorProcess::start_with_url(
            &scratch,
            server.create_database("vigie"),
            &["--rate-limit", "0"],
        ),
        None => CollectorProcess::start(&scratch, &["--rate-limit", "0"]),
    };
    eprintln!(
        "collector {} over {}; enrolling {} agents of {} organizations",
        collector.addr,
        match &postgres {
            Some(server) => format!("PostgreSQL at {}:{}", server.ip, server.port),
            None => collector.db_path().display().to_string(),
        },
        options.agents,
        options.orgs
    );
    let orgs: Vec<String> = (0..options.orgs).map(|i| format!("org-{i:05}")).collect();
    let tokens = enroll(&collector, &orgs, options.agents);
    // One body per organization, with placeholders for the agent, the id and the time: an
    // agent's targets are its own (`<agent>-<n>.<org>.example:443`).
    let at = Utc::now() - chrono::Duration::hours(1);
    let template_at = finished_at(at);
    let templates: Vec<Template> = orgs
        .iter()
        .map(|org| {
            Template::new(
                &scale::report_json(
                    "__ID__",
                    org,
                    "__AGENT__",
                    "__AGENT__-",
                    options.findings,
                    at,
                ),
                &template_at,
            )
        })
        .collect();
    let body_bytes = templates[0]
        .fill(&scale::report_id(0, 0, 0), "agent-00000", &template_at)
        .len();
    let shared = Arc::new(Shared {
        addr: collector.addr,
        agents: options.agents as u64,
        orgs,
        tokens,
        templates,
        run: Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64,
        next: AtomicU64::new(0),
    });
    eprintln!(
        "{} findings a report ({body_bytes} bytes), {} agents, {} connections",
        options.findings, options.agents, options.clients
    );
    // First contact: every agent's first report creates its latest-state rows and a history
    // row per finding. Then the steady state: agents report again, few verdicts change.
    let first = phase(
        &shared,
        options.clients,
        Some(options.agents as u64),
        None,
        0,
    );
    print_phase("first report of each agent", &first, options.findings);
    let sampler = (options.rss_every > 0)
        .then(|| collector.pid())
        .flatten()
        .map(|pid| RssSampler::start(pid, Duration::from_secs(options.rss_every)));
    let steady = phase(
        &shared,
        options.clients,
        None,
        Some(Duration::from_secs(options.seconds)),
        options.rate,
    );
    print_phase("steady state", &steady, options.findings);
    if let Some(sampler) = sampler {
        print_rss(options.rss_every, &sampler.finish());
    }
    // What Prometheus would scrape from this collector now: the first scrape after the
    // reports builds the snapshot (reads the store, grades the matrix); the next ones are
    // served from it (a large page is rebuilt in the background, never on a scrape).
    let scraper = collector.scraper_token("loadgen");
    for scrape in [
        "first scrape (builds the snapshot)",
        "next scrape (from the snapshot)",
    ] {
        let asked = Instant::now();
        match scale::request(collector.addr, "GET", "/metrics", Some(&scraper), None) {
            Ok(answer) => println!(
                "/metrics, {scrape}: {} series, {:.2} MiB, answered in {:.0} ms",
                answer
                    .body
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty())
                    .count(),
                answer.body.len() as f64 / 1048576.0,
                asked.elapsed().as_secs_f64() * 1e3
            ),
            Err(error) => println!("/metrics, {scrape}: no answer ({error})"),
        }
    }
    let database_bytes = match &postgres {
        Some(server) => server
            .psql("vigie", "SELECT pg_database_size('vigie')")
            .parse::<u64>()
            .unwrap_or(0),
        None => {
            std::fs::metadata(collector.db_path()).map_or(0, |m| m.len())
                + std::fs::metadata(scratch.join("vigie.db-wal")).map_or(0, |m| m.len())
        }
    };
    let stored = first.latencies.len() + steady.latencies.len();
    println!(
        "database: {:.1} MiB for {stored} reports ({:.1} KiB a report)",
        database_bytes as f64 / 1048576.0,
        database_bytes as f64 / 1024.0 / stored.max(1) as f64
    );
    drop(collector);
    drop(postgres);
    if options.dir.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
}

/// What the workers share.
/// One token per agent: agent `n` (`agent-<n>`, five digits) of organization `n % orgs`,
/// enrolled by four `vigie-collector agent add` at a time.
fn enroll(collector: &CollectorProcess, orgs: &[String], agents: usize) -> Vec<String> {
    const THREADS: usize = 4;
    let mut tokens = vec![String::new(); agents];
    std::thread::scope(|scope| {
        for (part, chunk) in tokens.chunks_mut(agents.div_ceil(THREADS)).enumerate() {
            let first = part * agents.div_ceil(THREADS);
            scope.spawn(move || {
                for (i, token) in chunk.iter_mut().enumerate() {
                    let agent = first + i;
                    let org = &orgs[agent % orgs.len()];
                    *token = collector.agent_token(org, &format!("agent-{agent:05}"));
                }
            });
        }
    });
    tokens
}

struct Shared {
    addr: std::net::SocketAddr,
    agents: u64,
    orgs: Vec<String>,
    /// Agent `n`'s token, named `agent-<n>` as the agent id it posts (the collector binds
    /// a token to one agent).
    tokens: Vec<String>,
    templates: Vec<Template>,
    run: u64,
    /// The number of the next report; report `n` is agent `n % agents`'s.
    next: AtomicU64,
}

struct Phase {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

/// A report body cut at its placeholders (the report id, the agent, the finish time), so
/// that a body is filled in one pass: the load generator shares the collector's two cores,
/// and three `replace` passes over 56 KB a report took CPU from the collector it measures.
struct Template {
    parts: Vec<(String, Option<Slot>)>,
}

#[derive(Clone, Copy)]
enum Slot {
    Id,
    Agent,
    FinishedAt,
}

impl Template {
    fn new(text: &str, finished_at: &str) -> Template {
        let mut parts = Vec::new();
        let mut rest = text;
        // Bounded by the text's length: each turn consumes at least one placeholder.
        for _ in 0..=text.len() {
            let next = [
                ("__ID__", Slot::Id),
                ("__AGENT__", Slot::Agent),
                (finished_at, Slot::FinishedAt),
            ]
            .into_iter()
            .filter_map(|(needle, slot)| rest.find(needle).map(|at| (at, needle.len(), slot)))
            .min_by_key(|(at, _, _)| *at);
            let Some((at, len, slot)) = next else {
                parts.push((rest.to_owned(), None));
                break;
            };
            parts.push((rest[..at].to_owned(), Some(slot)));
            rest = &rest[at + len..];
        }
        Template { parts }
    }

    fn len(&self) -> usize {
        self.parts.iter().map(|(text, _)| text.len()).sum()
    }

    fn fill(&self, id: &str, agent: &str, finished_at: &str) -> String {
        let mut out = String::with_capacity(self.len() + 64 * self.parts.len());
        for (text, slot) in &self.parts {
            out.push_str(text);
            out.push_str(match slot {
                Some(Slot::Id) => id,
                Some(Slot::Agent) => agent,
                Some(Slot::FinishedAt) => finished_at,
                None => "",
            });
        }
        out
    }
}

/// Posts from `clients` connections until `count` more reports were taken or `duration`
/// passed; with a `rate` (reports a second, 0: none), report `k` of the phase is not sent
/// before `k / rate` seconds into it.
fn phase(
    shared: &Arc<Shared>,
    clients: usize,
    count: Option<u64>,
    duration: Option<Duration>,
    rate: u64,
) -> Phase {
    let first = shared.next.load(Ordering::Relaxed);
    let end = count.map_or(u64::MAX, |c| first + c);
    let deadline = duration.map(|d| Instant::now() + d);
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (shared, stop, errors) = (shared.clone(), stop.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let mut client: Option<Client> = None;
                // Bounded by the stop flag, the phase's count and a count of its own.
                for _ in 0..100_000_000u64 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let n = shared.next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    if rate > 0 {
                        let due =
                            started + Duration::from_secs_f64((n - first) as f64 / rate as f64);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let agent = n % shared.agents;
                    let org = (agent as usize) % shared.orgs.len();
                    let body = shared.templates[org].fill(
                        &scale::report_id(shared.run, agent, n),
                        &format!("agent-{agent:05}"),
                        &finished_at(Utc::now()),
                    );
                    if client.is_none() {
                        client = Client::connect(shared.addr, Duration::from_secs(30)).ok();
                    }
                    let Some(connection) = client.as_mut() else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let sent = Instant::now();
                    match connection.request(
                        "POST",
                        "/api/v1/reports",
                        Some(&shared.tokens[agent as usize]),
                        Some(&body),
                    ) {
                        Ok(answer) if answer.status == 201 => mine.push(sent.elapsed()),
                        Ok(answer) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("answer {}: {}", answer.status, answer.body);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            client = None;
                        }
                    }
                }
                mine
            })
        })
        .collect();
    if let Some(deadline) = deadline {
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        stop.store(true, Ordering::Relaxed);
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.join().unwrap_or_default());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Phase {
        latencies,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
    }
}

fn print_phase(name: &str, phase: &Phase, findings: usize) {
    let stored = phase.latencies.len();
    let seconds = phase.elapsed.as_secs_f64();
    println!(
        "{name}: {stored} reports stored in {seconds:.1} s, {} errors",
        phase.errors
    );
    println!(
        "  sustained: {:.0} reports/s, {:.0} findings/s",
        stored as f64 / seconds,
        (stored * findings) as f64 / seconds
    );
    let ms = |p| percentile(&phase.latencies, p).as_secs_f64() * 1e3;
    println!(
        "  latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(0.50),
        ms(0.90),
        ms(0.99),
        ms(1.0)
    );
}

/// Samples a process's resident memory on a thread of its own until finished.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Duration, u64)>>,
}

impl RssSampler {
    fn start(pid: u32, every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            let mut next = started;
            // Bounded by the stop flag and by a day of samples at one a second.
            for _ in 0..86_400 * 10 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if Instant::now() >= next {
                    if let Some(kib) = vm_rss_kib(pid) {
                        samples.push((started.elapsed(), kib));
                    }
                    next += every;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // One last sample at the end of the phase.
            if let Some(kib) = vm_rss_kib(pid) {
                samples.push((started.elapsed(), kib));
            }
            samples
        });
        RssSampler { stop, thread }
    }

    fn finish(self) -> Vec<(Duration, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// `VmRSS` of `/proc/PID/status`, in KiB; `None` once the process is gone.
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

fn print_rss(every: u64, samples: &[(Duration, u64)]) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let series: Vec<String> = samples
        .iter()
        .map(|(at, kib)| format!("{:.0}s {:.1}", at.as_secs_f64(), mib(*kib)))
        .collect();
    println!("collector RSS (MiB) every {every} s: {}", series.join(", "));
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        println!("  no sample: /proc/PID/status was not readable");
        return;
    };
    let highest = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "  first {:.1} MiB, last {:.1} MiB ({:+.1} MiB, {:+.1}%), highest {:.1} MiB",
        mib(first.1),
        mib(last.1),
        mib(last.1) - mib(first.1),
        (last.1 as f64 - first.1 as f64) * 100.0 / (first.1.max(1)) as f64,
        mib(highest)
    );
}

/// The `finished_at` member as `scale::report_json` writes it.
fn finished_at(at: chrono::DateTime<Utc>) -> String {
    format!(
        "\"finished_at\":\"{}\"",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// `--dir`, created, or a fresh folder under the system's temporary folder.
fn tempfile_dir(dir: Option<std::path::PathBuf>) -> std::path::PathBuf {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("vigie-loadgen-{}", std::process::id()))
    });
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {error}", dir.display());
        std::process::exit(1);
    }
    dir
}
