// SPDX-License-Identifier: GPL-2.0
//! Helpers shared by the integration tests.
//!
//! A test that needs something outside the repository (the kernel tree,
//! python3, xmllint) is `#[ignore = "needs ..."]`: plain `cargo test` does
//! not run it, and `test.sh` runs it with `--include-ignored`, where a
//! missing prerequisite fails it (the helpers below panic saying what is
//! missing) instead of letting it pass.
#![allow(dead_code)]

mod reference;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use ktap2junit::ktap::{Options, Parsed, Test};

pub(crate) use reference::write_junit_reference;

/// The kernel tree: $KDIR, else $TEST_KMOD_CACHE/linux-source-7.3, else
/// ~/.cache/test-kmod-rust/linux-source-7.3; panics if its kunit test_data
/// directory is absent.
pub(crate) fn kdir() -> PathBuf {
    let dir = if let Some(k) = std::env::var_os("KDIR") {
        PathBuf::from(k)
    } else {
        std::env::var_os("TEST_KMOD_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/test-kmod-rust"))
            })
            .expect("neither KDIR, TEST_KMOD_CACHE nor HOME is set")
            .join("linux-source-7.3")
    };
    assert!(
        dir.join("tools/testing/kunit/test_data").is_dir(),
        "no kernel tree with tools/testing/kunit/test_data at {}: run kunit/bootstrap \
         (or set KDIR or TEST_KMOD_CACHE)",
        dir.display()
    );
    dir
}

pub(crate) fn test_data(kdir: &Path) -> PathBuf {
    kdir.join("tools/testing/kunit/test_data")
}

/// The project's own files in tests/data.
pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The project's sample logs (tests/data/*.log), sorted.
pub(crate) fn samples() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data(""))
        .expect("tests/data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "{paths:?}");
    paths
}

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ktap2junit")
}

pub(crate) fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ktap2junit");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        // The child may exit without reading (bad usage): ignore EPIPE.
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().expect("wait ktap2junit")
}

pub(crate) fn parse_file(path: &Path, keep_all_logs: bool) -> Parsed {
    let f = std::fs::File::open(path).expect("open log");
    let opts = Options {
        keep_all_logs,
        ..Options::default()
    };
    let (parsed, err) = ktap2junit::parse_reader(f, &opts);
    assert!(err.is_none(), "read error on {}", path.display());
    parsed
}

/// What junit-report itself writes for these runs with the default options
/// (the reference the CLI's JUnit must equal byte for byte).
pub(crate) fn reference_junit(runs: &[Test]) -> Vec<u8> {
    write_junit_reference(runs, &ktap2junit::writers::junit::JunitOptions::default())
        .expect("write reference JUnit")
}

/// Render a tree as `name STATUS passed/failed/crashed/skipped/errors [skip=reason]`,
/// two spaces of indentation per level (the format of the expectations).
pub(crate) fn render(t: &Test) -> String {
    let mut out = String::new();
    render_into(t, 0, &mut out);
    out
}

fn render_into(t: &Test, depth: usize, out: &mut String) {
    let c = &t.counts;
    let _ = write!(
        out,
        "{}{} {} {}/{}/{}/{}/{}",
        "  ".repeat(depth),
        t.name,
        t.status.as_str(),
        c.passed,
        c.failed,
        c.crashed,
        c.skipped,
        c.errors
    );
    if !t.skip_reason().is_empty() {
        let _ = write!(out, " skip={}", t.skip_reason());
    }
    out.push('\n');
    for s in &t.subtests {
        render_into(s, depth + 1, out);
    }
}

pub(crate) fn render_runs(p: &Parsed) -> String {
    p.runs.iter().map(render).collect()
}

/// A fresh path in the temp dir.
pub(crate) fn temp_path(stem: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "ktap2junit-test-{}-{}-{stem}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The JUnit XSD, vendored in tests/data (see the comment at its top).
pub(crate) fn xsd() -> PathBuf {
    data("junit-10.xsd")
}

/// Whether `cmd --version` runs.
pub(crate) fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Panic unless `cmd` runs: `what` says what installs it.
pub(crate) fn require(cmd: &str, what: &str) {
    assert!(have(cmd), "{cmd} is not installed: {what}");
}

/// Validate an XML document against junit-10.xsd with xmllint (which must
/// be installed).
pub(crate) fn validate(xml: &[u8], what: &str) {
    require("xmllint", "apt-get install libxml2-utils");
    let path = temp_path("out.xml");
    std::fs::write(&path, xml).expect("write xml");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd())
        .arg(&path)
        .output()
        .expect("run xmllint");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{what}: JUnit output does not validate against junit-10.xsd:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}
