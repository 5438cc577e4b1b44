//! `airgap bench`: frames per second of parsing and state update on a real log repeated in
//! memory, beside the `mavlink` crate's bare decode measured in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use airgap_core::throughput::{self, Corpus};
use anyhow::Context;
use clap::Args;
use serde_json::json;

#[derive(Args)]
pub struct BenchArgs {
    /// A .tlog to measure on (e.g. tests/fixtures/arducopter-sitl-flight.tlog).
    file: PathBuf,
    /// Repeat the log in memory to about this many megabytes.
    #[arg(long, default_value_t = 100)]
    size_mb: usize,
    /// Runs of each workload; the best is reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let log = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let corpus = Corpus::repeat(&log, args.size_mb * 1024 * 1024);
    if corpus.messages == 0 {
        anyhow::bail!("{} holds no MAVLink frames", args.file.display());
    }
    let runs = args.runs.max(1);
    let best = |f: &dyn Fn() -> u64| -> anyhow::Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..runs {
            let start = Instant::now();
            let n = f();
            let secs = start.elapsed().as_secs_f64();
            anyhow::ensure!(
                n == corpus.messages,
                "a workload saw {n} of {} messages",
                corpus.messages
            );
            best = best.min(secs);
        }
        Ok(corpus.messages as f64 / best)
    };
    let bare = best(&|| throughput::mavlink_reader(&corpus.frames))?;
    let parse = best(&|| throughput::parse(&corpus.tlog))?;
    let update = best(&|| throughput::parse_and_update(&corpus.tlog))?;
    let mb = corpus.tlog.len() as f64 / 1e6;
    if args.json {
        println!(
            "{}",
            json!({
                "file": args.file.display().to_string(),
                "bytes": corpus.tlog.len(),
                "messages": corpus.messages,
                "bad_records": corpus.stats.bad_records,
                "mavlink_reader_msgs_per_s": bare,
                "parse_msgs_per_s": parse,
                "parse_and_state_msgs_per_s": update,
                "parse_and_state_vs_bare": update / bare,
            })
        );
    } else {
        println!(
            "{} repeated to {mb:.0} MB: {} messages, best of {runs}",
            args.file.display(),
            corpus.messages
        );
        println!(
            "  mavlink crate, bare decode     {:>7.2} M msg/s",
            bare / 1e6
        );
        println!(
            "  airgap parse                   {:>7.2} M msg/s",
            parse / 1e6
        );
        println!(
            "  airgap parse + state + series  {:>7.2} M msg/s  ({:.0} % of bare decode)",
            update / 1e6,
            100.0 * update / bare
        );
    }
    Ok(ExitCode::SUCCESS)
}
