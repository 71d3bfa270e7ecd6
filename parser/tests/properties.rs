// SPDX-License-Identifier: GPL-2.0
//! Property tests (proptest, stable toolchain):
//! * no input makes the parser or the writers panic, and the JUnit output
//!   is well-formed XML without characters XML forbids;
//! * every line the lexer recognised as an `ok`/`not ok` result line is
//!   reported: the set of result line numbers in the input equals the set
//!   of `result_line`s of the tests in the tree;
//! * the JUnit writer's bytes are junit-report's own for the same fields
//!   (`write_junit_reference`), also when written from the streamed tests;
//! * the threaded parser gives the same result, and when streaming hands
//!   over exactly the top-level tests of each run;
//! * for well-formed generated KTAP (any nesting, optional plans, noise,
//!   kernel prefixes, CRLF, truncation, kselftest's nested TAP wrapped in
//!   `# ` after a complete plan), every generated result line is reported
//!   once and no other line is, the leaf tests come out with the generated
//!   names and statuses, and the counts add up.

mod common;

use common::write_junit_reference;
use ktap2junit::ktap::{Lexer, Line, Options, Parsed, Status, Test, TreeBuilder};
use ktap2junit::writers::junit::{JunitOptions, JunitStream, totals, write_junit};
use proptest::prelude::*;

/// Parse like `parse_reader`, also returning the line numbers the lexer
/// classified as result lines.
fn parse_tracking(input: &[u8]) -> (Parsed, Vec<u64>) {
    let mut lexer = Lexer::new();
    let mut builder = TreeBuilder::new(Options::default());
    let mut results = Vec::new();
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        if i + 1 == input.split(|&b| b == b'\n').count() && raw.is_empty() {
            break;
        }
        let line_no = i as u64 + 1;
        let text = String::from_utf8_lossy(raw);
        let lexed = lexer.lex(&text, builder.is_idle());
        if matches!(lexed.line, Line::Result(_)) {
            results.push(line_no);
        }
        builder.feed(&lexed, line_no);
    }
    (builder.finish(&mut |_, _| {}), results)
}

fn reported_result_lines(t: &Test, out: &mut Vec<u64>) {
    if t.result_line > 0 {
        out.push(t.result_line);
    }
    for s in &t.subtests {
        reported_result_lines(s, out);
    }
}

fn check_outputs(parsed: &Parsed) -> Result<(), TestCaseError> {
    let opts = JunitOptions::default();
    let mut xml = Vec::new();
    write_junit(&mut xml, &parsed.runs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let xml = String::from_utf8(xml).map_err(|_| TestCaseError::fail("JUnit not UTF-8"))?;
    for c in xml.chars() {
        let ok =
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !('\u{7f}'..='\u{9f}').contains(&c));
        prop_assert!(
            ok && c != '\u{fffe}' && c != '\u{ffff}',
            "forbidden char {:?}",
            c
        );
    }
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut testcases = 0u64;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"testcase" =>
            {
                testcases += 1
            }
            Ok(_) => {}
            Err(e) => return Err(TestCaseError::fail(format!("not well-formed: {e}\n{xml}"))),
        }
    }
    prop_assert_eq!(testcases, totals(&parsed.runs, &opts).tests);
    // The templates give junit-report's own bytes.
    let reference = write_junit_reference(&parsed.runs, &opts)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        xml.as_bytes() == reference.as_slice(),
        "templates and junit-report differ:\n{}\n{}",
        xml,
        String::from_utf8_lossy(&reference)
    );
    let mut json = Vec::new();
    ktap2junit::writers::json::write_json(&mut json, &parsed.runs)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
    Ok(())
}

fn check_result_lines(input: &[u8]) -> Result<Parsed, TestCaseError> {
    let (parsed, mut lexed) = parse_tracking(input);
    let mut reported = Vec::new();
    for r in &parsed.runs {
        reported_result_lines(r, &mut reported);
    }
    lexed.sort_unstable();
    reported.sort_unstable();
    prop_assert_eq!(&reported, &lexed, "result lines lost or duplicated");
    // The library entry point agrees with the step-by-step parse.
    let (again, err) = ktap2junit::parse_reader(input, &Options::default());
    prop_assert!(err.is_none());
    prop_assert_eq!(&again.runs, &parsed.runs);
    // So does the threaded parser, and streaming hands over exactly the
    // top-level tests of each run.
    check_threaded(input, &again)?;
    check_outputs(&parsed)?;
    Ok(parsed)
}

fn check_threaded(input: &[u8], want: &Parsed) -> Result<(), TestCaseError> {
    let cursor = || std::io::Cursor::new(input.to_vec());
    let (threaded, err) = ktap2junit::parse_threaded(cursor(), &Options::default());
    prop_assert!(err.is_none());
    prop_assert_eq!(&threaded.runs, &want.runs);
    prop_assert_eq!(&threaded.warnings, &want.warnings);
    let opts = Options {
        stream: true,
        ..Options::default()
    };
    let mut streamed: Vec<Vec<Test>> = vec![Vec::new(); want.runs.len()];
    let mut beyond = false;
    let (shallow, err) =
        ktap2junit::parse_threaded_with(
            cursor(),
            &opts,
            &mut |run, t| match streamed.get_mut(run) {
                Some(tests) => tests.push(t.clone()),
                None => beyond = true,
            },
        );
    prop_assert!(err.is_none());
    prop_assert!(!beyond, "a test handed over for a run that does not exist");
    prop_assert_eq!(&shallow.warnings, &want.warnings);
    prop_assert_eq!(shallow.runs.len(), want.runs.len());
    // JUnit written from the handed-over tests, as the CLI does, is the
    // JUnit of the whole tree.
    let mut junit = Vec::new();
    let mut stream = JunitStream::new(&mut junit, &JunitOptions::default()).expect("templates");
    for (k, tests) in streamed.iter().enumerate() {
        for t in tests {
            stream.test(k, t);
        }
    }
    stream
        .finish()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut whole = Vec::new();
    write_junit(&mut whole, &want.runs, &JunitOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(junit == whole, "streamed JUnit differs");
    for ((run, tests), full) in shallow.runs.iter().zip(streamed).zip(&want.runs) {
        prop_assert!(run.subtests.is_empty());
        let mut rebuilt = run.clone();
        rebuilt.subtests = tests;
        prop_assert_eq!(&rebuilt, full);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Generated KTAP.

#[derive(Debug, Clone)]
enum Node {
    Case {
        name: String,
        ok: bool,
        skip: bool,
    },
    Suite {
        name: String,
        ok: bool,
        plan: bool,
        subtest_header: bool,
        children: Vec<Node>,
    },
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,11}"
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = (name(), any::<bool>(), prop::bool::weighted(0.2))
        .prop_map(|(name, ok, skip)| Node::Case { name, ok, skip });
    leaf.prop_recursive(4, 40, 6, |inner| {
        (
            name(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(inner, 1..6),
        )
            .prop_map(|(name, ok, plan, subtest_header, children)| Node::Suite {
                name,
                ok,
                plan,
                subtest_header,
                children,
            })
    })
}

const NOISE: &[&str] = &[
    "# diagnostic: something happened",
    "random kernel noise",
    "",
    "  # indented diag",
    "BUG: unable to handle page fault",
];

struct Render<'a> {
    out: Vec<String>,
    noise: &'a [usize],
    k: usize,
    /// Line numbers (from 1) of the result lines written.
    results: Vec<u64>,
}

impl<'a> Render<'a> {
    /// The start of a run with `tests` top-level tests.
    fn new(tests: usize, noise: &'a [usize]) -> Self {
        Render {
            out: vec!["KTAP version 1".to_owned(), format!("1..{tests}")],
            noise,
            k: 0,
            results: Vec::new(),
        }
    }

    fn result(&mut self, line: String) {
        self.out.push(line);
        self.results.push(self.out.len() as u64);
    }

    /// After the run's plan is complete: kselftest's nested TAP of one
    /// more test, wrapped in `# `, with `nested` results, and that test's
    /// result line (numbered `number`).
    fn nested_after_plan(&mut self, number: usize, name: &str, ok: bool, nested: &[bool]) {
        self.out.push(format!("# selftests: extra: {name}"));
        self.out.push("# TAP version 13".to_owned());
        self.out.push(format!("# 1..{}", nested.len()));
        for (i, ok) in nested.iter().enumerate() {
            let res = if *ok { "ok" } else { "not ok" };
            self.out.push(format!("# {res} {} sub_{i}", i + 1));
        }
        let res = if ok { "ok" } else { "not ok" };
        self.result(format!("{res} {number} {name}"));
    }

    fn noise(&mut self, indent: &str) {
        let n = self
            .noise
            .get(self.k % self.noise.len().max(1))
            .copied()
            .unwrap_or(0);
        self.k += 1;
        if n < NOISE.len() {
            self.out.push(format!("{indent}{}", NOISE[n]));
        }
    }

    fn children(&mut self, children: &[Node], depth: usize) {
        let indent = "    ".repeat(depth);
        for (i, c) in children.iter().enumerate() {
            self.noise(&indent);
            match c {
                Node::Case { name, ok, skip } => {
                    let res = if *ok { "ok" } else { "not ok" };
                    let dir = if *skip { " # SKIP reason" } else { "" };
                    self.result(format!("{indent}{res} {} {name}{dir}", i + 1));
                }
                Node::Suite {
                    name,
                    ok,
                    plan,
                    subtest_header,
                    children,
                } => {
                    let inner = "    ".repeat(depth + 1);
                    self.out.push(format!("{inner}KTAP version 1"));
                    // Without a plan, the name is what ends the suite: keep the header.
                    if *subtest_header || !*plan {
                        self.out.push(format!("{inner}# Subtest: {name}"));
                    }
                    if *plan {
                        self.out.push(format!("{inner}1..{}", children.len()));
                    }
                    self.children(children, depth + 1);
                    let res = if *ok { "ok" } else { "not ok" };
                    self.result(format!("{indent}{res} {} {name}", i + 1));
                }
            }
        }
    }
}

/// Make all names unique (kunit ends a suite early at a result line that
/// carries the suite's own name).
fn uniquify(nodes: &mut [Node], k: &mut usize) {
    for n in nodes {
        *k += 1;
        match n {
            Node::Case { name, .. } => name.push_str(&format!("_{k}")),
            Node::Suite { name, children, .. } => {
                name.push_str(&format!("_{k}"));
                uniquify(children, k);
            }
        }
    }
}

fn leaves(nodes: &[Node], out: &mut Vec<(String, Status)>) {
    for n in nodes {
        match n {
            Node::Case { name, ok, skip } => out.push((
                name.clone(),
                if *skip {
                    Status::Skipped
                } else if *ok {
                    Status::Success
                } else {
                    Status::Failure
                },
            )),
            Node::Suite { children, .. } => leaves(children, out),
        }
    }
}

fn parsed_leaves(t: &Test, out: &mut Vec<(String, Status)>) {
    for s in &t.subtests {
        if s.subtests.is_empty() {
            out.push((s.name.clone(), s.status));
        } else {
            parsed_leaves(s, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_result_lines(&input)?;
    }

    #[test]
    fn ktap_line_soup_never_loses_results(lines in prop::collection::vec(prop::sample::select(vec![
        "KTAP version 1", "TAP version 14", "KTAP version 2", "1..3", "  1..1", "1..0",
        "    KTAP version 1", "    # Subtest: s", "  # Subtest: t", "ok 1 s", "not ok 2 t",
        "    ok 1 a", "    not ok 2 b # SKIP x", "ok 3 # SKIP", "ok 1 t", "# diag", "noise",
        "[    1.000000] KTAP version 1", "<6>[    2.000000][    T1] ok 1 s", "List of all partitions:",
        "kunit executor: oops", "ok 99999999999999999999999 huge", "1..18446744073709551616", "",
        "ok 1 bad#name", "\u{1b}[31m", "]]>", "\r",
    ]), 0..80)) {
        let input = lines.join("\n");
        check_result_lines(input.as_bytes())?;
    }

    /// Every generated result line is reported exactly once, with the
    /// generated name and status; so is the result line after kselftest's
    /// nested TAP (wrapped in `# `) after the plan, in a run of its own,
    /// and no nested line is.
    #[test]
    fn generated_ktap_is_parsed_faithfully(
        mut suites in prop::collection::vec(node(), 1..4),
        noise in prop::collection::vec(0usize..12, 1..16),
        prefix in prop::sample::select(vec!["", "[    1.234567] ", "<6>[   12.000000][  T123] ", "foo: "]),
        crlf in any::<bool>(),
        after_plan in prop::option::of((any::<bool>(), prop::collection::vec(any::<bool>(), 0..4))),
    ) {
        uniquify(&mut suites, &mut 0);
        let mut r = Render::new(suites.len(), &noise);
        r.children(&suites, 0);
        if let Some((ok, nested)) = &after_plan {
            r.nested_after_plan(suites.len() + 1, "extra", *ok, nested);
        }
        let eol = if crlf { "\r\n" } else { "\n" };
        let text: String = r.out.iter().map(|l| format!("{prefix}{l}{eol}")).collect();
        let parsed = check_result_lines(text.as_bytes())?;
        let mut reported = Vec::new();
        for run in &parsed.runs {
            reported_result_lines(run, &mut reported);
        }
        reported.sort_unstable();
        prop_assert_eq!(&reported, &r.results, "result lines lost, duplicated or made up");
        prop_assert_eq!(parsed.runs.len(), 1 + usize::from(after_plan.is_some()));
        let mut want = Vec::new();
        leaves(&suites, &mut want);
        let mut got = Vec::new();
        parsed_leaves(&parsed.runs[0], &mut got);
        prop_assert_eq!(&got, &want);
        let c = parsed.runs[0].counts;
        prop_assert_eq!(c.crashed, 0);
        prop_assert_eq!(c.errors, 0);
        prop_assert!(c.total() >= want.len() as u64);
        if let Some((ok, _)) = after_plan {
            let extra = &parsed.runs[1];
            let status = if ok { Status::Success } else { Status::Failure };
            let mut got = Vec::new();
            parsed_leaves(extra, &mut got);
            prop_assert_eq!(got, vec![("extra".to_owned(), status)]);
            prop_assert_eq!(extra.counts.crashed, 0);
        }
    }

    #[test]
    fn truncated_ktap_never_loses_results(
        mut suites in prop::collection::vec(node(), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        uniquify(&mut suites, &mut 0);
        let mut r = Render::new(suites.len(), &[0, 1, 99]);
        r.children(&suites, 0);
        let keep = cut.index(r.out.len() + 1);
        let text: String = r.out[..keep].iter().map(|l| format!("{l}\n")).collect();
        let parsed = check_result_lines(text.as_bytes())?;
        if keep < r.out.len() && keep > 0 {
            // A log that stops early never reports success.
            prop_assert_ne!(parsed.runs[0].status, Status::Success);
        }
        // A run cut off by the next run ends exactly as one cut off by the
        // end of the input.
        if keep > 0 {
            let next = format!("{text}KTAP version 1\n1..1\nok 1 next_run\n");
            let (cut, _) = ktap2junit::parse_reader(next.as_bytes(), &Options::default());
            prop_assert_eq!(cut.runs.len(), parsed.runs.len() + 1);
            prop_assert_eq!(&cut.runs[..parsed.runs.len()], &parsed.runs[..]);
            // (Warnings of its end name the line that ended it.)
            let messages = |w: &[ktap2junit::ktap::Warning]| -> Vec<String> {
                w.iter().map(|w| w.message.clone()).collect()
            };
            prop_assert_eq!(
                messages(&cut.warnings[..parsed.warnings.len()]),
                messages(&parsed.warnings)
            );
        }
    }
}
