#[test]
fn dump() {
    let scenario = sim::scenario::Scenario::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/partition.yaml"
    ))
    .unwrap();
    let run = sim::harness::run(&scenario);
    std::fs::write("/tmp/partition.timeline", run.trace.timeline()).unwrap();
}
