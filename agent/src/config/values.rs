//! Values with a syntax of their own, parsed while the file is read so that toml points at
//! the value itself: durations, bounded counts, and lists of parsed strings.

use std::time::Duration;

use serde::Deserializer;

use super::{DEFAULT_PROBE_TIMEOUT, MAX_CONCURRENCY};

/// Parses a duration such as `6h`, `90s`, `1h30m` or `500ms`: one or more integers, each
/// followed by a unit among `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let expected = "expected a number and a unit (ms, s, m, h, d), e.g. 90s, 6h or 1h30m";
    if trimmed.is_empty() {
        return Err(format!("the duration is empty: {expected}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{trimmed}` is not a duration: {expected}"));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let (unit, after) = after.split_at(unit_len);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{trimmed}` is too long a duration"))?;
        let part = match unit {
            "ms" => Some(Duration::from_millis(value)),
            "s" => Some(Duration::from_secs(value)),
            "m" => value.checked_mul(60).map(Duration::from_secs),
            "h" => value.checked_mul(3600).map(Duration::from_secs),
            "d" => value.checked_mul(86_400).map(Duration::from_secs),
            "" if after.is_empty() => {
                return Err(format!(
                    "`{trimmed}` has no unit: {expected} (write {number}s for seconds)"
                ))
            }
            "" => return Err(format!("`{trimmed}` is not a duration: {expected}")),
            other => {
                return Err(format!(
                    "`{trimmed}` is not a duration: unknown unit `{other}`; {expected}"
                ))
            }
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| format!("`{trimmed}` is too long a duration"))?;
        rest = after;
    }
    Ok(total)
}

/// Parses a string value inside the deserializer, so that toml attaches the span of the
/// value itself (an element of a list, not the whole list) to the error.
pub(super) struct ParseWith<T> {
    pub(super) parse: fn(&str) -> Result<T, String>,
    pub(super) expecting: &'static str,
}

impl<T> Clone for ParseWith<T> {
    fn clone(&self) -> Self {
        ParseWith {
            parse: self.parse,
            expecting: self.expecting,
        }
    }
}

impl<'de, T> serde::de::Visitor<'de> for ParseWith<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text).map_err(E::custom)
    }
}

impl<'de, T> serde::de::DeserializeSeed<'de> for ParseWith<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

/// A list of strings, each parsed by `parse` with its own span.
struct ParseList<T>(ParseWith<T>);

impl<'de, T> serde::de::Visitor<'de> for ParseList<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a list of {}", self.0.expecting)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.0.clone())? {
            items.push(item);
        }
        Ok(items)
    }
}

pub(super) fn parse_list<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_seq(ParseList(ParseWith { parse, expecting }))
}

pub(super) fn de_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: parse_positive_duration,
        expecting: "a duration such as \"30s\", \"5m\" or \"6h\"",
    })
}

/// [`parse_duration`], refusing zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "`{text}` is zero: give a positive duration, e.g. 30s"
        ));
    }
    Ok(duration)
}

pub(super) fn de_concurrency<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    struct Concurrency;
    impl serde::de::Visitor<'_> for Concurrency {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a whole number from 1 to {MAX_CONCURRENCY}")
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<usize, E> {
            match usize::try_from(value) {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
                _ => Err(E::custom(format!(
                    "{value} is out of range: give 1 to {MAX_CONCURRENCY} endpoints probed at once"
                ))),
            }
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<usize, E> {
            self.visit_i64(i64::try_from(value).unwrap_or(i64::MAX))
        }
    }
    deserializer.deserialize_i64(Concurrency)
}

pub(super) fn default_probe_timeout() -> Duration {
    DEFAULT_PROBE_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_the_rest() {
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2d "), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "60", "6 hours", "h", "1h30", "-5s", "1.5h", "5x"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("60").unwrap_err().contains("60s"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
