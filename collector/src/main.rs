//! `vigie-collector`: the thin binary over the library.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

// mimalloc, not glibc's malloc: allocation and freeing were a quarter of the collector's
// time under load (200 findings a report, each with its strings and evidence map). In
// alternated runs of the load test it raised PostgreSQL's steady rate by 14% (837 against
// 733 reports/s, three runs each) and left SQLite's where it was (1,121 against 1,118).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Clap prints usage errors itself and exits with status 2.
    let cli = vigie_collector::cli::Cli::parse();
    // Logs go to stderr: stdout carries only a command's product (a token). Colours only on
    // a terminal: journald and log files would store the escape codes.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(!no_color && std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            let lang = vigie_collector::i18n::process_lang();
            let message =
                vigie_collector::i18n::t(lang, "error.runtime", &[("error", error.to_string())]);
            let line = vigie_collector::i18n::t(lang, "error.line", &[("message", message)]);
            eprintln!("{line}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(vigie_collector::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let lang = vigie_collector::i18n::process_lang();
            let message = format!("{error:#}");
            let line = vigie_collector::i18n::t(lang, "error.line", &[("message", message)]);
            eprintln!("{line}");
            ExitCode::from(vigie_collector::cli::exit_code(&error))
        }
    }
}
