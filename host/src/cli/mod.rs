//! The command line: one file per subcommand, each a clap struct whose field docs are its help.

mod build;
mod routes;
mod serve;

use clap::{Parser, Subcommand};

/// Next.js-style API routes as WebAssembly components.
#[derive(Parser)]
#[command(name = "routelet", version, about, long_about = None)]
pub struct Cli {
    /// Log more (-v: debug, -vv: trace). `RUST_LOG` overrides this.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Build(build::BuildArgs),
    Serve(serve::ServeArgs),
    Routes(routes::RoutesArgs),
}

impl Cli {
    /// Runs the chosen subcommand to completion.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Build(args) => args.run(),
            Command::Serve(args) => args.run(),
            Command::Routes(args) => args.run(),
        }
    }
}

/// Sends `tracing` output to stderr, so stdout stays for what a command prints on purpose.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
