//! Pending updates: the installed version against every version the host's own package
//! indexes offer (no network). Index readers feed [`Candidates`]; it keeps, per installed
//! package, the newest version offered by a security source and by any other source.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::observation::{Package, PendingUpdate};
use vigie_grade::host::version::VersionScheme;

#[derive(Debug, Default, Clone)]
struct Best {
    security: Option<String>,
    other: Option<String>,
}

/// The newest offered versions of the installed packages.
pub struct Candidates {
    scheme: VersionScheme,
    /// Match by name only (apk: one architecture per index, and the installed database
    /// names the architecture of the machine).
    ignore_arch: bool,
    /// (name, arch) → index of the installed package.
    installed: HashMap<(String, String), usize>,
    best: Vec<Best>,
    /// Whether each package is the newest installed version of its name and architecture.
    newest: Vec<bool>,
}

impl Candidates {
    pub fn new(scheme: VersionScheme, packages: &[Package], ignore_arch: bool) -> Self {
        let mut installed: HashMap<(String, String), usize> =
            HashMap::with_capacity(packages.len());
        for (i, p) in packages.iter().enumerate() {
            let arch = if ignore_arch {
                String::new()
            } else {
                p.arch.clone().unwrap_or_default()
            };
            // Several versions installed side by side (rpm kernels): the newest one is what
            // an update would replace.
            match installed.entry((p.name.clone(), arch)) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    if scheme.compare(&p.version, &packages[*e.get()].version) == Ordering::Greater
                    {
                        e.insert(i);
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        let mut newest = vec![false; packages.len()];
        for &i in installed.values() {
            newest[i] = true;
        }
        Candidates {
            scheme,
            ignore_arch,
            installed,
            best: vec![Best::default(); packages.len()],
            newest,
        }
    }

    /// An index offers `name` `version` for `arch`. Offers for packages not installed are
    /// ignored at once, so that reading a 60,000-package index costs no memory.
    pub fn offer(
        &mut self,
        name: &str,
        arch: Option<&str>,
        version: &str,
        security: bool,
        _origin: &str,
    ) {
        let arch = if self.ignore_arch {
            ""
        } else {
            arch.unwrap_or("")
        };
        // Borrowed lookup would need a custom key type; the allocation is small and only
        // happens per index paragraph.
        let Some(&i) = self.installed.get(&(name.to_owned(), arch.to_owned())) else {
            return;
        };
        let slot = if security {
            &mut self.best[i].security
        } else {
            &mut self.best[i].other
        };
        let newer = match slot {
            Some(current) => self.scheme.compare(version, current) == Ordering::Greater,
            None => true,
        };
        if newer {
            *slot = Some(version.to_owned());
        }
    }

    /// The pending updates, in the order of `packages` (the same slice given to `new`).
    pub fn pending(&self, packages: &[Package]) -> Vec<PendingUpdate> {
        let mut out = Vec::new();
        for ((p, best), newest) in packages.iter().zip(&self.best).zip(&self.newest) {
            if !newest {
                continue;
            }
            let newer = |v: &Option<String>| {
                v.as_ref()
                    .filter(|v| self.scheme.compare(v, &p.version) == Ordering::Greater)
                    .cloned()
            };
            let security = newer(&best.security);
            let other = newer(&best.other);
            let available = match (&security, &other) {
                (Some(s), Some(o)) => {
                    if self.scheme.compare(s, o) == Ordering::Less {
                        o.clone()
                    } else {
                        s.clone()
                    }
                }
                (Some(s), None) => s.clone(),
                (None, Some(o)) => o.clone(),
                (None, None) => continue,
            };
            out.push(PendingUpdate {
                name: p.name.clone(),
                arch: p.arch.clone(),
                installed: p.version.clone(),
                available,
                security: security.is_some(),
                held: p.held,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: Some("amd64".into()),
            source: None,
            source_version: None,
            held: false,
        }
    }

    #[test]
    fn newest_offer_wins_and_security_is_told_apart() {
        let pkgs = vec![pkg("a", "1.0-1"), pkg("b", "2.0-1"), pkg("c", "3.0-1")];
        let mut c = Candidates::new(VersionScheme::Dpkg, &pkgs, false);
        c.offer("a", Some("amd64"), "1.0-2", true, "sec");
        c.offer("a", Some("amd64"), "1.0-3", false, "main");
        c.offer("b", Some("amd64"), "2.0-1", true, "sec"); // same: not pending
        c.offer("b", Some("amd64"), "2.0-2", false, "main");
        c.offer("c", Some("i386"), "9.0-1", true, "sec"); // other arch
        c.offer("zzz", Some("amd64"), "1", true, "sec"); // not installed
        let p = c.pending(&pkgs);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].available.as_str(), p[0].security),
            ("a", "1.0-3", true)
        );
        assert_eq!((p[1].name.as_str(), p[1].security), ("b", false));
    }
}
