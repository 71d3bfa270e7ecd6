// SPDX-License-Identifier: GPL-2.0
//! The reference the reader layer is held to (tests only): the input split
//! at each `\n`, one line at a time, each line capped and decoded by
//! itself, lexed by `Lexer::lex` (the grammar, no shortcut of the reader)
//! and fed to the tree builder.  No chunks, no threads, no line scan.

use crate::ktap::{Lexer, Options, Parsed, Test, TreeBuilder, Warning};

/// What the core makes of `input`, its lines longer than `max_line` bytes
/// truncated.
pub(super) fn parse(
    input: &[u8],
    opts: &Options,
    max_line: usize,
    on_test: &mut dyn FnMut(usize, &Test),
) -> Parsed {
    let mut lexer = Lexer::new();
    let mut tree = TreeBuilder::new(opts.clone());
    let (mut line_no, mut truncated) = (0, 0);
    let mut rest = input;
    while !rest.is_empty() {
        let (mut line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (&rest[..nl], &rest[nl + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        line_no += 1;
        if line.len() > max_line {
            line = &line[..max_line];
            truncated += 1;
        }
        let text = String::from_utf8_lossy(line);
        let lexed = lexer.lex(&text, tree.is_idle());
        tree.feed(&lexed, line_no);
        tree.hand_over(on_test);
    }
    let mut parsed = tree.finish(on_test);
    if truncated > 0 {
        parsed.warnings.push(Warning {
            line: line_no,
            message: format!("{truncated} line(s) longer than {max_line} bytes were truncated"),
        });
    }
    parsed
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use proptest::strategy::Strategy;

    use super::super::{Config, Input, one_thread, tests::OUT_OF_STEP, threads};
    use super::*;
    use crate::ktap::Status;

    /// The oracle's result.
    fn want(input: &[u8], opts: &Options, max_line: usize) -> Parsed {
        parse(input, opts, max_line, &mut |_, _| {})
    }

    /// The reader's result with `cfg`, in one thread and with workers.
    fn got(input: &[u8], opts: &Options, cfg: &Config) -> [(Parsed, Option<io::Error>); 2] {
        let single = one_thread(Input::new(input), opts, &mut |_, _| {}, cfg);
        let threaded = threads::parse(io::Cursor::new(input.to_vec()), opts, &mut |_, _| {}, cfg);
        [single, threaded]
    }

    /// The reader gives the oracle's result for `input` with every
    /// configuration in `cfgs`.
    fn check(input: &[u8], opts: &Options, cfgs: &[Config]) {
        for cfg in cfgs {
            let want = want(input, opts, cfg.max_line);
            for (i, (got, err)) in got(input, opts, cfg).into_iter().enumerate() {
                let how = if i == 0 { "one thread" } else { "threads" };
                assert!(err.is_none(), "{how}, {cfg:?}: {err:?}");
                assert_eq!(got.runs, want.runs, "{how}, {cfg:?}");
                assert_eq!(got.warnings, want.warnings, "{how}, {cfg:?}");
            }
        }
    }

    /// Configurations whose chunk boundaries fall everywhere.
    fn configs(max_line: usize) -> Vec<Config> {
        let mut cfgs = Vec::new();
        for workers in 1..=3 {
            for chunk in [7, 64, 1000, 1 << 19] {
                cfgs.push(Config {
                    workers,
                    chunk,
                    max_line,
                });
            }
        }
        cfgs
    }

    /// A log of several MB with runs that start and end at random places
    /// (so near chunk boundaries too), prefixes that change between runs,
    /// version lines inside runs and between them, end markers and noise.
    /// With `ended`, every run ends with an end marker.
    fn tricky_log(seed: u64, ended: bool, size: usize) -> Vec<u8> {
        let mut x = seed;
        let mut rnd = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let prefixes = ["[  1.000000] ", "<6>[    2.5] ", "kunit: ", "", "[  T1] "];
        let mut out = Vec::new();
        let mut t = 0;
        while out.len() < size {
            let p = prefixes[rnd(prefixes.len() as u64) as usize];
            let suites = 1 + rnd(30);
            out.extend_from_slice(format!("boot noise {t} TAP version x\n").as_bytes());
            out.extend_from_slice(format!("{p}KTAP version 1\n{p}1..{suites}\n").as_bytes());
            for s in 1..=suites {
                t += 1;
                let cases = rnd(40);
                out.extend_from_slice(
                    format!("{p}    KTAP version 1\n{p}    # Subtest: s{t}\n{p}    1..{cases}\n")
                        .as_bytes(),
                );
                for c in 1..=cases {
                    match rnd(20) {
                        0 => out.extend_from_slice(format!("{p}    # diag of c{c}\n").as_bytes()),
                        1 => out.extend_from_slice(b"[  9.9] TAP version 13\n"),
                        2 => {
                            out.extend_from_slice(format!("{p}noise {c} ").as_bytes());
                            out.extend_from_slice(b"\xff\xfe invalid\n");
                        }
                        3..=8 => {
                            // Driver output: plain log lines.
                            for l in 0..rnd(12) {
                                let pad = "x".repeat(rnd(60) as usize);
                                out.extend_from_slice(
                                    format!("{p}    drv{c}: probing {l} {pad}\n").as_bytes(),
                                );
                            }
                        }
                        9 => out.extend_from_slice(format!("{p}    # speed: slow\r\n").as_bytes()),
                        _ => {}
                    }
                    let ok = if rnd(10) == 0 { "not ok" } else { "ok" };
                    out.extend_from_slice(format!("{p}    {ok} {c} c{c}\n").as_bytes());
                }
                if rnd(50) == 0 {
                    // The run ends inside a suite.
                    out.extend_from_slice(b"[ 3.0] Kernel panic - not syncing: VFS: no root\n");
                    break;
                }
                out.extend_from_slice(format!("{p}ok {s} s{t}\n").as_bytes());
            }
            if rnd(4) == 0 {
                // kselftest's nested TAP after the plan, and a stray result.
                out.extend_from_slice(
                    format!("{p}# selftests: x\n{p}# TAP version 13\n{p}# 1..1\n{p}# ok 1 n\n")
                        .as_bytes(),
                );
                out.extend_from_slice(format!("{p}ok {} stray{t}\n", suites + 1).as_bytes());
            }
            if ended || rnd(3) == 0 {
                out.extend_from_slice(b"[ 4.0] reboot: System halted\n");
            }
        }
        out
    }

    #[test]
    fn reading_in_chunks_gives_the_oracles_result() {
        let keep_all_short = Options {
            keep_all_logs: true,
            max_log_bytes: 400,
            ..Options::default()
        };
        for seed in 1..=4 {
            let log = tricky_log(seed, seed % 2 == 0, 200_000);
            check(&log, &Options::default(), &configs(MAX_LINE));
            check(&log, &keep_all_short, &configs(MAX_LINE));
        }
        // Several MB, with the default chunk size.
        let big = tricky_log(5, false, 4 << 20);
        for workers in 1..=3 {
            let cfg = Config {
                workers,
                ..Config::default()
            };
            check(&big, &Options::default(), std::slice::from_ref(&cfg));
            let keep_all = Options {
                keep_all_logs: true,
                ..Options::default()
            };
            check(&big, &keep_all, &[cfg]);
        }
    }

    const MAX_LINE: usize = super::super::MAX_LINE_BYTES;

    #[test]
    fn long_lines_are_cut_at_the_cap_wherever_the_chunks_end() {
        let mut input = b"[  1.0] boot\n[  1.0] KTAP version 1\r\n[  1.0] 1..2\n".to_vec();
        input.extend_from_slice(b"[  1.1] # diag \xff\xfe invalid\n[  1.2] ok 1 first\n");
        input.extend_from_slice(&[b'x'; 300]);
        input.extend_from_slice("\u{e9}\u{e9}\u{e9}".as_bytes());
        input.extend_from_slice(b"\n[  1.3] not ok 2 second # TIMEOUT\n");
        input.extend_from_slice(&[b'y'; 100]);
        input.extend_from_slice(b"\n[  1.4] tail");
        for max_line in [99, 100, 101, 301, 302, 303, 1 << 20] {
            check(&input, &Options::default(), &configs(max_line));
        }
        let w = want(&input, &Options::default(), 100);
        assert!(
            w.warnings
                .iter()
                .any(|w| w.message == "1 line(s) longer than 100 bytes were truncated"),
            "{:?}",
            w.warnings
        );
        // Lines of the real cap, and far longer than a chunk.
        let mut long = b"KTAP version 1\n1..1\n".to_vec();
        long.extend_from_slice(&vec![b'y'; MAX_LINE]);
        long.push(b'\n');
        for _ in 0..2 {
            long.extend_from_slice(&vec![b'z'; 3 * MAX_LINE]);
            long.push(b'\n');
        }
        long.extend_from_slice(b"ok 1 after\n");
        long.extend_from_slice(&vec![b'z'; MAX_LINE + 1]);
        let cfgs: Vec<Config> = (1..=2)
            .map(|workers| Config {
                workers,
                ..Config::default()
            })
            .collect();
        check(&long, &Options::default(), &cfgs);
        let w = want(&long, &Options::default(), MAX_LINE);
        assert!(
            w.warnings
                .iter()
                .any(|w| w.message.starts_with("3 line(s) longer than")),
            "{:?}",
            w.warnings
        );
    }

    /// Returns its data in pieces, then fails.
    struct Failing(Vec<u8>, usize);

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = out.len().min(1000).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn read_errors_keep_the_complete_lines() {
        let mut input = b"KTAP version 1\n1..3\nok 1 a\nok 2 b\n".to_vec();
        input.extend_from_slice(&[b'#'; 5000]);
        input.extend_from_slice(b"\nok 3 partial-line");
        let complete = &input[..=input.iter().rposition(|&b| b == b'\n').expect("a line")];
        let want = want(complete, &Options::default(), MAX_LINE);
        for cfg in configs(MAX_LINE) {
            let single = one_thread(
                Input::new(Failing(input.clone(), 0)),
                &Options::default(),
                &mut |_, _| {},
                &cfg,
            );
            let threaded = threads::parse(
                Failing(input.clone(), 0),
                &Options::default(),
                &mut |_, _| {},
                &cfg,
            );
            for (got, err) in [single, threaded] {
                assert!(err.is_some(), "{cfg:?}");
                assert_eq!(got.runs, want.runs, "{cfg:?}");
                assert_eq!(got.warnings, want.warnings, "{cfg:?}");
            }
        }
        // "ok 3" never completed: test 3 is missing.
        assert_eq!(want.runs[0].subtests.len(), 3);
        assert!(want.runs[0].subtests[2].missing);
        assert_eq!(want.runs[0].status, Status::Crashed);
    }

    /// Workers start each chunk from the right lexer state: a wrong one
    /// would only cost time (the tree-building thread lexes the lines
    /// again), so count those lines.  The tree builder's lexer leaves the
    /// workers' only when it restarts between runs for a version line with
    /// a new prefix (not after an end marker): that costs the same with
    /// any number of workers.
    #[test]
    fn workers_start_from_the_state_after_the_previous_chunk() {
        for seed in 1..=6 {
            let ended = seed % 2 == 0;
            let log = tricky_log(seed, ended, 2 << 20);
            let mut one_worker = 0;
            for workers in 1..=3 {
                OUT_OF_STEP.with(|n| n.set(0));
                let cfg = Config {
                    workers,
                    chunk: 1 << 16,
                    ..Config::default()
                };
                let (got, err) = threads::parse(
                    io::Cursor::new(log.clone()),
                    &Options::default(),
                    &mut |_, _| {},
                    &cfg,
                );
                assert!(err.is_none());
                assert!(got.runs.len() > 3, "seed {seed}: {} runs", got.runs.len());
                let out_of_step = OUT_OF_STEP.with(std::cell::Cell::get);
                if workers == 1 {
                    one_worker = out_of_step;
                }
                assert_eq!(out_of_step, one_worker, "seed {seed}, {workers} workers");
                if ended {
                    assert_eq!(out_of_step, 0, "seed {seed}, {workers} workers");
                }
            }
        }
    }

    #[test]
    fn streamed_tests_are_the_subtests_of_their_runs() {
        let log = tricky_log(7, false, 1 << 20);
        let whole = want(&log, &Options::default(), MAX_LINE);
        let opts = Options {
            stream: true,
            ..Options::default()
        };
        let mut from_oracle: Vec<(usize, Test)> = Vec::new();
        let shallow_want = parse(&log, &opts, MAX_LINE, &mut |run, t| {
            from_oracle.push((run, t.clone()));
        });
        assert_eq!(shallow_want.warnings, whole.warnings);
        for cfg in configs(MAX_LINE).into_iter().filter(|c| c.chunk >= 1000) {
            let mut streamed: Vec<(usize, Test)> = Vec::new();
            let (shallow, err) = threads::parse(
                io::Cursor::new(log.clone()),
                &opts,
                &mut |run, t| streamed.push((run, t.clone())),
                &cfg,
            );
            assert!(err.is_none());
            assert_eq!(shallow.runs, shallow_want.runs, "{cfg:?}");
            assert_eq!(shallow.warnings, whole.warnings, "{cfg:?}");
            assert!(streamed == from_oracle, "{cfg:?}");
        }
        // The handed-over tests are exactly the subtests of the runs.
        let mut by_run: Vec<Vec<Test>> = vec![Vec::new(); whole.runs.len()];
        for (run, t) in from_oracle {
            by_run[run].push(t);
        }
        for ((run, tests), full) in shallow_want.runs.iter().zip(by_run).zip(&whole.runs) {
            assert!(run.subtests.is_empty());
            let mut rebuilt = run.clone();
            rebuilt.subtests = tests;
            assert_eq!(&rebuilt, full);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// A bounded fuzz run on the stable toolchain: random bytes and
        /// KTAP-like lines, read in chunks of every size by one to three
        /// workers with a short line cap, give the oracle's result, with
        /// every log kept too.
        #[test]
        fn any_input_gives_the_oracles_result(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
                    proptest::sample::select(vec![
                        "KTAP version 1\n", "TAP version 13\n", "1..2\n", "    1..1\n",
                        "    KTAP version 1\n", "    # Subtest: s\n", "ok 1 s\n",
                        "not ok 2 t # SKIP x\n", "    ok 1 a\n", "# diag\n", "# TAP version 13\n",
                        "# ok 1 nested\n", "[    1.000000] ", "<6>[  2.0][  T1] ",
                        "reboot: System halted\n", "\r\n", "\n", "\u{e9}",
                        "List of all partitions:\n", "kunit executor: x\n",
                    ]).prop_map(|s| s.as_bytes().to_vec()),
                ],
                0..60,
            ),
            workers in 1usize..=3,
            chunk in 1usize..200,
            max_line in 1usize..120,
            keep_all in proptest::prelude::any::<bool>(),
        ) {
            let input = pieces.concat();
            let opts = Options {
                keep_all_logs: keep_all,
                max_log_bytes: if keep_all { 64 } else { 64 * 1024 },
                ..Options::default()
            };
            let cfg = Config { workers, chunk, max_line };
            let want = want(&input, &opts, max_line);
            for (got, err) in got(&input, &opts, &cfg) {
                proptest::prop_assert!(err.is_none());
                proptest::prop_assert_eq!(&got.runs, &want.runs);
                proptest::prop_assert_eq!(&got.warnings, &want.warnings);
            }
        }
    }
}
