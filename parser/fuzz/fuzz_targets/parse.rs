// SPDX-License-Identifier: GPL-2.0
//! Fuzz target: any input must parse without panicking, the threaded
//! parser must agree with the single-threaded one (also keeping every
//! log), both writers must produce well-formed output (XML without
//! forbidden characters), and the JUnit must be junit-report's own bytes
//! for the same fields (the tests' oracle, tests/common/reference.rs).
#![no_main]

#[path = "../../tests/common/reference.rs"]
mod reference;

use ktap2junit::ktap::Options;
use ktap2junit::writers::junit::{JunitOptions, write_junit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (parsed, err) = ktap2junit::parse_reader(data, &Options::default());
    assert!(err.is_none());
    // The threaded parser (lexing ahead in a worker) gives the same result.
    let (threaded, err) =
        ktap2junit::parse_threaded(std::io::Cursor::new(data.to_vec()), &Options::default());
    assert!(err.is_none());
    assert_eq!(threaded.runs, parsed.runs);
    assert_eq!(threaded.warnings, parsed.warnings);
    // Also with every log kept, capped short: the reader lends the tree
    // builder its chunks, whose log lines are copied late.
    let all_logs = Options {
        keep_all_logs: true,
        max_log_bytes: 64,
        ..Options::default()
    };
    let (want, _) = ktap2junit::parse_reader(data, &all_logs);
    let (got, _) = ktap2junit::parse_threaded(std::io::Cursor::new(data.to_vec()), &all_logs);
    assert_eq!(got.runs, want.runs);
    let mut xml = Vec::new();
    write_junit(&mut xml, &parsed.runs, &JunitOptions::default()).expect("write JUnit");
    let reference = reference::write_junit_reference(&parsed.runs, &JunitOptions::default())
        .expect("write JUnit with junit-report");
    assert!(xml == reference, "the writer and junit-report differ");
    let xml = String::from_utf8(xml).expect("JUnit is UTF-8");
    assert!(
        !xml.chars().any(|c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
            || c == '\u{fffe}'
            || c == '\u{ffff}'),
        "forbidden character in XML"
    );
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("JUnit output is not well-formed: {e}"),
        }
    }
    let mut json = Vec::new();
    ktap2junit::writers::json::write_json(&mut json, &parsed.runs).expect("write JSON");
    assert!(json.starts_with(b"{") && json.ends_with(b"}"));
});
