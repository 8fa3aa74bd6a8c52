//! Whether two report bodies are the same report: equal once written in canonical JSON
//! (object keys sorted, no insignificant whitespace), so that the same report re-serialized
//! by another library is recognised as the same.
//!
//! Only a report_id sent again needs it: `reports.body_sha256` holds the SHA-256 of the body
//! as received (before migration 0008, of its canonical form; either way equal hashes mean
//! the same report), and when the hashes differ both bodies are compared in canonical form.

use sha2::{Digest, Sha256};

/// Whether `stored` (a body kept in `reports`) and `incoming` are the same report.
pub(super) fn same_report(stored: &str, incoming: &str) -> bool {
    let (Ok(stored), Ok(incoming)) = (
        serde_json::from_str::<serde_json::Value>(stored),
        serde_json::from_str::<serde_json::Value>(incoming),
    ) else {
        return false;
    };
    canonical_sha256(&stored) == canonical_sha256(&incoming)
}

/// SHA-256 of the JSON with object keys sorted and no insignificant whitespace, so that the
/// same report re-serialized by another library is recognised as the same.
pub(super) fn canonical_sha256(value: &serde_json::Value) -> String {
    // Written whole into one buffer, then hashed once: on a report of 200 findings the
    // writes of small pieces cost more than the hash (a profile of the load test).
    let mut canonical = Vec::with_capacity(64 * 1024);
    write_canonical(value, &mut canonical);
    hex::encode(Sha256::digest(&canonical))
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Already in order unless serde_json keeps insertion order; cheap either way.
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// A string, number, boolean or null in serde_json's compact form (as `to_string` writes it).
fn write_scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing a string or a number to memory cannot fail; the output would only lack it.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_hash_ignores_key_order_and_whitespace_only() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "s"}], "a": null}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":null,"b":[1,{"x":"s","y":2}]}"#).unwrap();
        let c: serde_json::Value =
            serde_json::from_str(r#"{"a":null,"b":[{"x":"s","y":2},1]}"#).unwrap();
        assert_eq!(canonical_sha256(&a), canonical_sha256(&b));
        assert_ne!(canonical_sha256(&a), canonical_sha256(&c));
    }

    /// The canonical form as first written (one hasher update per piece): the hashes stored
    /// by earlier collectors must still match the same report sent again.
    fn canonical_sha256_as_before(value: &serde_json::Value) -> String {
        fn write(value: &serde_json::Value, hasher: &mut Sha256) {
            use serde_json::Value;
            match value {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    hasher.update(b"{");
                    for (i, key) in keys.into_iter().enumerate() {
                        if i > 0 {
                            hasher.update(b",");
                        }
                        hasher.update(Value::String(key.clone()).to_string().as_bytes());
                        hasher.update(b":");
                        write(&map[key], hasher);
                    }
                    hasher.update(b"}");
                }
                Value::Array(items) => {
                    hasher.update(b"[");
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            hasher.update(b",");
                        }
                        write(item, hasher);
                    }
                    hasher.update(b"]");
                }
                scalar => hasher.update(scalar.to_string().as_bytes()),
            }
        }
        let mut hasher = Sha256::new();
        write(value, &mut hasher);
        hex::encode(hasher.finalize())
    }

    #[test]
    fn canonical_hash_is_the_one_earlier_collectors_stored() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"z": "\u00e9t\u00e9 \"q\" \\ \n\u0001", "a": [1.5, -2, 1e300, true, null,
                {"k\u00e9": {}, "b": []}], "m": {"y": 0, "x": "\ud83d\ude00"}}"#,
        )
        .unwrap();
        assert_eq!(canonical_sha256(&value), canonical_sha256_as_before(&value));
        let report: serde_json::Value = serde_json::from_str(&vigie_tests_free_report()).unwrap();
        assert_eq!(
            canonical_sha256(&report),
            canonical_sha256_as_before(&report)
        );
    }

    /// A report-shaped body, written here so that the collector's unit tests need no other crate.
    fn vigie_tests_free_report() -> String {
        let findings: Vec<serde_json::Value> = (0..50)
            .map(|i| {
                serde_json::json!({
                    "check": "tls.protocol.tls1_0", "target": format!("t{i}.example:443"),
                    "status": "pass", "severity": "info", "summary": format!("résumé {i}"),
                    "evidence": {"index": i, "ratio": f64::from(i) / 3.0, "list": [i, "x"]}
                })
            })
            .collect();
        serde_json::json!({"schema": "vigie.report.v1", "findings": findings}).to_string()
    }

    #[test]
    fn the_same_report_in_another_layout_is_the_same() {
        assert!(same_report(
            r#"{"b": [1, {"y": 2}], "a": null}"#,
            r#"{"a":null,"b":[1,{"y":2}]}"#
        ));
        assert!(!same_report(r#"{"a": 1}"#, r#"{"a": 2}"#));
        assert!(!same_report(r#"{"a": 1}"#, r#"{"a": 1"#));
    }
}
