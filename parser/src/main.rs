// SPDX-License-Identifier: GPL-2.0
//! `ktap2junit`: thin command line front end of the ktap2junit library.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ktap2junit::ktap::{self, Report};
use ktap2junit::parse_threaded_with;
use ktap2junit::writers::junit::{JunitOptions, JunitStream, OffsetDateTime};
use ktap2junit::writers::{json, summary, xml};

/// Parse KTAP / TAP test output (KUnit, kselftest; raw, boot log or dmesg)
/// and write JUnit XML (or the JSON of `kunit.py parse --json`).
///
/// Exit status: 0 all tests passed, 1 any failure, crash, missing test, no
/// tests or only skipped tests (as kunit.py), 2 unreadable input, unwritable
/// output or bad usage.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Input files; none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Write kunit.py's JSON instead of JUnit XML.
    #[arg(long)]
    json: bool,

    /// Name of the <testsuites> root element.
    #[arg(long, value_name = "NAME", default_value = "ktap2junit")]
    name: String,

    /// Do not print the summary on standard error.
    #[arg(short, long)]
    quiet: bool,

    /// Timestamp of the <testsuite> elements, in seconds since the epoch
    /// (default 0, so that the output is reproducible).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    timestamp: i64,

    /// Keep the log lines of passing tests too (by default only tests that
    /// did not pass keep their log, which bounds memory on huge logs).
    #[arg(long)]
    all_logs: bool,
}

/// Size of the output buffer (the writers hand over larger pieces, which
/// then go straight to the file).
const OUT_BUFFER: usize = 1 << 16;

/// The report being written.
enum Writer<'w, W: Write + ?Sized> {
    Json(json::JsonStream<'w, W>),
    Junit(Box<JunitStream<'w, W>>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ktap2junit: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    let timestamp = OffsetDateTime::from_unix_timestamp(cli.timestamp)
        .map_err(|e| format!("--timestamp {}: {e}", cli.timestamp))?;
    if !(0..=9999).contains(&timestamp.year()) {
        return Err(format!(
            "--timestamp {}: year {} does not fit RFC 3339",
            cli.timestamp,
            timestamp.year()
        ));
    }
    // Both writers take each top-level test as soon as it is complete, and
    // the parser then reuses its memory.
    let opts = ktap::Options {
        keep_all_logs: cli.all_logs,
        stream: true,
        ..ktap::Options::default()
    };
    let stdin_name = PathBuf::from("-");
    let files: Vec<&PathBuf> = if cli.files.is_empty() {
        vec![&stdin_name]
    } else {
        cli.files.iter().collect()
    };

    let target = cli
        .output
        .as_ref()
        .map_or_else(|| "<stdout>".to_owned(), |p| p.display().to_string());
    let mut out: Box<dyn Write> = match &cli.output {
        Some(p) => Box::new(BufWriter::with_capacity(
            OUT_BUFFER,
            File::create(p).map_err(|e| format!("{target}: cannot create: {e}"))?,
        )),
        None => Box::new(BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock())),
    };
    let write_error = |e: io::Error| format!("{target}: write error: {e}");
    let mut writer = if cli.json {
        Writer::Json(json::JsonStream::new(&mut out).map_err(write_error)?)
    } else {
        let opts = JunitOptions {
            name: cli.name.clone(),
            timestamp,
        };
        Writer::Junit(Box::new(
            JunitStream::new(&mut out, &opts).map_err(write_error)?,
        ))
    };
    let mut failures = summary::Failures::new();
    // The first error writing a streamed test (the rest are not written).
    let mut stream_error: Option<io::Error> = None;
    // Runs of the inputs before this one (JUnit names the suites of later
    // runs after their run).
    let runs_before = Cell::new(0);
    let mut on_test = |run: usize, t: &ktap::Test| {
        failures.add(t);
        match &mut writer {
            Writer::Json(json) => {
                if stream_error.is_none()
                    && let Err(e) = json.test(t)
                {
                    stream_error = Some(e);
                }
            }
            Writer::Junit(junit) => junit.test(runs_before.get() + run, t),
        }
    };

    let mut report = Report::default();
    let mut unreadable = false;
    for path in files {
        let name = if path.as_os_str() == "-" {
            "<stdin>".to_owned()
        } else {
            path.display().to_string()
        };
        let (parsed, err) = if path.as_os_str() == "-" {
            parse_threaded_with(io::stdin(), &opts, &mut on_test)
        } else {
            match File::open(path) {
                Ok(f) => parse_threaded_with(f, &opts, &mut on_test),
                Err(e) => {
                    eprintln!("ktap2junit: {name}: cannot open: {e}");
                    unreadable = true;
                    continue;
                }
            }
        };
        if let Some(e) = err {
            eprintln!("ktap2junit: {name}: read error: {e}");
            unreadable = true;
        }
        for w in &parsed.warnings {
            eprintln!("{name}:{}: warning: {}", w.line, xml::text(&w.message));
        }
        if parsed.warnings_suppressed > 0 {
            eprintln!(
                "{name}: {} more warnings suppressed",
                parsed.warnings_suppressed
            );
        }
        runs_before.set(runs_before.get() + parsed.runs.len());
        report.inputs.push((name, parsed));
    }

    let result = match writer {
        Writer::Json(json) => match stream_error {
            Some(e) => Err(e),
            None => json.finish(&report.counts()).and_then(|()| {
                // kunit.py prints a newline after the JSON on stdout only.
                if cli.output.is_none() {
                    writeln!(out)
                } else {
                    Ok(())
                }
            }),
        },
        Writer::Junit(junit) => junit.finish().map(drop),
    };
    result.and_then(|()| out.flush()).map_err(write_error)?;
    if !cli.quiet {
        let _ = summary::write_summary(&mut io::stderr().lock(), &report, &failures);
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
    })
}
