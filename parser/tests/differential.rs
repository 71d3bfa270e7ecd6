// SPDX-License-Identifier: GPL-2.0
//! ktap2junit as a drop-in for `kunit.py parse`: for every log of the
//! kernel's tools/testing/kunit/test_data and every sample in tests/data,
//! `python3 $KDIR/tools/testing/kunit/kunit.py parse MODE LOG` and
//! `ktap2junit MODE LOG` must print the same standard output (after
//! kunit_printer.py's `[hh:mm:ss] ` timestamps are removed) and exit with
//! the same status, for MODE = nothing (the report), `--summary`,
//! `--failed`, `--raw_output=kunit` and `--json` (the report, then the
//! JSON); or the pair is listed in [`DEVIATIONS`], with why.  A listed
//! pair that no longer differs fails too, so the list stays true.
//!
//! Also compared on a few logs: `--raw_output=all`, `--json=FILE` and
//! `--junit=FILE` (the report ends naming the file, the JSON file is
//! kunit.py's), and the argument shapes kunit.py's `massage_argv()`
//! gives meaning to (`--json LOG`, `--raw_output LOG`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use common::*;

/// The modes compared on every log.
const MODES: &[&str] = &["", "--summary", "--failed", "--raw_output=kunit", "--json"];

/// Every (log, modes) pair where ktap2junit prints something else than
/// kunit.py, and why: each is one of the README's deviations from
/// kunit_parser.py ("Deviations from kunit_parser.py", numbered as there).
/// `--json` prints the report before the JSON, so it differs wherever the
/// report does (the JSON itself is compared in kernel_test_data.rs).
const DEVIATIONS: &[(&str, &[&str], &str)] = &[
    (
        "test_kernel_panic_interrupt.log",
        &["", "--failed", "--json"],
        "deviation 1: the line that ended the output (the kernel panic) is kept in the log of the \
         test that was running, so the crashed test's log shows it",
    ),
    (
        "test_kmod_two_runs.log",
        &["", "--summary", "--failed", "--json"],
        "deviation 1: the second run (a module loaded later) is parsed and reported; kunit.py \
         stops at the first run's plan",
    ),
    (
        "test_kmod_dmesg.log",
        &["", "--summary", "--failed", "--json"],
        "deviation 1: a module loaded later prints a second run, which is reported",
    ),
    (
        "ci_nested_tap_after_plan.log",
        &["", "--summary", "--failed", "--json"],
        "deviation 1: a result after the run's complete plan is reported in a run of its own",
    ),
    (
        "ci_run_ends_inside_test.log",
        &["", "--summary", "--failed", "--json"],
        "deviations 1 and 4: a new version line ends the run (the test cut off is crashed, with \
         kunit's errors for an ended input) and starts a second one",
    ),
    (
        "test_kmod_spec.log",
        &["", "--summary", "--failed", "--json"],
        "deviation 2: directives as the KTAP spec says (`# skip` in any case, a failing \
         `# TODO` is skipped)",
    ),
    (
        "test_kmod_hostile.log",
        &["", "--failed", "--raw_output=kunit", "--json"],
        "deviation 5: invalid UTF-8 becomes U+FFFD (kunit.py: `\\xNN` escapes) in a log line and \
         a skip reason",
    ),
    (
        "test_kmod_crlf.log",
        &["--raw_output=kunit"],
        "deviation 5: only `\\n` ends a line (kunit.py, reading a file, also splits at the lone \
         `\\r` of CR CR LF, which adds empty lines)",
    ),
    (
        "test_kmod_boot.log",
        &["--raw_output=kunit"],
        "deviation 6: the kernel prefix is stripped token by token (kunit.py cuts as many \
         characters as the version line's prefix had, and cuts into a line whose timestamp is \
         shorter)",
    ),
    (
        "test_kmod_dmesg.log",
        &["--raw_output=kunit"],
        "deviations 1 and 6: the lines of the second run are printed, and varying caller ids \
         are stripped as tokens",
    ),
];

fn kunit_py(k: &Path) -> PathBuf {
    require("python3", "apt-get install python3");
    let p = k.join("tools/testing/kunit/kunit.py");
    assert!(p.is_file(), "no kunit.py at {}", p.display());
    p
}

/// Standard output without the `[hh:mm:ss] ` timestamps at line starts.
fn untimed(out: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(out.len());
    for line in out.split_inclusive(|&b| b == b'\n') {
        let stamped = line.len() >= 11
            && line[0] == b'['
            && line[3] == b':'
            && line[6] == b':'
            && line[9] == b']'
            && line[10] == b' '
            && [1, 2, 4, 5, 7, 8].iter().all(|&i| line[i].is_ascii_digit());
        v.extend_from_slice(if stamped { &line[11..] } else { line });
    }
    v
}

/// (exit status, untimed standard output) of kunit.py parse.
fn kunit(kunit: &Path, args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let out = Command::new("python3")
        .arg(kunit)
        .arg("parse")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kunit.py");
    (out.status.code(), untimed(&out.stdout))
}

/// The same of ktap2junit.
fn ours(args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let out = run(args, None);
    (out.status.code(), untimed(&out.stdout))
}

fn logs(k: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(test_data(k))
        .expect("test_data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() > 20, "{logs:?}");
    logs.extend(samples());
    logs
}

fn name(p: &Path) -> String {
    p.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// A readable difference: the first differing lines.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  kunit.py:   {x:?}\n  ktap2junit: {y:?}", i + 1);
        }
    }
    format!(
        "{} lines (kunit.py) vs {} (ktap2junit)",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
#[ignore = "needs the kernel tree (run kunit/bootstrap) and python3"]
fn every_log_every_mode_prints_what_kunit_py_prints() {
    let k = kdir();
    let kunit_path = kunit_py(&k);
    let logs = logs(&k);
    let jobs: Vec<(PathBuf, &str)> = logs
        .iter()
        .flat_map(|l| MODES.iter().map(move |m| (l.clone(), *m)))
        .collect();
    let next = Mutex::new(jobs.into_iter());
    // (log, mode, differs, what)
    let results = Mutex::new(Vec::new());
    // kunit.py takes a fraction of a second a run: two at a time.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((log, mode)) = next.lock().expect("jobs").next() else {
                        break;
                    };
                    let path = log.to_str().expect("utf-8 path");
                    let args: Vec<&str> =
                        [mode, path].into_iter().filter(|a| !a.is_empty()).collect();
                    let theirs = kunit(&kunit_path, &args);
                    let mine = ours(&args);
                    let what = if theirs.0 != mine.0 {
                        Some(format!("exit status {:?} vs {:?}", theirs.0, mine.0))
                    } else if theirs.1 != mine.1 {
                        Some(first_difference(&theirs.1, &mine.1))
                    } else {
                        None
                    };
                    results
                        .lock()
                        .expect("results")
                        .push((name(&log), mode, what));
                }
            });
        }
    });
    let results = results.into_inner().expect("results");
    let listed = |log: &str, mode: &str| {
        DEVIATIONS
            .iter()
            .any(|(l, modes, _)| *l == log && modes.contains(&mode))
    };
    let mut failures = Vec::new();
    let mut same = 0;
    for (log, mode, what) in &results {
        match (what, listed(log, mode)) {
            (None, false) => same += 1,
            (Some(_), true) => {}
            (Some(w), false) => failures.push(format!("{log} [{mode}] differs: {w}")),
            (None, true) => failures.push(format!(
                "{log} [{mode}] is listed as a deviation but prints what kunit.py prints"
            )),
        }
    }
    let deviating = results.iter().filter(|r| r.2.is_some()).count();
    println!(
        "{} logs x {} modes: {same} identical to kunit.py parse, {deviating} listed deviations",
        logs.len(),
        MODES.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(results.len(), logs.len() * MODES.len());
}

/// The argument shapes: `--json=FILE` and `--junit=FILE` write the file
/// and the report ends naming it (the JSON file is kunit.py's, byte for
/// byte); `--raw_output=all`; and a bare `--json` or `--raw_output`
/// followed by the log reads the log, as kunit.py's `massage_argv()` has
/// it (`--json FILE` would otherwise overwrite the log).
#[test]
#[ignore = "needs the kernel tree (run kunit/bootstrap) and python3"]
fn argument_shapes_mean_what_they_mean_to_kunit_py() {
    let k = kdir();
    let kunit_path = kunit_py(&k);
    for log in [
        test_data(&k).join("test_is_test_passed-failure.log"),
        test_data(&k).join("test_skip_tests.log"),
        data("test_kmod_kunit.log"),
    ] {
        let path = log.to_str().expect("utf-8 path");
        let json = temp_path("shape.json");
        let xml = temp_path("shape.xml");
        let (j, x) = (
            format!("--json={}", json.display()),
            format!("--junit={}", xml.display()),
        );
        for args in [
            vec!["--raw_output=all", path],
            vec!["--raw_output=full", path],
            vec!["--raw_output", path],
            vec!["--json", path],
            vec!["--summary", "--json", path],
            vec!["--failed", "--summary", path],
            vec![j.as_str(), path],
            vec!["--summary", j.as_str(), x.as_str(), path],
        ] {
            let theirs = kunit(&kunit_path, &args);
            let their_json = std::fs::read(&json).ok();
            let _ = std::fs::remove_file(&json);
            let _ = std::fs::remove_file(&xml);
            let mine = ours(&args);
            let my_json = std::fs::read(&json).ok();
            assert_eq!(theirs.0, mine.0, "{args:?}: exit status");
            assert!(
                theirs.1 == mine.1,
                "{args:?}: {}",
                first_difference(&theirs.1, &mine.1)
            );
            assert_eq!(their_json, my_json, "{args:?}: the JSON file");
            if args.contains(&x.as_str()) {
                let doc = std::fs::read_to_string(&xml).expect("JUnit written");
                assert!(doc.starts_with("<?xml"), "{args:?}");
            }
            let _ = std::fs::remove_file(&json);
            let _ = std::fs::remove_file(&xml);
        }
    }
}

/// The exit status of an input that cannot be read is kunit.py's (1), and
/// so is that of a log without KTAP output.
#[test]
#[ignore = "needs the kernel tree (run kunit/bootstrap) and python3"]
fn unreadable_and_empty_inputs_exit_as_kunit_py_does() {
    let k = kdir();
    let kunit_path = kunit_py(&k);
    let missing = temp_path("missing.log");
    let m = missing.to_str().expect("path");
    let theirs = kunit(&kunit_path, &[m]);
    let mine = ours(&[m]);
    assert_eq!((theirs.0, &theirs.1), (Some(1), &Vec::new()));
    assert_eq!(mine, theirs);
    let empty = temp_path("empty.log");
    std::fs::write(&empty, b"").expect("write");
    let e = empty.to_str().expect("path");
    for mode in MODES {
        let args: Vec<&str> = [*mode, e].into_iter().filter(|a| !a.is_empty()).collect();
        let theirs = kunit(&kunit_path, &args);
        let mine = ours(&args);
        assert_eq!(theirs.0, mine.0, "{args:?}");
        assert!(
            theirs.1 == mine.1,
            "{args:?}: {}",
            first_difference(&theirs.1, &mine.1)
        );
    }
    let _ = std::fs::remove_file(&empty);
}
