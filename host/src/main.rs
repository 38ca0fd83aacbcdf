//! `routelet`: build Next.js-style API routes into wasm components and serve them.

use clap::Parser;
use routelet::cli;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose, cli.log_format);
    match cli.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
