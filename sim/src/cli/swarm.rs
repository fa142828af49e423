//! `sim swarm`: the runner for both worlds, on the library's swarm (seeds, generated
//! scenarios, the pool, summaries): [`simulated`] with a progress bar, coverage and shrinking;
//! [`real`] against real processes or in both modes (`--real`, `--compare`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sim::outcome::{Outcome, exit};
use sim::real::swarm::{
    InterruptGuard, RealSeedOutcome, SeedComparison, compare_seed, compare_summary, default_jobs,
    real_seed_lines, real_summary, run_real_seed, seed_lines,
};
use sim::real::{RealOptions, procs};
use sim::swarm::pool::parallel_map;
use sim::swarm::{
    self, Coverage, SeedOutcome, SwarmArgs, SwarmOptions, base_or_done, first_seed_per_class,
    run_seeds, shrink_seed, summary,
};

/// `sim swarm` in the simulation.
pub fn simulated(args: &SwarmArgs) -> u8 {
    let base = match base_or_done(args) {
        Ok(base) => base,
        Err(code) => return code,
    };
    let seeds = swarm::selected_seeds(args);
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    println!("{}", swarm::header(args, seeds.len(), "simulation", jobs));
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
        if outcome.outcome != Outcome::Pass {
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
    let coverage = Coverage::tally(outcomes.iter().map(|o| (o.seed, &o.sometimes)));
    print!("{}", coverage.table(outcomes.len()));

    let mut worst = outcomes
        .iter()
        .map(|o| o.outcome)
        .max()
        .unwrap_or(Outcome::Pass)
        .code();
    if args.require_coverage && !coverage.missing_required().is_empty() {
        worst = exit::worse(worst, exit::COVERAGE_MISSING);
    }
    if args.shrink {
        for (label, seed) in first_seed_per_class(&outcomes) {
            println!("shrinking seed {seed} ({label})...");
            match shrink_seed(seed, &base, &args.out) {
                Ok(path) => println!("  wrote {}", path.display()),
                Err(e) => println!("  could not shrink: {e}"),
            }
        }
    }
    worst
}

/// `sim swarm --real` and `sim swarm --compare`.
pub fn real(args: &SwarmArgs) -> u8 {
    let base = match swarm::base_or_done(args) {
        Ok(base) => base,
        Err(code) => return code,
    };
    let (binary, how) = match procs::server_binary(args.real.server_bin.as_deref()) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("real: {e:#}");
            return exit::USAGE;
        }
    };
    eprintln!("real: server binary: {how}");
    let options = RealOptions {
        binary,
        announce: false,
        invocation: sim::report::Invocation {
            mode: Some(if args.real.compare {
                "--compare"
            } else {
                "--real"
            }),
            herd: None,
            server_bin: args.real.server_bin.clone(),
            verbose: false,
        },
    };
    let seeds = swarm::selected_seeds(args);
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let mode = if args.real.compare {
        "compare (simulation and real processes)"
    } else {
        "real processes"
    };
    println!("{}", swarm::header(args, seeds.len(), mode, jobs));
    if args.print_options {
        for &seed in &seeds {
            println!("{}", SwarmOptions::derive(seed, args.duration));
        }
    }
    let _interrupts = InterruptGuard::install();
    let started = Instant::now();
    if args.real.compare {
        let run = |seed: &u64| compare_seed(*seed, &base, &options);
        let done = |o: &SeedComparison| print!("{}", seed_lines(o, &base));
        let outcomes = parallel_map(&seeds, jobs, &run, &done);
        print!("{}", compare_summary(&outcomes, started.elapsed(), jobs));
        outcomes
            .iter()
            .fold(exit::OK, |worst, o| exit::worse(worst, o.code))
    } else {
        let run = |seed: &u64| run_real_seed(*seed, &base, &options);
        let done = |o: &RealSeedOutcome| print!("{}", real_seed_lines(o));
        let outcomes = parallel_map(&seeds, jobs, &run, &done);
        print!(
            "{}",
            real_summary(&outcomes, &base, started.elapsed(), jobs)
        );
        outcomes.iter().fold(exit::OK, |worst, o| {
            exit::worse(worst, o.outcome.outcome.code())
        })
    }
}
