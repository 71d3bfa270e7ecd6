// SPDX-License-Identifier: GPL-2.0
//! The project's own KTAP samples (tests/data): a Rust KUnit suite
//! `test_kmod` in the shapes CI sees (kunit.py raw output, nested suites, a
//! crash mid-suite, a serial boot log, dmesg with caller ids, CRLF, hostile
//! bytes, two runs, kselftest TAP 13).  Expectations for single-run samples
//! were checked against kunit_parser.py (Linux 7.3); the differences are
//! the documented deviations.

mod common;

use common::*;
use ktap2junit::ktap::{Options, Status};

fn tree(name: &str) -> String {
    render_runs(&parse_file(&data(name), false))
}

fn junit(name: &str) -> (Option<i32>, String) {
    let path = data(name);
    let out = run(&["-q", "--junit", path.to_str().expect("utf-8 path")], None);
    let xml = String::from_utf8(out.stdout).expect("JUnit is UTF-8");
    (out.status.code(), xml)
}

#[test]
fn kunit_raw_output() {
    assert_eq!(
        tree("test_kmod_kunit.log"),
        "\
main FAILURE 4/1/0/1/0
  test_kmod FAILURE 4/1/0/1/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0002_driver SUCCESS 1/0/0/0/0
    kmod_test_0003_driver SUCCESS 1/0/0/0/0
    kmod_test_0004_driver SUCCESS 1/0/0/0/0
    kmod_test_0005_driver SKIPPED 0/0/0/1/0 skip=requires CONFIG_MODULE_UNLOAD=y
    kmod_test_0006_driver FAILURE 0/1/0/0/0
"
    );
    let p = parse_file(&data("test_kmod_kunit.log"), false);
    let suite = &p.runs[0].subtests[0];
    // KTAP attributes: suite-level and case-level.
    assert_eq!(
        suite.details().attributes,
        vec![("module".to_owned(), "test_kmod".to_owned())]
    );
    assert_eq!(
        suite.subtests[2].details().attributes,
        vec![("speed".to_owned(), "slow".to_owned())]
    );
    // Only the failing test keeps its log (passing logs are dropped).
    assert_eq!(suite.subtests[0].log_lines().count(), 0);
    assert_eq!(
        suite.subtests[5].log_lines().collect::<Vec<_>>(),
        [
            "    # kmod_test_0006_driver: ASSERTION FAILED at rust/kernel/kmod_test.rs:142",
            "    Expected ret == 0, but",
            "        ret == -2 (0xfffffffffffffffe)",
            "    test_kmod: request_module(\"kmod-test-0006\") returned -ENOENT",
        ]
    );

    let (code, xml) = junit("test_kmod_kunit.log");
    assert_eq!(code, Some(1));
    assert!(
        xml.contains(
            r#"<testsuites name="ktap2junit" tests="6" failures="1" errors="0" time="0.000">"#
        ),
        "{xml}"
    );
    assert!(
        xml.contains(r#"name="test_kmod" package="test_kmod" tests="6""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<testcase name="kmod_test_0005_driver" time="0" classname="test_kmod"><skipped type="skipped" message="requires CONFIG_MODULE_UNLOAD=y"/>"#), "{xml}");
    assert!(xml.contains(
        "<failure type=\"failure\" message=\"kmod_test_0006_driver: ASSERTION FAILED at rust/kernel/kmod_test.rs:142\nExpected ret == 0, but\n    ret == -2 (0xfffffffffffffffe)\ntest_kmod: request_module(&quot;kmod-test-0006&quot;) returned -ENOENT\"/>"
    ), "{xml}");
    assert!(
        xml.contains("<system-out><![CDATA[# attributes: speed=slow]]></system-out>"),
        "{xml}"
    );
}

#[test]
fn nested_suites_become_dotted_classnames() {
    assert_eq!(
        tree("test_kmod_nested.log"),
        "\
main FAILURE 5/1/0/1/0
  test_kmod FAILURE 4/1/0/1/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0002_driver_params SUCCESS 2/0/0/1/0
      kmod_test_0002_driver_params.ext4 SUCCESS 1/0/0/0/0
      kmod_test_0002_driver_params.xfs SUCCESS 1/0/0/0/0
      kmod_test_0002_driver_params.btrfs SKIPPED 0/0/0/1/0 skip=btrfs not built
    kmod_test_0003_deep FAILURE 1/1/0/0/0
      kmod_test_0003_deeper FAILURE 1/1/0/0/0
        leaf_a SUCCESS 1/0/0/0/0
        leaf_b FAILURE 0/1/0/0/0
  test_kmod_sysfs SUCCESS 1/0/0/0/0
    kmod_test_0004_sysfs SUCCESS 1/0/0/0/0
"
    );
    let (code, xml) = junit("test_kmod_nested.log");
    assert_eq!(code, Some(1));
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert!(xml.contains(r#"<testcase name="leaf_b" time="0" classname="test_kmod.kmod_test_0003_deep.kmod_test_0003_deeper"><failure"#), "{xml}");
    assert!(xml.contains(r#"name="kmod_test_0002_driver_params.xfs" time="0" classname="test_kmod.kmod_test_0002_driver_params"/>"#), "{xml}");
    assert!(
        xml.contains(r#"tests="7" failures="1" errors="0""#),
        "{xml}"
    );
}

#[test]
fn crash_mid_suite_is_reported_as_crashed_tests() {
    assert_eq!(
        tree("test_kmod_crash.log"),
        "\
main TEST_CRASHED 3/0/4/0/5
  test_kmod TEST_CRASHED 3/0/3/0/4
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0002_driver SUCCESS 1/0/0/0/0
    kmod_test_0003_driver SUCCESS 1/0/0/0/0
     TEST_CRASHED 0/0/0/0/0
     TEST_CRASHED 0/0/0/0/0
     TEST_CRASHED 0/0/0/0/0
   TEST_CRASHED 0/0/0/0/0
"
    );
    let p = parse_file(&data("test_kmod_crash.log"), false);
    let crashed = &p.runs[0].subtests[0].subtests[3];
    assert!(crashed.missing);
    assert_eq!(crashed.number, 4);
    // The Oops lands in the log of the test that was running.
    assert!(
        crashed
            .log_lines()
            .any(|l| l.contains("RIP: 0010:kmod_test_0004_driver"))
    );

    let (code, xml) = junit("test_kmod_crash.log");
    assert_eq!(code, Some(1));
    assert!(
        xml.contains(r#"tests="7" failures="0" errors="4""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<testcase name="test 4 (missing)" time="0" classname="test_kmod"><error type="missing""#), "{xml}");
    // The second suite of the plan never started: reported under the report name.
    assert!(xml.contains(r#"<testcase name="test 2 (missing)" time="0" classname="ktap2junit"><error type="missing""#), "{xml}");
}

#[test]
fn boot_log_with_levels_and_timestamps() {
    assert_eq!(
        tree("test_kmod_boot.log"),
        "\
main FAILURE 2/1/0/0/0
  test_kmod FAILURE 2/1/0/0/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0002_driver SUCCESS 1/0/0/0/0
    kmod_test_0005_driver FAILURE 0/1/0/0/0
"
    );
    let p = parse_file(&data("test_kmod_boot.log"), false);
    let suite = &p.runs[0].subtests[0];
    // Suite: from its "KTAP version 1" (1.100000) to "not ok 1 test_kmod" (2.000200).
    assert_eq!(suite.time_us, Some(900_200));
    // Cases: from the plan / previous result to their result line.
    let times: Vec<Option<u64>> = suite.subtests.iter().map(|t| t.time_us).collect();
    assert_eq!(times, [Some(150_000), Some(500_000), Some(250_000)]);
    // Boot noise before the KTAP output is not part of any test; noise
    // inside is the log of the failing test, prefixes stripped.
    assert_eq!(
        suite.subtests[2].log_lines().collect::<Vec<_>>(),
        [
            "    # kmod_test_0005_driver: EXPECTATION FAILED at rust/kernel/kmod_test.rs:77",
            "    Expected unload_ok, but",
            "        unload_ok == false",
        ]
    );
    let (code, xml) = junit("test_kmod_boot.log");
    assert_eq!(code, Some(1));
    assert!(
        xml.contains(
            r#"<testcase name="kmod_test_0001_driver" time="0.15" classname="test_kmod"/>"#
        ),
        "{xml}"
    );
    assert!(
        xml.contains(
            r#"<testsuites name="ktap2junit" tests="3" failures="1" errors="0" time="0.900">"#
        ),
        "{xml}"
    );
}

#[test]
fn dmesg_with_caller_ids_and_a_module_loaded_later() {
    assert_eq!(
        tree("test_kmod_dmesg.log"),
        "\
main SUCCESS 1/0/0/1/0
  test_kmod SUCCESS 1/0/0/1/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0005_driver SKIPPED 0/0/0/1/0 skip=no test module found
main FAILURE 0/1/0/0/0
  test_kmod_late FAILURE 0/1/0/0/0
    kmod_test_0010_late_load FAILURE 0/1/0/0/0
"
    );
    let p = parse_file(&data("test_kmod_dmesg.log"), false);
    assert_eq!(p.runs[1].subtests[0].subtests[0].time_us, Some(500_000));
    // kunit.py ignores the second run and exits 0; we report it and fail.
    let (code, xml) = junit("test_kmod_dmesg.log");
    assert_eq!(code, Some(1));
    assert!(xml.contains(r#"name="test_kmod_late (run 2)""#), "{xml}");
    assert!(xml.contains(r#"<testcase name="kmod_test_0010_late_load" time="0.5" classname="test_kmod_late"><failure"#), "{xml}");
}

#[test]
fn crlf_and_cr_cr_lf_line_endings() {
    assert_eq!(
        tree("test_kmod_crlf.log"),
        "\
main SUCCESS 1/0/0/1/0
  test_kmod SUCCESS 1/0/0/1/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0005_driver SKIPPED 0/0/0/1/0 skip=needs root
"
    );
    let (code, xml) = junit("test_kmod_crlf.log");
    assert_eq!(code, Some(0));
    assert!(!xml.contains('\r'));
}

#[test]
fn hostile_bytes_give_well_formed_xml() {
    let (code, xml) = junit("test_kmod_hostile.log");
    assert_eq!(code, Some(1));
    for bad in ['\u{0}', '\u{7}', '\u{1b}', '\u{fffe}'] {
        assert!(!xml.contains(bad), "{bad:?} in {xml}");
    }
    assert!(
        xml.contains(r#"<testcase name="kmod_test_0001_driver\x1b[0m""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"name="kmod_test_0002_&lt;driver&gt;&amp;&quot;""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<skipped type="skipped" message="reason with \x00 NUL and �( bad utf8"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(
            "\\x1b[31mcolour\\x1b[0m and NUL \\x00 and bad utf8 �� and ]]]]><![CDATA[> cdata end"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="kmod_test_0004_€_driver""#),
        "{xml}"
    );
    assert!(xml.contains("\\u{fffe} noncharacter"), "{xml}");
    // The JSON stays valid too.
    let out = run(
        &[
            "-q",
            "--json",
            data("test_kmod_hostile.log").to_str().expect("path"),
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(
        v["sub_groups"][0]["test_cases"][0]["name"],
        "kmod_test_0001_driver\u{1b}[0m"
    );
}

#[test]
fn two_runs_in_one_log_are_both_reported() {
    assert_eq!(
        tree("test_kmod_two_runs.log"),
        "\
main SUCCESS 2/0/0/0/0
  test_kmod SUCCESS 2/0/0/0/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0002_driver SUCCESS 1/0/0/0/0
main FAILURE 0/1/0/1/0
  test_kmod FAILURE 0/1/0/0/0
    kmod_test_0001_driver FAILURE 0/1/0/0/0
  test_kmod_again SKIPPED 0/0/0/1/0
    kmod_test_0005_driver SKIPPED 0/0/0/1/0 skip=module already loaded
"
    );
    let (code, xml) = junit("test_kmod_two_runs.log");
    assert_eq!(code, Some(1));
    assert!(
        xml.contains(r#"tests="4" failures="1" errors="0""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testsuite id="1" name="test_kmod (run 2)""#),
        "{xml}"
    );
    // JSON: both runs merged into kunit.py's single top-level group.
    let out = run(
        &[
            "-q",
            "--json",
            data("test_kmod_two_runs.log").to_str().expect("path"),
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["sub_groups"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["misc"]["tests"], 4);
    assert_eq!(v["misc"]["failed"], 1);
}

#[test]
fn kselftest_tap13() {
    assert_eq!(
        tree("kselftest_kmod.log"),
        "\
main FAILURE 1/1/0/0/0
  selftests: kmod: kmod.sh SUCCESS 1/0/0/0/0
  selftests: kmod: kmod_late.sh FAILURE 0/1/0/0/0
"
    );
    let p = parse_file(&data("kselftest_kmod.log"), false);
    let late = &p.runs[0].subtests[1];
    assert_eq!(late.details().diagnostic, "45 seconds");
    assert_eq!(late.status, Status::Failure);
    let (code, xml) = junit("kselftest_kmod.log");
    assert_eq!(code, Some(1));
    assert!(
        xml.contains(r#"<testsuite id="0" name="ktap2junit""#),
        "{xml}"
    );
    assert!(xml.contains("TIMEOUT 45 seconds\"/>"), "{xml}");
    assert!(xml.contains(r#"classname="ktap2junit""#), "{xml}");
}

#[test]
fn spec_directives_and_suite_results() {
    // Deviations from kunit_parser.py (see README): lower-case "# skip" and
    // a failing "# TODO" are skips; a suite's own "not ok" counts as a
    // failure even when its subtests passed or were skipped.
    assert_eq!(
        tree("test_kmod_spec.log"),
        "\
main FAILURE 1/2/0/3/0
  test_kmod FAILURE 1/1/0/2/0
    kmod_test_0001_driver SUCCESS 1/0/0/0/0
    kmod_test_0005_driver SKIPPED 0/0/0/1/0 skip=lower-case directive
    kmod_test_0007_driver SKIPPED 0/0/0/1/0 skip=TODO: unload race not fixed yet
  test_kmod_skipped FAILURE 0/1/0/1/0
    kmod_test_0008_driver SKIPPED 0/0/0/1/0 skip=no hardware
"
    );
    let (code, xml) = junit("test_kmod_spec.log");
    assert_eq!(code, Some(1));
    assert!(xml.contains(r#"<testcase name="test_kmod" time="0" classname="test_kmod"><failure type="suite-failure""#), "{xml}");
    assert!(xml.contains(r#"<testcase name="test_kmod_skipped" time="0" classname="test_kmod_skipped"><failure type="suite-failure""#), "{xml}");
    assert!(
        xml.contains(r#"tests="6" failures="2" errors="0""#),
        "{xml}"
    );
}

/// The JUnit, `--json`, exit status and stderr of the CLI on a sample.
/// Run the CLI on sample `name`: its exit status, the document (JUnit, or
/// JSON with `--json` in `args`) and the report on standard output
/// (without its timestamps).
fn cli(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let path = data(name);
    let doc = temp_path("doc");
    let json = args.contains(&"--json");
    let to = format!(
        "--{}={}",
        if json { "json" } else { "junit" },
        doc.display()
    );
    let mut all: Vec<&str> = args.iter().copied().filter(|&a| a != "--json").collect();
    all.push(&to);
    all.push(path.to_str().expect("utf-8 path"));
    let out = run(&all, None);
    let document = std::fs::read_to_string(&doc).expect("document written");
    let _ = std::fs::remove_file(&doc);
    let report = String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|l| format!("{}\n", l.get(11..).unwrap_or(l)))
        .collect();
    (out.status.code(), document, report)
}

/// A CI lab's kselftest log: nested TAP, wrapped in `# ` as kselftest
/// prints it, after the run's plan is complete.  The nested lines are log
/// lines of the test that follows, as they are while the plan is not
/// complete; that test is reported in a run of its own (deviation 1);
/// nothing is lost, crashed or missing.
#[test]
fn nested_tap_after_a_complete_plan_loses_no_result() {
    let name = "ci_nested_tap_after_plan.log";
    assert_eq!(
        tree(name),
        "\
main SUCCESS 1/0/0/0/0
  selftests: a: x SUCCESS 1/0/0/0/0
main SUCCESS 1/0/0/0/1
  selftests: a: y SUCCESS 1/0/0/0/1
"
    );
    let nested = [
        "# selftests: a: y",
        "# TAP version 13",
        "# 1..2",
        "# ok 2 sub: PASS",
    ];
    let after_plan = parse_file(&data(name), true);
    let y = &after_plan.runs[1].subtests[0];
    assert_eq!(y.log_lines().collect::<Vec<_>>(), nested);
    // The same lines while the plan still promises the test.
    let text = std::fs::read_to_string(data(name)).expect("read sample");
    let within_plan = ktap2junit::parse_reader(
        text.replace("1..1\n", "1..2\n").as_bytes(),
        &Options {
            keep_all_logs: true,
            ..Default::default()
        },
    )
    .0;
    assert_eq!(within_plan.runs.len(), 1);
    let y = &within_plan.runs[0].subtests[1];
    assert_eq!(y.name, "selftests: a: y");
    assert_eq!(y.log_lines().collect::<Vec<_>>(), nested);

    let (code, xml, err) = cli(name, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("\nTesting complete. Ran 2 tests: passed: 2, errors: 1\n"),
        "{err}"
    );
    assert!(
        xml.contains(r#"tests="2" failures="0" errors="0""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="selftests: a: x" time="0" classname="ktap2junit"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="selftests: a: y" time="0" classname="ktap2junit"/>"#),
        "{xml}"
    );
    let (_, xml, _) = cli(name, &["--all-logs"]);
    assert!(
        xml.contains("<system-out><![CDATA[# selftests: a: y\n# TAP version 13\n# 1..2\n# ok 2 sub: PASS]]></system-out>"),
        "{xml}"
    );
    let (code, json, _) = cli(name, &["--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let cases = v["test_cases"].as_array().expect("test cases");
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c["status"] == "PASS"), "{json}");
    assert_eq!(v["misc"]["passed"], 2);
    assert_eq!(v["misc"]["crashed"], 0);
}

/// A CI lab's log where a new run starts inside a test that has its plan
/// but no result line yet: the test is crashed in every output, exactly
/// as when the input ends there.
#[test]
fn a_test_cut_off_by_a_new_run_is_crashed_everywhere() {
    let name = "ci_run_ends_inside_test.log";
    assert_eq!(
        tree(name),
        "\
main TEST_CRASHED 0/0/1/0/1
   TEST_CRASHED 0/0/1/0/1
main NO_TESTS 0/0/0/0/1
"
    );
    let cut_off = parse_file(&data(name), true);
    let text = std::fs::read_to_string(data(name)).expect("read sample");
    let (at_end, _) = text.rsplit_once("TAP version 13\n").expect("second run");
    let ended = ktap2junit::parse_reader(
        at_end.as_bytes(),
        &Options {
            keep_all_logs: true,
            ..Default::default()
        },
    )
    .0;
    assert_eq!(ended.runs.len(), 1);
    assert_eq!(ended.runs[0], cut_off.runs[0]);

    let (code, xml, err) = cli(name, &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("\nTesting complete. Ran 1 tests: crashed: 1, errors: 2\n"),
        "{err}"
    );
    assert!(
        xml.contains(r#"tests="1" failures="0" errors="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(
            r#"<testcase name="test 1" time="0" classname="ktap2junit"><error type="crashed""#
        ),
        "{xml}"
    );
    assert!(!xml.contains("<skipped"), "{xml}");
    let (code, json, _) = cli(name, &["--json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["test_cases"][0]["status"], "ERROR", "{json}");
    assert_eq!(v["misc"]["crashed"], 1);
}

/// The JUnit of every sample, of all of them at once, with `--all-logs`,
/// with a report name that needs escaping, and of hostile input (random
/// bytes, alone and inside a KTAP run) validates against junit-10.xsd.
#[test]
#[ignore = "needs xmllint (apt-get install libxml2-utils)"]
fn every_junit_validates_against_the_xsd() {
    let paths = samples();
    let all: Vec<&str> = paths.iter().map(|p| p.to_str().expect("path")).collect();
    let mut runs: Vec<(String, Vec<&str>)> = Vec::new();
    for p in &all {
        runs.push((p.to_string(), vec!["-q", "--junit", p]));
        runs.push((
            format!("--all-logs {p}"),
            vec!["-q", "--junit", "--all-logs", p],
        ));
    }
    let mut at_once = vec!["-q", "--junit", "--name", "kmod <CI> & 'co' \"x\""];
    at_once.extend(&all);
    runs.push(("all samples, --name".to_owned(), at_once));
    // Hostile input, the same every time: bytes from a fixed generator.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let random = temp_path("random.log");
    std::fs::write(&random, noise(65536)).expect("write");
    let mut in_ktap =
        b"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: test_kmod\n    1..2\n".to_vec();
    in_ktap.extend(noise(4096));
    in_ktap.extend_from_slice(b"\n    not ok 1 kmod_test_0001_driver\n");
    in_ktap.extend(noise(4096));
    let random_ktap = temp_path("random-ktap.log");
    std::fs::write(&random_ktap, &in_ktap).expect("write");
    let (r1, r2) = (
        random.to_str().expect("path"),
        random_ktap.to_str().expect("path"),
    );
    runs.push(("random bytes".to_owned(), vec!["-q", "--junit", r1]));
    runs.push((
        "random bytes in KTAP".to_owned(),
        vec!["-q", "--junit", "--all-logs", r2],
    ));
    for (what, args) in runs {
        let out = run(&args, None);
        assert!(out.status.code().is_some_and(|c| c <= 1), "{what}");
        validate(&out.stdout, &what);
    }
    let _ = std::fs::remove_file(&random);
    let _ = std::fs::remove_file(&random_ktap);
}
