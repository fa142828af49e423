//! Tests of the wire protocol: every example of docs/protocol.md, edge cases, and properties.
use super::*;
use proptest::prelude::*;

use super::values::is_all_zeros;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn parse(line: &str) -> Result<Command, ParseError> {
    Command::parse_line(line.as_bytes())
}

fn at(line: &str) -> Result<Record, Box<dyn std::error::Error>> {
    match parse(line)? {
        Command::At(record) => Ok(record),
        other => Err(format!("not an AT line: {other:?}").into()),
    }
}

// docs/protocol.md §1: lines.

#[test]
fn spec_white_space_is_exactly_space_tab_cr_lf_ff_vt() {
    let spaces: Vec<u8> = (0..=u8::MAX).filter(|&b| is_spec_whitespace(b)).collect();
    assert_eq!(spaces, vec![b'\t', b'\n', 0x0B, 0x0C, b'\r', b' ']);
    assert!(
        !0x0B_u8.is_ascii_whitespace(),
        "VT is why the helper exists"
    );
}

#[test]
fn fields_split_on_runs_of_every_kind_of_white_space() -> TestResult {
    let line = "\x0B\t IAMAT\t\tkiwi \x0B\x0C +1+2\r\r 1.5 \r\n";
    let expected = Command::IAmAt {
        client: "kiwi".into(),
        location: "+1+2".parse()?,
        timestamp: "1.5".parse()?,
    };
    assert_eq!(parse(line)?, expected);
    assert_eq!(parse("IAMAT   kiwi   +1+2   1.5")?, expected);
    assert_eq!(parse("IAMAT kiwi +1+2 1.5\n")?, expected);
    Ok(())
}

#[test]
fn an_empty_or_blank_line_is_invalid_with_a_bare_question_mark() {
    for line in ["", " ", "\n", "\r\n", "\t\x0B\x0C \r\n"] {
        assert_eq!(parse(line), Err(ParseError::Empty), "{line:?}");
        assert_eq!(invalid_reply(line.as_bytes()), "? ");
    }
}

#[test]
fn non_utf8_bytes_make_the_line_invalid_and_the_reply_lossy() {
    let line = b"  IAMAT kiwi\xff\xfe +1+2 1.5 \x0B\n";
    assert_eq!(Command::parse_line(line), Err(ParseError::NotUtf8));
    assert_eq!(invalid_reply(line), "? IAMAT kiwi\u{FFFD}\u{FFFD} +1+2 1.5");
}

#[test]
fn the_invalid_reply_trims_vt_and_ff_but_keeps_inner_white_space() {
    assert_eq!(
        invalid_reply(b"\x0B\x0C IAMAT  a\tb \x0B\x0C\r\n"),
        "? IAMAT  a\tb"
    );
}

#[test]
fn unicode_white_space_is_part_of_a_client_id_not_a_separator() -> TestResult {
    let cmd = parse("IAMAT a\u{A0}b\u{2003}c +1+2 1")?;
    let Command::IAmAt { client, .. } = cmd else {
        return Err("not IAMAT".into());
    };
    assert_eq!(client, "a\u{A0}b\u{2003}c");
    Ok(())
}

#[test]
fn huge_lines_parse_or_fail_without_trouble() -> TestResult {
    let client = "x".repeat(64 * 1024);
    let line = format!("IAMAT {client} +1+2 1");
    assert_eq!(parse(&line)?.to_string(), line);
    let many = format!("IAMAT{}", " a".repeat(10_000));
    assert_eq!(
        parse(&many),
        Err(ParseError::FieldCount {
            command: "IAMAT",
            expected: 4,
            found: 10_001
        })
    );
    Ok(())
}

#[test]
fn command_words_are_case_sensitive() {
    for line in [
        "iamat kiwi +1+2 1",
        "Iamat kiwi +1+2 1",
        "whatsat kiwi 10 5",
        "at A +0 c +1+2 1",
    ] {
        assert_eq!(parse(line), Err(ParseError::UnknownCommand), "{line}");
    }
}

// docs/protocol.md §2: IAMAT.

#[test]
fn the_spec_iamat_example_parses_into_its_fields() -> TestResult {
    let Command::IAmAt {
        client,
        location,
        timestamp,
    } = parse("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")?
    else {
        return Err("not IAMAT".into());
    };
    assert_eq!(client, "kiwi.cs.ucla.edu");
    assert_eq!(location.as_str(), "+34.068930-118.445127");
    assert_eq!(location.query_value(), "34.068930,-118.445127");
    assert_eq!(timestamp.nanos(), 1_621_464_827_959_498_503);
    assert_eq!(timestamp.as_str(), "1621464827.959498503");
    Ok(())
}

#[test]
fn the_spec_location_examples_are_valid_and_echo_verbatim() -> TestResult {
    for (text, query, lat, lng) in [
        (
            "+34.068930-118.445127",
            "34.068930,-118.445127",
            34.06893,
            -118.445127,
        ),
        ("-0.5+0.25", "-0.5,0.25", -0.5, 0.25),
        ("+12-118", "12,-118", 12.0, -118.0),
    ] {
        let location: Location = text.parse()?;
        assert_eq!(location.to_string(), text);
        assert_eq!(location.query_value(), query);
        assert_eq!((location.latitude(), location.longitude()), (lat, lng));
    }
    Ok(())
}

#[test]
fn the_spec_timestamp_examples_are_valid() -> TestResult {
    for (text, nanos) in [
        ("1621464827.959498503", 1_621_464_827_959_498_503),
        ("1621464827.5", 1_621_464_827_500_000_000),
        ("1621464827", 1_621_464_827_000_000_000),
        ("0", 0),
        ("0001.000000001", 1_000_000_001),
    ] {
        let timestamp: Timestamp = text.parse()?;
        assert_eq!(
            (timestamp.nanos(), timestamp.to_string().as_str()),
            (nanos, text)
        );
    }
    Ok(())
}

#[test]
fn timestamps_refuse_signs_exponents_bare_dots_and_a_tenth_fraction_digit() {
    for text in [
        "",
        ".5",
        "5.",
        "+5",
        "-5",
        "1e9",
        "1E9",
        "1.2.3",
        " 1",
        "1 ",
        "1_000",
        "0x10",
        "\u{661}",
        "1.0000000000",
        "NaN",
        "inf",
    ] {
        assert_eq!(
            text.parse::<Timestamp>(),
            Err(ParseError::BadTimestamp),
            "{text:?}"
        );
    }
}

#[test]
fn timestamps_accept_exactly_up_to_i128_nanoseconds_and_refuse_overflow() -> TestResult {
    let max: Timestamp = "170141183460469231731687303715.884105727".parse()?;
    assert_eq!(max.nanos(), i128::MAX);
    for text in [
        "170141183460469231731687303715.884105728",
        "170141183460469231731687303716",
        &"9".repeat(5000),
    ] {
        assert_eq!(text.parse::<Timestamp>(), Err(ParseError::BadTimestamp));
    }
    Ok(())
}

#[test]
fn the_spec_at_reply_is_built_from_the_receive_time_in_integer_nanoseconds() -> TestResult {
    let Command::IAmAt {
        client,
        location,
        timestamp,
    } = parse("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503")?
    else {
        return Err("not IAMAT".into());
    };
    let received = timestamp.nanos() + 263_873_386;
    let time_diff = TimeDiff::between(received, &timestamp);
    assert_eq!(time_diff.as_str(), "+0.263873386");
    assert_eq!(time_diff.nanos(), 263_873_386);
    let record = Record {
        origin: "Clark".into(),
        time_diff,
        client,
        location,
        timestamp,
    };
    assert_eq!(
        record.to_string(),
        "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503"
    );
    Ok(())
}

#[test]
fn a_client_timestamp_in_the_future_gives_a_negative_time_diff() -> TestResult {
    let timestamp: Timestamp = "1621464827.000001".parse()?;
    let diff = TimeDiff::between(1_621_464_827_000_000_000, &timestamp);
    assert_eq!((diff.as_str(), diff.nanos()), ("-0.000001000", -1000));
    let diff = TimeDiff::between(1_621_464_800_000_000_000, &timestamp);
    assert_eq!(diff.as_str(), "-27.000001000");
    Ok(())
}

#[test]
fn a_zero_time_diff_is_positive_and_whole_seconds_keep_nine_zeros() -> TestResult {
    let timestamp: Timestamp = "100".parse()?;
    assert_eq!(
        TimeDiff::between(100_000_000_000, &timestamp).as_str(),
        "+0.000000000"
    );
    assert_eq!(
        TimeDiff::between(112_000_000_005, &timestamp).as_str(),
        "+12.000000005"
    );
    Ok(())
}

#[test]
fn time_diff_saturates_instead_of_overflowing_on_absurd_inputs() -> TestResult {
    let max: Timestamp = "170141183460469231731687303715.884105727".parse()?;
    let diff = TimeDiff::between(i128::MIN, &max);
    assert_eq!(diff.nanos(), -i128::MAX);
    assert_eq!(diff.as_str().parse::<TimeDiff>()?, diff);
    let zero: Timestamp = "0".parse()?;
    assert_eq!(
        TimeDiff::between(i128::MIN, &zero)
            .as_str()
            .parse::<TimeDiff>()?
            .nanos(),
        -i128::MAX
    );
    Ok(())
}

#[test]
fn location_ranges_are_checked_in_exact_decimal() -> TestResult {
    for text in [
        "+90+180",
        "-90-180",
        "+90.000+180.000000",
        "-90.0-180.0",
        "+0090+0",
        "-0+0",
        "+0.0-0.0",
    ] {
        assert_eq!(text.parse::<Location>()?.as_str(), text);
    }
    for (text, error) in [
        ("+90.0000000001+0", ParseError::LatitudeOutOfRange),
        ("-90.0000000001+0", ParseError::LatitudeOutOfRange),
        ("+91+0", ParseError::LatitudeOutOfRange),
        ("+00000000000000000000091+0", ParseError::LatitudeOutOfRange),
        (
            "+99999999999999999999999999999+0",
            ParseError::LatitudeOutOfRange,
        ),
        ("+0+180.0000001", ParseError::LongitudeOutOfRange),
        ("+0-181", ParseError::LongitudeOutOfRange),
        ("+0+1234567890", ParseError::LongitudeOutOfRange),
    ] {
        assert_eq!(text.parse::<Location>(), Err(error), "{text}");
    }
    Ok(())
}

#[test]
fn locations_need_both_signs_and_digits_on_both_sides_of_a_dot() {
    for text in [
        "",
        "+1",
        "34.0-118.0",
        "+34.0118.0",
        "+34.0-118.0+1",
        "+34.-118",
        "+.5-1",
        "+1+.5",
        "+1+1.",
        "+1e5+0",
        "+1E5+0",
        "+NaN+0",
        "+inf-inf",
        "++1+1",
        "+1+",
        "+1--1",
        "+1 +1",
        "+1,+1",
        "é+1+1",
        "+\u{661}+1",
    ] {
        assert_eq!(
            text.parse::<Location>(),
            Err(ParseError::BadLocation),
            "{text:?}"
        );
    }
}

#[test]
fn an_iamat_with_a_malformed_value_names_the_value() {
    assert_eq!(
        parse("IAMAT kiwi +91+0 1"),
        Err(ParseError::LatitudeOutOfRange)
    );
    assert_eq!(
        parse("IAMAT kiwi +1+2 1.0000000001"),
        Err(ParseError::BadTimestamp)
    );
    assert_eq!(parse("IAMAT kiwi 1.5 +1+2"), Err(ParseError::BadLocation));
}

// docs/protocol.md §3: WHATSAT.

#[test]
fn the_spec_whatsat_example_parses_with_radius_in_metres() -> TestResult {
    let Command::WhatsAt {
        client,
        radius,
        bound,
    } = parse("WHATSAT kiwi.cs.ucla.edu 10 5")?
    else {
        return Err("not WHATSAT".into());
    };
    assert_eq!(
        (client.as_str(), radius.as_str(), bound),
        ("kiwi.cs.ucla.edu", "10", 5)
    );
    assert_eq!(radius.metres_text(), "10000");
    assert_eq!(radius.metres(), 10000.0);
    Ok(())
}

#[test]
fn radius_metres_are_exact_decimal_without_needless_zeros() -> TestResult {
    for (km, metres) in [
        ("10", "10000"),
        ("0.5", "500"),
        ("1.2345", "1234.5"),
        ("50", "50000"),
        ("0.0001", "0.1"),
        ("50.000", "50000"),
        ("0.001", "1"),
        ("12.3456789", "12345.6789"),
        ("010", "10000"),
        ("0.10", "100"),
        ("0.000000000001", "0.000000001"),
    ] {
        let radius: Radius = km.parse()?;
        assert_eq!(
            (radius.as_str(), radius.metres_text().as_str()),
            (km, metres)
        );
    }
    assert_eq!("1.2345".parse::<Radius>()?.metres(), 1234.5);
    Ok(())
}

#[test]
fn radius_must_be_a_plain_decimal_in_the_half_open_range_zero_to_fifty() {
    for text in ["", "+10", "-1", "1e1", ".5", "5.", "10km", "1.2.3", "NaN"] {
        assert_eq!(
            text.parse::<Radius>(),
            Err(ParseError::BadRadius),
            "{text:?}"
        );
    }
    for text in [
        "0",
        "0.0",
        "00",
        "50.0001",
        "51",
        "100000000000000000000000000",
    ] {
        assert_eq!(
            text.parse::<Radius>(),
            Err(ParseError::RadiusOutOfRange),
            "{text:?}"
        );
    }
}

#[test]
fn bounds_are_digit_only_integers_from_one_to_twenty() -> TestResult {
    for (text, bound) in [
        ("1", 1),
        ("20", 20),
        ("05", 5),
        ("020", 20),
        ("0000000000000000000007", 7),
    ] {
        assert_eq!(
            parse(&format!("WHATSAT c 1 {text}"))?,
            Command::WhatsAt {
                client: "c".into(),
                radius: "1".parse()?,
                bound
            }
        );
    }
    for text in [
        "0",
        "21",
        "5.0",
        "+5",
        "-1",
        "99999999999999999999999",
        "five",
        "1e1",
    ] {
        assert_eq!(
            parse(&format!("WHATSAT c 1 {text}")),
            Err(ParseError::BadBound),
            "{text}"
        );
    }
    Ok(())
}

#[test]
fn whatsat_takes_exactly_four_fields() {
    assert_eq!(
        parse("WHATSAT c 10"),
        Err(ParseError::FieldCount {
            command: "WHATSAT",
            expected: 4,
            found: 3
        })
    );
    assert_eq!(
        parse("WHATSAT c 10 5 extra"),
        Err(ParseError::FieldCount {
            command: "WHATSAT",
            expected: 4,
            found: 5
        })
    );
}

// docs/protocol.md §4: invalid input.

#[test]
fn the_five_spec_invalid_examples_get_their_exact_replies() {
    for (line, error) in [
        (
            "IAMAT Clark +12-118",
            ParseError::FieldCount {
                command: "IAMAT",
                expected: 4,
                found: 3,
            },
        ),
        (
            "IAMAT Clark +12-118 160000 123",
            ParseError::FieldCount {
                command: "IAMAT",
                expected: 4,
                found: 5,
            },
        ),
        (
            "AS Clark +0.25 testuser +12-118 1234",
            ParseError::UnknownCommand,
        ),
        (
            "WHATSAT kiwi.cs.ucla.edu 51 5",
            ParseError::RadiusOutOfRange,
        ),
        ("WHATSAT kiwi.cs.ucla.edu 10 21", ParseError::BadBound),
    ] {
        assert_eq!(parse(line), Err(error), "{line}");
        let padded = format!(" \t{line} \x0B\r\n");
        assert_eq!(Command::parse_line(padded.as_bytes()), parse(line));
        assert_eq!(invalid_reply(padded.as_bytes()), format!("? {line}"));
    }
}

#[test]
fn parse_errors_say_which_rule_was_broken() {
    let error = ParseError::FieldCount {
        command: "IAMAT",
        expected: 4,
        found: 3,
    };
    assert_eq!(error.to_string(), "IAMAT takes exactly 4 fields, found 3");
    assert_eq!(
        ParseError::RadiusOutOfRange.to_string(),
        "radius must satisfy 0 < r <= 50 km"
    );
    assert_eq!(ParseError::NotUtf8.to_string(), "line is not valid UTF-8");
}

// docs/protocol.md §5 and §8: records between peers.

#[test]
fn a_peer_at_line_parses_into_a_record_that_prints_back_verbatim() -> TestResult {
    let line = "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
    let record = at(line)?;
    assert_eq!(record.origin, "Clark");
    assert_eq!(record.time_diff.nanos(), 263_873_386);
    assert_eq!(record.to_string(), line);
    Ok(())
}

#[test]
fn a_peer_time_diff_is_echoed_as_received_not_reformatted() -> TestResult {
    let record = at("AT Bona -0.5 c +1+2 1")?;
    assert_eq!(
        (record.time_diff.as_str(), record.time_diff.nanos()),
        ("-0.5", -500_000_000)
    );
    assert_eq!(record.to_string(), "AT Bona -0.5 c +1+2 1");
    Ok(())
}

#[test]
fn extra_trailing_fields_on_an_at_line_are_ignored() -> TestResult {
    let record = at("AT Clark +0.1 c +1+2 1.5 Bona Campbell\tJaquez")?;
    assert_eq!(record.to_string(), "AT Clark +0.1 c +1+2 1.5");
    Ok(())
}

#[test]
fn an_at_line_needs_six_fields_and_valid_values() {
    assert_eq!(
        parse("AT Clark +0.1 c +1+2"),
        Err(ParseError::TooFewFields {
            command: "AT",
            at_least: 6,
            found: 5
        })
    );
    assert_eq!(parse("AT Clark 0.1 c +1+2 1"), Err(ParseError::BadTimeDiff));
    assert_eq!(
        parse("AT Clark +0.1 c +1+200 1"),
        Err(ParseError::LongitudeOutOfRange)
    );
    assert_eq!(
        parse("AT Clark +0.1 c +1+2 -1"),
        Err(ParseError::BadTimestamp)
    );
}

#[test]
fn time_diffs_need_a_sign_and_at_most_nine_fraction_digits() -> TestResult {
    for (text, nanos) in [
        ("+0.263873386", 263_873_386),
        ("-0", 0),
        ("+12", 12_000_000_000),
        ("-1.000000001", -1_000_000_001),
    ] {
        let diff: TimeDiff = text.parse()?;
        assert_eq!((diff.nanos(), diff.to_string().as_str()), (nanos, text));
    }
    for text in [
        "",
        "0.5",
        "+.5",
        "+5.",
        "+1.0000000001",
        "+1e3",
        "+-1",
        "--1",
        "+",
        "+ 1",
        &format!("+{}", "9".repeat(40)),
    ] {
        assert_eq!(
            text.parse::<TimeDiff>(),
            Err(ParseError::BadTimeDiff),
            "{text:?}"
        );
    }
    Ok(())
}

// Link extensions.

#[test]
fn link_lines_take_exactly_their_arguments() -> TestResult {
    assert_eq!(
        parse("PEER Bona 7")?,
        Command::Peer {
            name: "Bona".into(),
            epoch: 7
        }
    );
    assert_eq!(parse("HELLO")?, Command::Hello);
    let digest = format!("{:016x}{:016x}", 7, u64::MAX);
    assert_eq!(
        parse(&format!("LINKED 5 0 {digest}"))?,
        Command::Linked {
            epoch: 5,
            seq: 0,
            digest: Some(digest.parse()?),
        }
    );
    assert_eq!(parse("AUTH 9 4")?, Command::Auth { head: 9, epoch: 4 });
    assert_eq!(
        parse("LINKED 5 12 -")?,
        Command::Linked {
            epoch: 5,
            seq: 12,
            digest: None,
        }
    );
    assert_eq!(parse("MARK 3")?, Command::Mark(3));
    for bad in [
        "AUTH XY 1",
        "AUTH 0A 1",
        "AUTH -",
        "AUTH - x",
        "HELLO - 1 x",
        "HELLO - 1 0 -",
        "LINKED",
        "LINKED now",
        "LINKED 00",
        "LINKED 000000000000000G",
        "LINKED -",
        "LINKED - -",
        "LINKED 5 12 - -",
        "LINKED x 12 -",
        "LINKED 5 x -",
        "HELLO 0a1b",
        "AUTH - 9",
        "AUTH -",
        "AUTH x",
        "AUTH 9 0a",
        "AUTH 9",
        "AUTH 9 4 1",
        "MARK -1",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(parse("PING 42")?, Command::Ping(42));
    assert_eq!(parse("PONG 18446744073709551615")?, Command::Pong(u64::MAX));
    assert_eq!(
        parse("PEER Bona"),
        Err(ParseError::FieldCount {
            command: "PEER",
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        parse("PEER a 1 b"),
        Err(ParseError::FieldCount {
            command: "PEER",
            expected: 3,
            found: 4
        })
    );
    assert_eq!(
        parse("PING"),
        Err(ParseError::FieldCount {
            command: "PING",
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        parse("PONG 1 2"),
        Err(ParseError::FieldCount {
            command: "PONG",
            expected: 2,
            found: 3
        })
    );
    for n in ["18446744073709551616", "-1", "+1", "1.0", "x"] {
        assert_eq!(
            parse(&format!("PING {n}")),
            Err(ParseError::BadNumber),
            "{n}"
        );
    }
    Ok(())
}

#[test]
fn every_command_prints_canonically_and_parses_back() -> TestResult {
    for (line, canonical) in [
        (
            "IAMAT kiwi +34.068930-118.445127 1621464827.959498503",
            None,
        ),
        ("WHATSAT kiwi 0.50 05", Some("WHATSAT kiwi 0.50 5")),
        (
            "AT Clark +0.1 c +1+2 1.5 extra",
            Some("AT Clark +0.1 c +1+2 1.5"),
        ),
        ("PEER Bona 9", None),
        ("HELLO", None),
        ("AUTH 007 01", Some("AUTH 7 1")),
        ("LINKED 01 02 -", Some("LINKED 1 2 -")),
        ("LINKED 1 0 00000000000000ff0000000000000001", None),
        ("MARK 010", Some("MARK 10")),
        ("PING 007", Some("PING 7")),
        ("PONG 0", None),
    ] {
        let command = parse(line)?;
        let printed = command.to_string();
        assert_eq!(printed, canonical.unwrap_or(line));
        assert_eq!(parse(&printed)?, command);
    }
    Ok(())
}

#[test]
fn wire_values_serialize_as_their_text_and_refuse_invalid_text() -> TestResult {
    let record = at("AT Clark +0.1 c +34.068930-118.445127 1.50")?;
    let value = serde_json::to_value(&record)?;
    assert_eq!(value["location"], "+34.068930-118.445127");
    assert_eq!(value["timestamp"], "1.50");
    assert_eq!(serde_json::from_value::<Record>(value.clone())?, record);
    let mut bad = value;
    bad["location"] = "+91+0".into();
    assert!(serde_json::from_value::<Record>(bad).is_err());
    Ok(())
}

// Property tests.

fn digits(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::char::range('0', '9'), range).prop_map(String::from_iter)
}

fn sign() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("+"), Just("-")]
}

/// A coordinate valid for `limit` degrees: below the limit with any fraction, or the limit
/// itself with an all-zero fraction.
fn coordinate_text(limit: u32) -> impl Strategy<Value = String> {
    let frac = proptest::option::of(digits(1..=12));
    let below = (sign(), 0..limit, frac).prop_map(|(s, int, frac)| match frac {
        Some(f) => format!("{s}{int}.{f}"),
        None => format!("{s}{int}"),
    });
    let at_limit = (sign(), 0_usize..4).prop_map(move |(s, zeros)| match zeros {
        0 => format!("{s}{limit}"),
        n => format!("{s}{limit}.{}", "0".repeat(n)),
    });
    prop_oneof![4 => below, 1 => at_limit]
}

fn fraction(max: usize) -> impl Strategy<Value = String> {
    proptest::option::of(digits(1..=max))
        .prop_map(|f| f.map(|f| format!(".{f}")).unwrap_or_default())
}

fn timestamp_text() -> impl Strategy<Value = String> {
    (any::<u64>(), fraction(9)).prop_map(|(secs, frac)| format!("{secs}{frac}"))
}

fn radius_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1_u32..50, fraction(6)).prop_map(|(int, frac)| format!("{int}{frac}")),
        digits(1..=6)
            .prop_filter("positive", |f| !is_all_zeros(f))
            .prop_map(|f| format!("0.{f}")),
        Just("50".to_owned()),
        Just("50.00".to_owned()),
    ]
}

/// Client ids and server names: non-white-space runs, including non-ASCII characters.
fn word() -> impl Strategy<Value = String> {
    "[!-~\u{A0}é漢😀]{1,16}"
}

fn location_text() -> impl Strategy<Value = String> {
    (coordinate_text(90), coordinate_text(180)).prop_map(|(lat, lng)| format!("{lat}{lng}"))
}

fn command_text() -> impl Strategy<Value = String> {
    let time_diff =
        (sign(), any::<u32>(), fraction(9)).prop_map(|(s, int, frac)| format!("{s}{int}{frac}"));
    prop_oneof![
        (word(), location_text(), timestamp_text())
            .prop_map(|(c, l, t)| format!("IAMAT {c} {l} {t}")),
        (word(), radius_text(), 1_usize..=20).prop_map(|(c, r, b)| format!("WHATSAT {c} {r} {b}")),
        (word(), time_diff, word(), location_text(), timestamp_text())
            .prop_map(|(o, d, c, l, t)| format!("AT {o} {d} {c} {l} {t}")),
        (word(), any::<u64>()).prop_map(|(n, e)| format!("PEER {n} {e}")),
        any::<u64>().prop_map(|n| format!("MARK {n}")),
        any::<u64>().prop_map(|n| format!("PING {n}")),
        any::<u64>().prop_map(|n| format!("PONG {n}")),
    ]
}

proptest! {
    #[test]
    fn valid_commands_print_verbatim_and_parse_back(line in command_text()) {
        let command = parse(&line)?;
        prop_assert_eq!(command.to_string(), line);
        prop_assert_eq!(parse(&command.to_string())?, command);
    }

    #[test]
    fn any_white_space_between_fields_parses_the_same(
        line in command_text(),
        spaces in proptest::collection::vec("[ \t\r\n\x0B\x0C]{1,3}", 8),
    ) {
        let mut spaced = spaces.first().cloned().unwrap_or_default();
        for (field, space) in line.split(' ').zip(spaces.iter().cycle().skip(1)) {
            spaced.push_str(field);
            spaced.push_str(space);
        }
        prop_assert_eq!(parse(&spaced)?, parse(&line)?);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(
        line in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let _ = Command::parse_line(&line);
        let reply = invalid_reply(&line);
        prop_assert!(reply.starts_with("? "));
    }

    #[test]
    fn parsing_near_miss_lines_never_panics(
        tokens in proptest::collection::vec(
            prop_oneof![
                Just("IAMAT"), Just("WHATSAT"), Just("AT"), Just("PING"), Just("+"), Just("-"),
                Just("."), Just("9"), Just("0"), Just("90"), Just("180"), Just("50"), Just(" "),
                Just("\x0B"), Just("é"), Just("e"), Just("99999999999999999999"),
            ],
            0..24,
        )
    ) {
        let line = tokens.concat();
        if let Ok(command) = parse(&line) {
            prop_assert_eq!(parse(&command.to_string())?, command);
        }
    }

    #[test]
    fn time_diff_matches_an_independent_decimal_rendering(
        received in any::<i64>(),
        secs in 0_u64..=u64::from(u32::MAX) * 2,
        frac in fraction(9),
    ) {
        let timestamp: Timestamp = format!("{secs}{frac}").parse()?;
        let diff = TimeDiff::between(i128::from(received), &timestamp);
        let expected = i128::from(received) - timestamp.nanos();
        let digits = format!("{:010}", expected.unsigned_abs());
        let (whole, nanos) = digits.split_at(digits.len() - 9);
        let sign = if expected < 0 { "-" } else { "+" };
        prop_assert_eq!(diff.as_str(), format!("{sign}{whole}.{nanos}"));
        prop_assert_eq!(diff.nanos(), expected);
        prop_assert_eq!(diff.as_str().parse::<TimeDiff>()?, diff);
    }

    #[test]
    fn latitude_range_check_agrees_with_integer_micro_degrees(
        int in 0_u32..200,
        micros in 0_u32..1_000_000,
    ) {
        let text = format!("-{int}.{micros:06}+0");
        let inside = u64::from(int) * 1_000_000 + u64::from(micros) <= 90_000_000;
        prop_assert_eq!(text.parse::<Location>().is_ok(), inside);
    }

    #[test]
    fn radius_metres_agree_with_integer_micro_km(int in 0_u32..50, micros in 1_u32..1_000_000) {
        let radius: Radius = format!("{int}.{micros:06}").parse()?;
        let millimetres = u64::from(int) * 1_000_000 + u64::from(micros);
        let expected = format!("{}.{:03}", millimetres / 1000, millimetres % 1000);
        let expected = expected.trim_end_matches('0').trim_end_matches('.');
        prop_assert_eq!(radius.metres_text(), expected);
    }
}
