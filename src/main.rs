//! The `imdsbot` binary: parse the command line, set up logging, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = imdsbot::cli::Cli::parse();
    // `serve` logs its lifecycle at info by default; the one-shot commands only warn.
    let default = if matches!(cli.command, imdsbot::cli::Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("IMDSBOT_LOG_FORMAT").is_ok_and(|v| v.trim() == "json") {
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        builder.init();
    }
    imdsbot::cli::run(cli)
}
