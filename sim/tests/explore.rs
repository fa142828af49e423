//! `sim explore` in CI: a short search from an empty corpus must reach its required features,
//! and the same search seed must make the same runs, whatever the number of jobs.

use std::time::Duration;

use sim::explore::{Corpus, Settings, Strategy, search};
use sim::swarm::Base;

/// Short runs, so the search is about a minute on two cores in a debug build.
const DURATION: Duration = Duration::from_secs(15);
const RUNS: usize = 24;

/// Features the search must reach: a tie broken by origin (12 swarm seeds in 500), a record
/// refused as too far ahead and a table full (from the edge children), a forged link refused.
const REQUIRED: [&str; 4] = [
    "sometimes:tie_broken_by_origin",
    "limit:TooFarAhead#1",
    "store:client.TableFull#1",
    "sometimes:forged_link_refused",
];

/// The search seed. Seeds 0 to 5 fail nothing in these runs; all but seed 3 (no tie) reach
/// every required feature. Earlier
/// seeds failed on blind spots of the harness, each now kept as a scenario
/// (`refused-at-connections-max.yaml`, `tied-probe.yaml`, `id-at-bound.yaml`,
/// `behind-on-the-only-path.yaml`, `restarted-behind-classic.yaml`,
/// `restarted-origin-behind-classic.yaml`, `refused-long-id.yaml`,
/// `durable-behind-on-every-path.yaml`, `table-full-apart.yaml`,
/// `reset-at-connections-max.yaml`, `store-failed-before-flood.yaml`).
const SEARCH_SEED: u64 = 2;

fn settings(jobs: usize, runs: usize) -> Settings {
    Settings {
        strategy: Strategy::Explore,
        search_seed: SEARCH_SEED,
        runs_max: runs,
        time_max: None,
        jobs,
        until: None,
        corpus_dir: None,
        aim_percent: 0,
    }
}

#[test]
fn a_short_search_reaches_its_required_features_and_replays_for_its_seed() {
    let base = Base::new(None, DURATION).unwrap();
    let quiet = |_: &sim::explore::search::Status| {};
    let long = search(&base, &settings(2, RUNS), Corpus::default(), &quiet);
    assert_eq!(long.runs, RUNS);
    assert!(
        long.failures.is_empty(),
        "the default herd failed: {:?}",
        long.failures.iter().map(|f| &f.label).collect::<Vec<_>>()
    );
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|f| !long.corpus.seen.contains_key(*f))
        .collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
    eprintln!(
        "{:?}",
        long.corpus
            .seen
            .keys()
            .filter(|k| !k.starts_with("edge"))
            .collect::<Vec<_>>()
    );

    // The first two batches again, on one thread: the same runs, so the same corpus.
    let short = search(&base, &settings(1, 16), Corpus::default(), &quiet);
    assert_eq!(short.history[..], long.history[..short.history.len()]);
    let names = |c: &Corpus| c.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    let long_names = names(&long.corpus);
    assert_eq!(
        names(&short.corpus)[..],
        long_names[..short.corpus.entries.len()]
    );
}
