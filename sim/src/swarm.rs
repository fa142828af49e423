//! Swarm testing: many seeds, each deriving a whole scenario with a random subset of fault
//! families switched on (not all at once, so rare interactions get room), run in parallel, one
//! simulation per thread, with a summary by failure class and a reproduce line for each.
//!
//! A generated scenario is an ordinary scenario: it is written as YAML and read back before it
//! runs, so `sim swarm --emit SEED > f.yaml && sim f.yaml` replays the same trace byte for byte.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use server::config::Herd;

use crate::report::{self, Judged, exit};
use crate::scenario::{
    Action, Checks, Expect, HerdSource, IamAt, LatencyRange, LimitOverrides, LinkCut, LinkGroups,
    LinkLatency, Network, PlacesFault, Raw, RawPayload, Scenario, SignedDuration, Skew, Step,
    WhatsAt,
};

/// Client ids the workload draws from.
const CLIENTS: [&str; 5] = ["kiwi", "lime", "mango", "plum", "fig"];
/// Threads get big stacks: a simulation nests deep futures.
const THREAD_STACK_BYTES: usize = 16 * 1024 * 1024;
/// Failing seeds listed per failure class in the summary.
const FIRST_SEEDS_SHOWN: usize = 5;

/// `sim swarm`.
#[derive(Debug, Clone, clap::Args)]
pub struct SwarmArgs {
    /// Seeds to run: `0..1000` (end excluded) or one seed, `17`.
    #[arg(long, default_value = "0..100", value_parser = parse_seeds)]
    pub seeds: Range<u64>,
    /// Simulations run at once (one per thread); default: every core.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only this machine's share of the seeds: `I/N` takes the seeds with seed % N == I.
    #[arg(long, value_parser = parse_shard, value_name = "I/N")]
    pub shard: Option<(u64, u64)>,
    /// The herd to run (default: the herd of SPEC section 7).
    #[arg(long, value_name = "FILE")]
    pub herd: Option<PathBuf>,
    /// Simulated length of each run; the last part is always a quiet phase.
    #[arg(long, default_value = "30s", value_parser = parse_time)]
    pub duration: Duration,
    /// Print the scenario seed SEED runs, as YAML, and run nothing.
    #[arg(long, value_name = "SEED")]
    pub emit: Option<u64>,
    /// Print each seed's derived options as it starts.
    #[arg(long)]
    pub print_options: bool,
    /// Shrink the first failing seed of each failure class into `--out`.
    #[arg(long)]
    pub shrink: bool,
    /// Where `--shrink` writes minimized scenarios.
    #[arg(long, default_value = "scenarios/regressions")]
    pub out: PathBuf,
}

fn parse_time(text: &str) -> Result<Duration, String> {
    server::config::parse_duration(text)
}

fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("{s:?} is not a seed number"))
    };
    match text.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a >= b {
                return Err(format!("seed range {text} is empty"));
            }
            Ok(a..b)
        }
        None => {
            let seed = number(text)?;
            Ok(seed..seed.saturating_add(1))
        }
    }
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text.split_once('/').ok_or("a shard is I/N, e.g. 0/4")?;
    let (i, n): (u64, u64) = (
        i.parse().map_err(|_| "shard I is not a number")?,
        n.parse().map_err(|_| "shard N is not a number")?,
    );
    if n == 0 || i >= n {
        return Err(format!("shard {text}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// What one seed switched on: the fault families and their rates, the workload, the network.
/// Every field is derived from the seed alone; `Display` prints it for `--print-options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmOptions {
    pub seed: u64,
    pub duration: Duration,
    /// Faults happen before this; after it, a quiet phase lets liveness be judged.
    pub chaos_end: Duration,
    pub latency: LatencyRange,
    pub partitions: u32,
    pub oneway_partitions: bool,
    /// Holds of one server's links, each probed by a WHATSAT that overtakes its IAMAT.
    pub reorder_probes: u32,
    pub latency_spikes: u32,
    pub crashes: u32,
    pub skews: u32,
    pub places_faults: u32,
    pub bad_inputs: u32,
    pub clients: u32,
    pub iamats: u32,
    pub whatsats: u32,
}

impl SwarmOptions {
    /// Draws the options of `seed`. Each fault family is on with probability 1/2.
    pub fn derive(seed: u64, duration: Duration) -> SwarmOptions {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED_5A4A_u64);
        let mut family = |max: u32| -> u32 {
            if rng.random_bool(0.5) {
                rng.random_range(1..=max)
            } else {
                0
            }
        };
        let partitions = family(3);
        let reorder_probes = family(2);
        let latency_spikes = family(3);
        let crashes = family(2);
        let skews = family(2);
        let places_faults = family(3);
        let bad_inputs = family(4);
        let oneway_partitions = partitions > 0 && rng.random_bool(0.5);
        let min_ms = rng.random_range(1..=5u64);
        let max_ms = rng.random_range(min_ms..=50);
        let quiet = Duration::from_secs(10);
        let chaos_end = duration.saturating_sub(quiet).max(Duration::from_secs(3));
        SwarmOptions {
            seed,
            duration,
            chaos_end,
            latency: LatencyRange {
                min: Duration::from_millis(min_ms),
                max: Duration::from_millis(max_ms),
            },
            partitions,
            oneway_partitions,
            reorder_probes,
            latency_spikes,
            crashes,
            skews,
            places_faults,
            bad_inputs,
            clients: rng.random_range(1..=CLIENTS.len() as u32),
            iamats: rng.random_range(3..=30),
            whatsats: rng.random_range(2..=20),
        }
    }
}

impl fmt::Display for SwarmOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |n: u32| {
            if n == 0 {
                "off".to_string()
            } else {
                n.to_string()
            }
        };
        write!(
            f,
            "seed {}: duration {} chaos until {} latency {} | partitions {}{} reorder-probes {} latency-spikes {} crashes {} skews {} places-faults {} bad-input {} | clients {} iamats {} whatsats {}",
            self.seed,
            crate::scenario::fmt_duration(self.duration),
            crate::scenario::fmt_duration(self.chaos_end),
            self.latency,
            on(self.partitions),
            if self.oneway_partitions {
                " (some one-way)"
            } else {
                ""
            },
            on(self.reorder_probes),
            on(self.latency_spikes),
            on(self.crashes),
            on(self.skews),
            on(self.places_faults),
            on(self.bad_inputs),
            self.clients,
            self.iamats,
            self.whatsats
        )
    }
}

/// Builds the scenario of `options` on `herd`.
pub fn generate(options: &SwarmOptions, herd: &Herd, herd_source: HerdSource) -> Scenario {
    let mut rng = SmallRng::seed_from_u64(options.seed ^ 0x0005_7E95_u64);
    let servers: Vec<String> = herd.servers.iter().map(|s| s.name.clone()).collect();
    let clients: Vec<String> = CLIENTS
        .iter()
        .take(options.clients as usize)
        .map(|c| c.to_string())
        .collect();
    let mut steps: Vec<(Duration, Action, Option<Expect>)> = Vec::new();
    let ms = |v: u64| Duration::from_millis(v);
    let chaos_ms = options.chaos_end.as_millis() as u64;
    let at = |rng: &mut SmallRng, from_ms: u64, to_ms: u64| {
        ms(rng.random_range(from_ms..to_ms.max(from_ms + 1)) / 10 * 10)
    };

    // Reorder probes first, alone among the topology faults (turmoil cannot combine a hold with
    // a partition or crash of the same hosts): hold every link of one server, send it an
    // IAMAT, ask a neighbour 50 ms later, release inside the neighbour's WHATSAT wait.
    let mut t = 1000u64;
    for i in 0..options.reorder_probes {
        let origin = &servers[rng.random_range(0..servers.len())];
        let neighbours: Vec<String> = herd
            .neighbours(origin)
            .into_iter()
            .map(|n| n.name)
            .collect();
        let Some(asked) = neighbours.get(rng.random_range(0..neighbours.len().max(1))) else {
            continue;
        };
        let probe = format!("probe{i}");
        let groups = LinkGroups {
            between: vec![origin.clone()],
            and: neighbours.clone(),
        };
        steps.push((ms(t), Action::Hold(groups.clone()), None));
        steps.push((
            ms(t + 10),
            Action::IamAt(IamAt {
                client: probe.clone(),
                server: origin.clone(),
                location: "+45.5-73.5".into(),
                timestamp: None,
            }),
            None,
        ));
        let expect = Expect {
            origin: Some(origin.clone()),
            invalid: Some(false),
            ..Expect::default()
        };
        steps.push((
            ms(t + 60),
            Action::WhatsAt(WhatsAt {
                client: probe,
                server: asked.clone(),
                radius_km: "5".into(),
                bound: 3,
            }),
            Some(expect),
        ));
        steps.push((ms(t + 200), Action::Release(groups), None));
        t += 1000;
    }
    let faults_from = t;

    for _ in 0..options.partitions {
        let start = at(&mut rng, faults_from, chaos_ms.saturating_sub(500));
        let end = (start + at(&mut rng, 300, 4000)).min(options.chaos_end);
        let (between, and) = split(&mut rng, herd, &servers);
        let oneway = options.oneway_partitions && rng.random_bool(0.5);
        let cut = LinkCut {
            between,
            and,
            oneway,
        };
        steps.push((start, Action::Partition(cut.clone()), None));
        steps.push((end, Action::Repair(cut), None));
    }
    let mut crashed: Vec<(String, Duration, Duration)> = Vec::new();
    for _ in 0..options.crashes {
        let server = servers[rng.random_range(0..servers.len())].clone();
        let start = at(&mut rng, faults_from, chaos_ms.saturating_sub(1000));
        let end = (start + at(&mut rng, 200, 4000)).min(options.chaos_end);
        if crashed
            .iter()
            .any(|(s, from, to)| *s == server && start < *to + ms(100) && *from < end + ms(100))
        {
            continue;
        }
        steps.push((start, Action::Crash(server.clone()), None));
        steps.push((end, Action::Restart(server.clone()), None));
        crashed.push((server, start, end));
    }
    for _ in 0..options.latency_spikes {
        let a = &servers[rng.random_range(0..servers.len())];
        let Some(b) = herd.neighbours(a).into_iter().map(|n| n.name).next() else {
            continue;
        };
        let start = at(&mut rng, faults_from, chaos_ms.saturating_sub(500));
        let end = (start + at(&mut rng, 100, 3000)).min(options.chaos_end);
        let spike = LatencyRange {
            min: ms(20),
            max: ms(rng.random_range(20..=200)),
        };
        let (between, and) = (vec![a.clone()], vec![b]);
        steps.push((
            start,
            Action::Latency(LinkLatency {
                between: between.clone(),
                and: and.clone(),
                latency: spike,
            }),
            None,
        ));
        steps.push((
            end,
            Action::Latency(LinkLatency {
                between,
                and,
                latency: options.latency,
            }),
            None,
        ));
    }
    for _ in 0..options.skews {
        let server = servers[rng.random_range(0..servers.len())].clone();
        let magnitude = ms(rng.random_range(1..5000));
        let by = SignedDuration {
            negative: rng.random_bool(0.5),
            magnitude,
        };
        steps.push((
            at(&mut rng, 0, chaos_ms),
            Action::Skew(Skew { server, by }),
            None,
        ));
    }
    for _ in 0..options.places_faults {
        let start = at(&mut rng, 0, chaos_ms.saturating_sub(500));
        let end = (start + at(&mut rng, 200, 5000)).min(options.chaos_end);
        let fault = match rng.random_range(0..6) {
            0 => PlacesFault {
                latency: Some(ms(2000)),
                ..PlacesFault::default()
            },
            1 => PlacesFault {
                latency: Some(ms(8000)),
                ..PlacesFault::default()
            },
            2 => PlacesFault {
                http_status: Some(503),
                ..PlacesFault::default()
            },
            3 => PlacesFault {
                malformed: true,
                ..PlacesFault::default()
            },
            4 => PlacesFault {
                status: Some("OVER_QUERY_LIMIT".into()),
                ..PlacesFault::default()
            },
            _ => PlacesFault {
                unreachable: true,
                ..PlacesFault::default()
            },
        };
        steps.push((start, Action::Places(fault), None));
        steps.push((
            end,
            Action::Places(PlacesFault {
                healthy: true,
                ..PlacesFault::default()
            }),
            None,
        ));
    }
    for i in 0..options.bad_inputs {
        let server = servers[rng.random_range(0..servers.len())].clone();
        let payload = match rng.random_range(0..5) {
            0 => RawPayload::Line("IAMAT kiwi +91+0 1700000000".into()),
            1 => RawPayload::Line("WHATSAT kiwi 51 5".into()),
            2 => RawPayload::Line("PING 1".into()),
            3 => RawPayload::Hex(vec![0x49, 0xff, 0xfe, 0x0a]),
            _ => RawPayload::Repeat {
                byte: b'x',
                count: 70_000,
            },
        };
        let raw = Raw {
            server,
            client: format!("mallory{i}"),
            payload,
        };
        // No `expect` here: the server may be down when the line is sent, and `well_formed`
        // already judges every reply it does send.
        steps.push((at(&mut rng, 0, chaos_ms), Action::Raw(raw), None));
    }
    for _ in 0..options.iamats {
        let client = clients[rng.random_range(0..clients.len())].clone();
        let server = servers[rng.random_range(0..servers.len())].clone();
        let location = format!(
            "{:+.6}{:+.6}",
            rng.random_range(-89_000_000..89_000_000) as f64 / 1e6,
            rng.random_range(-179_000_000..179_000_000) as f64 / 1e6
        );
        let when = at(&mut rng, faults_from.min(500), chaos_ms);
        steps.push((
            when,
            Action::IamAt(IamAt {
                client,
                server,
                location,
                timestamp: None,
            }),
            None,
        ));
    }
    for _ in 0..options.whatsats {
        let client = clients[rng.random_range(0..clients.len())].clone();
        let server = servers[rng.random_range(0..servers.len())].clone();
        let radius_km = rng.random_range(1..=50).to_string();
        let bound = rng.random_range(1..=20);
        let when = at(&mut rng, 0, options.duration.as_millis() as u64 - 3000);
        steps.push((
            when,
            Action::WhatsAt(WhatsAt {
                client,
                server,
                radius_km,
                bound,
            }),
            None,
        ));
    }
    steps.sort_by_key(|(at, _, _)| *at);

    let limits = &herd.limits;
    let checks = Checks {
        converged_within: limits.heartbeat_timeout
            + limits.backoff_max
            + options.latency.max * 4
            + ms(1000),
        answered_within: limits.places_timeout + limits.whatsat_wait + ms(1500),
        skip: Vec::new(),
    };
    Scenario {
        name: format!("swarm seed {}", options.seed),
        description: Some(options.to_string()),
        seed: options.seed,
        duration: options.duration,
        tick: ms(1),
        herd_source,
        herd: herd.clone(),
        network: Network {
            latency: options.latency,
        },
        limits: LimitOverrides::default(),
        steps: steps
            .into_iter()
            .enumerate()
            .map(|(i, (at, action, expect))| Step {
                id: i as u64,
                at,
                action,
                expect,
                line: 0,
                column: 0,
            })
            .collect(),
        checks,
        origin: PathBuf::from(format!("swarm-seed-{}.yaml", options.seed)),
    }
}

/// Two groups to partition: a random proper subset against the rest, or one server against
/// its neighbours.
fn split(rng: &mut SmallRng, herd: &Herd, servers: &[String]) -> (Vec<String>, Vec<String>) {
    let one = servers[rng.random_range(0..servers.len())].clone();
    let neighbours: Vec<String> = herd.neighbours(&one).into_iter().map(|n| n.name).collect();
    if rng.random_bool(0.5) && !neighbours.is_empty() {
        return (vec![one], neighbours);
    }
    let mut a = Vec::new();
    let mut b = Vec::new();
    for s in servers {
        if rng.random_bool(0.5) {
            a.push(s.clone())
        } else {
            b.push(s.clone())
        }
    }
    if a.is_empty() || b.is_empty() {
        let rest: Vec<String> = servers.iter().filter(|s| **s != one).cloned().collect();
        return (vec![one], rest);
    }
    (a, b)
}

/// The YAML a seed runs, as `--emit` prints it: the scenario written and read back, so the
/// file and the run agree by construction.
pub fn scenario_text(seed: u64, base: &Base) -> String {
    let options = SwarmOptions::derive(seed, base.duration);
    let scenario = generate(&options, &base.herd, base.herd_source.clone());
    scenario.to_yaml(&[
        format!("Generated by `sim swarm` for seed {seed}."),
        format!("Reproduce: {}", base.reproduce(seed)),
    ])
}

/// Loads the scenario of a seed through its YAML text.
pub fn scenario_for(seed: u64, base: &Base) -> Result<Scenario, String> {
    let text = scenario_text(seed, base);
    Scenario::from_yaml_str(&text, format!("swarm-seed-{seed}.yaml"))
        .map_err(|e| format!("seed {seed} generated a bad scenario: {e}\n{text}"))
}

/// What every seed of a swarm shares.
#[derive(Debug, Clone)]
pub struct Base {
    pub herd: Herd,
    pub herd_source: HerdSource,
    pub herd_path: Option<PathBuf>,
    pub duration: Duration,
}

impl Base {
    pub fn new(herd_path: Option<&Path>, duration: Duration) -> Result<Base, String> {
        let (herd, herd_source) = match herd_path {
            Some(path) => (
                Herd::load(path).map_err(|e| e.to_string())?,
                HerdSource::File(path.to_path_buf()),
            ),
            None => (Herd::default_herd(), HerdSource::Default),
        };
        Ok(Base {
            herd,
            herd_source,
            herd_path: herd_path.map(Path::to_path_buf),
            duration,
        })
    }

    /// The command that runs this seed alone.
    pub fn reproduce(&self, seed: u64) -> String {
        let herd = self
            .herd_path
            .as_ref()
            .map(|p| format!(" --herd {}", p.display()))
            .unwrap_or_default();
        format!(
            "cargo run --release -p sim -- swarm --seeds {seed} --duration {}{herd}",
            crate::scenario::fmt_duration(self.duration)
        )
    }
}

/// How one seed ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutcome {
    pub seed: u64,
    pub code: u8,
    /// `class/checker` of the first failure, e.g. `liveness/convergence`; `None` if it passed.
    pub failure: Option<String>,
    pub simulated: Duration,
}

/// Runs one seed and judges it.
pub fn run_seed(seed: u64, base: &Base) -> SeedOutcome {
    let scenario = match scenario_for(seed, base) {
        Ok(scenario) => scenario,
        Err(message) => {
            return SeedOutcome {
                seed,
                code: exit::BAD_SCENARIO,
                failure: Some(format!("bad-scenario: {message}")),
                simulated: Duration::ZERO,
            };
        }
    };
    let run = crate::harness::run(&scenario);
    let judged = Judged::judge(&scenario, run);
    SeedOutcome {
        seed,
        code: judged.exit_code(),
        failure: failure_label(&judged),
        simulated: judged.run.end,
    }
}

/// `class/checker` of a judged run's first failure: what shrinking must preserve.
pub fn failure_label(judged: &Judged) -> Option<String> {
    if judged.run.sut_failure.is_some() {
        return Some("crash/system-under-test".into());
    }
    let worst = judged.exit_code();
    judged
        .verdicts
        .iter()
        .find(|v| !v.ok && report::class_code(v.class) == worst)
        .map(|v| format!("{}/{}", v.class, v.checker))
}

/// Runs `seeds` on `jobs` threads; `progress` is called after each seed with the outcomes so far.
pub fn run_seeds(
    seeds: &[u64],
    base: &Base,
    jobs: usize,
    progress: &(dyn Fn(&SeedOutcome) + Sync),
) -> Vec<SeedOutcome> {
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for worker in 0..jobs.max(1) {
            let (next, outcomes) = (&next, &outcomes);
            let spawned = std::thread::Builder::new()
                .name(format!("swarm-{worker}"))
                .stack_size(THREAD_STACK_BYTES)
                .spawn_scoped(scope, move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&seed) = seeds.get(i) else { break };
                        let outcome = run_seed(seed, base);
                        progress(&outcome);
                        if let Ok(mut all) = outcomes.lock() {
                            all.push(outcome);
                        }
                    }
                });
            if let Err(e) = spawned {
                eprintln!("cannot start worker thread: {e}");
            }
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|o| o.seed);
    outcomes
}

/// `sim swarm`.
pub fn main(args: &SwarmArgs) -> u8 {
    let base = match Base::new(args.herd.as_deref(), args.duration) {
        Ok(base) => base,
        Err(message) => {
            eprintln!("{message}");
            return exit::BAD_SCENARIO;
        }
    };
    if let Some(seed) = args.emit {
        print!("{}", scenario_text(seed, &base));
        return exit::OK;
    }
    let seeds: Vec<u64> = args
        .seeds
        .clone()
        .filter(|s| args.shard.is_none_or(|(i, n)| s % n == i))
        .collect();
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    println!(
        "swarm: {} seeds ({:?}{}), {} jobs, {} each, herd {}",
        seeds.len(),
        args.seeds,
        args.shard
            .map(|(i, n)| format!(", shard {i}/{n}"))
            .unwrap_or_default(),
        jobs,
        crate::scenario::fmt_duration(args.duration),
        args.herd
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "default".into())
    );
    if args.print_options {
        for &seed in &seeds {
            println!("{}", SwarmOptions::derive(seed, args.duration));
        }
    }
    let bar = indicatif::ProgressBar::new(seeds.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds  {per_sec}  {msg}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let failures = AtomicUsize::new(0);
    let total = seeds.len() as u64;
    let started = Instant::now();
    let tick = |outcome: &SeedOutcome| {
        if outcome.code != exit::OK {
            let n = failures.fetch_add(1, Ordering::SeqCst) + 1;
            bar.set_message(format!("{n} failing"));
            let line = format!(
                "seed {} FAILED: {}",
                outcome.seed,
                outcome.failure.as_deref().unwrap_or("?")
            );
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
        }
        bar.inc(1);
        // Without a terminal the bar is hidden: say how far it got every tenth of the way.
        let done = bar.position();
        if bar.is_hidden() && done * 10 / total.max(1) != (done - 1) * 10 / total.max(1) {
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            println!(
                "{done}/{total} seeds, {} failing, {rate:.1} seeds/s",
                failures.load(Ordering::SeqCst)
            );
        }
    };
    let outcomes = run_seeds(&seeds, &base, jobs, &tick);
    bar.finish_and_clear();
    let wall = started.elapsed();
    print!("{}", summary(&outcomes, &base, wall));

    let mut worst = exit::OK;
    for outcome in &outcomes {
        worst = report::worse(worst, outcome.code);
    }
    if args.shrink {
        for (label, seed) in first_seed_per_class(&outcomes) {
            println!("shrinking seed {seed} ({label})...");
            match crate::shrink::shrink_seed(seed, &base, &args.out) {
                Ok(path) => println!("  wrote {}", path.display()),
                Err(e) => println!("  could not shrink: {e}"),
            }
        }
    }
    worst
}

fn first_seed_per_class(outcomes: &[SeedOutcome]) -> BTreeMap<String, u64> {
    let mut first = BTreeMap::new();
    for o in outcomes {
        if let Some(label) = &o.failure {
            first.entry(label.clone()).or_insert(o.seed);
        }
    }
    first
}

/// The end-of-run table: failures by class with the first seeds and how to reproduce them,
/// then throughput.
pub fn summary(outcomes: &[SeedOutcome], base: &Base, wall: Duration) -> String {
    use std::fmt::Write;
    let mut by_class: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for o in outcomes {
        if let Some(label) = &o.failure {
            by_class.entry(label.as_str()).or_default().push(o.seed);
        }
    }
    let mut out = String::new();
    let failed: usize = by_class.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "== swarm summary: {} seeds, {} passed, {} failed",
        outcomes.len(),
        outcomes.len() - failed,
        failed
    );
    if !by_class.is_empty() {
        let _ = writeln!(
            out,
            "{:<32} {:>6}  first seeds",
            "failure class/checker", "seeds"
        );
        for (label, seeds) in &by_class {
            let first: Vec<String> = seeds
                .iter()
                .take(FIRST_SEEDS_SHOWN)
                .map(u64::to_string)
                .collect();
            let _ = writeln!(
                out,
                "{:<32} {:>6}  {}",
                shorten(label),
                seeds.len(),
                first.join(", ")
            );
            if let Some(seed) = seeds.first() {
                let _ = writeln!(out, "    reproduce: {}", base.reproduce(*seed));
            }
        }
    }
    let simulated: f64 = outcomes.iter().map(|o| o.simulated.as_secs_f64()).sum();
    let wall_secs = wall.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "throughput: {:.1} seeds/min, {:.0} simulated s per wall s ({:.1} s wall)",
        outcomes.len() as f64 * 60.0 / wall_secs,
        simulated / wall_secs,
        wall_secs
    );
    out
}

fn shorten(label: &str) -> String {
    label
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(32)
        .collect()
}
