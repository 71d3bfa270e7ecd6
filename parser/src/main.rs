// SPDX-License-Identifier: GPL-2.0
//! `ktap2junit`: thin command line front end of the ktap2junit library.

use std::cell::Cell;
use std::fs::File;
use std::io::Read;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use ktap2junit::ktap::{self, Report};
use ktap2junit::parse_threaded_with;
use ktap2junit::writers::junit::{JunitOptions, JunitStream, OffsetDateTime};
use ktap2junit::writers::kcidb::{Fingerprint, FingerprintReader, KcidbOptions, KcidbStream};
use ktap2junit::writers::{json, summary, xml};

/// Parse KTAP / TAP test output (KUnit, kselftest; raw, boot log or dmesg)
/// and write JUnit XML (or the JSON of `kunit.py parse --json`), and a
/// KCIDB document beside it if asked.
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

    /// Timestamp of the <testsuite> elements and the KCIDB tests'
    /// start_time, in seconds since the epoch (default: 0 in JUnit, so that
    /// the output is reproducible; no start_time in KCIDB).
    #[arg(long, value_name = "SECONDS")]
    timestamp: Option<i64>,

    /// Keep the log lines of passing tests too (by default only tests that
    /// did not pass keep their log, which bounds memory on huge logs).
    #[arg(long)]
    all_logs: bool,

    /// Also write a KCIDB document (KernelCI's KCIDB I/O schema 5.3) to
    /// FILE; `-` is standard output, the report then going to -o FILE.
    #[arg(long, value_name = "FILE")]
    kcidb: Option<PathBuf>,

    /// KCIDB origin: the CI system submitting the results ([a-z0-9_]+).
    #[arg(long, value_name = "ORIGIN", default_value = "ktap2junit")]
    origin: String,

    /// KCIDB build id, after `ORIGIN:` (default: `log-` and a fingerprint
    /// of the input bytes).
    #[arg(long, value_name = "ID")]
    build_id: Option<String>,

    /// KCIDB checkout id, after `ORIGIN:` (default: the build id).
    #[arg(long, value_name = "ID")]
    checkout_id: Option<String>,
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

/// Create an output file, with a buffer (`-`: standard output).
fn create(path: &PathBuf) -> Result<Box<dyn Write>, String> {
    Ok(if path.as_os_str() == "-" {
        Box::new(BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock()))
    } else {
        Box::new(BufWriter::with_capacity(
            OUT_BUFFER,
            File::create(path).map_err(|e| format!("{}: cannot create: {e}", path.display()))?,
        ))
    })
}

/// Parse one input, adding its bytes to `fingerprint` if there is one.
fn parse_input<R: Read + Send + 'static>(
    r: R,
    fingerprint: Option<&Arc<Mutex<Fingerprint>>>,
    opts: &ktap::Options,
    on_test: &mut dyn FnMut(usize, &ktap::Test),
) -> (ktap::Parsed, Option<io::Error>) {
    match fingerprint {
        Some(f) => parse_threaded_with(FingerprintReader::new(r, Arc::clone(f)), opts, on_test),
        None => parse_threaded_with(r, opts, on_test),
    }
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    let seconds = cli.timestamp.unwrap_or(0);
    let timestamp = OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| format!("--timestamp {seconds}: {e}"))?;
    if !(0..=9999).contains(&timestamp.year()) {
        return Err(format!(
            "--timestamp {seconds}: year {} does not fit RFC 3339",
            timestamp.year()
        ));
    }
    let kcidb_opts = KcidbOptions {
        origin: cli.origin.clone(),
        build_id: cli.build_id.clone(),
        checkout_id: cli.checkout_id.clone(),
        start_time: cli.timestamp.map(|_| timestamp),
    };
    kcidb_opts.check().map_err(|e| format!("KCIDB {e}"))?;
    if cli.kcidb.as_ref().is_some_and(|p| p.as_os_str() == "-") && cli.output.is_none() {
        return Err("--kcidb -: the report goes to standard output too; give it -o FILE".into());
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
    let kcidb_target = cli.kcidb.as_ref().map(|p| {
        if p.as_os_str() == "-" {
            "<stdout>".to_owned()
        } else {
            p.display().to_string()
        }
    });
    let mut kcidb_out = cli.kcidb.as_ref().map(create).transpose()?;
    let kcidb_error = |e: io::Error| {
        format!(
            "{}: write error: {e}",
            kcidb_target.as_deref().unwrap_or_default()
        )
    };
    let mut kcidb = match &mut kcidb_out {
        Some(w) => Some(KcidbStream::new(w, &kcidb_opts).map_err(kcidb_error)?),
        None => None,
    };
    // The default build id is a fingerprint of the inputs' bytes.
    let fingerprint = (kcidb.is_some() && cli.build_id.is_none())
        .then(|| Arc::new(Mutex::new(Fingerprint::default())));
    let mut kcidb_stream_error: Option<io::Error> = None;
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
        if let Some(k) = &mut kcidb
            && kcidb_stream_error.is_none()
            && let Err(e) = k.test(runs_before.get() + run, t)
        {
            kcidb_stream_error = Some(e);
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
            parse_input(io::stdin(), fingerprint.as_ref(), &opts, &mut on_test)
        } else {
            match File::open(path) {
                Ok(f) => parse_input(f, fingerprint.as_ref(), &opts, &mut on_test),
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
    if let Some(k) = kcidb {
        let input = fingerprint.map_or_else(Fingerprint::default, |f| {
            f.lock().unwrap_or_else(PoisonError::into_inner).clone()
        });
        match kcidb_stream_error {
            Some(e) => Err(e),
            None => k.finish(&input).map(drop),
        }
        .map_err(kcidb_error)?;
    }
    if !cli.quiet {
        let _ = summary::write_summary(&mut io::stderr().lock(), &report, &failures);
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
    })
}
