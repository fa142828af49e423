//! The generator's tests: what a seed draws, and the scenarios built from it.

use super::*;

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
        let options = SwarmOptions::derive(seed, Duration::from_secs(30));
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
