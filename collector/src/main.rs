//! `vigie-collector`: the thin binary over the library.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // Clap prints usage errors itself and exits with status 2.
    let cli = vigie_collector::cli::Cli::parse();
    // Logs go to stderr: stdout carries only a command's product (a token).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(vigie_collector::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(vigie_collector::cli::exit_code(&error))
        }
    }
}
