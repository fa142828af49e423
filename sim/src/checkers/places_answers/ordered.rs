//! JSON compared with its keys in order: docs/protocol.md §3 has a WHATSAT reply keep Places' keys
//! in the order received, and `serde_json`'s own equality ignores that order.

use serde_json::Value;

/// Where `got` first differs from `want` (a path like `results[2].geometry`, and how), or
/// `None` when both are the same JSON with every object's keys in the same order.
pub fn first_difference(got: &Value, want: &Value) -> Option<String> {
    difference_at("", got, want)
}

fn difference_at(path: &str, got: &Value, want: &Value) -> Option<String> {
    let here = || if path.is_empty() { "the top" } else { path };
    match (got, want) {
        (Value::Object(got), Value::Object(want)) => {
            let got_keys: Vec<&String> = got.keys().collect();
            let want_keys: Vec<&String> = want.keys().collect();
            if got_keys != want_keys {
                return Some(format!(
                    "at {}: keys {got_keys:?} where Places sent {want_keys:?}",
                    here()
                ));
            }
            got.iter().zip(want.values()).find_map(|((key, g), w)| {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                difference_at(&inner, g, w)
            })
        }
        (Value::Array(got), Value::Array(want)) => {
            if got.len() != want.len() {
                return Some(format!(
                    "at {}: {} items where Places sent {}",
                    here(),
                    got.len(),
                    want.len()
                ));
            }
            got.iter()
                .zip(want)
                .enumerate()
                .find_map(|(i, (g, w))| difference_at(&format!("{path}[{i}]"), g, w))
        }
        _ if got == want => None,
        _ => Some(format!(
            "at {}: {} where Places sent {}",
            here(),
            short(got),
            short(want)
        )),
    }
}

/// A value's JSON, cut for a verdict line.
fn short(value: &Value) -> String {
    crate::trace::shorten(&value.to_string(), 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn the_same_json_in_the_same_order_has_no_difference() {
        let a = json(r#"{"a":[1,{"b":null,"c":"x"}],"d":1.5}"#);
        assert_eq!(first_difference(&a, &a.clone()), None);
    }

    #[test]
    fn keys_in_another_order_are_a_difference() {
        let got = json(r#"{"status":"OK","results":[]}"#);
        let want = json(r#"{"results":[],"status":"OK"}"#);
        assert_eq!(got, want, "serde_json's equality ignores the order");
        let difference = first_difference(&got, &want).unwrap_or_default();
        assert!(difference.starts_with("at the top: keys"), "{difference}");
    }

    #[test]
    fn the_first_differing_value_is_named_by_its_path() {
        let got = json(r#"{"results":[{"n":1},{"n":2,"m":[true]}]}"#);
        let want = json(r#"{"results":[{"n":1},{"n":2,"m":[false]}]}"#);
        assert_eq!(
            first_difference(&got, &want).as_deref(),
            Some("at results[1].m[0]: true where Places sent false")
        );
        let fewer = json(r#"{"results":[{"n":1}]}"#);
        assert_eq!(
            first_difference(&fewer, &want).as_deref(),
            Some("at results: 1 items where Places sent 2")
        );
    }

    #[test]
    fn numbers_are_compared_by_value_not_by_text() {
        assert_eq!(first_difference(&json("1.50"), &json("1.5")), None);
        assert_eq!(first_difference(&json("[1e2]"), &json("[100.0]")), None);
    }
}
