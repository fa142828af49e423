use super::*;

fn kind(line: &str) -> &'static str {
    match ClientLine::parse(line) {
        ClientLine::IamAt { .. } => "iamat",
        ClientLine::WhatsAt { .. } => "whatsat",
        ClientLine::Link => "link",
        ClientLine::Invalid(_) => "invalid",
    }
}

#[test]
fn the_examples_of_spec_sections_2_and_3_are_valid() {
    for line in [
        "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
        "IAMAT kiwi -0.5+0.25 1621464827.5",
        "IAMAT kiwi +12-118 1621464827",
        "  IAMAT\tkiwi \u{0B}+90-180\u{0C} 0\r",
        "IAMAT kiwi -90.000+180.0 1",
    ] {
        assert_eq!(kind(line), "iamat", "{line:?}");
    }
    for line in [
        "WHATSAT kiwi.cs.ucla.edu 10 5",
        "WHATSAT kiwi 50 20",
        "WHATSAT kiwi 0.001 1",
        "WHATSAT kiwi 50.000 05",
    ] {
        assert_eq!(kind(line), "whatsat", "{line:?}");
    }
}

#[test]
fn the_invalid_examples_of_spec_section_4_are_invalid() {
    for line in [
        "IAMAT Clark +12-118",
        "IAMAT Clark +12-118 160000 123",
        "AS Clark +0.25 testuser +12-118 1234",
        "WHATSAT kiwi.cs.ucla.edu 51 5",
        "WHATSAT kiwi.cs.ucla.edu 10 21",
    ] {
        assert_eq!(kind(line), "invalid", "{line:?}");
    }
}

#[test]
fn locations_need_both_signs_digits_and_ranges() {
    for location in [
        "34.068930-118.445127",
        "+34.-118",
        "+.5-118",
        "+34-118.",
        "+34",
        "+34+",
        "+90.5+0",
        "+90.000000001+0",
        "-91+0",
        "+0+180.5",
        "+0-181",
        "+1e1+0",
        "+NaN+0",
        "+inf-inf",
        "++1+1",
        "+1+1+1",
        "+1 +1",
        "+١+1",
    ] {
        let line = format!("IAMAT kiwi {location} 1");
        assert_eq!(kind(&line), "invalid", "{location:?}");
    }
}

#[test]
fn timestamps_are_unsigned_with_at_most_nine_fraction_digits() {
    for timestamp in [
        "1.5x",
        "+1621464827",
        "-1",
        "1621464827.1234567890",
        "1e9",
        "1621464827.",
        ".5",
        "0x10",
    ] {
        let line = format!("IAMAT kiwi +1+1 {timestamp}");
        assert_eq!(kind(&line), "invalid", "{timestamp:?}");
    }
    assert_eq!(
        timestamp_nanos("1621464827.959498503"),
        Ok(Some(1_621_464_827_959_498_503))
    );
    assert_eq!(timestamp_nanos("1.5"), Ok(Some(1_500_000_000)));
    assert_eq!(timestamp_nanos("0012"), Ok(Some(12_000_000_000)));
    assert_eq!(
        timestamp_nanos(&"9".repeat(40)),
        Ok(None),
        "valid, beyond i128"
    );
}

#[test]
fn radius_and_bound_follow_their_ranges() {
    for (radius, bound) in [
        ("0", "5"),
        ("0.000", "5"),
        ("50.5", "5"),
        ("50.0000001", "5"),
        ("-1", "5"),
        ("+10", "5"),
        ("1e1", "5"),
        ("10", "0"),
        ("10", "21"),
        ("10", "100"),
        ("10", "5.0"),
        ("10", "+5"),
        ("10", "x"),
    ] {
        let line = format!("WHATSAT kiwi {radius} {bound}");
        assert_eq!(kind(&line), "invalid", "{line:?}");
    }
}

#[test]
fn link_words_and_case_are_told_apart() {
    assert_eq!(kind("AT Clark +0.1 kiwi +1+1 1"), "link");
    assert_eq!(kind("PEER Clark 1"), "link");
    assert_eq!(kind("iamat kiwi +1+1 1"), "invalid");
    assert_eq!(kind("   "), "invalid");
}

#[test]
fn places_query_is_exact_decimal_degrees_latitude_first() {
    let ClientLine::IamAt { location, .. } = ClientLine::parse("IAMAT k +34.068930-118.445127 1")
    else {
        panic!("valid");
    };
    assert_eq!(location.places_query(), "34.06893,-118.445127");
    let written = Location::from_places_query("34.068930,-118.445127");
    assert_eq!(
        written.as_ref(),
        Some(&location),
        "trailing zeros do not matter"
    );
    let swapped = Location::from_places_query("-118.445127,34.068930");
    assert_ne!(swapped.as_ref(), Some(&location));
    let unsigned = Location::from_places_query("34.068930,118.445127");
    assert_ne!(unsigned.as_ref(), Some(&location));
    assert_eq!(Location::from_places_query("+34,1"), None);
    assert_eq!(Location::from_places_query("34;1"), None);
    assert_eq!(
        Location::parse("-0.0+00")
            .map(|l| l.places_query())
            .as_deref(),
        Some("0,0"),
        "zero has no sign"
    );
}

#[test]
fn kilometres_become_metres_exactly() {
    for (km, metres) in [
        ("10", "10000"),
        ("0.5", "500"),
        ("1.2345", "1234.5"),
        ("0.0001", "0.1"),
        ("050.000", "50000"),
    ] {
        let km = Decimal::parse_unsigned(km).expect("decimal");
        assert_eq!(km.times_thousand().to_string(), metres);
        assert_eq!(Decimal::parse_unsigned(metres), Some(km.times_thousand()));
    }
}
