//! The generator's tests: what a seed draws, and the scenarios built from it.

use super::*;
use std::collections::BTreeSet;

fn scenario(options: &SwarmOptions) -> Scenario {
    generate(options, &Herd::default_herd(), HerdSource::Default)
}

#[test]
fn classic_links_leave_the_persistent_links_connecting_every_server() {
    let mut mixed = 0;
    for seed in 0..200 {
        let options = SwarmOptions::derive(seed, Duration::from_secs(30));
        let generated = scenario(&options);
        let classic = generated.herd.links.iter().filter(|l| l.classic).count();
        assert_eq!(classic > 0, options.classic_links > 0, "seed {seed}");
        assert!(classic <= options.classic_links as usize, "seed {seed}");
        assert!(persistent_connected(&generated.herd, None), "seed {seed}");
        if classic > 0 {
            mixed += 1;
            assert_eq!(generated.herd_source, HerdSource::Inline, "seed {seed}");
        }
    }
    assert!(
        mixed > 50,
        "the family is on for about half the seeds: {mixed}"
    );
}

#[test]
fn classic_links_change_no_step_a_seed_drew_before_them() {
    for seed in 0..100 {
        // The attacks family, drawn after, reads the herd with its classic links.
        let options = SwarmOptions {
            attacks: 0,
            ..SwarmOptions::derive(seed, Duration::from_secs(30))
        };
        let without = SwarmOptions {
            classic_links: 0,
            ..options.clone()
        };
        assert_eq!(
            scenario(&options).steps,
            scenario(&without).steps,
            "seed {seed}"
        );
    }
}

#[test]
fn power_faults_put_the_herd_on_disk_and_never_crash_a_server_twice() {
    let mut on = 0;
    for seed in 0..200 {
        let options = SwarmOptions::derive(seed, Duration::from_secs(30));
        let generated = scenario(&options);
        assert_eq!(
            generated.herd.data_dir.is_some(),
            options.power_faults > 0,
            "seed {seed}: the default herd's persistent links connect it whatever is classic"
        );
        on += usize::from(options.power_faults > 0);
        let mut down: BTreeSet<&str> = BTreeSet::new();
        for step in &generated.steps {
            match &step.action {
                Action::Crash(s) => assert!(down.insert(s), "seed {seed}: {s} crashed twice"),
                Action::Restart(s) => assert!(down.remove(s.as_str()), "seed {seed}: {s} was up"),
                _ => {}
            }
        }
        // The attacks family, drawn after, keeps clear of the power faults' crashes.
        let without = SwarmOptions {
            power_faults: 0,
            attacks: 0,
            ..options.clone()
        };
        let others: Vec<_> = scenario(&without)
            .steps
            .into_iter()
            .map(|s| s.action)
            .collect();
        let all: Vec<_> = generated.steps.into_iter().map(|s| s.action).collect();
        assert!(
            others.iter().all(|a| all.contains(a)),
            "seed {seed}: the family moved another family's step"
        );
    }
    assert!(
        on > 40,
        "the family is on for about a third of the seeds: {on}"
    );
}

#[test]
fn power_faults_stay_off_where_persistent_links_do_not_connect_the_herd() {
    let mut herd = Herd::default_herd();
    for link in &mut herd.links {
        link.classic = true;
    }
    let options = SwarmOptions {
        power_faults: 3,
        ..SwarmOptions::derive(1, Duration::from_secs(30))
    };
    let generated = generate(&options, &herd, HerdSource::Default);
    assert_eq!(generated.herd.data_dir, None);
    assert!(
        !generated
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Disk(_))),
        "no disk faults on a herd without a durable promise"
    );
}

#[test]
fn a_herd_of_classic_links_gets_no_more() {
    let mut herd = Herd::default_herd();
    for link in &mut herd.links {
        link.classic = true;
    }
    let options = SwarmOptions {
        classic_links: 2,
        ..SwarmOptions::derive(1, Duration::from_secs(30))
    };
    let generated = generate(&options, &herd, HerdSource::Default);
    assert_eq!(generated.herd, herd);
    assert_eq!(generated.herd_source, HerdSource::Default);
}

#[test]
fn every_value_class_is_drawn_in_some_but_few_seeds() {
    let options: Vec<SwarmOptions> = (0..500)
        .map(|seed| SwarmOptions::derive(seed, Duration::from_secs(30)))
        .collect();
    type Class = (&'static str, fn(&SwarmOptions) -> bool);
    let classes: [Class; 6] = [
        ("edges", |o| o.values.edges > 0),
        ("skewed_neighbour", |o| o.values.skewed_neighbour),
        ("replays", |o| o.values.replays > 0),
        ("zero_diffs", |o| o.values.zero_diffs > 0),
        ("table_fill", |o| o.values.table_fill),
        ("non_neighbour_links", |o| o.values.non_neighbour_links > 0),
    ];
    for (name, on) in classes {
        let seeds = options.iter().filter(|o| on(o)).count();
        assert!(
            (20..=90).contains(&seeds),
            "{name}: on in {seeds} of 500 seeds"
        );
    }
    for o in options.iter().filter(|o| o.values.exact_clocks()) {
        assert_eq!(
            o.latency.min, o.latency.max,
            "seed {}: exact clocks",
            o.seed
        );
    }
}

#[test]
fn attacks_are_on_in_some_seeds_and_move_no_step_of_another_family() {
    let mut on = 0;
    for seed in 0..150 {
        let options = SwarmOptions::derive(seed, Duration::from_secs(30));
        let without = SwarmOptions {
            attacks: 0,
            ..options.clone()
        };
        let drawn = |o: &SwarmOptions| -> Vec<(Duration, String)> {
            let mut steps: Vec<(Duration, String)> = scenario(o)
                .steps
                .iter()
                .map(|s| (s.at, s.action.describe()))
                .collect();
            steps.sort();
            steps
        };
        let generated = scenario(&options);
        for step in &generated.steps {
            if let Action::Impostor(crate::scenario::Impostor { server, .. }) = &step.action {
                let neighbours = generated.herd.neighbours(server);
                assert!(
                    neighbours.iter().all(|n| !n.classic),
                    "seed {seed}: an impostor at {server}, which has a classic neighbour"
                );
            }
        }
        let (mut with, before) = (drawn(&options), drawn(&without));
        // Each step drawn without the family is there with it, at the same time.
        for step in &before {
            let found = with.iter().position(|s| s == step);
            assert!(found.is_some(), "seed {seed}: {step:?} moved");
            with.remove(found.unwrap_or_default());
        }
        if options.attacks == 0 {
            assert!(with.is_empty(), "seed {seed}: {with:?}");
        }
        on += usize::from(options.attacks > 0);
    }
    assert!(
        (25..=75).contains(&on),
        "on in about a third of 150 seeds: {on}"
    );
}
