// SPDX-License-Identifier: GPL-2.0
//! The command line contract: inputs, options, summary and exit codes.

mod common;

use common::*;

const PASSING: &[u8] = b"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: test_kmod\n    1..1\n    ok 1 kmod_test_0001_driver\nok 1 test_kmod\n";
const SKIPPED: &[u8] = b"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: test_kmod\n    1..1\n    ok 1 kmod_test_0005_driver # SKIP no module\nok 1 test_kmod # SKIP\n";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn stdin_and_dash_and_file_give_the_same_report() {
    let path = data("test_kmod_kunit.log");
    let input = std::fs::read(&path).expect("read sample");
    let from_file = run(&["-q", path.to_str().expect("path")], None);
    let from_stdin = run(&["-q"], Some(&input));
    let from_dash = run(&["-q", "-"], Some(&input));
    assert_eq!(from_file.stdout, from_stdin.stdout);
    assert_eq!(from_file.stdout, from_dash.stdout);
    assert_eq!(from_file.status.code(), Some(1));
    assert!(from_file.stdout.starts_with(b"<?xml"));
}

#[test]
fn exit_codes() {
    assert_eq!(run(&["-q"], Some(PASSING)).status.code(), Some(0));
    assert_eq!(
        run(&["-q"], Some(b"ok 1 nothing\n")).status.code(),
        Some(1),
        "no KTAP at all"
    );
    assert_eq!(
        run(&["-q"], Some(b"")).status.code(),
        Some(1),
        "empty input"
    );
    assert_eq!(
        run(&["-q"], Some(b"KTAP version 1\n1..0\n")).status.code(),
        Some(1),
        "no tests"
    );
    // All skipped: kunit.py exits 1 too.
    assert_eq!(
        run(&["-q"], Some(SKIPPED)).status.code(),
        Some(1),
        "all skipped"
    );
    // Several runs: a fully skipped one next to a passing one is a success
    // (a driver's suite in a boot log beside KUnit's), but two fully
    // skipped runs are still "all skipped", and a failing run fails.
    let skipped_then_passing = [SKIPPED, PASSING].concat();
    assert_eq!(
        run(&["-q"], Some(&skipped_then_passing)).status.code(),
        Some(0),
        "skipped run + passing run"
    );
    assert_eq!(
        run(&["-q"], Some(&[SKIPPED, SKIPPED].concat()))
            .status
            .code(),
        Some(1),
        "two all-skipped runs"
    );
    let failing = b"KTAP version 1\n1..1\nnot ok 1 broken\n";
    assert_eq!(
        run(&["-q"], Some(&[SKIPPED, PASSING, failing].concat()))
            .status
            .code(),
        Some(1),
        "a failing run among them"
    );
    let crash = data("test_kmod_crash.log");
    assert_eq!(
        run(&["-q", crash.to_str().expect("path")], None)
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn unreadable_input_is_exit_2_naming_the_file() {
    let missing = temp_path("does-not-exist.log");
    let m = missing.to_str().expect("path");
    let out = run(&["-q", m], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(m), "{}", stderr(&out));
    // The readable inputs are still reported.
    let good = data("test_kmod_kunit.log");
    let out = run(&["-q", good.to_str().expect("path"), m], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kmod_test_0006_driver"));
    // A directory cannot be read either.
    let out = run(&["-q", "/"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_usage_and_unwritable_output_are_exit_2() {
    assert_eq!(
        run(&["--no-such-option"], Some(PASSING)).status.code(),
        Some(2)
    );
    let out = run(&["-o", "/nonexistent-dir/x.xml"], Some(PASSING));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent-dir/x.xml"));
}

#[test]
fn output_file_name_and_quiet() {
    let path = temp_path("out.xml");
    let p = path.to_str().expect("path");
    let out = run(&["-o", p, "--name", "kmod <CI>"], Some(PASSING));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(stderr(&out), "Testing complete. Ran 1 tests: passed: 1\n");
    let xml = std::fs::read_to_string(&path).expect("output written");
    let _ = std::fs::remove_file(&path);
    assert!(
        xml.contains(
            r#"<testsuites name="kmod &lt;CI&gt;" tests="1" failures="0" errors="0" time="0.000">"#
        ),
        "{xml}"
    );
    let quiet = run(&["-q"], Some(PASSING));
    assert!(quiet.stderr.is_empty());
}

#[test]
fn summary_lists_failures() {
    let path = data("test_kmod_kunit.log");
    let out = run(&["-o", "/dev/null", path.to_str().expect("path")], None);
    assert_eq!(
        stderr(&out),
        "Testing complete. Ran 6 tests: passed: 4, failed: 1, skipped: 1\nFailures: test_kmod.kmod_test_0006_driver\n"
    );
}

#[test]
fn unparsable_lines_are_warned_with_file_and_line() {
    let input = b"KTAP version 1\n1..2\nok 1 first\nok 2 bad#name\nok 2 second\n";
    let out = run(&["-q", "-o", "/dev/null"], Some(input));
    let err = stderr(&out);
    assert!(
        err.contains(
            "<stdin>:4: warning: malformed result line treated as a diagnostic: ok 2 bad#name"
        ),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    let path = temp_path("warn.log");
    std::fs::write(&path, b"KTAP version 1\n1..2\nok 1 first\nok 3 second\n").expect("write");
    let p = path.to_str().expect("path");
    let out = run(&["-q", "-o", "/dev/null", p], None);
    let _ = std::fs::remove_file(&path);
    assert!(
        stderr(&out).contains(&format!(
            "{p}:4: warning: test 'second': Expected test number 2 but found 3"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn output_is_reproducible_and_timestamp_settable() {
    let path = data("test_kmod_boot.log");
    let p = path.to_str().expect("path");
    let a = run(&["-q", p], None);
    let b = run(&["-q", p], None);
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).contains(r#"timestamp="1970-01-01T00:00:00Z""#));
    let c = run(&["-q", "--timestamp", "1795608000", p], None);
    assert!(String::from_utf8_lossy(&c.stdout).contains(r#"timestamp="2026-11-25T12:00:00Z""#));
}

#[test]
fn several_files_are_combined() {
    let a = data("test_kmod_kunit.log");
    let b = data("kselftest_kmod.log");
    let out = run(
        &["-q", a.to_str().expect("path"), b.to_str().expect("path")],
        None,
    );
    let xml = String::from_utf8(out.stdout).expect("utf-8");
    assert!(xml.contains(r#"tests="8" failures="2""#), "{xml}");
    let out = run(
        &[
            "-q",
            "--json",
            a.to_str().expect("path"),
            b.to_str().expect("path"),
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["misc"]["tests"], 8);
}

/// The CLI's `--json` (threaded reader, streamed, buffered output,
/// trailing newline on stdout) must be byte for byte what the library's
/// `write_json` makes of the whole trees of the same inputs, for every
/// sample and for several inputs at once.
#[test]
fn cli_json_is_the_library_json() {
    let paths = samples();
    let one_shot = |inputs: &[&std::path::Path]| -> Vec<u8> {
        let mut runs = Vec::new();
        for p in inputs {
            runs.extend(parse_file(p, false).runs);
        }
        let mut out = Vec::new();
        ktap2junit::writers::json::write_json(&mut out, &runs).expect("write json");
        out
    };
    for p in &paths {
        let cli = run(&["-q", "--json", p.to_str().expect("path")], None);
        let mut expected = one_shot(&[p]);
        expected.push(b'\n');
        assert_eq!(
            String::from_utf8_lossy(&cli.stdout),
            String::from_utf8_lossy(&expected),
            "{}",
            p.display()
        );
    }
    let all: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let mut args = vec!["-q", "--json"];
    args.extend(all.iter().map(|p| p.to_str().expect("path")));
    let cli = run(&args, None);
    let mut expected = one_shot(&all);
    expected.push(b'\n');
    assert!(cli.stdout == expected, "all samples at once");
    assert!(
        cli.stdout
            .windows(14)
            .filter(|w| w == b"\"sub_groups\": ")
            .count()
            > 10
    );
}

/// The CLI's JUnit (streamed: each suite written as soon as the parser has
/// it, the tree freed) must be byte for byte what junit-report itself
/// writes (`write_junit_reference`) for the whole trees of the same inputs,
/// for every sample, for all samples at once (run numbering across inputs)
/// and with `--all-logs`.
#[test]
fn cli_junit_is_junit_reports_junit() {
    let paths = samples();
    let reference = |inputs: &[&std::path::Path], keep_all_logs: bool| -> Vec<u8> {
        let runs: Vec<_> = inputs
            .iter()
            .flat_map(|p| parse_file(p, keep_all_logs).runs)
            .collect();
        reference_junit(&runs)
    };
    for p in &paths {
        let cli = run(&["-q", p.to_str().expect("path")], None);
        assert_eq!(
            String::from_utf8_lossy(&cli.stdout),
            String::from_utf8_lossy(&reference(&[p], false)),
            "{}",
            p.display()
        );
        let cli = run(&["-q", "--all-logs", p.to_str().expect("path")], None);
        assert!(
            cli.stdout == reference(&[p], true),
            "--all-logs {}",
            p.display()
        );
    }
    let all: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let mut args = vec!["-q"];
    args.extend(all.iter().map(|p| p.to_str().expect("path")));
    let cli = run(&args, None);
    let expected = reference(&all, false);
    assert!(cli.stdout == expected, "all samples at once");
    let xml = String::from_utf8_lossy(&cli.stdout);
    assert!(xml.contains(" (run 2)\"") && xml.contains("<system-out>") && xml.contains("<error "));
}

/// A report of some MB goes through the temporary file (and, where none can
/// be made, stays in memory) and still comes out as junit-report writes it.
#[test]
fn large_reports_are_spooled_unchanged() {
    let mut log = String::from("KTAP version 1\n1..3000\n");
    for s in 1..=3000 {
        log.push_str(&format!(
            "    KTAP version 1\n    # Subtest: suite_{s}\n    1..40\n"
        ));
        for c in 1..=40 {
            if (s + c) % 50 == 0 {
                log.push_str(&format!("    # case_{c}: EXPECTATION FAILED <&'\">\n"));
                log.push_str(&format!("    not ok {c} case_{c}\n"));
            } else {
                log.push_str(&format!("    ok {c} case_{c}\n"));
            }
        }
        log.push_str(&format!("not ok {s} suite_{s}\n"));
    }
    let parsed = ktap2junit::parse_str(&log);
    let expected = reference_junit(&parsed.runs);
    assert!(expected.len() > 5 << 20, "{} bytes", expected.len());
    let path = temp_path("large.log");
    std::fs::write(&path, &log).expect("write log");
    let p = path.to_str().expect("path");
    let out = run(&["-q", p], None);
    assert!(out.stdout == expected, "through the temporary file");
    let out = std::process::Command::new(bin())
        .args(["-q", p])
        .env("TMPDIR", "/nonexistent/ktap2junit")
        .output()
        .expect("run ktap2junit");
    assert!(out.stdout == expected, "in memory");
    let _ = std::fs::remove_file(&path);
}
