//! `routelet`: build Next.js-style API routes into wasm components and serve them.

use clap::Parser;
use routelet::cli;

fn main() -> std::process::ExitCode {
    // Errors are captured without a backtrace, whatever RUST_BACKTRACE says: wasmtime hands
    // some host errors to guests as text (`to-debug-string`), and a backtrace there would give a
    // guest the host's frames and paths. Panics still print theirs under RUST_BACKTRACE.
    // SAFETY: the first statement of main, before any thread exists.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
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
