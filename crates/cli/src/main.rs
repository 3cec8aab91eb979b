//! `palisade`: run a command in a sandbox that holds against a hostile process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod changes;
mod check;
mod doctor;
mod inputs;
mod run;

#[derive(Parser)]
#[command(name = "palisade", version, about = "A sandbox runtime for AI agents")]
struct Cli {
    /// More diagnostics from the supervisor on stderr (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the sandbox.
    Run(RunArgs),
    /// Validate the policy and print the effective policy and mount plan.
    Check(PolicyArgs),
    /// What this host can enforce, and how to fix what it can't.
    Doctor,
    /// Review what `--fs overlay` runs wrote: list, diff, apply or discard.
    #[command(subcommand)]
    Changes(changes::ChangesCmd),
    /// Print an audit log as a table.
    Log {
        file: PathBuf,
        /// Only denied decisions.
        #[arg(long)]
        denied: bool,
        /// Keep printing new lines as they are written.
        #[arg(long)]
        follow: bool,
    },
    /// Internal: CONNECT through the sandbox's proxy and splice stdio (SSH ProxyCommand).
    #[command(hide = true)]
    ProxyConnect { host: String, port: u16 },
}

#[derive(Args, Clone, Default)]
pub struct PolicyArgs {
    /// TOML policy (default: ./palisade.toml, then ~/.config/palisade/config.toml, then the
    /// built-in default).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Writable root (default: the current directory).
    #[arg(long)]
    workspace: Option<String>,
    /// More writable paths.
    #[arg(long = "allow-write", value_name = "PATH")]
    allow_write: Vec<String>,
    /// More hidden paths.
    #[arg(long = "deny-read", value_name = "PATH")]
    deny_read: Vec<String>,
    /// Allowed network targets: host, *.host, host:port, or an IP literal.
    #[arg(long = "allow-domain", value_name = "PAT")]
    allow_domain: Vec<String>,
    /// Denied network targets (deny wins over allow).
    #[arg(long = "deny-domain", value_name = "PAT")]
    deny_domain: Vec<String>,
    /// Let allowed names resolve into this private or loopback range.
    #[arg(long = "allow-cidr", value_name = "CIDR")]
    allow_cidr: Vec<String>,
    /// Map a name to an address for this run (HOST:ADDR), like curl's --resolve.
    #[arg(long, value_name = "HOST:ADDR")]
    resolve: Vec<String>,
    /// Pass a host variable through (NAME) or set one (NAME=VALUE).
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// JSON-lines audit log of every network decision.
    #[arg(long = "audit-log", value_name = "FILE")]
    audit_log: Option<String>,
    /// Memory limit (e.g. 512M).
    #[arg(long)]
    memory: Option<String>,
    /// Process limit.
    #[arg(long)]
    pids: Option<u64>,
    /// CPU limit in cores (e.g. 1.5).
    #[arg(long)]
    cpus: Option<f64>,
    /// Wall-clock limit (e.g. 90s, 10m).
    #[arg(long)]
    timeout: Option<String>,
    /// Open files per process.
    #[arg(long = "open-files")]
    open_files: Option<u64>,
    /// Largest file a process may write (e.g. 1G).
    #[arg(long = "file-size")]
    file_size: Option<String>,
    /// Size of the private /tmp (e.g. 1G).
    #[arg(long = "tmp-size")]
    tmp_size: Option<String>,
    /// Run with the limits this host can enforce and print the others, instead of refusing.
    #[arg(long = "best-effort-limits")]
    best_effort_limits: bool,
    /// Where the workspace's writes go: the host (direct), a change set to review with
    /// `palisade changes` (overlay), or a tmpfs discarded at exit (tmpfs).
    #[arg(long = "fs", value_enum, value_name = "MODE")]
    fs: Option<FsModeArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FsModeArg {
    Direct,
    Overlay,
    Tmpfs,
}

impl From<FsModeArg> for palisade_policy::FsMode {
    fn from(m: FsModeArg) -> Self {
        match m {
            FsModeArg::Direct => palisade_policy::FsMode::Direct,
            FsModeArg::Overlay => palisade_policy::FsMode::Overlay,
            FsModeArg::Tmpfs => palisade_policy::FsMode::Tmpfs,
        }
    }
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// No summary of denied network targets on exit.
    #[arg(long, short)]
    quiet: bool,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<std::ffi::OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let code = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Check(args) => check::main(&args),
        Command::Doctor => doctor::main(),
        Command::Changes(cmd) => changes::main(cmd),
        Command::Log {
            file,
            denied,
            follow,
        } => {
            let mut out = std::io::stdout();
            match palisade_proxy::print_log(&file, denied, follow, &mut out) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("palisade: {}: {e}", file.display());
                    1
                }
            }
        }
        Command::ProxyConnect { host, port } => {
            match palisade_proxy::proxy_connect_stdio(
                palisade_proxy::proxy_addr_from_env(),
                &host,
                port,
            ) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("palisade proxy-connect: {e}");
                    1
                }
            }
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
        // Library chatter (a client's reset streams, TLS alerts) is the proxy's business and
        // lands in the audit log; it must not scroll through the user's terminal.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!(
                "{level},h2=error,hyper=error,rustls=error,tokio_rustls=error"
            ))
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
