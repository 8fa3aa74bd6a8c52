//! Which TCP ports a scan tries: `top100`, `top1000` (from our ranked list in
//! `checks/data/ports.toml`), or a list of ports and ranges such as `22,80,8000-8100`.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::Deserialize;

/// How many ports `top1000` holds.
const TOP1000: usize = 1000;
/// How many ports `top100` holds.
const TOP100: usize = 100;

/// Why a `--ports` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortSetError {
    #[error("no port given: use top100, top1000, or a list such as 22,80,8000-8100")]
    Empty,
    #[error("`{item}` in the port list is not a port: {reason} (use top100, top1000, or a list such as 22,80,8000-8100)")]
    BadItem { item: String, reason: String },
    /// The bundled ranking is unusable: a build defect, reported rather than hidden.
    #[error("the bundled port ranking (checks/data/ports.toml) is invalid: {reason}")]
    Data { reason: String },
}

/// The ports of one scan, distinct, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSet {
    /// As the user named it (`top100`, or the list normalized).
    name: String,
    ports: Vec<u16>,
}

impl PortSet {
    /// The 100 most commonly exposed ports.
    pub fn top100() -> Result<PortSet, PortSetError> {
        let data = ranking()?;
        Ok(PortSet {
            name: "top100".to_owned(),
            ports: data.top1000[..TOP100].to_vec(),
        })
    }

    /// The 1,000 most commonly exposed ports (see `checks/data/ports.toml`).
    pub fn top1000() -> Result<PortSet, PortSetError> {
        let data = ranking()?;
        Ok(PortSet {
            name: "top1000".to_owned(),
            ports: data.top1000.clone(),
        })
    }

    /// Exactly these ports, in this order, without duplicates.
    pub fn from_ports(ports: &[u16]) -> PortSet {
        let mut seen = HashSet::new();
        let ports: Vec<u16> = ports
            .iter()
            .copied()
            .filter(|port| *port != 0 && seen.insert(*port))
            .collect();
        let name = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        PortSet { name, ports }
    }

    /// The ports, in scan order.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// How the set was named: `top100`, `top1000` or the list as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl std::str::FromStr for PortSet {
    type Err = PortSetError;

    /// `top100`, `top1000`, or comma-separated ports and `LOW-HIGH` ranges (1–65535).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "" => return Err(PortSetError::Empty),
            "top100" => return PortSet::top100(),
            "top1000" => return PortSet::top1000(),
            _ => {}
        }
        let mut ports = Vec::new();
        let mut seen = HashSet::new();
        for item in trimmed.split(',') {
            let item = item.trim();
            let bad = |reason: &str| PortSetError::BadItem {
                item: item.to_owned(),
                reason: reason.to_owned(),
            };
            if item.is_empty() {
                return Err(bad(
                    "an empty item (two commas in a row, or a trailing comma)",
                ));
            }
            let (low, high) = match item.split_once('-') {
                Some((low, high)) => (
                    parse_port(low.trim(), item)?,
                    parse_port(high.trim(), item)?,
                ),
                None => {
                    let port = parse_port(item, item)?;
                    (port, port)
                }
            };
            if low > high {
                return Err(bad("the range goes down; write the lower port first"));
            }
            for port in low..=high {
                if seen.insert(port) {
                    ports.push(port);
                }
            }
        }
        Ok(PortSet {
            name: trimmed.to_owned(),
            ports,
        })
    }
}

fn parse_port(text: &str, item: &str) -> Result<u16, PortSetError> {
    let bad = |reason: &str| PortSetError::BadItem {
        item: item.to_owned(),
        reason: reason.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected a number from 1 to 65535"));
    }
    match text.parse::<u32>() {
        Ok(port @ 1..=65535) => Ok(port as u16),
        Ok(0) => Err(bad("port 0 cannot be scanned")),
        _ => Err(bad("ports go from 1 to 65535")),
    }
}

/// The usual service on `port` according to the bundled ranking (`"ssh"` for 22), used only
/// to choose which identification probe to try first.
pub fn service_hint(port: u16) -> Option<&'static str> {
    let data = ranking().ok()?;
    data.ranked
        .iter()
        .find(|entry| entry.port == port)
        .map(|entry| entry.service.as_str())
}

/// One entry of `ranked` in `checks/data/ports.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankedPort {
    pub port: u16,
    pub service: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortsFile {
    fill: Vec<[u16; 2]>,
    ranked: Vec<RankedPort>,
}

/// The bundled ranking, checked.
#[derive(Debug)]
pub struct Ranking {
    /// The hand-ranked entries, most common first.
    pub ranked: Vec<RankedPort>,
    /// `ranked`, then the fill ranges, 1,000 distinct ports.
    pub top1000: Vec<u16>,
}

static RANKING: LazyLock<Result<Ranking, String>> =
    LazyLock::new(|| parse_ranking(include_str!("../../data/ports.toml")));

/// The bundled ranking (parsed once).
pub fn ranking() -> Result<&'static Ranking, PortSetError> {
    RANKING.as_ref().map_err(|reason| PortSetError::Data {
        reason: reason.clone(),
    })
}

/// Parses and checks a ranking file: every port 1–65535 and listed once, at least 100
/// ranked, enough fill for 1,000.
pub fn parse_ranking(text: &str) -> Result<Ranking, String> {
    let file: PortsFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = HashSet::new();
    for entry in &file.ranked {
        if entry.port == 0 {
            return Err("port 0 is listed".to_owned());
        }
        if !seen.insert(entry.port) {
            return Err(format!("port {} is listed twice", entry.port));
        }
        if entry.service.is_empty() {
            return Err(format!("port {} has no service name", entry.port));
        }
    }
    if file.ranked.len() < TOP100 {
        return Err(format!(
            "only {} ranked ports, at least {TOP100} are needed",
            file.ranked.len()
        ));
    }
    let mut top1000: Vec<u16> = file.ranked.iter().map(|entry| entry.port).collect();
    top1000.truncate(TOP1000);
    'fill: for [low, high] in &file.fill {
        if *low == 0 || low > high {
            return Err(format!("fill range {low}-{high} is not a range of ports"));
        }
        for port in *low..=*high {
            if top1000.len() == TOP1000 {
                break 'fill;
            }
            if seen.insert(port) {
                top1000.push(port);
            }
        }
    }
    if top1000.len() != TOP1000 {
        return Err(format!(
            "ranked and fill give {} ports, {TOP1000} are needed",
            top1000.len()
        ));
    }
    Ok(Ranking {
        ranked: file.ranked,
        top1000,
    })
}
