//! `palisade run`: the supervisor.
//!
//! The order, and why:
//! 1. Load the policy and build the whole plan (paths resolved, symlinks checked) before any
//!    namespace exists: a policy that cannot be enforced exits 125 before the command runs.
//! 2. Clone the sandbox while this process is still single-threaded (no runtime yet). Init
//!    builds the root, brings `lo` up and hands back its listening sockets.
//! 3. Start the async runtime and the proxy on those sockets. Connections made before the
//!    proxy's first accept wait in the backlog, so the command need not wait for the proxy.
//! 4. Let init start the command; forward signals; enforce the timeout; wait.
//! 5. Report the exit status: the command's code, 128+N for signal N.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use palisade_sandbox::limits::{self, LimitHit, LimitSpec};
use palisade_sandbox::plan::{build_env, build_fs_plan};
use palisade_sandbox::{Outcome, Sandbox, SandboxSpec};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

use crate::{inputs, RunArgs};

/// The proxy's port inside the sandbox's own network namespace, where nothing else listens.
pub const PROXY_PORT: u16 = 3128;

/// A failure with the exit status it maps to (125 unless the command could not be started).
struct Failure {
    code: i32,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 125,
            error: e.into(),
        }
    }
}

pub fn main(args: RunArgs) -> i32 {
    match run(args) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("palisade: {:#}", f.error);
            f.code
        }
    }
}

fn run(args: RunArgs) -> Result<i32, Failure> {
    // 1.
    let eff = inputs::load(&args.policy)?;
    if let palisade_policy::PolicySource::CurrentDir(p) = &eff.source {
        // A policy file in the working directory could come from a cloned repository or an
        // earlier run: say which one applies, every time.
        eprintln!("palisade: policy from {}", p.display());
    }
    if eff.home.starts_with(&eff.workspace) {
        eprintln!(
            "palisade: warning: the workspace {} contains your home directory: start-up files \
             that do not exist yet (~/.profile, ~/.local/bin/...) can be created by the command",
            eff.workspace.display()
        );
    }
    // Credentials are resolved before anything else is set up: a missing one exits 125 with
    // nothing started and nothing created.
    let exe = std::env::current_exe().context("cannot find palisade's own executable")?;
    let sandbox_id = format!("sbx-{}-{}", std::process::id(), now_millis());
    let (proxy, proxy_add) = start_proxy(&eff.policy, &sandbox_id)?;
    let mut fs_in = inputs::fs_inputs(&eff)?;
    let mut changes = crate::changes::prepare(&eff, &args.command, &mut fs_in)?;
    let fs = build_fs_plan(&fs_in)?;
    for w in &fs.warnings {
        tracing::warn!("{w}");
    }
    let mut extra = palisade_proxy::sandbox_env(PROXY_PORT, &exe);
    extra.extend(proxy_add.env);
    let (pass, set) = env_rules(&eff.policy.env);
    let creds = proxy.credentials();
    let mut env = build_env(
        std::env::vars_os(),
        |n, v| palisade_policy::is_secret_env(n, v) || creds.withhold_env(n, v.as_bytes()),
        &pass,
        &set,
        &extra,
    );
    // Even a passed or set variable never carries a credential's value in (the placeholder
    // may share the source variable's name: only values are checked here).
    env.vars
        .retain(|(_, v)| !creds.contains_secret(v.as_encoded_bytes()));
    tracing::debug!(removed = ?env.removed, "environment scrubbed");
    let lim = &eff.policy.limits;
    let timeout = lim.timeout_duration().map_err(anyhow::Error::msg)?;
    let limit_spec = LimitSpec {
        memory: lim.memory_bytes().map_err(anyhow::Error::msg)?,
        pids: lim.pids,
        cpus: lim.cpus,
        open_files: lim.open_files,
        file_size: lim.file_size_bytes().map_err(anyhow::Error::msg)?,
        best_effort: lim.best_effort.unwrap_or(false),
    };
    if limit_spec.needs_cgroup() {
        limits::sweep_stale();
    }
    let prepared = limits::prepare(&limit_spec, &sandbox_id)?;
    for w in &prepared.warnings {
        eprintln!("palisade: warning: {w}");
    }
    let rlimits = prepared.rlimits;
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let spec = SandboxSpec {
        fs,
        env: env.vars,
        argv: args.command.clone(),
        cwd: inputs::start_dir(&eff),
        listeners: [
            std::net::SocketAddr::from(([127, 0, 0, 1], PROXY_PORT)),
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, PROXY_PORT)),
        ]
        .into_iter()
        // Credential endpoints after the proxy's two: `supervise` splits them off again.
        .chain(
            proxy
                .endpoint_ports()
                .into_iter()
                .map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], p))),
        )
        .collect(),
        hostname: "palisade".to_string(),
        files: proxy_add.files,
        uid,
        gid,
        landlock: palisade_sandbox::landlock::kernel_abi() >= 1,
        rlimits: Some(Box::new(move || limits::apply_rlimits(&rlimits))),
    };
    tracing::debug!(ops = ?spec.fs.ops, "mount plan");
    // 2.
    let sandbox = palisade_sandbox::spawn(&spec).map_err(|e| Failure {
        code: e.exit_code(),
        error: e.into(),
    })?;
    if !proxy.credentials().is_empty() {
        // After the clone (init must still write its own uid map), before the command runs.
        if let Err(e) = palisade_proxy::secret::non_dumpable() {
            sandbox.kill();
            sandbox.reap();
            return Err(anyhow!("cannot make the supervisor non-dumpable: {e}").into());
        }
    }
    if let Some(cg) = &prepared.cgroup {
        // Before the command exists, so every process it starts is counted.
        if let Err(e) = cg.add_pid(sandbox.init_pid) {
            sandbox.kill();
            sandbox.reap();
            return Err(e.into());
        }
    }
    // 3. The proxy holds two descriptors per tunnel; the sandbox already has its own limit.
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("cannot start the supervisor's event loop")?;
    let outcome = rt.block_on(supervise(&sandbox, proxy.clone(), timeout));
    sandbox.reap();
    let outcome = outcome?;
    let hit = match (&prepared.cgroup, &outcome) {
        (Some(cg), _) => cg.limit_hit(),
        (None, Ended::Command(Outcome::Signaled(sig))) => LimitHit::from_signal(&limit_spec, *sig),
        _ => None,
    };
    if let Some(hit) = hit {
        eprintln!("palisade: {hit}");
    }
    if let Some(cg) = prepared.cgroup {
        if let Err(e) = cg.remove() {
            tracing::warn!(error = %e, "cannot remove the run's cgroup");
        }
    }
    if !args.quiet {
        print_denied(&proxy);
    }
    // 5.
    let code = match outcome {
        Ended::Command(o) => o.code(),
        Ended::TimedOut(d) => {
            eprintln!("palisade: timeout {} reached: command killed", humantime(d));
            124
        }
    };
    if let Some(c) = &mut changes {
        c.code = Some(code);
    }
    Ok(code)
}

enum Ended {
    Command(Outcome),
    TimedOut(Duration),
}

async fn supervise(
    sandbox: &Sandbox,
    proxy: Arc<palisade_proxy::Proxy>,
    timeout: Option<Duration>,
) -> Result<Ended, Failure> {
    let listeners: Vec<_> = sandbox
        .listeners
        .iter()
        .take(2)
        .flatten()
        .filter_map(|l| l.try_clone().ok())
        .collect();
    let endpoints: Vec<_> = proxy
        .endpoint_ports()
        .into_iter()
        .zip(sandbox.listeners.iter().skip(2))
        .filter_map(|(port, l)| Some((port, l.as_ref()?.try_clone().ok()?)))
        .collect();
    let ep_proxy = proxy.clone();
    let _endpoint_task = tokio::spawn(async move {
        if endpoints.is_empty() {
            return;
        }
        if let Err(e) = ep_proxy.serve_endpoints(endpoints).await {
            tracing::error!(error = %e, "credential endpoints stopped");
        }
    });
    let _proxy_task = tokio::spawn(async move {
        if let Err(e) = proxy.serve(listeners).await {
            tracing::error!(error = %e, "proxy stopped");
        }
    });
    let mut signals = Vec::new();
    for (kind, num) in [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
        (SignalKind::quit(), libc::SIGQUIT),
        (SignalKind::window_change(), libc::SIGWINCH),
        (SignalKind::user_defined1(), libc::SIGUSR1),
        (SignalKind::user_defined2(), libc::SIGUSR2),
    ] {
        signals.push((signal(kind).context("cannot install signal handlers")?, num));
    }
    // 4.
    sandbox.start().map_err(|e| Failure {
        code: e.exit_code(),
        error: e.into(),
    })?;
    // SAFETY: the control socket belongs to `sandbox`, which outlives this registration.
    let ctl = unsafe { AsyncFd::register(Fd(sandbox.ctl_fd())) }
        .map_err(|e| anyhow!("cannot watch the control socket: {e}"))?;
    let deadline = async {
        match timeout {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        let forwarded = async {
            let futs = signals.iter_mut().map(|(s, n)| {
                let n = *n;
                Box::pin(async move {
                    s.recv().await;
                    n
                })
            });
            futures_select_all(futs).await
        };
        tokio::select! {
            r = ctl.readable() => {
                let mut guard = r.context("control socket")?;
                guard.retain_ready();
                let (outcome, notes) = sandbox.outcome().map_err(|e| anyhow!(e))?;
                for note in notes {
                    eprintln!("palisade: warning: {note}");
                }
                return Ok(Ended::Command(outcome));
            }
            sig = forwarded => sandbox.signal(sig),
            _ = &mut deadline => {
                sandbox.kill();
                return Ok(Ended::TimedOut(timeout.unwrap_or_default()));
            }
        }
    }
}

/// Waits for the first of several futures (a tiny stand-in for `futures::select_all`).
async fn futures_select_all<F: std::future::Future<Output = i32> + Unpin>(
    futs: impl Iterator<Item = F>,
) -> i32 {
    let mut futs: Vec<F> = futs.collect();
    std::future::poll_fn(move |cx| {
        for f in futs.iter_mut() {
            if let std::task::Poll::Ready(v) = std::pin::Pin::new(f).poll(cx) {
                return std::task::Poll::Ready(v);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

struct Fd(RawFd);
impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// `--env` flags are already folded into the policy's `env` table by `Policy::extend`.
fn env_rules(env: &palisade_policy::Env) -> (Vec<String>, Vec<(String, String)>) {
    let set = env
        .set
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (env.pass.clone(), set)
}

/// The proxy with its credentials resolved, and what the sandbox gets for them.
fn start_proxy(
    policy: &palisade_policy::Policy,
    sandbox_id: &str,
) -> Result<(Arc<palisade_proxy::Proxy>, palisade_proxy::SandboxAdditions), Failure> {
    let mut cfg = palisade_proxy::ProxyConfig::from_policy(policy, sandbox_id)?;
    if !policy.credentials.is_empty() {
        // No core file may ever hold a credential, from the moment one is read.
        palisade_proxy::secret::no_core_dumps().context("cannot disable core dumps")?;
    }
    let creds = palisade_proxy::Credentials::load(policy, &cfg)?;
    if creds.endpoint_ports().contains(&PROXY_PORT) {
        return Err(anyhow!("credential endpoint port {PROXY_PORT} is the proxy's own").into());
    }
    cfg.creds = Arc::new(creds);
    let proxy = palisade_proxy::Proxy::new(cfg)?;
    let add = proxy.sandbox_additions()?;
    Ok((proxy, add))
}

fn print_denied(proxy: &palisade_proxy::Proxy) {
    if let Some(line) = palisade_proxy::summary_line(&proxy.denied_summary()) {
        eprintln!("{line}");
    }
}

fn raise_nofile() {
    // SAFETY: reading and lowering/raising our own soft limit up to the hard limit.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
