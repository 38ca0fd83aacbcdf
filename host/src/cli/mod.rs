//! The command line: one file per subcommand, each a clap struct whose field docs are its help.

mod admin_client;
mod build;
mod deploy;
mod dev;
mod host_limits;
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

    /// How log lines are written to stderr: `text` for people, `json` (one object per line)
    /// for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

/// The shape of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event, with its fields.
    Json,
}

#[derive(Subcommand)]
enum Command {
    Build(build::BuildArgs),
    Serve(serve::ServeArgs),
    Routes(routes::RoutesArgs),
    Dev(dev::DevArgs),
    Deploy(deploy::DeployArgs),
    Undeploy(deploy::UndeployArgs),
    Deployments(deploy::DeploymentsArgs),
    Rollback(deploy::RollbackArgs),
}

impl Cli {
    /// Runs the chosen subcommand to completion.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Build(args) => args.run(),
            Command::Serve(args) => args.run(),
            Command::Routes(args) => args.run(),
            Command::Dev(args) => args.run(),
            Command::Deploy(args) => args.run(),
            Command::Undeploy(args) => args.run(),
            Command::Deployments(args) => args.run(),
            Command::Rollback(args) => args.run(),
        }
    }
}

/// Sends `tracing` output to stderr, so stdout stays for what a command prints on purpose.
pub fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => logs.json().with_current_span(false).init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}
