// SPDX-License-Identifier: GPL-2.0
//! `ktap2junit`: thin command line front end of the ktap2junit library.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use ktap2junit::ktap::{self, Report};
use ktap2junit::writers::junit::{JunitOptions, JunitStream, OffsetDateTime};
use ktap2junit::writers::kcidb::{Fingerprint, FingerprintReader, KcidbOptions, KcidbStream};
use ktap2junit::writers::report::{self, Mode, Printer, ReportStream};
use ktap2junit::writers::{Deferred, json, xml};
use ktap2junit::{RawOutput, parse_threaded_with, raw_output};

/// Parse KTAP / TAP test output (KUnit, kselftest; raw, boot log or dmesg)
/// as `kunit.py parse` does: its report on standard output, its JSON
/// (`--json`), and JUnit XML (`--junit`, `-o`) and a KCIDB document
/// (`--kcidb`) that CI can trust.
///
/// Exit status (kunit.py's): 0 all tests passed, 1 anything else (a
/// failure, crash, missing test, no tests, only skipped tests, an input
/// that cannot be read, an output that cannot be written); 2 bad usage.
#[derive(Debug, Parser)]
#[command(version, about, infer_long_args = true)]
struct Cli {
    /// Input files; none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print the input's lines instead of parsing them: `kunit` (bare
    /// `--raw_output`) the KTAP lines with the kernel prefix stripped,
    /// `all` or `full` every line.
    #[arg(
        long = "raw_output",
        visible_alias = "raw-output",
        value_name = "WHAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "kunit",
        value_parser = ["all", "full", "kunit"],
    )]
    raw_output: Option<String>,

    /// Write kunit.py's JSON to FILE, or to standard output (bare `--json`,
    /// `--json=stdout`, `--json=-`).
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "stdout"
    )]
    json: Option<PathBuf>,

    /// Write JUnit XML to FILE, or to standard output (bare `--junit`,
    /// `--junit=stdout`, `--junit=-`).
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "stdout"
    )]
    junit: Option<PathBuf>,

    /// Print only the summary line of the report.
    #[arg(long)]
    summary: bool,

    /// Print only the tests that did not pass, and the summary line.
    #[arg(long)]
    failed: bool,

    /// Write JUnit XML to FILE (as `--junit=FILE`).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Print no report on standard output.
    #[arg(short, long)]
    quiet: bool,

    /// Name of the <testsuites> root element.
    #[arg(long, value_name = "NAME", default_value = "ktap2junit")]
    name: String,

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
    /// FILE; `-` is standard output.
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

    /// Put PREFIX (dotted names) in front of every KCIDB test path, as a
    /// fleet names its jobs: `kunit.exec` (KernelCI's KUnit jobs),
    /// `kselftest.kmod` (kmod.sh).
    #[arg(long, value_name = "PREFIX")]
    kcidb_path_prefix: Option<String>,
}

/// Size of the output buffers (the writers hand over larger pieces, which
/// then go straight to the file).
const OUT_BUFFER: usize = 1 << 16;

/// Exit status of bad usage (clap's).
const USAGE: u8 = 2;

/// Where a document goes: a file, or standard output after the report.
enum Sink {
    File(BufWriter<File>),
    Stdout(Deferred),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Stdout(d) => d.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::File(f) => f.write_all(buf),
            Sink::Stdout(d) => d.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Stdout(d) => d.flush(),
        }
    }
}

/// An output named on the command line.
struct Output {
    /// As the messages name it.
    label: String,
    /// The file's absolute path, for "Test results stored in" (None:
    /// standard output).
    path: Option<PathBuf>,
    sink: Sink,
}

impl Output {
    /// Open the output `p`: standard output (after the report) if it is
    /// one of `stdout_names` (`stdout` and `-` for --json and --junit, as
    /// kunit.py's `--json=stdout`; `-` for --kcidb), else the file.
    fn open(p: &Path, stdout_names: &[&str]) -> Result<Self, String> {
        if stdout_names.iter().any(|n| p.as_os_str() == *n) {
            return Ok(Output {
                label: "<stdout>".to_owned(),
                path: None,
                sink: Sink::Stdout(Deferred::new()),
            });
        }
        let label = p.display().to_string();
        let f = File::create(p).map_err(|e| format!("{label}: cannot create: {e}"))?;
        Ok(Output {
            path: Some(absolute(p)),
            label,
            sink: Sink::File(BufWriter::with_capacity(OUT_BUFFER, f)),
        })
    }
}

/// Python's `os.path.abspath()`: joined to the working directory, `.` and
/// `..` resolved without looking at the file system.
fn absolute(p: &Path) -> PathBuf {
    let joined = std::env::current_dir().map_or_else(|_| p.to_owned(), |d| d.join(p));
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// kunit.py's bare `--json`, `--junit` and `--raw_output` never take the
/// next argument as their value (its `massage_argv()` makes them
/// `--json=stdout`, ...): `--json FILE` reads FILE, as kunit.py does.
/// kunit.py takes one input and refuses a second; with several inputs,
/// say so, so that `--json out.json log` does not pass unnoticed.
fn warn_bare_values(files: &[PathBuf]) {
    if files.len() < 2 {
        return;
    }
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    for w in args.windows(2) {
        let next = w[1].to_string_lossy();
        if ["--json", "--junit", "--raw_output"].contains(&w[0].to_string_lossy().as_ref())
            && !next.starts_with('-')
        {
            eprintln!(
                "ktap2junit: note: {} takes no separate value (as in kunit.py): {next} is read \
                 as an input; write {}={next} to name the output",
                w[0].to_string_lossy(),
                w[0].to_string_lossy()
            );
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    warn_bare_values(&cli.files);
    match run(&cli) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("ktap2junit: {msg}");
            ExitCode::from(USAGE)
        }
        Err(Failure::Io(msg)) => {
            eprintln!("ktap2junit: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Why a run stopped.
enum Failure {
    /// Bad options: nothing was read or written.
    Usage(String),
    /// An output could not be created or written.
    Io(String),
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

/// An input: its name in messages, and the file (None: standard input).
type Input = (String, Option<File>);

/// Open the inputs; those that cannot be opened are named on standard
/// error and left out.  Returns them and whether any was left out.
fn open_inputs(files: &[PathBuf]) -> (Vec<Input>, bool) {
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    let mut unreadable = false;
    let mut inputs = Vec::new();
    for path in files {
        if path.as_os_str() == "-" {
            inputs.push(("<stdin>".to_owned(), None));
            continue;
        }
        let name = path.display().to_string();
        let opened = File::open(path).and_then(|f| {
            if f.metadata()?.is_dir() {
                Err(io::Error::other("is a directory"))
            } else {
                Ok(f)
            }
        });
        match opened {
            Ok(f) => inputs.push((name, Some(f))),
            Err(e) => {
                eprintln!("ktap2junit: {name}: cannot open: {e}");
                unreadable = true;
            }
        }
    }
    (inputs, unreadable)
}

/// `--raw_output`: the lines of every input, nothing else.
fn run_raw(cli: &Cli, what: &str) -> Result<ExitCode, Failure> {
    if cli.output.is_some() || cli.kcidb.is_some() {
        return Err(Failure::Usage(
            "--raw_output prints the input's lines and writes nothing else: drop -o and --kcidb"
                .into(),
        ));
    }
    let what = if what == "kunit" {
        RawOutput::Kunit
    } else {
        RawOutput::All
    };
    let (inputs, mut unreadable) = open_inputs(&cli.files);
    let mut out = BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock());
    let mut print = |line: &str| {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")
    };
    let write_error = |e: io::Error| Failure::Io(format!("<stdout>: write error: {e}"));
    for (name, file) in inputs {
        let read_error = match file {
            Some(f) => raw_output(f, what, &mut print),
            None => raw_output(io::stdin().lock(), what, &mut print),
        }
        .map_err(write_error)?;
        if let Some(e) = read_error {
            eprintln!("ktap2junit: {name}: read error: {e}");
            unreadable = true;
        }
    }
    out.flush().map_err(write_error)?;
    // kunit.py counts unparsed output as one passing test.
    Ok(ExitCode::from(u8::from(unreadable)))
}

fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    // Before any thread is started (see local_offset()).
    let offset = report::local_offset();
    let seconds = cli.timestamp.unwrap_or(0);
    let timestamp = OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| Failure::Usage(format!("--timestamp {seconds}: {e}")))?;
    if !(0..=9999).contains(&timestamp.year()) {
        return Err(Failure::Usage(format!(
            "--timestamp {seconds}: year {} does not fit RFC 3339",
            timestamp.year()
        )));
    }
    let kcidb_opts = KcidbOptions {
        origin: cli.origin.clone(),
        build_id: cli.build_id.clone(),
        checkout_id: cli.checkout_id.clone(),
        start_time: cli.timestamp.map(|_| timestamp),
        path_prefix: cli.kcidb_path_prefix.clone(),
    };
    kcidb_opts
        .check()
        .map_err(|e| Failure::Usage(format!("KCIDB {e}")))?;
    let junit_path = match (&cli.output, &cli.junit) {
        (Some(o), Some(j)) if o != j => {
            return Err(Failure::Usage(
                "-o FILE is --junit=FILE: give one of them".into(),
            ));
        }
        (o, j) => o.as_ref().or(j.as_ref()),
    };
    if let Some(what) = &cli.raw_output {
        return run_raw(cli, what);
    }

    let (inputs, mut unreadable) = open_inputs(&cli.files);
    if inputs.is_empty() {
        // As kunit.py, which fails before it prints anything.
        return Ok(ExitCode::from(1));
    }
    let mut json_out = cli
        .json
        .as_deref()
        .map(|p| Output::open(p, &["stdout", "-"]))
        .transpose()
        .map_err(Failure::Io)?;
    let mut junit_out = junit_path
        .map(|p| Output::open(p, &["stdout", "-"]))
        .transpose()
        .map_err(Failure::Io)?;
    let mut kcidb_out = cli
        .kcidb
        .as_deref()
        .map(|p| Output::open(p, &["-"]))
        .transpose()
        .map_err(Failure::Io)?;
    let json_label = json_out.as_ref().map(|o| o.label.clone());
    let junit_label = junit_out.as_ref().map(|o| o.label.clone());
    let kcidb_label = kcidb_out.as_ref().map(|o| o.label.clone());
    let stream_error = |label: &Option<String>, e: io::Error| {
        Failure::Io(format!(
            "{}: write error: {e}",
            label.as_deref().unwrap_or_default()
        ))
    };

    let stdout = io::stdout();
    let color = stdout.is_terminal();
    let mut stdout = BufWriter::with_capacity(OUT_BUFFER, stdout.lock());
    let stdout_error = |e: io::Error| Failure::Io(format!("<stdout>: write error: {e}"));
    let mode = if cli.failed {
        Mode::Failed
    } else if cli.summary {
        Mode::Summary
    } else {
        Mode::Full
    };
    let mut printer = Printer::new(&mut stdout, color, offset);
    let mut report = if cli.quiet {
        None
    } else {
        Some(ReportStream::new(&mut printer, mode).map_err(stdout_error)?)
    };

    let mut json = match &mut json_out {
        Some(o) => {
            Some(json::JsonStream::new(&mut o.sink).map_err(|e| stream_error(&json_label, e))?)
        }
        None => None,
    };
    let mut junit = match &mut junit_out {
        Some(o) => {
            let opts = JunitOptions {
                name: cli.name.clone(),
                timestamp,
            };
            Some(JunitStream::new(&mut o.sink, &opts).map_err(|e| stream_error(&junit_label, e))?)
        }
        None => None,
    };
    let mut kcidb = match &mut kcidb_out {
        Some(o) => Some(
            KcidbStream::new(&mut o.sink, &kcidb_opts)
                .map_err(|e| stream_error(&kcidb_label, e))?,
        ),
        None => None,
    };
    // The default build id is a fingerprint of the inputs' bytes.
    let fingerprint = (kcidb.is_some() && cli.build_id.is_none())
        .then(|| Arc::new(Mutex::new(Fingerprint::default())));

    // Both writers take each top-level test as soon as it is complete, and
    // the parser then reuses its memory.
    let opts = ktap::Options {
        keep_all_logs: cli.all_logs,
        stream: true,
        ..ktap::Options::default()
    };
    // The first error of each streamed writer (the rest is not written).
    let (mut report_error, mut json_error, mut kcidb_error) = (None, None, None);
    // Runs of the inputs before this one (JUnit names the suites of later
    // runs after their run).
    let runs_before = Cell::new(0);
    let mut parsed_runs = Report::default();
    for (name, file) in inputs {
        let mut on_test = |run: usize, t: &ktap::Test| {
            if let Some(r) = &mut report
                && report_error.is_none()
                && let Err(e) = r.test(t)
            {
                report_error = Some(e);
            }
            if let Some(j) = &mut json
                && json_error.is_none()
                && let Err(e) = j.test(t)
            {
                json_error = Some(e);
            }
            if let Some(j) = &mut junit {
                j.test(runs_before.get() + run, t);
            }
            if let Some(k) = &mut kcidb
                && kcidb_error.is_none()
                && let Err(e) = k.test(runs_before.get() + run, t)
            {
                kcidb_error = Some(e);
            }
        };
        let (parsed, err) = match file {
            Some(f) => parse_input(f, fingerprint.as_ref(), &opts, &mut on_test),
            None => parse_input(io::stdin(), fingerprint.as_ref(), &opts, &mut on_test),
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
        if let Some(r) = &mut report {
            for run in &parsed.runs {
                if report_error.is_none()
                    && let Err(e) = r.run(run)
                {
                    report_error = Some(e);
                }
            }
        }
        runs_before.set(runs_before.get() + parsed.runs.len());
        parsed_runs.inputs.push((name, parsed));
    }

    // kunit.py's order: the report and its summary line, the JSON, the
    // JUnit; then the KCIDB document.
    if let Some(r) = report {
        if let Some(e) = report_error {
            return Err(stdout_error(e));
        }
        r.finish(parsed_runs.status(), &parsed_runs.counts())
            .map_err(stdout_error)?;
    }
    let notes = !cli.quiet;
    if let Some(j) = json {
        let counts = parsed_runs.counts();
        match json_error {
            Some(e) => Err(e),
            None => j.finish(&counts),
        }
        .map_err(|e| stream_error(&json_label, e))?;
    }
    if let Some(o) = json_out {
        // kunit.py prints a newline after the JSON on stdout only.
        finish_output(o, &mut printer, b"\n", notes)?;
    }
    if let Some(j) = junit {
        j.finish().map_err(|e| stream_error(&junit_label, e))?;
    }
    if let Some(o) = junit_out {
        finish_output(o, &mut printer, b"", notes)?;
    }
    if let Some(k) = kcidb {
        let input = fingerprint.map_or_else(Fingerprint::default, |f| {
            f.lock().unwrap_or_else(PoisonError::into_inner).clone()
        });
        match kcidb_error {
            Some(e) => Err(e),
            None => k.finish(&input).map(drop),
        }
        .map_err(|e| stream_error(&kcidb_label, e))?;
    }
    if let Some(o) = kcidb_out {
        // kunit.py has no KCIDB: no note.
        finish_output(o, &mut printer, b"", false)?;
    }
    printer.flush().map_err(stdout_error)?;
    Ok(if unreadable {
        ExitCode::from(1)
    } else {
        ExitCode::from(u8::try_from(parsed_runs.exit_code()).unwrap_or(1))
    })
}

/// A document written: copied to standard output after what was printed
/// there (then `after`), or its file flushed and, if `note`, named as
/// kunit.py names it.
fn finish_output<W: Write + ?Sized>(
    o: Output,
    printer: &mut Printer<'_, W>,
    after: &[u8],
    note: bool,
) -> Result<(), Failure> {
    let label = o.label;
    match o.sink {
        Sink::Stdout(d) => {
            let out = printer.raw();
            d.write_to(out)
                .and_then(|()| out.write_all(after))
                .map_err(|e| Failure::Io(format!("<stdout>: write error: {e}")))?;
        }
        Sink::File(mut f) => {
            f.flush()
                .map_err(|e| Failure::Io(format!("{label}: write error: {e}")))?;
            if note && let Some(path) = &o.path {
                printer
                    .line(&format!("Test results stored in {}", path.display()))
                    .map_err(|e| Failure::Io(format!("<stdout>: write error: {e}")))?;
            }
        }
    }
    Ok(())
}
