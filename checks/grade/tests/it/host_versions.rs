//! Property tests of the version orderings against the real tools: `dpkg
//! --compare-versions` on thousands of generated pairs, and rpm's own `rpm.vercmp` when rpm
//! is installed. Each is skipped with a printed notice when its tool is absent.

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use vigie_grade::host::version::{dpkg_compare, rpm_evr_compare};

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick(&mut self, chars: &[u8]) -> char {
        chars[self.below(chars.len())] as char
    }
}

/// Characters weighted towards the ones that make orderings interesting.
const UPSTREAM: &[u8] = b"0123456789001..........~~~~++abczABCZ-";
const REVISION: &[u8] = b"0123456789001.....~~~++abzAZ";

fn segment(rng: &mut Rng, chars: &[u8], len: usize) -> String {
    (0..len).map(|_| rng.pick(chars)).collect()
}

/// A syntactically valid Debian version (dpkg refuses the others): upstream starts with a
/// digit; `-` only when there is a revision; no `:` without an epoch.
fn deb_version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.below(5) == 0 {
        v.push_str(&rng.below(3).to_string());
        v.push(':');
    }
    let has_revision = rng.below(3) != 0;
    let upstream_chars: &[u8] = if has_revision {
        UPSTREAM
    } else {
        &UPSTREAM[..UPSTREAM.len() - 1]
    };
    v.push(rng.pick(b"0123456789"));
    let len = rng.below(8);
    v.push_str(&segment(rng, upstream_chars, len));
    if has_revision {
        v.push('-');
        v.push(rng.pick(b"0123456789abc~"));
        let len = rng.below(5);
        v.push_str(&segment(rng, REVISION, len));
    }
    v
}

/// A version close to `v`: most random pairs differ in the first character, which says
/// little; near pairs exercise `~`, trailing zeros, letters against digits.
fn mutate(rng: &mut Rng, v: &str) -> String {
    let mut s = v.to_owned();
    match rng.below(6) {
        0 => s.push('~'),
        1 => {
            let n = 1 + rng.below(2);
            s.push_str(&segment(rng, b"0.a~+", n));
        }
        2 if s.len() > 1 => {
            s.pop();
        }
        3 => {
            if let Some(pos) = s.rfind(|c: char| c.is_ascii_digit()) {
                let d = rng.pick(b"0123456789");
                s.replace_range(pos..pos + 1, &d.to_string());
            }
        }
        4 => s = format!("0:{}", s.split_once(':').map(|(_, r)| r).unwrap_or(&s)),
        _ => s = deb_version(rng),
    }
    // Keep it valid: a `-` must stay followed by a non-empty revision.
    if s.ends_with('-') {
        s.push('1');
    }
    if s.split_once(':')
        .is_some_and(|(_, rest)| !rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        s = deb_version(rng);
    }
    s
}

/// Runs `dpkg --compare-versions` on every pair, one shell per batch (a process per pair is
/// what dpkg offers; batching keeps it to a few seconds).
fn dpkg_orderings(pairs: &[(String, String)]) -> Option<Vec<Ordering>> {
    let script = r#"while read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then echo lt;
  elif dpkg --compare-versions "$a" eq "$b"; then echo eq;
  elif dpkg --compare-versions "$a" gt "$b"; then echo gt;
  else echo err; fi
done"#;
    let mut out = Vec::with_capacity(pairs.len());
    for batch in pairs.chunks(500) {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut input = String::new();
        for (a, b) in batch {
            input.push_str(&format!("{a} {b}\n"));
        }
        child.stdin.take()?.write_all(input.as_bytes()).ok()?;
        let result = child.wait_with_output().ok()?;
        for line in String::from_utf8_lossy(&result.stdout).lines() {
            out.push(match line {
                "lt" => Ordering::Less,
                "eq" => Ordering::Equal,
                "gt" => Ordering::Greater,
                other => panic!("dpkg refused a generated version ({other}); fix the generator"),
            });
        }
    }
    assert_eq!(out.len(), pairs.len(), "dpkg answered every pair");
    Some(out)
}

#[test]
fn dpkg_ordering_agrees_with_dpkg_on_generated_pairs() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        eprintln!("notice: dpkg is not installed, dpkg property test skipped");
        return;
    }
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut pairs = Vec::new();
    for i in 0..3000 {
        let a = deb_version(&mut rng);
        let b = if i % 3 == 0 {
            deb_version(&mut rng)
        } else {
            mutate(&mut rng, &a)
        };
        pairs.push((a, b));
    }
    let theirs = dpkg_orderings(&pairs).expect("dpkg runs");
    let mut kinds = [0usize; 3];
    let mut mismatches = Vec::new();
    for ((a, b), want) in pairs.iter().zip(&theirs) {
        kinds[(*want as i8 + 1) as usize] += 1;
        let got = dpkg_compare(a, b);
        if got != *want {
            mismatches.push(format!("{a} vs {b}: dpkg {want:?}, ours {got:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The generator must produce all three outcomes in quantity, or the test proves little.
    assert!(
        kinds.iter().all(|&k| k > 200),
        "outcomes lt/eq/gt: {kinds:?}"
    );
}

#[test]
fn rpm_ordering_agrees_with_rpm_vercmp() {
    let mut rng = Rng(0x0bad_cafe_0000_0042);
    let chars: &[u8] = b"0123456789000...~~^^__aAzZ+";
    let gen = |rng: &mut Rng| -> String {
        let mut s = String::new();
        if rng.below(6) == 0 {
            s.push_str(&format!("{}:", rng.below(3)));
        }
        s.push(rng.pick(b"0123456789a"));
        let n = rng.below(7);
        for _ in 0..n {
            s.push(rng.pick(chars));
        }
        if rng.below(2) == 0 {
            s.push('-');
            s.push(rng.pick(b"0123456789"));
            let n = rng.below(5);
            for _ in 0..n {
                s.push(rng.pick(chars));
            }
        }
        s
    };
    let mut pairs = Vec::new();
    for _ in 0..2000 {
        let a = gen(&mut rng);
        let b = if rng.below(2) == 0 {
            gen(&mut rng)
        } else {
            let mut b = a.clone();
            b.push(rng.pick(b"~^.0a1"));
            b
        };
        pairs.push((a, b));
    }
    // One rpm process evaluates every pair through its Lua binding of rpmvercmp.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pairs.lua");
    let mut lua = String::new();
    for (a, b) in &pairs {
        lua.push_str(&format!("io.write(rpm.vercmp({a:?}, {b:?}), \"\\n\")\n"));
    }
    std::fs::write(&script, lua).unwrap();
    let out = match Command::new("rpm")
        .arg("--eval")
        .arg(format!(
            "%{{lua: dofile({:?})}}",
            script.display().to_string()
        ))
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ => {
            eprintln!("notice: rpm is not installed, rpm property test skipped");
            return;
        }
    };
    let answers: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(answers.len(), pairs.len());
    let mut mismatches = Vec::new();
    for ((a, b), want) in pairs.iter().zip(answers) {
        let want = want.cmp(&0);
        let got = rpm_evr_compare(a, b);
        if got != want {
            mismatches.push(format!("{a} vs {b}: rpm {want:?}, ours {got:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
