// SPDX-License-Identifier: GPL-2.0
//! `--kcidb`: the KCIDB document beside the report, its options and ids,
//! and its validity as KCIDB's own validator (kcidb-io, from PyPI) sees it.
//!
//! The `kcidb_io_*` tests need the validator: `test.sh` installs it into a
//! virtualenv and names its python in `KCIDB_PYTHON`; without it they fail
//! saying so (`test.sh` skips them, saying SKIP, when it could not install
//! kcidb-io).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

const PASSING: &[u8] = b"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: test_kmod\n    1..1\n    ok 1 kmod_test_0001_driver\nok 1 test_kmod\n";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The KCIDB document (and exit code) for `input` with `args`.
fn kcidb(args: &[&str], input: &[u8]) -> (Value, Option<i32>) {
    let mut all = vec!["-q", "-o", "/dev/null", "--kcidb", "-"];
    all.extend_from_slice(args);
    let out = run(&all, Some(input));
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (doc, out.status.code())
}

fn tests(doc: &Value) -> &Vec<Value> {
    doc["tests"].as_array().expect("tests")
}

fn ids(doc: &Value) -> Vec<String> {
    tests(doc)
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Tests in the trees of a parse (every suite and test case).
fn nodes(p: &ktap2junit::ktap::Parsed) -> usize {
    fn count(t: &ktap2junit::ktap::Test) -> usize {
        1 + t.subtests.iter().map(count).sum::<usize>()
    }
    p.runs.iter().flat_map(|r| &r.subtests).map(count).sum()
}

#[test]
fn the_report_and_the_exit_code_do_not_change() {
    for (input, code) in [
        (PASSING, 0),
        (&b"KTAP version 1\n1..1\nnot ok 1 x\n"[..], 1),
    ] {
        let plain = run(&["--junit"], Some(input));
        let kcidb_path = temp_path("doc.json");
        let with = run(&["--junit", "--kcidb", path_str(&kcidb_path)], Some(input));
        assert_eq!(plain.status.code(), Some(code));
        assert_eq!(with.status.code(), Some(code));
        // The report and the JUnit are the same (no note about KCIDB).
        let untimed = |o: &[u8]| {
            String::from_utf8_lossy(o)
                .lines()
                .map(|l| {
                    l.get(11..)
                        .filter(|_| l.starts_with('['))
                        .unwrap_or(l)
                        .to_owned()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(untimed(&plain.stdout), untimed(&with.stdout));
        let doc: Value =
            serde_json::from_slice(&std::fs::read(&kcidb_path).expect("read")).expect("JSON");
        let _ = std::fs::remove_file(&kcidb_path);
        assert_eq!(tests(&doc).len(), if code == 0 { 2 } else { 1 });
        // --json beside it too.
        let json = run(&["-q", "--json"], Some(input));
        let with = run(&["-q", "--json", "--kcidb", "/dev/null"], Some(input));
        assert_eq!(json.stdout, with.stdout);
        assert_eq!(with.status.code(), Some(code));
    }
}

#[test]
fn bad_options_are_refused_with_exit_2() {
    for (args, says) in [
        (&["--kcidb", "-", "--origin", "Lab"][..], "origin \"Lab\""),
        (&["--kcidb", "-", "--origin", "lab-1"][..], "[a-z0-9_]+"),
        (&["--kcidb", "-", "--origin", ""][..], "origin"),
        (&["--kcidb", "-", "--build-id", ""][..], "build id"),
        (
            &["--kcidb", "-", "--checkout-id", "a\nb"][..],
            "checkout id",
        ),
    ] {
        let mut all = vec!["-q", "-o", "/dev/null"];
        all.extend_from_slice(args);
        let out = run(&all, Some(PASSING));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    for prefix in ["", ".kunit", "kunit.", "kunit..exec", "kunit exec", "k:x"] {
        let out = run(
            &["-q", "--kcidb", "-", "--kcidb-path-prefix", prefix],
            Some(PASSING),
        );
        assert_eq!(out.status.code(), Some(2), "{prefix:?}");
        assert!(stderr(&out).contains("path prefix"), "{}", stderr(&out));
    }
    // Alone on standard output (no report with -q).
    let out = run(&["-q", "--kcidb", "-"], Some(PASSING));
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("KCIDB JSON");
    assert_eq!(tests(&doc).len(), 2);
    // An output that cannot be written is kunit.py's 1.
    let out = run(
        &["-q", "--kcidb", "/nonexistent/dir/doc.json"],
        Some(PASSING),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/dir/doc.json"),
        "{}",
        stderr(&out)
    );
}

/// `--kcidb-path-prefix` puts the fleet's job path in front of every test
/// path (and so into the ids), as KernelCI names KUnit (`kunit.exec`) and
/// kselftest (`kselftest.kmod`) results.
#[test]
fn path_prefix_goes_in_front_of_every_path() {
    let input = std::fs::read(data("test_kmod_two_runs.log")).expect("read");
    let (plain, _) = kcidb(&[], &input);
    let (prefixed, _) = kcidb(&["--kcidb-path-prefix", "kunit.exec"], &input);
    let paths = |d: &Value| -> Vec<String> {
        tests(d)
            .iter()
            .map(|t| t["path"].as_str().expect("path").to_owned())
            .collect()
    };
    let want: Vec<String> = paths(&plain)
        .iter()
        .map(|p| format!("kunit.exec.{p}"))
        .collect();
    assert_eq!(paths(&prefixed), want);
    for (t, p) in tests(&prefixed).iter().zip(&want) {
        assert!(
            t["id"].as_str().expect("id").ends_with(&format!(":{p}")),
            "{t}"
        );
    }
    let (kselftest, _) = kcidb(
        &["--kcidb-path-prefix", "kselftest.kmod"],
        &std::fs::read(data("kselftest_kmod.log")).expect("read"),
    );
    assert!(
        paths(&kselftest)
            .iter()
            .all(|p| p.starts_with("kselftest.kmod."))
    );
}

#[test]
fn ids_are_the_same_for_the_same_input_and_options_and_differ_by_build() {
    let path = data("test_kmod_two_runs.log");
    let input = std::fs::read(&path).expect("read");
    let (a, _) = kcidb(&[], &input);
    let (b, _) = kcidb(&[path_str(&path)], b"");
    assert_eq!(a, b, "stdin and the file give the same document");
    let build = a["builds"][0]["id"].as_str().expect("build id").to_owned();
    assert!(
        build.starts_with("ktap2junit:log-") && build.len() == 15 + 32,
        "{build}"
    );
    for id in ids(&a) {
        assert!(id.starts_with(&format!("{build}:")), "{id}");
    }
    let mut unique = ids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids(&a).len(), "ids are unique");
    // Both runs have test_kmod: run 1 and run 2.
    assert!(ids(&a).contains(&format!("{build}:1:test_kmod")));
    assert!(ids(&a).contains(&format!("{build}:2:test_kmod")));

    // Another input: another default build, no id in common.
    let mut changed = input.clone();
    changed.extend_from_slice(b"\n");
    let (c, _) = kcidb(&[], &changed);
    assert_ne!(c["builds"][0]["id"], a["builds"][0]["id"]);
    assert!(ids(&c).iter().all(|i| !ids(&a).contains(i)));

    // Given ids.
    let opts = [
        "--origin",
        "test_kmod_rust",
        "--build-id",
        "b1",
        "--checkout-id",
        "c1",
    ];
    let (d, _) = kcidb(&opts, &input);
    assert_eq!(d["builds"][0]["id"], "test_kmod_rust:b1");
    assert_eq!(d["builds"][0]["checkout_id"], "test_kmod_rust:c1");
    assert_eq!(d["checkouts"][0]["id"], "test_kmod_rust:c1");
    assert_eq!(d["tests"][0]["origin"], "test_kmod_rust");
    assert!(ids(&d).contains(&"test_kmod_rust:b1:2:test_kmod".to_owned()));
    let (e, _) = kcidb(&opts, &changed);
    assert_eq!(
        ids(&d),
        ids(&e),
        "a given build id does not depend on the input"
    );
    let (f, _) = kcidb(&["--origin", "test_kmod_rust", "--build-id", "b2"], &input);
    assert!(ids(&f).iter().all(|i| !ids(&d).contains(i)));
}

#[test]
fn every_test_of_every_sample_is_in_the_document() {
    let mut all_args = vec!["-q", "-o", "/dev/null", "--kcidb", "-"];
    let samples = samples();
    let mut total = 0;
    for path in &samples {
        let (doc, _) = kcidb(&[path_str(path)], b"");
        let parsed = parse_file(path, false);
        assert_eq!(tests(&doc).len(), nodes(&parsed), "{}", path.display());
        total += nodes(&parsed);
        all_args.push(path_str(path));
    }
    // All samples at once: runs are numbered across the inputs.
    let out = run(&all_args, None);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(tests(&doc).len(), total);
    let mut unique = ids(&doc);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), total);
}

#[test]
fn durations_come_from_printk_timestamps_and_start_time_from_timestamp() {
    let path = data("test_kmod_boot.log");
    let (doc, _) = kcidb(&["--timestamp", "1700000000", path_str(&path)], b"");
    let timed: Vec<&Value> = tests(&doc)
        .iter()
        .filter(|t| t.get("duration").is_some())
        .collect();
    assert!(!timed.is_empty());
    for t in tests(&doc) {
        assert_eq!(t["start_time"], "2023-11-14T22:13:20Z");
        if let Some(d) = t.get("duration") {
            assert!(d.as_f64().expect("number") >= 0.0);
        }
    }
    let (doc, _) = kcidb(&[path_str(&path)], b"");
    assert!(tests(&doc).iter().all(|t| t.get("start_time").is_none()));
}

/// Names no KCIDB path can hold: spaces, dots, non-ASCII, control bytes,
/// and names that collide once made path components.
fn hostile_names_log() -> Vec<u8> {
    let mut log = b"KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: suite with spaces.and.dots\n    1..8\n".to_vec();
    let names: [&[u8]; 8] = [
        b"name with spaces",
        b"dotted.name.here",
        "na\u{ef}ve_\u{fc}n\u{ef}c\u{f6}d\u{e9}_\u{540d}\u{524d}".as_bytes(),
        b"ctrl\x01\x1b[31m\x7f\x00end\xff",
        b"dotted_name_here",
        b"name_with_spaces",
        b"name with spaces",
        b"",
    ];
    for (i, n) in names.iter().enumerate() {
        let ok = if i == 3 { "not ok" } else { "ok" };
        log.extend_from_slice(format!("    {ok} {} ", i + 1).as_bytes());
        log.extend_from_slice(n);
        log.push(b'\n');
    }
    log.extend_from_slice(b"not ok 1 suite with spaces.and.dots\nok 2 \xe2\x82 top\"level\\\n");
    log
}

/// A failing test whose log holds NUL, invalid UTF-8 and more than the
/// excerpt may hold.
fn hostile_excerpt_log() -> Vec<u8> {
    let mut log =
        b"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n".to_vec();
    log.extend_from_slice(b"    # nul \x00 here, invalid \xff\xfe\xc3 there, \xe2\x82\n");
    for i in 0..700 {
        log.extend_from_slice(
            format!("    # line {i}: \u{e9}\u{1F600} padding padding\x00\n").as_bytes(),
        );
    }
    log.extend_from_slice(b"    # the last line\n    not ok 1 noisy\nnot ok 1 s\n");
    log
}

#[test]
fn hostile_names_become_unique_paths_of_the_schema() {
    let (doc, code) = kcidb(&[], &hostile_names_log());
    assert_eq!(code, Some(1));
    let paths: Vec<&str> = tests(&doc)
        .iter()
        .map(|t| t["path"].as_str().expect("path"))
        .collect();
    let s = "suite_with_spaces_and_dots";
    assert_eq!(
        paths,
        [
            s.to_owned(),
            format!("{s}.name_with_spaces"),
            format!("{s}.dotted_name_here"),
            format!("{s}.na_ve__n_c_d____"),
            format!("{s}.ctrl___31m__end_"),
            format!("{s}.dotted_name_here_2"),
            format!("{s}.name_with_spaces_2"),
            format!("{s}.name_with_spaces_3"),
            format!("{s}.test_8"),
            "__top_level_".to_owned(),
        ]
    );
    assert_eq!(
        tests(&doc)[4]["misc"]["name"],
        "ctrl\u{1}\u{1b}[31m\u{7f}\u{0}end\u{fffd}"
    );
    assert_eq!(tests(&doc)[4]["status"], "FAIL");
}

#[test]
fn excerpts_are_capped_utf8_without_nul() {
    let (doc, _) = kcidb(&[], &hostile_excerpt_log());
    let t = tests(&doc)
        .iter()
        .find(|t| t["path"] == "s.noisy")
        .expect("s.noisy");
    let e = t["log_excerpt"].as_str().expect("excerpt");
    assert!(e.chars().count() <= 16_384, "{}", e.chars().count());
    assert!(e.chars().count() > 16_000);
    assert!(!e.contains('\0'));
    assert!(
        e.starts_with("[ktap2junit: ") && e.ends_with("# the last line"),
        "{e:.200}"
    );
    // The whole log is longer: it was cut.
    let parsed = ktap2junit::parse_reader(&hostile_excerpt_log()[..], &Default::default()).0;
    let log = &parsed.runs[0].subtests[0].subtests[0].details().log;
    assert!(log.chars().count() > 16_384 && log.contains('\0') && log.contains('\u{fffd}'));
}

/// kcidb-io's python (from `test.sh`'s virtualenv).
fn kcidb_python() -> PathBuf {
    let python = std::env::var_os("KCIDB_PYTHON").map(PathBuf::from);
    match python {
        Some(p) if p.exists() => p,
        _ => panic!(
            "KCIDB_PYTHON does not name kcidb-io's python: run parser/test.sh, which installs \
             kcidb-io from PyPI into a virtualenv (needs python3-venv)"
        ),
    }
}

/// Run tests/kcidb/validate.py on `docs`: its exit code and output.
fn validate(docs: &[PathBuf]) -> (Option<i32>, String) {
    let out = Command::new(kcidb_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kcidb/validate.py"))
        .args(docs)
        .output()
        .expect("run validate.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    (out.status.code(), text)
}

/// A scratch directory of this test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(stem: &str) -> Self {
        let p = temp_path(stem);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[ignore = "needs kcidb-io from PyPI: parser/test.sh installs it"]
fn kcidb_io_validates_the_document_of_every_input() {
    let dir = Scratch::new("kcidb");
    let mut docs = Vec::new();
    let mut write = |name: String, args: &[&str], stdin: Option<&[u8]>| {
        let doc = dir.0.join(format!("{name}.json"));
        let mut all = vec!["-q", "-o", "/dev/null", "--kcidb", path_str(&doc)];
        all.extend_from_slice(args);
        let out = run(&all, stdin);
        assert_ne!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        docs.push(doc);
    };
    let samples = samples();
    for (i, path) in samples.iter().enumerate() {
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        // Every other one with a start time and given ids.
        if i % 2 == 0 {
            write(name, &[path_str(path)], None);
        } else {
            let args = [
                "--timestamp",
                "1700000000",
                "--origin",
                "test_kmod_rust",
                "--build-id",
                "b:1 \"quoted\" \u{e9}",
                path_str(path),
            ];
            write(name, &args, None);
        }
    }
    let mut all: Vec<&str> = vec!["--all-logs"];
    all.extend(samples.iter().map(|p| path_str(p)));
    write("all-samples".into(), &all, None);
    write("hostile-names".into(), &[], Some(&hostile_names_log()));
    write("hostile-excerpt".into(), &[], Some(&hostile_excerpt_log()));
    write("empty".into(), &[], Some(b""));
    write(
        "path-prefix".into(),
        &[
            "--kcidb-path-prefix",
            "kunit.exec",
            path_str(&data("test_kmod_nested.log")),
        ],
        None,
    );
    let kernel: Vec<PathBuf> = std::fs::read_dir(test_data(&kdir()))
        .expect("test_data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(kernel.len() > 20);
    for path in &kernel {
        let name = format!(
            "kernel-{}",
            path.file_stem().expect("stem").to_string_lossy()
        );
        write(name, &["--all-logs", path_str(path)], None);
    }

    let (code, text) = validate(&docs);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("kcidb-io LATEST schema 5.3\n"), "{text}");
    let valid = text.lines().filter(|l| l.starts_with("VALID ")).count();
    assert_eq!(valid, docs.len(), "{text}");
    let tests: usize = text
        .lines()
        .filter_map(|l| {
            l.strip_suffix(" tests")?
                .rsplit(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    println!(
        "kcidb-io validated {} documents ({} samples, {} kernel logs, all samples at once, \
         hostile names, hostile excerpt, empty input, a path prefix) with {tests} tests",
        docs.len(),
        samples.len(),
        kernel.len()
    );
    assert!(tests > 100, "{text}");
}

#[test]
#[ignore = "needs kcidb-io from PyPI: parser/test.sh installs it"]
fn kcidb_io_rejects_invalid_documents() {
    let dir = Scratch::new("kcidb-invalid");
    let (good, _) = kcidb(&[], &hostile_names_log());
    let mut docs = Vec::new();
    let mut variant = |name: &str, change: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        change(&mut doc);
        let path = dir.0.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&doc).expect("JSON")).expect("write");
        docs.push(path);
    };
    variant("good", &|_| {});
    variant("status", &|d| d["tests"][1]["status"] = "BROKEN".into());
    variant("path", &|d| {
        d["tests"][1]["path"] = "name with spaces".into()
    });
    variant("origin", &|d| d["tests"][1]["origin"] = "Test-Kmod".into());
    variant("id", &|d| d["tests"][1]["id"] = "no origin".into());
    variant("excerpt-long", &|d| {
        d["tests"][1]["log_excerpt"] = "x".repeat(16_385).into();
    });
    variant("excerpt-nul", &|d| {
        d["tests"][1]["log_excerpt"] = "a\0b".into()
    });
    variant("start-time", &|d| {
        d["tests"][1]["start_time"] = "yesterday".into()
    });
    variant("build", &|d| {
        d["builds"][0]
            .as_object_mut()
            .expect("build")
            .remove("checkout_id");
    });
    variant("version", &|d| d["version"]["minor"] = 4.into());

    let (code, text) = validate(&docs);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), docs.len(), "{text}");
    assert!(lines[0].starts_with("VALID "), "{text}");
    for l in &lines[1..] {
        assert!(l.starts_with("INVALID "), "{text}");
    }
}
