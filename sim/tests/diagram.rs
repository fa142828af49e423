//! The Lamport diagram of `scenarios/partition.yaml`, reviewed as a snapshot: a change to the
//! drawing (or to the run behind it) shows up in review like a trace change does.

use std::error::Error;
use std::path::{Path, PathBuf};

use sim::diagram::Window;
use sim::scenario::Scenario;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_partition_diagram_shows_the_cut_the_stale_read_and_the_reconciliation()
-> Result<(), Box<dyn Error>> {
    let scenario = Scenario::load(workspace().join("scenarios/partition.yaml"))?;
    let run = sim::harness::run(&scenario);
    let svg = sim::diagram::svg(&scenario, &run.trace, Window::default());
    sim::diagram::tags_balance(&svg)?;
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains(r#"<g class="shade partition"><title>1.000s harness partition"#));
    assert!(svg.contains(">cut from Bona, Jaquez</text>"));
    assert!(svg.contains(
        r#"<g class="msg reconcile"><title>5.101s Clark reconcile peer=Jaquez full=false records=1"#
    ));
    assert!(svg.contains(">kiwi v1: STALE (Clark has v2)</text>"));
    assert!(
        svg.len() < 300_000,
        "the snapshot stays reviewable: {} bytes",
        svg.len()
    );
    insta::with_settings!({
        snapshot_path => workspace().join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("diagram-partition-svg", svg);
    });
    Ok(())
}

#[test]
fn the_html_page_holds_the_svg_of_the_same_window() -> Result<(), Box<dyn Error>> {
    let scenario = Scenario::load(workspace().join("scenarios/partition.yaml"))?;
    let run = sim::harness::run(&scenario);
    let window = Window {
        from: Some(std::time::Duration::from_millis(900)),
        to: Some(std::time::Duration::from_secs(6)),
    };
    let svg = sim::diagram::svg(&scenario, &run.trace, window);
    let page = sim::diagram::html(&scenario, &run.trace, window);
    sim::diagram::tags_balance(
        page.trim_start_matches("<!DOCTYPE html>")
            .replace("<meta charset=\"utf-8\">", "")
            .as_str(),
    )?;
    assert!(page.contains(&svg));
    assert!(page.contains(&format!("<h1>{}</h1>", scenario.name)));
    assert!(
        !page.contains("<script"),
        "no script: the page is self-contained"
    );
    assert!(
        !svg.contains("IAMAT kiwi v1"),
        "the first IAMAT (0s) is outside the window"
    );
    assert!(svg.contains("IAMAT kiwi v2"), "the second (2s) is inside");
    Ok(())
}
