//! Inputs the fuzz targets (`fuzz/`) found to break an invariant, kept as tests so the bugs
//! stay fixed without running the fuzzers.

use server::protocol::Command;

/// A radius of a few hundred leading fraction zeros is a valid WHATSAT (docs/protocol.md §3: `0 < r
/// <= 50`, checked exactly on the decimal text), but its metres as `f64` underflowed to `0.0`, and
/// a zero radius is what Places (New) refuses and the offline set filters everything with.
#[test]
fn a_tiny_positive_radius_stays_positive_in_metres() -> Result<(), Box<dyn std::error::Error>> {
    let line = format!("WHATSAT d 0.{}1799999999999905 5", "0".repeat(376));
    let Command::WhatsAt { radius, .. } = Command::parse_line(line.as_bytes())? else {
        panic!("a WHATSAT parses as one");
    };
    assert!(radius.metres() > 0.0, "metres {}", radius.metres());
    assert!(radius.metres_text().starts_with("0.000"));
    Ok(())
}
