//! Version ordering, exactly as each package manager orders versions.
//!
//! A pending update or a vulnerable version is decided by comparing version strings, and
//! each ecosystem has its own rules: dpkg (epoch, upstream, revision, `~` before anything),
//! rpm's `rpmvercmp` (`~` before anything, `^` after the base version but before any further
//! segment) and apk-tools (numeric components, letter, `_alpha`…`_p` suffixes, `-rN`). These
//! are ports of the reference C implementations (dpkg `lib/dpkg/version.c`, rpm
//! `rpmio/rpmvercmp.c`, apk-tools `src/version.c`); the dpkg one is property-tested against
//! the real `dpkg --compare-versions` (`checks/grade/tests/it/host_versions.rs`).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::observation::PackageManager;

/// How versions of an ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionScheme {
    Dpkg,
    Rpm,
    Apk,
}

impl VersionScheme {
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            VersionScheme::Dpkg => dpkg_compare(a, b),
            VersionScheme::Rpm => rpm_evr_compare(a, b),
            VersionScheme::Apk => apk_compare(a, b),
        }
    }
}

// ---------------------------------------------------------------------------------------
// dpkg

/// A Debian version split into its three parts. Parsing is lenient (like dpkg's comparison,
/// which warns but still orders malformed versions): an epoch that is not a number is taken
/// as part of the upstream version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion<'a> {
    pub epoch: u64,
    pub upstream: &'a str,
    pub revision: &'a str,
}

impl<'a> DebVersion<'a> {
    pub fn parse(version: &'a str) -> Self {
        let version = version.trim();
        let (epoch, rest) = match version.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                // An epoch too large for u64 still orders above every real one.
                (e.parse().unwrap_or(u64::MAX), rest)
            }
            _ => (0, version),
        };
        let (upstream, revision) = match rest.rfind('-') {
            Some(dash) => (&rest[..dash], &rest[dash + 1..]),
            None => (rest, ""),
        };
        DebVersion {
            epoch,
            upstream,
            revision,
        }
    }
}

/// Orders two Debian versions as `dpkg --compare-versions` does.
pub fn dpkg_compare(a: &str, b: &str) -> Ordering {
    let a = DebVersion::parse(a);
    let b = DebVersion::parse(b);
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream.as_bytes(), b.upstream.as_bytes()))
        .then_with(|| verrevcmp(a.revision.as_bytes(), b.revision.as_bytes()))
}

/// dpkg's character weight: digits 0 (handled apart), letters first, then `~` before
/// everything including the end of the string, then other characters after letters.
fn dpkg_order(c: u8) -> i32 {
    if c.is_ascii_digit() {
        0
    } else if c.is_ascii_alphabetic() {
        i32::from(c)
    } else if c == b'~' {
        -1
    } else if c != 0 {
        i32::from(c) + 256
    } else {
        0
    }
}

/// Port of dpkg's `verrevcmp`. Reading past the end yields 0, as the C string's NUL does.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let mut first_diff: i32 = 0;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = dpkg_order(at(a, i));
            let bc = dpkg_order(at(b, j));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == b'0' {
            i += 1;
        }
        while at(b, j) == b'0' {
            j += 1;
        }
        while at(a, i).is_ascii_digit() && at(b, j).is_ascii_digit() {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if at(a, i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if at(b, j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

// ---------------------------------------------------------------------------------------
// rpm

/// Port of rpm's `rpmvercmp` (rpm ≥ 4.15, with `^`), for one version or release string.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let separator = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut one, mut two) = (0usize, 0usize);
    while one < a.len() || two < b.len() {
        while separator(at(a, one)) {
            one += 1;
        }
        while separator(at(b, two)) {
            two += 1;
        }
        let (c1, c2) = (at(a, one), at(b, two));
        // `~` sorts before everything, even the end of the string.
        if c1 == b'~' || c2 == b'~' {
            if c1 != b'~' {
                return Ordering::Greater;
            }
            if c2 != b'~' {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }
        // `^` sorts after the end of the string but before any other segment.
        if c1 == b'^' || c2 == b'^' {
            if c1 == 0 {
                return Ordering::Less;
            }
            if c2 == 0 {
                return Ordering::Greater;
            }
            if c1 != b'^' {
                return Ordering::Greater;
            }
            if c2 != b'^' {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }
        if c1 == 0 || c2 == 0 {
            break;
        }
        let (mut end1, mut end2) = (one, two);
        let isnum = c1.is_ascii_digit();
        if isnum {
            while at(a, end1).is_ascii_digit() {
                end1 += 1;
            }
            while at(b, end2).is_ascii_digit() {
                end2 += 1;
            }
        } else {
            while at(a, end1).is_ascii_alphabetic() {
                end1 += 1;
            }
            while at(b, end2).is_ascii_alphabetic() {
                end2 += 1;
            }
        }
        // Segments of different kinds: a number is newer than letters.
        if two == end2 {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut s1, mut s2) = (&a[one..end1], &b[two..end2]);
        if isnum {
            while s1.first() == Some(&b'0') {
                s1 = &s1[1..];
            }
            while s2.first() == Some(&b'0') {
                s2 = &s2[1..];
            }
            match s1.len().cmp(&s2.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match s1.cmp(s2) {
            Ordering::Equal => {}
            other => return other,
        }
        one = end1;
        two = end2;
    }
    match (one >= a.len(), two >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// An rpm `[epoch:]version[-release]` split into its parts; a missing epoch is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evr<'a> {
    pub epoch: u64,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

impl<'a> Evr<'a> {
    pub fn parse(evr: &'a str) -> Self {
        let evr = evr.trim();
        let (epoch, rest) = match evr.split_once(':') {
            Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => {
                (e.parse().unwrap_or(0), rest)
            }
            _ => (0, evr),
        };
        let (version, release) = match rest.rfind('-') {
            Some(dash) => (&rest[..dash], Some(&rest[dash + 1..])),
            None => (rest, None),
        };
        Evr {
            epoch,
            version,
            release,
        }
    }
}

/// Orders two `[epoch:]version[-release]` strings as rpm's `rpm.vercmp` does: epoch, then
/// version, then release, a missing release ordering below any present one.
pub fn rpm_evr_compare(a: &str, b: &str) -> Ordering {
    let a = Evr::parse(a);
    let b = Evr::parse(b);
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| rpmvercmp(a.release.unwrap_or(""), b.release.unwrap_or("")))
}

/// `[epoch:]version-release` as written in advisories and `rpm -q` output; epoch 0 is left
/// out, as rpm does.
pub fn format_evr(epoch: Option<u64>, version: &str, release: &str) -> String {
    match epoch {
        Some(e) if e > 0 => format!("{e}:{version}-{release}"),
        _ => format!("{version}-{release}"),
    }
}

// ---------------------------------------------------------------------------------------
// apk

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid = -1,
    DigitOrZero = 0,
    Digit = 1,
    Letter = 2,
    Suffix = 3,
    SuffixNo = 4,
    RevisionNo = 5,
    End = 6,
}

struct ApkCursor<'a> {
    s: &'a [u8],
}

impl ApkCursor<'_> {
    fn next_token(&mut self, ty: &mut Token) {
        let mut n = Token::Invalid;
        let first = self.s.first().copied().unwrap_or(0);
        if self.s.is_empty() || first == 0 {
            n = Token::End;
        } else if matches!(*ty, Token::Digit | Token::DigitOrZero) && first.is_ascii_lowercase() {
            n = Token::Letter;
        } else if *ty == Token::Letter && first.is_ascii_digit() {
            n = Token::Digit;
        } else if *ty == Token::Suffix && first.is_ascii_digit() {
            n = Token::SuffixNo;
        } else {
            match first {
                b'.' => n = Token::DigitOrZero,
                b'_' => n = Token::Suffix,
                b'-' if self.s.get(1) == Some(&b'r') => {
                    n = Token::RevisionNo;
                    self.s = &self.s[1..];
                }
                _ => {}
            }
            self.s = self.s.get(1..).unwrap_or(&[]);
        }
        if n < *ty
            && !((n == Token::DigitOrZero && *ty == Token::Digit)
                || (n == Token::Suffix && *ty == Token::SuffixNo)
                || (n == Token::Digit && *ty == Token::Letter))
        {
            n = Token::Invalid;
        }
        *ty = n;
    }

    fn get_token(&mut self, ty: &mut Token) -> i64 {
        const PRE: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
        const POST: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];
        if self.s.is_empty() {
            *ty = Token::End;
            return 0;
        }
        let mut i = 0usize;
        let mut nt = Token::Invalid;
        let digits = |s: &[u8], i: &mut usize| {
            let mut v: i64 = 0;
            while *i < s.len() && s[*i].is_ascii_digit() {
                v = v.saturating_mul(10).saturating_add(i64::from(s[*i] - b'0'));
                *i += 1;
            }
            v
        };
        let v: i64 = match *ty {
            Token::DigitOrZero if self.s[0] == b'0' => {
                // Leading zeros: "1.01" orders below "1.1".
                while i < self.s.len() && self.s[i] == b'0' {
                    i += 1;
                }
                nt = Token::Digit;
                -(i as i64)
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                digits(self.s, &mut i)
            }
            Token::Letter => {
                i = 1;
                i64::from(self.s[0])
            }
            Token::Suffix => {
                if let Some(k) = PRE.iter().position(|p| self.s.starts_with(p)) {
                    i = PRE[k].len();
                    k as i64 - PRE.len() as i64
                } else if let Some(k) = POST.iter().position(|p| self.s.starts_with(p)) {
                    i = POST[k].len();
                    k as i64
                } else {
                    *ty = Token::Invalid;
                    return -1;
                }
            }
            Token::Invalid | Token::End => {
                *ty = Token::Invalid;
                return -1;
            }
        };
        self.s = self.s.get(i..).unwrap_or(&[]);
        if self.s.is_empty() {
            *ty = Token::End;
        } else if nt != Token::Invalid {
            *ty = nt;
        } else {
            self.next_token(ty);
        }
        v
    }
}

/// Orders two Alpine package versions as apk-tools 2.x does, quirks included: after a
/// component made only of zeros (`1.0_alpha`), apk-tools 2 no longer sees a following
/// pre-release suffix, so it orders `1.0_alpha` above `1.0`; this port keeps that, since
/// matching must agree with the package manager that installed the version.
pub fn apk_compare(a: &str, b: &str) -> Ordering {
    let mut ca = ApkCursor { s: a.as_bytes() };
    let mut cb = ApkCursor { s: b.as_bytes() };
    let (mut at, mut bt) = (Token::Digit, Token::Digit);
    let (mut av, mut bv) = (0i64, 0i64);
    // Each round consumes at least one byte of each side or ends, so this terminates.
    while at == bt && at != Token::End && at != Token::Invalid && av == bv {
        av = ca.get_token(&mut at);
        bv = cb.get_token(&mut bt);
    }
    match av.cmp(&bv) {
        Ordering::Equal => {}
        other => return other,
    }
    if at == bt {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is newer unless what follows is a pre-release suffix.
    let mut tt = at;
    if at == Token::Suffix && ca.get_token(&mut tt) < 0 {
        return Ordering::Less;
    }
    let mut tt = bt;
    if bt == Token::Suffix && cb.get_token(&mut tt) < 0 {
        return Ordering::Greater;
    }
    match at.cmp(&bt) {
        Ordering::Greater => Ordering::Less,
        Ordering::Less => Ordering::Greater,
        Ordering::Equal => Ordering::Equal,
    }
}

/// How the versions of a package manager's packages compare.
pub trait VersionSchemeOf {
    fn version_scheme(self) -> VersionScheme;
}

impl VersionSchemeOf for PackageManager {
    fn version_scheme(self) -> VersionScheme {
        match self {
            PackageManager::Dpkg => VersionScheme::Dpkg,
            PackageManager::Rpm => VersionScheme::Rpm,
            PackageManager::Apk => VersionScheme::Apk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_known_orderings() {
        // Examples from the Debian Policy Manual §5.6.12 and dpkg's own test suite.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-1~bpo1", Greater),
            ("1.0", "1.0-0", Equal),
            ("1.2.3", "1.2.3a", Less),
            ("1.2.3a", "1.2.3+", Less),
            ("0:1.0", "1.0", Equal),
            ("1.0-1", "1.0.1-1", Less),
            ("7.6p2-4", "7.6-0", Greater),
            ("1.0.3-3", "1.0-1", Greater),
            ("1.3", "1.2.2-2", Greater),
            ("1.3", "1.2.2", Greater),
            ("0-pre", "0-pre", Equal),
            ("0-pre", "0-pree", Less),
            ("1.1.6r2-2", "1.1.6r-1", Greater),
            ("2.6b2-1", "2.6b-2", Greater),
            ("98.1p5-1", "98.1-pre2-b6-2", Less),
            ("0.4a6-2", "0.4-1", Greater),
            ("1:3.0.5-2", "1:3.0.5.1", Less),
            ("10.11.1.3-2", "10.11.1.3-2", Equal),
            ("4.4.3-2", "4.4.3-2", Equal),
            ("1:2.30.2-1", "1:2.30.2-1", Equal),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("001", "1", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(dpkg_compare(a, b), want, "{a} vs {b}");
            assert_eq!(dpkg_compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_known_orderings() {
        // From rpm's tests/rpmvercmp.at.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "xyz.4", Equal),
            ("xyz.4", "8", Less),
            ("8", "xyz.4", Greater),
            ("5.5p1", "5.5p1", Equal),
            ("1.0aa", "1.0a", Greater),
            ("1b.fc17", "1b.fc17", Equal),
            ("1b.fc17", "1.fc17", Less),
            ("1.fc17", "1b.fc17", Greater),
            ("1g.fc17", "1.fc17", Greater),
            ("1.0.1", "1.0a", Greater),
            ("2.0a", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("a", "a", Equal),
            ("a+", "a+", Equal),
            ("+a", "+a", Equal),
            ("_a", "+a", Equal),
            ("a", "b", Less),
            ("001", "1", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
        assert_eq!(rpm_evr_compare("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(rpm_evr_compare("0:1.0-1", "1.0-1"), Equal);
        assert_eq!(rpm_evr_compare("1.0-1.el9", "1.0-1.el9_3"), Less);
        assert_eq!(rpm_evr_compare("3.0.7-25.el9_3", "3.0.7-27.el9"), Less);
    }

    #[test]
    fn apk_known_orderings() {
        // From apk-tools' test/version.data.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0.1", Less),
            ("1.2_alpha", "1.2", Less),
            ("1.2_alpha1", "1.2_alpha2", Less),
            ("1.2_beta", "1.2_alpha", Greater),
            ("1.2_rc1", "1.2", Less),
            ("1.2_p1", "1.2", Greater),
            ("1.0-r1", "1.0", Greater),
            ("1.0-r1", "1.0-r2", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0b", Less),
            ("1.01", "1.1", Less),
            ("1.0_git20200101", "1.0", Greater),
            ("3.1.4-r5", "3.1.4-r10", Less),
            ("2.38.1-r0", "2.38.1_rc1-r0", Greater),
            ("1.2.3_pre1-r0", "1.2.3-r0", Less),
            ("0.1", "0.01", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(apk_compare(a, b), want, "{a} vs {b}");
            assert_eq!(apk_compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn malformed_versions_do_not_panic() {
        let odd = [
            "", ":", "-", "~", "^", "a:b-c", "1:", "-r", "_", "..", "1.0_zzz", "é",
        ];
        for a in odd {
            for b in odd {
                let _ = dpkg_compare(a, b);
                let _ = rpm_evr_compare(a, b);
                let _ = apk_compare(a, b);
            }
        }
    }
}
