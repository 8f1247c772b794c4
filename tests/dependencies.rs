//! What the crates promise about their dependencies (README "Architecture", the crates'
//! READMEs), checked on `Cargo.lock` (every feature's dependencies, transitively, so this is
//! an over-approximation: a crate that is absent here is absent from every build):
//!
//! - the core never depends on axum (its `axum` feature needs only `axum-core`);
//! - `tower-authn-password` has no dependency on the rest of the suite;
//! - the default build never links MIT Kerberos (checked with `cargo tree`: only the
//!   `kerberos` feature reaches libgssapi).

use std::collections::{BTreeMap, BTreeSet};

/// Package name → the names of its dependencies, from the lock file.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let lock = include_str!("../Cargo.lock");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in package.lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("name = ") {
                name = Some(n.trim_matches('"').to_owned());
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line == "]" {
                in_deps = false;
            } else if in_deps {
                // `"name"`, `"name version"` or `"name version (source)"`.
                let dep = line.trim_end_matches(',').trim_matches('"');
                let dep = dep.split(' ').next().expect("a name");
                deps.insert(dep.to_owned());
            }
        }
        graph
            .entry(name.expect("every package has a name"))
            .or_default()
            .extend(deps);
    }
    graph
}

/// Everything `root` depends on, transitively.
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in graph.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_core_never_depends_on_axum() {
    let graph = graph();
    let core = closure(&graph, "tower-authn-core");
    assert!(core.contains("axum-core"), "the axum feature is seen");
    assert!(!core.contains("axum"), "tower-authn-core reaches axum");
    // The check can fail: the axum glue does depend on axum.
    assert!(closure(&graph, "tower-authn-axum").contains("axum"));
}

#[test]
fn the_password_crate_needs_nothing_else_of_the_suite() {
    let graph = graph();
    let suite: Vec<_> = closure(&graph, "tower-authn-password")
        .into_iter()
        .filter(|d| d.starts_with("tower-authn"))
        .collect();
    assert!(suite.is_empty(), "{suite:?}");
    assert!(closure(&graph, "tower-authn-core").contains("tower-authn-password"));
}

/// The dependencies of the facade and its examples with `features` (`cargo tree`, offline).
fn facade_tree(features: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO"));
    // `dev` too: `cargo run --example gateway` builds the dev-dependencies.
    cmd.args([
        "tree",
        "--offline",
        "-p",
        "tower-authn",
        "-e",
        "normal,dev",
        "--prefix",
        "none",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = cmd.output().expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_default_build_links_no_kerberos() {
    // README: the first command needs no system library; only `kerberos` links MIT's GSSAPI.
    let default = facade_tree(&[]);
    assert!(
        default.contains("tower-authn-exchange"),
        "the exchanges are in the default build"
    );
    assert!(
        !default.contains("libgssapi"),
        "the default build links GSSAPI"
    );
    assert!(!default.contains("tower-authn-kerberos"));
    // The check can fail: the feature does link it.
    assert!(facade_tree(&["kerberos"]).contains("libgssapi-sys"));
}
