// SPDX-License-Identifier: GPL-2.0
//! The command line contract: inputs, options, outputs and exit codes.
//! kunit.py's report itself is held to kunit.py's in tests/differential.rs.

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
    let from_file = run(&["-q", "--junit", path.to_str().expect("path")], None);
    let from_stdin = run(&["-q", "--junit"], Some(&input));
    let from_dash = run(&["-q", "--junit", "-"], Some(&input));
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

/// kunit.py exits 1 when its input cannot be read (and prints nothing on
/// standard output): so does ktap2junit, naming the file.
#[test]
fn unreadable_input_is_exit_1_naming_the_file() {
    let missing = temp_path("does-not-exist.log");
    let m = missing.to_str().expect("path");
    let out = run(&[m], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains(m), "{}", stderr(&out));
    // The readable inputs are still reported.
    let good = data("test_kmod_kunit.log");
    let out = run(&["-q", "--junit", good.to_str().expect("path"), m], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kmod_test_0006_driver"));
    let passing = temp_path("passing.log");
    std::fs::write(&passing, PASSING).expect("write");
    let p = passing.to_str().expect("path");
    assert_eq!(run(&["-q", p], None).status.code(), Some(0));
    assert_eq!(run(&["-q", p, m], None).status.code(), Some(1));
    let _ = std::fs::remove_file(&passing);
    // A directory cannot be read either.
    let out = run(&["-q", "/"], None);
    assert_eq!(out.status.code(), Some(1));
}

/// Bad usage is clap's 2, before anything is read or written; an output
/// that cannot be written is 1 (kunit.py fails with 1 there too).
#[test]
fn bad_usage_is_2_and_unwritable_output_is_1() {
    for args in [
        &["--no-such-option"][..],
        &["--raw_output=some"],
        &["--json", "--json"],
        &["--origin", "Not-An-Origin", "--kcidb", "/dev/null"],
        &["--kcidb-path-prefix", "kunit..exec", "--kcidb", "/dev/null"],
        &["-o", "/dev/null", "--junit=/dev/zero"],
        &["--raw_output", "-o", "/dev/null"],
    ] {
        let out = run(args, Some(PASSING));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    for args in [
        &["-o", "/nonexistent-dir/x.xml"][..],
        &["--json=/nonexistent-dir/x.xml"],
        &["--junit=/nonexistent-dir/x.xml"],
        &["--kcidb", "/nonexistent-dir/x.xml"],
    ] {
        let out = run(args, Some(PASSING));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("/nonexistent-dir/x.xml"), "{args:?}");
    }
}

#[test]
fn output_file_name_and_quiet() {
    let path = temp_path("out.xml");
    let p = path.to_str().expect("path");
    let out = run(&["-o", p, "--name", "kmod <CI>"], Some(PASSING));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    // The report, then where the JUnit went (as kunit.py says it).
    let report = untimed(&out.stdout);
    assert!(
        report.ends_with(&format!(
            "Testing complete. Ran 1 tests: passed: 1\nTest results stored in {p}\n"
        )),
        "{report}"
    );
    let xml = std::fs::read_to_string(&path).expect("output written");
    // -o FILE is --junit=FILE.
    let again = run(
        &[&format!("--junit={p}"), "--name", "kmod <CI>"],
        Some(PASSING),
    );
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).expect("written"), xml);
    let _ = std::fs::remove_file(&path);
    assert!(
        xml.contains(
            r#"<testsuites name="kmod &lt;CI&gt;" tests="1" failures="0" errors="0" time="0.000">"#
        ),
        "{xml}"
    );
    let quiet = run(&["-q", "-o", p], Some(PASSING));
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
    let _ = std::fs::remove_file(&path);
}

/// Standard output without kunit_printer.py's `[hh:mm:ss] ` timestamps.
fn untimed(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let b = l.as_bytes();
            let stamped = b.len() >= 11
                && b[0] == b'['
                && b[9] == b']'
                && b[10] == b' '
                && [1, 2, 4, 5, 7, 8].iter().all(|&i| b[i].is_ascii_digit())
                && b[3] == b':'
                && b[6] == b':';
            format!("{}\n", if stamped { &l[11..] } else { l })
        })
        .collect()
}

/// kunit.py's report on standard output: every test, `--failed`,
/// `--summary` (tests/differential.rs holds it to kunit.py line for line
/// on every log; this is the contract in short).
#[test]
fn the_report_is_kunits() {
    let path = data("test_kmod_kunit.log");
    let p = path.to_str().expect("path");
    let full = run(&[p], None);
    assert_eq!(full.status.code(), Some(1));
    let report = untimed(&full.stdout);
    assert!(
        report.starts_with(&format!(
            "{d}\n================== test_kmod (6 subtests) ==================\n\
             [PASSED] kmod_test_0001_driver\n",
            d = "=".repeat(60)
        )),
        "{report}"
    );
    assert!(
        report.contains("[SKIPPED] kmod_test_0005_driver ("),
        "{report}"
    );
    assert!(
        report.contains("\n[FAILED] kmod_test_0006_driver\n"),
        "{report}"
    );
    assert!(
        report.ends_with(&format!(
            "{d}\nTesting complete. Ran 6 tests: passed: 4, failed: 1, skipped: 1\n",
            d = "=".repeat(60)
        )),
        "{report}"
    );
    // Every line is timestamped as kunit_printer.py does.
    let text = String::from_utf8_lossy(&full.stdout);
    assert!(
        text.lines()
            .all(|l| l.len() >= 11 && l.as_bytes()[9] == b']')
    );
    let summary = run(&["--summary", p], None);
    assert_eq!(
        untimed(&summary.stdout),
        "Testing complete. Ran 6 tests: passed: 4, failed: 1, skipped: 1\n"
    );
    let failed = untimed(&run(&["--failed", p], None).stdout);
    assert!(
        !failed.contains("[PASSED]") && !failed.contains("[SKIPPED]"),
        "{failed}"
    );
    assert!(
        failed.contains("[FAILED] kmod_test_0006_driver\n"),
        "{failed}"
    );
    // Abbreviations, as argparse takes them.
    assert_eq!(run(&["--summ", p], None).stdout.len(), summary.stdout.len());
    // Not a terminal: no colour.
    assert!(!full.stdout.contains(&0x1b));
}

/// With 100 tests or more, a failing summary names the failures (at most
/// ten), as kunit.py's does.
#[test]
fn a_long_failing_report_names_its_failures() {
    let mut log = String::from("KTAP version 1\n1..2\n");
    for s in 1..=2 {
        log.push_str(&format!(
            "    KTAP version 1\n    # Subtest: suite_{s}\n    1..60\n"
        ));
        for c in 1..=60 {
            let ok = if s == 2 && c % 20 == 0 {
                "not ok"
            } else {
                "ok"
            };
            log.push_str(&format!("    {ok} {c} case_{c}\n"));
        }
        log.push_str(&format!(
            "{} {s} suite_{s}\n",
            if s == 2 { "not ok" } else { "ok" }
        ));
    }
    let out = run(&["--summary"], Some(log.as_bytes()));
    assert_eq!(
        untimed(&out.stdout),
        "Testing complete. Ran 120 tests: passed: 117, failed: 3\n\
         Failures: suite_2.case_20, suite_2.case_40, suite_2.case_60\n"
    );
}

/// kunit.py's `--json`, `--junit` and `--raw_output` take an optional
/// value only after `=`: bare, they write to standard output (raw output:
/// the KTAP lines) and the next argument is an input, as kunit.py's
/// `massage_argv()` makes them.  JSON and JUnit come from one run; on
/// standard output they follow the report (JSON first, then JUnit).
#[test]
fn json_and_junit_take_their_values_as_kunit_does() {
    let path = data("test_kmod_kunit.log");
    let p = path.to_str().expect("path");
    let (json, xml) = (temp_path("out.json"), temp_path("out.xml"));
    let (j, x) = (json.to_str().expect("path"), xml.to_str().expect("path"));
    let out = run(&[&format!("--json={j}"), &format!("--junit={x}"), p], None);
    assert_eq!(out.status.code(), Some(1));
    let report = untimed(&out.stdout);
    assert!(
        report.ends_with(&format!(
            "Test results stored in {j}\nTest results stored in {x}\n"
        )),
        "{report}"
    );
    let from_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON");
    let xml_text = std::fs::read_to_string(&xml).expect("xml");
    assert!(xml_text.starts_with("<?xml") && xml_text.contains("kmod_test_0006_driver"));
    // Bare: standard output, the next argument is the input.
    let out = run(&["-q", "--json", p], None);
    let on_stdout: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(on_stdout, from_file);
    for stdout in ["--json=stdout", "--json=-"] {
        assert_eq!(run(&["-q", stdout, p], None).stdout, out.stdout, "{stdout}");
    }
    // Both on standard output, after the report: JSON, then JUnit.
    let both = run(&["--json", "--junit", p], None);
    let text = String::from_utf8_lossy(&both.stdout);
    let (report_end, json_start, xml_start) = (
        text.find("Testing complete.").expect("summary"),
        text.find("\n{\n").expect("JSON"),
        text.find("<?xml").expect("XML"),
    );
    assert!(report_end < json_start && json_start < xml_start, "{text}");
    assert_eq!(&text[xml_start..], xml_text);
    // `--json FILE` reads FILE (kunit.py's massage_argv()); with a second
    // input that would pass unnoticed, ktap2junit says so.
    let out = run(&["-q", "--json", p, p], None);
    assert!(
        stderr(&out).contains("--json takes no separate value"),
        "{}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["misc"]["tests"], 12);
    let _ = std::fs::remove_file(&json);
    let _ = std::fs::remove_file(&xml);
}

/// `--raw_output`: bare or `=kunit` the KTAP lines with the kernel
/// prefix stripped, `=all`/`=full` every line; exit 0 (kunit.py counts
/// unparsed output as one passing test); nothing else is written.
#[test]
fn raw_output_prints_the_lines() {
    let input = b"boot noise\n[    1.000000] KTAP version 1\n[    1.000001] 1..1\n\
                  [    1.000002] not ok 1 broken   \n[    1.000003] reboot: System halted\n\
                  after\n";
    for args in [
        &["--raw_output"][..],
        &["--raw_output=kunit"],
        &["--raw-output"],
    ] {
        let out = run(args, Some(input));
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "KTAP version 1\n1..1\nnot ok 1 broken\n",
            "{args:?}"
        );
    }
    for what in ["all", "full"] {
        let out = run(&[&format!("--raw_output={what}"), "--json"], Some(input));
        assert_eq!(out.status.code(), Some(0));
        let want = String::from_utf8_lossy(input).replace("broken   \n", "broken\n");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{what}");
    }
    // Bare, the next argument is the input.
    let path = temp_path("raw.log");
    std::fs::write(&path, input).expect("write");
    let out = run(&["--raw_output", path.to_str().expect("path")], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "KTAP version 1\n1..1\nnot ok 1 broken\n"
    );
    let _ = std::fs::remove_file(&path);
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
    let a = run(&["-q", "--junit", p], None);
    let b = run(&["-q", "--junit", p], None);
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).contains(r#"timestamp="1970-01-01T00:00:00Z""#));
    let c = run(&["-q", "--junit", "--timestamp", "1795608000", p], None);
    assert!(String::from_utf8_lossy(&c.stdout).contains(r#"timestamp="2026-11-25T12:00:00Z""#));
}

#[test]
fn several_files_are_combined() {
    let a = data("test_kmod_kunit.log");
    let b = data("kselftest_kmod.log");
    let out = run(
        &[
            "-q",
            "--junit",
            a.to_str().expect("path"),
            b.to_str().expect("path"),
        ],
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
        let cli = run(&["-q", "--junit", p.to_str().expect("path")], None);
        assert_eq!(
            String::from_utf8_lossy(&cli.stdout),
            String::from_utf8_lossy(&reference(&[p], false)),
            "{}",
            p.display()
        );
        let cli = run(
            &["-q", "--junit", "--all-logs", p.to_str().expect("path")],
            None,
        );
        assert!(
            cli.stdout == reference(&[p], true),
            "--all-logs {}",
            p.display()
        );
    }
    let all: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let mut args = vec!["-q", "--junit"];
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
    let out = run(&["-q", "--junit", p], None);
    assert!(out.stdout == expected, "through the temporary file");
    let out = std::process::Command::new(bin())
        .args(["-q", "--junit", p])
        .env("TMPDIR", "/nonexistent/ktap2junit")
        .output()
        .expect("run ktap2junit");
    assert!(out.stdout == expected, "in memory");
    let _ = std::fs::remove_file(&path);
}
