//! Scenario parsing and validation: the shapes that load, and the errors people will meet.

use std::path::Path;
use std::time::Duration;

use super::*;

const FULL: &str = r#"
name: a partition heals and the herd converges
description: |
  Clark is cut off, learns a newer location, and the herd catches up after the repair.
seed: 42
duration: 20s
tick: 1ms
herd: default
network: { latency: 1ms..20ms }
limits: { whatsat_wait: 500ms, link_batch_max: 64 }
steps:
  - at: 0s
    iamat: { client: kiwi, server: Clark, location: "+34.068930-118.445127" }
  - at: 1s
    partition: { between: [Clark], and: [Bona, Jaquez] }
  - at: 2s
    iamat: { client: kiwi, server: Clark, location: "+34.100000-118.400000", timestamp: 1700000001.50 }
  - at: 3s
    whatsat: { client: kiwi, server: Bailey, radius_km: 10.50, bound: 5 }
    expect: { origin: Clark, location: "+34.068930-118.445127" }
  - { at: 4s, raw: { server: Bailey, line: "IAMAT kiwi +91+0 1" }, expect: { invalid: true } }
  - { at: 4s, raw: { server: Bailey, client: mallory, bytes_hex: "ff fe 0a" } }
  - { at: 4s, raw: { server: Bailey, repeat: { byte: "x", count: 200000 } } }
  - { at: 5s, repair: { between: [Clark], and: [Bona, Jaquez] } }
  - { at: 5s, hold: { between: [Clark], and: [Bona] } }
  - { at: 6s, release: { between: [Clark], and: [Bona] } }
  - { at: 6s, latency: { between: [Clark], and: [Bona, places], latency: 50ms..200ms } }
  - { at: 6s, crash: Campbell }
  - { at: 7s, skew: { server: Clark, by: -3s } }
  - { at: 7s, places: { latency: 2s, http_status: 503 } }
  - { at: 8s, restart: Campbell }
  - { at: 9s, places: { healthy: true } }
checks:
  converged_within: 3s
  answered_within: 2s
  skip: [flood_bound]
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_yaml_str(text, "scenarios/test.yaml")
}

/// A minimal scenario with `steps` (indented list items) spliced in.
fn with_steps(steps: &str) -> String {
    format!("name: t\nseed: 1\nduration: 20s\nsteps:\n{steps}")
}

fn error_text(text: &str) -> String {
    match parse(text) {
        Ok(_) => "parsed without error".to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_full_example_parses_with_every_field() -> Result<(), ScenarioError> {
    let s = parse(FULL)?;
    assert_eq!(s.name, "a partition heals and the herd converges");
    assert_eq!(s.seed, 42);
    assert_eq!(s.duration, Duration::from_secs(20));
    assert_eq!(s.herd_source, HerdSource::Default);
    assert_eq!(
        s.server_names(),
        ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"]
    );
    assert_eq!(s.network.latency.to_string(), "1ms..20ms");
    assert_eq!(s.limits.whatsat_wait, Some(Duration::from_millis(500)));
    assert_eq!(s.steps.len(), 16);
    assert_eq!(s.steps[3].id, 3);
    assert_eq!(s.steps[3].line, 18, "a step knows its line");
    assert_eq!(s.checks.skip, ["flood_bound"]);
    assert_eq!(s.client_names(), ["kiwi", "mallory", "raw"]);
    let Action::WhatsAt(whatsat) = &s.steps[3].action else {
        panic!("step 3 is a whatsat")
    };
    assert_eq!(whatsat.radius_km, "10.50", "numbers are kept as written");
    let Action::IamAt(iamat) = &s.steps[2].action else {
        panic!("step 2 is an iamat")
    };
    assert_eq!(iamat.timestamp.as_deref(), Some("1700000001.50"));
    Ok(())
}

#[test]
fn steps_describe_themselves_in_one_line() -> Result<(), ScenarioError> {
    let s = parse(FULL)?;
    let described: Vec<String> = s.steps.iter().map(|step| step.action.describe()).collect();
    assert_eq!(
        described[0],
        "kiwi -> Clark IAMAT kiwi +34.068930-118.445127 <now>"
    );
    assert_eq!(described[1], "partition [Clark] | [Bona, Jaquez]");
    assert_eq!(described[3], "kiwi -> Bailey WHATSAT kiwi 10.50 5");
    assert_eq!(described[4], "raw -> Bailey raw \"IAMAT kiwi +91+0 1\"");
    assert_eq!(described[5], "mallory -> Bailey raw hex ff fe 0a");
    assert_eq!(described[6], "raw -> Bailey raw 'x' x 200000");
    assert_eq!(
        described[10],
        "latency [Clark] | [Bona, places] 50ms..200ms"
    );
    assert_eq!(described[11], "crash Campbell");
    assert_eq!(described[12], "skew Clark by -3s");
    assert_eq!(described[13], "places latency 2s, http_status 503");
    assert_eq!(described[15], "places healthy");
    assert_eq!(
        s.steps[3].describe(),
        "at 3s: kiwi -> Bailey WHATSAT kiwi 10.50 5, expect origin=Clark location=+34.068930-118.445127"
    );
    Ok(())
}

#[test]
fn raw_steps_send_exact_bytes() -> Result<(), ScenarioError> {
    let s = parse(FULL)?;
    let bytes = |i: usize| match &s.steps[i].action {
        Action::Raw(raw) => raw.bytes(),
        _ => Vec::new(),
    };
    assert_eq!(bytes(4), b"IAMAT kiwi +91+0 1\n");
    assert_eq!(bytes(5), [0xff, 0xfe, 0x0a]);
    assert_eq!(bytes(6).len(), 200_001);
    Ok(())
}

#[test]
fn liveness_is_judged_from_the_last_topology_fault() -> Result<(), ScenarioError> {
    let s = parse(FULL)?;
    assert_eq!(
        s.last_fault_heal_at(),
        Duration::from_secs(8),
        "the restart; skew and places do not count"
    );
    let s = parse(&with_steps(
        "  - { at: 1s, iamat: { client: kiwi, server: Clark, location: \"+1+1\" } }\n",
    ))?;
    assert_eq!(s.last_fault_heal_at(), Duration::ZERO);
    Ok(())
}

#[test]
fn expectations_are_keyed_by_step_id() -> Result<(), ScenarioError> {
    let s = parse(FULL)?;
    let expectations = s.expectations();
    assert_eq!(expectations.keys().copied().collect::<Vec<_>>(), [3, 4]);
    assert_eq!(expectations[&4].invalid, Some(true));
    Ok(())
}

#[test]
fn limit_overrides_replace_only_what_they_name() -> Result<(), ScenarioError> {
    let s = parse(FULL)?;
    let mut limits = server::config::Limits::default();
    let before = limits.backoff_max;
    s.apply_limit_overrides(&mut limits);
    assert_eq!(limits.whatsat_wait, Duration::from_millis(500));
    assert_eq!(limits.link_batch_max, 64);
    assert_eq!(limits.backoff_max, before);
    Ok(())
}

#[test]
fn limits_that_the_server_would_refuse_are_refused() {
    let e = error_text(
        "name: t\nseed: 1\nduration: 20s\nlimits: { backoff_min: 5s, backoff_max: 1s }\n",
    );
    assert!(
        e.starts_with("scenarios/test.yaml:4:9: with these `limits`: limits.backoff_min"),
        "{e}"
    );
    let e = error_text("name: t\nseed: 1\nduration: 20s\nlimits: { whatsat_wiat: 5s }\n");
    assert!(
        e.contains("unknown field `whatsat_wiat`, expected one of connections_max,"),
        "{e}"
    );
}

#[test]
fn an_unknown_top_level_key_is_reported_with_line_and_column() {
    let text = "name: t\nseed: 1\nduration: 20s\nstepz: []\n";
    assert_eq!(
        error_text(text),
        "scenarios/test.yaml:4:1: unknown field `stepz`, expected one of name, description, seed, duration, tick, start, herd, network, limits, places_api, unauthenticated, canary, buggify, steps, checks"
    );
}

#[test]
fn the_places_api_is_legacy_unless_the_scenario_says_new() -> Result<(), ScenarioError> {
    assert_eq!(parse(&with_steps("  []"))?.places_api, PlacesApi::Legacy);
    let new = parse("name: t\nseed: 1\nduration: 20s\nplaces_api: new\n")?;
    assert_eq!(new.places_api, PlacesApi::New);
    let written = new.to_yaml(&[]);
    assert!(written.contains("\nplaces_api: new\n"), "{written}");
    assert_eq!(parse(&written)?.places_api, PlacesApi::New);
    Ok(())
}

#[test]
fn an_unknown_places_api_lists_the_two() {
    let e = error_text("name: t\nseed: 1\nduration: 20s\nplaces_api: newer\n");
    assert!(
        e.starts_with(
            "scenarios/test.yaml:4:13: unknown variant `newer`, expected one of legacy, new"
        ),
        "{e}"
    );
}

#[test]
fn an_unknown_action_lists_the_actions() {
    let text = with_steps("  - at: 1s\n    partishun: { between: [Clark], and: [Bona] }\n");
    let e = error_text(&text);
    assert!(
        e.starts_with(
            "scenarios/test.yaml:6:5: unknown field `partishun`, expected one of at, expect, iamat"
        ),
        "{e}"
    );
}

#[test]
fn a_misspelt_field_inside_an_action_points_at_it() {
    let text =
        with_steps("  - { at: 1s, iamat: { client: kiwi, sever: Clark, location: \"+1+1\" } }\n");
    let e = error_text(&text);
    assert!(
        e.starts_with("scenarios/test.yaml:5:38: unknown field `sever`"),
        "{e}"
    );
}

#[test]
fn a_step_with_two_actions_is_refused() {
    let text = with_steps("  - { at: 1s, crash: Clark, restart: Clark }\n");
    let e = error_text(&text);
    assert!(
        e.contains("a step holds one action, this one has both `crash` and `restart`"),
        "{e}"
    );
}

#[test]
fn a_step_without_an_action_is_refused() {
    let e = error_text(&with_steps("  - { at: 1s }\n"));
    assert!(e.contains("a step needs one action"), "{e}");
}

#[test]
fn a_bad_duration_says_what_a_duration_looks_like() {
    let e = error_text("name: t\nseed: 1\nduration: twenty\n");
    assert!(e.starts_with("scenarios/test.yaml:3:"), "{e}");
    assert!(
        e.contains("expected a duration like 250ms, 1s or 1.5s, found `twenty`"),
        "{e}"
    );
}

#[test]
fn an_unknown_server_names_the_step_its_time_and_line() {
    let text = with_steps("  - { at: 0s, crash: Clark }\n  - { at: 2s, restart: Clarke }\n");
    assert_eq!(
        error_text(&text),
        "scenarios/test.yaml:6:5: step 1 (at 2s): `Clarke` is not a server of the herd (Bailey, Bona, Campbell, Clark, Jaquez)"
    );
}

#[test]
fn steps_out_of_time_order_are_refused() {
    let text = with_steps("  - { at: 3s, crash: Clark }\n  - { at: 2s, restart: Clark }\n");
    let e = error_text(&text);
    assert!(
        e.ends_with(
            "step 1 (at 2s): steps must be in time order, this one comes after a step at 3s"
        ),
        "{e}"
    );
}

#[test]
fn a_step_after_the_end_is_refused() {
    let e = error_text(&with_steps("  - { at: 25s, crash: Clark }\n"));
    assert!(
        e.contains("the run ends at 20s; a step must come before that"),
        "{e}"
    );
}

#[test]
fn restart_requires_a_crash_and_crash_a_running_server() {
    let e = error_text(&with_steps("  - { at: 1s, restart: Clark }\n"));
    assert!(
        e.contains("`Clark` is running; crash it before restarting it"),
        "{e}"
    );
    let e = error_text(&with_steps(
        "  - { at: 1s, crash: Clark }\n  - { at: 2s, crash: Clark }\n",
    ));
    assert!(e.contains("`Clark` is already crashed"), "{e}");
}

#[test]
fn an_impostor_says_what_certificate_it_shows() {
    let steps = |impostor: &str| {
        format!("  - {{ at: 1s, crash: Clark }}\n  - {{ at: 2s, impostor: {impostor} }}\n")
    };
    let s = parse(&with_steps(&steps(
        "{ server: Clark, certificate: { of: Bona } }",
    )))
    .expect("valid");
    assert_eq!(
        s.steps[1].action,
        Action::Impostor(super::Impostor {
            server: "Clark".into(),
            certificate: super::ImpostorCertificate::Of("Bona".into()),
        })
    );
    let text = s.to_yaml(&[]);
    assert!(
        text.contains("impostor: { server: Clark, certificate: { of: Bona } }"),
        "{text}"
    );
    let none = parse(&with_steps(&steps("{ server: Clark, certificate: none }"))).expect("valid");
    assert!(none.to_yaml(&[]).contains("certificate: none"));
    let own = error_text(&with_steps(&steps(
        "{ server: Clark, certificate: { of: Clark } }",
    )));
    assert!(
        own.contains("with `Clark`'s own certificate is `Clark`"),
        "{own}"
    );
    let stranger = error_text(&with_steps(&steps(
        "{ server: Clark, certificate: { of: Nobody } }",
    )));
    assert!(stranger.contains("Nobody"), "{stranger}");
}

#[test]
fn an_impostor_takes_only_a_crashed_servers_address() -> Result<(), ScenarioError> {
    let e = error_text(&with_steps("  - { at: 1s, impostor: Clark }\n"));
    assert!(
        e.contains("`Clark` is running; an impostor takes only a crashed server's address"),
        "{e}"
    );
    let scenario = parse(&with_steps(
        "  - { at: 1s, crash: Clark }\n  - { at: 2s, impostor: Clark }\n  - { at: 3s, restart: Clark }\n",
    ))?;
    assert_eq!(
        scenario.steps[1].action,
        Action::Impostor(super::Impostor {
            server: "Clark".into(),
            certificate: super::ImpostorCertificate::OtherCa,
        })
    );
    assert_eq!(
        scenario.steps[1].action.describe(),
        "an impostor takes Clark's address"
    );
    Ok(())
}

#[test]
fn stallers_claim_a_persistent_neighbour_at_a_bounded_rate() {
    let stall = |body: &str| {
        error_text(&with_steps(&format!(
            "  - at: 1s\n    hostile: {{ server: Clark, stall: {{ {body} }} }}\n"
        )))
    };
    assert_eq!(
        stall("as: Bona, per_second: 100, for: 2s"),
        "parsed without error"
    );
    assert!(
        stall("as: Bailey, per_second: 100, for: 2s")
            .contains("`hostile.stall.as: Bailey` must be a persistent neighbour of Clark")
    );
    assert!(stall("as: Bona, per_second: 0, for: 2s").contains("per_second` must be in 1..=2000"));
    assert!(stall("as: Bona, per_second: 2001, for: 2s").contains("1..=2000"));
    assert!(stall("as: Bona, per_second: 10, for: 61s").contains("at most 60s"));
}

#[test]
fn an_invalid_location_is_refused_and_raw_is_suggested() {
    let e = error_text(&with_steps(
        "  - { at: 1s, iamat: { client: kiwi, server: Clark, location: \"+91+0\" } }\n",
    ));
    assert!(
        e.contains("location `+91+0` is not a valid ISO 6709 pair") && e.contains("`raw`"),
        "{e}"
    );
}

#[test]
fn an_invalid_timestamp_is_refused() {
    let e = error_text(&with_steps(
        "  - { at: 1s, iamat: { client: kiwi, server: Clark, location: \"+1+1\", timestamp: \"-5\" } }\n",
    ));
    assert!(e.contains("timestamp `-5` is not POSIX seconds"), "{e}");
}

#[test]
fn a_whatsat_radius_or_bound_out_of_range_is_refused() {
    let e = error_text(&with_steps(
        "  - { at: 1s, whatsat: { client: kiwi, server: Clark, radius_km: 51, bound: 5 } }\n",
    ));
    assert!(
        e.contains("radius_km `51` must be a decimal in (0, 50]"),
        "{e}"
    );
    let e = error_text(&with_steps(
        "  - { at: 1s, whatsat: { client: kiwi, server: Clark, radius_km: 5, bound: 21 } }\n",
    ));
    assert!(e.contains("bound 21 an integer in [1, 20]"), "{e}");
}

#[test]
fn a_client_may_not_take_a_server_or_harness_name() {
    let e = error_text(&with_steps(
        "  - { at: 1s, iamat: { client: Bona, server: Clark, location: \"+1+1\" } }\n",
    ));
    assert!(e.contains("client `Bona` takes the name of a host"), "{e}");
    let e = error_text(&with_steps(
        "  - { at: 1s, raw: { server: Clark, client: places, line: x } }\n",
    ));
    assert!(e.contains("client `places`"), "{e}");
}

#[test]
fn partition_groups_must_be_known_and_disjoint() {
    let e = error_text(&with_steps(
        "  - { at: 1s, partition: { between: [Clark], and: [Clark] } }\n",
    ));
    assert!(e.contains("`Clark` appears twice"), "{e}");
    let e = error_text(&with_steps(
        "  - { at: 1s, partition: { between: [Clark], and: [] } }\n",
    ));
    assert!(e.contains("each need at least one host"), "{e}");
    let e = error_text(&with_steps(
        "  - { at: 1s, partition: { between: [Clark], and: [Nowhere] } }\n",
    ));
    assert!(
        e.contains("`Nowhere` is not a server of the herd") && e.contains("(or `places`)"),
        "{e}"
    );
    assert!(
        parse(&with_steps(
            "  - { at: 1s, partition: { between: [Clark, Bona], and: [places], oneway: true } }\n"
        ))
        .is_ok()
    );
}

#[test]
fn a_latency_range_must_not_be_upside_down() {
    let e = error_text("name: t\nseed: 1\nduration: 20s\nnetwork: { latency: 20ms..1ms }\n");
    assert!(
        e.contains("latency range `20ms..1ms` has its minimum above its maximum"),
        "{e}"
    );
}

#[test]
fn skew_takes_a_signed_duration() -> Result<(), ScenarioError> {
    let s = parse(&with_steps(
        "  - { at: 1s, skew: { server: Clark, by: -3s } }\n  - { at: 2s, skew: { server: Bona, by: 250ms } }\n",
    ))?;
    let skews: Vec<i128> = s
        .steps
        .iter()
        .filter_map(|step| match &step.action {
            Action::Skew(skew) => Some(skew.by.nanos()),
            _ => None,
        })
        .collect();
    assert_eq!(skews, [-3_000_000_000, 250_000_000]);
    Ok(())
}

#[test]
fn raw_needs_exactly_one_payload() {
    let e = error_text(&with_steps(
        "  - { at: 1s, raw: { server: Clark, line: x, bytes_hex: \"0a\" } }\n",
    ));
    assert!(
        e.contains("exactly one of `line`, `bytes_hex` or `repeat`"),
        "{e}"
    );
    let e = error_text(&with_steps(
        "  - { at: 1s, raw: { server: Clark, bytes_hex: \"0a 41\" } }\n",
    ));
    assert!(e.contains("a newline (0a) may only end it"), "{e}");
    let e = error_text(&with_steps(
        "  - { at: 1s, raw: { server: Clark, bytes_hex: \"zz\" } }\n",
    ));
    assert!(e.contains("is not a hex byte"), "{e}");
}

#[test]
fn places_faults_must_say_something_consistent() {
    let e = error_text(&with_steps("  - { at: 1s, places: {} }\n"));
    assert!(e.contains("`places` needs a fault"), "{e}");
    let e = error_text(&with_steps(
        "  - { at: 1s, places: { healthy: true, latency: 1s } }\n",
    ));
    assert!(e.contains("stands alone"), "{e}");
    let e = error_text(&with_steps("  - { at: 1s, places: { status: OK } }\n"));
    assert!(e.contains("non-OK Places status"), "{e}");
}

#[test]
fn expect_belongs_to_client_steps_and_must_be_consistent() {
    let e = error_text(&with_steps(
        "  - { at: 1s, crash: Clark, expect: { invalid: true } }\n",
    ));
    assert!(
        e.contains("`expect` belongs to iamat, whatsat, raw or hostile steps, not to `crash`"),
        "{e}"
    );
    let e = error_text(&with_steps(
        "  - { at: 1s, raw: { server: Clark, line: x }, expect: { invalid: true, origin: Clark } }\n",
    ));
    assert!(
        e.contains("`expect.invalid: true` means a `?` reply"),
        "{e}"
    );
}

#[test]
fn a_hostile_expectation_judges_one_reply_by_its_question_marks_and_lines()
-> Result<(), ScenarioError> {
    let s = parse(&with_steps(
        "  - { at: 1s, hostile: { server: Clark, peer_as: Bailey }, expect: { invalid: true, replies: 2 } }\n",
    ))?;
    assert_eq!(s.expectations()[&0].replies, Some(2));
    let e = error_text(&with_steps(
        "  - { at: 1s, hostile: { server: Clark, lines: [x], peer_as: Zulu }, expect: { replies: 2 } }\n",
    ));
    assert!(
        e.contains("give exactly one of `lines`, `peer_as` or `huge_id_bytes`"),
        "{e}"
    );
    let e = error_text(&with_steps(
        "  - { at: 1s, hostile: { server: Clark, lines: [x] }, expect: { origin: Clark } }\n",
    ));
    assert!(e.contains("only `invalid: true` and `replies`"), "{e}");
    let e = error_text(&with_steps(
        "  - { at: 1s, raw: { server: Clark, line: x }, expect: { replies: 1 } }\n",
    ));
    assert!(e.contains("it belongs to hostile steps"), "{e}");
    Ok(())
}

#[test]
fn a_borrowed_link_name_may_not_be_a_neighbour_of_its_target() {
    let e = error_text(&with_steps(
        "  - { at: 1s, hostile: { server: Clark, peer_as: Bona } }\n",
    ));
    assert!(
        e.contains("`hostile.peer_as: Bona` must not be Clark or one of its persistent neighbours"),
        "{e}"
    );
    let e = error_text(&with_steps(
        "  - { at: 1s, hostile: { server: Clark, peer_as: \"a b\" } }\n",
    ));
    assert!(e.contains("one name without white space"), "{e}");
}

#[test]
fn unknown_checker_names_in_skip_are_refused() {
    let e = error_text("name: t\nseed: 1\nduration: 20s\nchecks: { skip: [flood] }\n");
    assert!(
        e.contains("`checks.skip` names `flood`, which is not a checker (one of well_formed,"),
        "{e}"
    );
}

#[test]
fn a_run_too_short_to_judge_convergence_is_refused() {
    let text = "name: t\nseed: 1\nduration: 6s\nsteps:\n  - { at: 5s, crash: Clark }\n";
    let e = error_text(text);
    assert!(
        e.starts_with(
            "scenarios/test.yaml:3:11: the run ends at 6s but convergence is judged at 8s"
        ),
        "{e}"
    );
    let skipped = format!("{text}checks: {{ skip: [convergence] }}\n");
    assert!(parse(&skipped).is_ok());
}

#[test]
fn an_inline_herd_uses_the_servers_schema() -> Result<(), ScenarioError> {
    let text = "name: t\nseed: 1\nduration: 20s\nherd:\n  servers:\n    - { name: A, port: 1 }\n    - { name: B, port: 2 }\n  links:\n    - { between: [A, B] }\nsteps:\n  - { at: 1s, crash: A }\n";
    let s = parse(text)?;
    assert_eq!(s.herd_source, HerdSource::Inline);
    assert_eq!(s.server_names(), ["A", "B"]);
    let bad = text.replace("port: 2 }", "port: 2, colour: red }");
    let e = error_text(&bad);
    assert!(
        e.starts_with("scenarios/test.yaml:7:") && e.contains("unknown field `colour`"),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_herd_file_is_found_relative_to_the_scenario() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sim-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("herds"))?;
    std::fs::create_dir_all(dir.join("scenarios"))?;
    std::fs::write(
        dir.join("herds/two.yaml"),
        "servers:\n  - { name: A, port: 1 }\n  - { name: B, port: 2 }\n",
    )?;
    let scenario_path = dir.join("scenarios/s.yaml");
    std::fs::write(
        &scenario_path,
        "name: t\nseed: 1\nduration: 20s\nherd: { file: ../herds/two.yaml }\n",
    )?;
    let s = Scenario::load(&scenario_path)?;
    assert_eq!(s.herd_source, HerdSource::File("../herds/two.yaml".into()));
    assert_eq!(s.server_names(), ["A", "B"]);
    std::fs::write(
        &scenario_path,
        "name: t\nseed: 1\nduration: 20s\nherd: { file: missing.yaml }\n",
    )?;
    let e = Scenario::load(&scenario_path)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let e = e.err().unwrap_or_default();
    assert!(e.contains("s.yaml:4:7: herd file `missing.yaml`"), "{e}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn a_missing_file_is_a_read_error() {
    let e = Scenario::load(Path::new("/nonexistent/scenario.yaml")).map(|_| ());
    assert!(matches!(e, Err(ScenarioError::Read { .. })));
}

#[test]
fn errors_expose_their_position() {
    let Err(e) = parse("name: t\nseed: 1\nduration: 20s\nbogus: 1\n") else {
        panic!("bogus key must fail")
    };
    assert_eq!(e.position(), Some((4, 1)));
    assert!(matches!(e, ScenarioError::Syntax { .. }));
}

#[test]
fn durations_print_as_scenarios_write_them() {
    assert_eq!(fmt_duration(Duration::ZERO), "0s");
    assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
    assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(fmt_duration(Duration::from_secs(3)), "3s");
    assert_eq!(fmt_duration(Duration::from_micros(250)), "0.00025s");
}

/// Every complete scenario shown in `scenarios/README.md` (a YAML block starting with
/// `name:`) must load: the documentation cannot drift from the schema.
#[test]
fn the_readme_examples_parse() -> Result<(), ScenarioError> {
    let readme = include_str!("../../../scenarios/README.md");
    let mut examples = 0;
    for block in readme.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap_or("");
        if yaml.starts_with("name:") {
            parse(yaml)?;
            examples += 1;
        }
    }
    assert!(examples >= 2, "the README shows complete scenarios");
    Ok(())
}

#[test]
fn swapping_the_herd_checks_the_steps_again() -> Result<(), ScenarioError> {
    let s = parse(&with_steps("  - { at: 1s, crash: Clark }\n"))?;
    let two = server::config::Herd {
        servers: vec![
            server::config::ServerSpec {
                name: "A".into(),
                host: "127.0.0.1".into(),
                port: 1,
                peer_port: None,
                admin_port: None,
                admin_host: "127.0.0.1".into(),
            },
            server::config::ServerSpec {
                name: "Clark".into(),
                host: "127.0.0.1".into(),
                port: 2,
                peer_port: None,
                admin_port: None,
                admin_host: "127.0.0.1".into(),
            },
        ],
        links: Vec::new(),
        limits: server::config::Limits::default(),
        secret_file: None,
        data_dir: None,
        tls_dir: None,
        metrics_off: false,
    };
    let swapped = s.clone().with_herd(two.clone(), "herds/two.yaml")?;
    assert_eq!(swapped.server_names(), ["A", "Clark"]);
    assert_eq!(
        swapped.herd_source,
        HerdSource::File("herds/two.yaml".into())
    );
    let mut without_clark = two;
    without_clark.servers.remove(1);
    let e = s
        .with_herd(without_clark, "herds/one.yaml")
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        e,
        Err("scenarios/test.yaml:5:5: with herd `herds/one.yaml`: step 0 (at 1s): `Clark` is not a server of the herd (A)".to_string())
    );
    Ok(())
}

#[test]
fn a_start_is_read_written_back_and_bounded() -> Result<(), ScenarioError> {
    let text = "name: t\nseed: 1\nduration: 20s\nstart: 2000-02-29T23:59:55Z\n";
    let scenario = Scenario::from_yaml_str(text, Path::new("scenarios/test.yaml"))?;
    assert_eq!(scenario.start, Duration::from_secs(951_868_795));
    assert!(
        scenario
            .to_yaml(&[])
            .contains("start: 2000-02-29T23:59:55Z\n")
    );
    let plain = Scenario::from_yaml_str("name: t\nseed: 1\nduration: 20s\n", Path::new("t.yaml"))?;
    assert_eq!(plain.start, crate::scenario::START_DEFAULT);
    assert!(!plain.to_yaml(&[]).contains("start:"));
    let e = error_text("name: t\nseed: 1\nduration: 20s\nstart: 1970-01-01T00:00:00Z\n");
    assert!(
        e.starts_with("scenarios/test.yaml:4:8: `start` \"1970-01-01T00:00:00Z\" is outside"),
        "{e}"
    );
    Ok(())
}

#[test]
fn refills_max_is_read_written_back_and_at_least_one() -> Result<(), ScenarioError> {
    let text = "name: t\nseed: 1\nduration: 20s\nsteps: []\nchecks:\n  refills_max: 1\n";
    let scenario = parse(text)?;
    assert_eq!(scenario.checks.refills_max, Some(1));
    let again = parse(&scenario.to_yaml(&[]))?;
    assert_eq!(again.checks.refills_max, Some(1));
    assert_eq!(parse(&with_steps("  []"))?.checks.refills_max, None);
    let e = error_text("name: t\nseed: 1\nduration: 20s\nsteps: []\nchecks: { refills_max: 0 }\n");
    assert!(e.contains("`refills_max` must be at least 1"), "{e}");
    Ok(())
}
