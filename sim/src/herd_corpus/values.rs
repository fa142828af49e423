//! The limits a corpus file's `# value:` lines name, and their values read with the harness's
//! own integer arithmetic, so a herd file's durations are checked against numbers that
//! `server::config::parse_duration` had no hand in.

use std::fmt;
use std::time::Duration;

use server::config::Limits;

/// One limit's value: a count, or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    Count(usize),
    Duration(Duration),
}

/// Counts as digits; durations in std's `Debug` (`1.5ms`, `90s`), which is not the server's
/// writer either.
impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitValue::Count(n) => write!(f, "{n}"),
            LimitValue::Duration(d) => write!(f, "{d:?}"),
        }
    }
}

/// Every field of [`Limits`], in its declaration order.
pub const LIMIT_NAMES: [&str; 32] = [
    "connections_max",
    "line_bytes_max",
    "client_idle_timeout",
    "clients_max",
    "table_bytes_max",
    "client_id_bytes_max",
    "location_bytes_max",
    "timestamp_bytes_max",
    "timestamp_ahead_max",
    "client_write_timeout",
    "peer_links_max",
    "peer_handshakes_max",
    "peer_handshake_timeout",
    "link_batch_max",
    "backoff_min",
    "backoff_max",
    "peer_connect_timeout",
    "heartbeat_interval",
    "heartbeat_timeout",
    "places_timeout",
    "places_response_bytes_max",
    "whatsat_wait",
    "stop_grace",
    "durable_log_bytes_min",
    "replies_pending_max",
    "durable_queue_bytes_max",
    "places_cache_ttl",
    "places_cache_bytes_max",
    "places_calls_per_second_max",
    "log_file_bytes_max",
    "log_files_max",
    "ready_alone_after",
];

/// The value of the limit `name` (a field name of [`Limits`]), or `None` for no such field.
pub fn limit(l: &Limits, name: &str) -> Option<LimitValue> {
    use LimitValue::{Count, Duration as D};
    Some(match name {
        "connections_max" => Count(l.connections_max),
        "line_bytes_max" => Count(l.line_bytes_max),
        "client_idle_timeout" => D(l.client_idle_timeout),
        "clients_max" => Count(l.clients_max),
        "table_bytes_max" => Count(l.table_bytes_max),
        "client_id_bytes_max" => Count(l.client_id_bytes_max),
        "location_bytes_max" => Count(l.location_bytes_max),
        "timestamp_bytes_max" => Count(l.timestamp_bytes_max),
        "timestamp_ahead_max" => D(l.timestamp_ahead_max),
        "client_write_timeout" => D(l.client_write_timeout),
        "peer_links_max" => Count(l.peer_links_max),
        "peer_handshakes_max" => Count(l.peer_handshakes_max),
        "peer_handshake_timeout" => D(l.peer_handshake_timeout),
        "link_batch_max" => Count(l.link_batch_max),
        "backoff_min" => D(l.backoff_min),
        "backoff_max" => D(l.backoff_max),
        "peer_connect_timeout" => D(l.peer_connect_timeout),
        "heartbeat_interval" => D(l.heartbeat_interval),
        "heartbeat_timeout" => D(l.heartbeat_timeout),
        "places_timeout" => D(l.places_timeout),
        "places_response_bytes_max" => Count(l.places_response_bytes_max),
        "whatsat_wait" => D(l.whatsat_wait),
        "stop_grace" => D(l.stop_grace),
        "durable_log_bytes_min" => Count(l.durable_log_bytes_min),
        "replies_pending_max" => Count(l.replies_pending_max),
        "durable_queue_bytes_max" => Count(l.durable_queue_bytes_max),
        "places_cache_ttl" => D(l.places_cache_ttl),
        "places_cache_bytes_max" => Count(l.places_cache_bytes_max),
        "places_calls_per_second_max" => Count(l.places_calls_per_second_max),
        "ready_alone_after" => D(l.ready_alone_after),
        "log_file_bytes_max" => Count(l.log_file_bytes_max),
        "log_files_max" => Count(l.log_files_max),
        _ => return None,
    })
}

/// A `# value:` line's claim: `limits.NAME = VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueClaim {
    /// The field of [`Limits`], one of [`LIMIT_NAMES`].
    pub name: &'static str,
    pub want: LimitValue,
}

/// Reads `limits.NAME = VALUE` (the text after `# value:`). A count is decimal digits; a
/// duration is decimal digits and a unit, `ns`, `us`, `ms`, `s` or `m`, whole numbers only,
/// so reading it is exact and needs no fraction arithmetic to get wrong.
pub fn parse_claim(text: &str) -> Result<ValueClaim, String> {
    let (field, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected `limits.NAME = VALUE`"))?;
    let field = field.trim();
    let value = value.trim();
    let name = field
        .strip_prefix("limits.")
        .and_then(|name| LIMIT_NAMES.iter().find(|n| **n == name))
        .ok_or_else(|| {
            format!(
                "`{field}` is not a limit: expected `limits.` and one of {}",
                LIMIT_NAMES.join(", ")
            )
        })?;
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    let number: u128 = if digits.is_empty() {
        None
    } else {
        digits.parse().ok()
    }
    .ok_or_else(|| format!("`{value}`: expected whole digits, then a unit for a duration"))?;
    let want = match (limit(&Limits::default(), name), unit) {
        (Some(LimitValue::Count(_)), "") => LimitValue::Count(
            usize::try_from(number).map_err(|_| format!("`{value}` is too large a count"))?,
        ),
        (Some(LimitValue::Count(_)), _) => {
            return Err(format!("limits.{name} is a count: `{value}` has a unit"));
        }
        (Some(LimitValue::Duration(_)), unit) => {
            let nanos_per_unit: u128 = match unit {
                "ns" => 1,
                "us" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                _ => {
                    return Err(format!(
                        "limits.{name} is a duration: `{value}` needs a unit ns, us, ms, s or m"
                    ));
                }
            };
            let nanos = number
                .checked_mul(nanos_per_unit)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| format!("`{value}` is too long a duration"))?;
            LimitValue::Duration(Duration::from_nanos(nanos))
        }
        (None, _) => unreachable!("every name of LIMIT_NAMES is a field"),
    };
    Ok(ValueClaim { name, want })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_name_is_a_field_and_every_field_has_a_name() {
        let defaults = Limits::default();
        for name in LIMIT_NAMES {
            assert!(limit(&defaults, name).is_some(), "{name}");
        }
        // serde lists the fields too: the two lists must agree, or a new limit goes unchecked.
        let json = serde_json::to_value(&defaults).expect("limits serialize");
        let mut fields: Vec<&str> = json
            .as_object()
            .expect("a map")
            .keys()
            .map(String::as_str)
            .collect();
        let mut names = LIMIT_NAMES.to_vec();
        fields.sort_unstable();
        names.sort_unstable();
        assert_eq!(fields, names);
    }

    #[test]
    fn claims_read_counts_and_durations_exactly() {
        let claim = |text: &str| parse_claim(text).map(|c| (c.name, c.want));
        assert_eq!(
            claim("limits.line_bytes_max = 65536"),
            Ok(("line_bytes_max", LimitValue::Count(65536)))
        );
        assert_eq!(
            claim(" limits.backoff_min=1500us "),
            Ok((
                "backoff_min",
                LimitValue::Duration(Duration::from_micros(1500))
            ))
        );
        assert_eq!(
            claim("limits.heartbeat_timeout = 2m"),
            Ok((
                "heartbeat_timeout",
                LimitValue::Duration(Duration::from_secs(120))
            ))
        );
        for bad in [
            "limits.line_bytes_max = 1s",
            "limits.backoff_min = 15",
            "limits.backoff_min = 1.5s",
            "limits.backoff_min = 1h",
            "limits.nope = 1",
            "line_bytes_max = 1",
            "limits.line_bytes_max 1",
            "limits.line_bytes_max = ",
        ] {
            assert!(parse_claim(bad).is_err(), "{bad}");
        }
    }
}
