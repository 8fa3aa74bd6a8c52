//! vigie-grade stays pure: its normal dependency tree (what a crate that depends on it
//! compiles, the collector for `regrade`) has no async runtime, resolver, HTTP client, TLS
//! stack or database client. Adding one fails here.

use std::process::Command;

const FORBIDDEN: [&str; 9] = [
    "tokio",
    "hickory-resolver",
    "hickory-proto",
    "reqwest",
    "rustls",
    "tokio-rustls",
    "rusqlite",
    "tokio-postgres",
    "x509-parser",
];

#[test]
fn the_normal_dependency_tree_has_no_runtime_network_tls_or_database_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--package",
            "vigie-grade",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("UTF-8");
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"vigie-model") && names.contains(&"serde"),
        "not the tree expected: {tree}"
    );
    let found: Vec<&str> = FORBIDDEN
        .into_iter()
        .filter(|name| names.contains(name))
        .collect();
    assert!(
        found.is_empty(),
        "vigie-grade depends on {found:?}:\n{tree}"
    );
}
