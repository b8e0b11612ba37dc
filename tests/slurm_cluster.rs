//! deploy/slurm/sweep.sbatch on a real one-node Slurm cluster: the array sweep and the dependent
//! merge, submitted as the script's own header says, give CSVs (and plots) byte-identical to
//! one plain `dynosim run` of the same scenario.
//!
//! tests/sweep_shards.rs runs the script with the variables Slurm would set; this test lets
//! Slurm set them. It starts munged, slurmctld and slurmd from Debian's packages (slurmctld,
//! slurmd, slurm-client, munge; .ci/run installs them) with a generated slurm.conf and its own
//! MUNGE key, every file of theirs in a temporary folder, and stops them again by their pid
//! files, also when the test fails. The configuration suits a container: no cgroup plugin
//! (`ProctrackType=proctrack/linuxproc`, `TaskPlugin=task/none`), no accounting database (the
//! jobs' final states come from `JobCompType=jobcomp/filetxt`), free ports picked at start.
//!
//! Needs root (`SlurmUser=root`, and slurmd starts jobs as their user) and the Slurm and MUNGE
//! binaries. Without them the test says why and returns, except under `CI=true`, where it fails.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod cli_support;
use cli_support::{BIN, ok};

/// The daemons and clients the test starts; slurm-client's `sbatch` stands for the others.
const PROGRAMS: [&str; 7] = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "sinfo",
    "squeue",
    "scancel",
];

/// How long the node may take to register, and the whole sweep to finish, on a busy machine.
const NODE_TIMEOUT: Duration = Duration::from_secs(120);
const SWEEP_TIMEOUT: Duration = Duration::from_secs(900);

/// Where a program is: on PATH, or in the sbin folders a non-login root shell may lack.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Why the cluster cannot start here, if it cannot; under `CI=true` that is a failure.
fn skip_reason() -> Option<String> {
    let missing: Vec<&str> = PROGRAMS
        .into_iter()
        .filter(|p| program(p).is_none())
        .collect();
    // SAFETY: geteuid(2) has no side effects.
    let reason = if !missing.is_empty() {
        Some(format!(
            "Slurm/MUNGE programs not found: {} (apt-get install slurmctld slurmd slurm-client \
             munge)",
            missing.join(", ")
        ))
    } else if unsafe { libc::geteuid() } != 0 {
        Some("not root (the one-node cluster runs with SlurmUser=root)".to_string())
    } else {
        None
    };
    if let Some(r) = &reason {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but the Slurm cluster test cannot run: {r}");
        }
    }
    reason
}

/// The short host name, as slurmd derives its node name from it.
fn short_hostname() -> String {
    let h = nix::unistd::gethostname().expect("gethostname");
    let h = h.to_str().expect("utf-8 host name");
    h.split('.').next().unwrap_or(h).to_string()
}

/// Two TCP ports free right now (for slurmctld and slurmd), so a leftover or system Slurm on
/// the default ports does not answer this test's clients.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("0.0.0.0:0").expect("bind");
    let b = TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = |l: &TcpListener| l.local_addr().expect("local address").port();
    (port(&a), port(&b))
}

/// A daemon this test started: its name (to check a pid file's process before signalling
/// it) and its pid file.
struct Daemon {
    name: &'static str,
    pid_file: PathBuf,
}

/// The one-node cluster. Dropping it cancels this test's jobs and stops the daemons, newest
/// first, before its folder goes.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    node: String,
    daemons: Vec<Daemon>,
    jobs: Vec<String>,
}

impl Cluster {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A Slurm client or daemon pointed at this cluster's slurm.conf, with none of the
    /// submitting environment's Slurm or dynosim shard variables (the suite may itself run in
    /// a Slurm job; `sbatch` exports its environment to the job).
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(program(name).unwrap_or_else(|| PathBuf::from(name)));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("SLURM_") || k.starts_with("SBATCH_") || k.starts_with("SQUEUE_") {
                c.env_remove(&*k);
            }
        }
        for k in dynosim::shard::ENVIRONMENT {
            c.env_remove(k);
        }
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Run a command to completion; it must succeed.
    fn run(&self, mut c: Command, what: &str) -> Output {
        let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed ({}): {}{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.diagnostics()
        );
        out
    }

    /// "name pid, ..." of the daemons, from their pid files.
    fn pids(&self) -> String {
        let pid = |d: &Daemon| std::fs::read_to_string(&d.pid_file).unwrap_or_default();
        let v: Vec<String> = self
            .daemons
            .iter()
            .map(|d| format!("{} {}", d.name, pid(d).trim()))
            .collect();
        v.join(", ")
    }

    /// Start a daemon that forks into the background once it is ready, and remember its pid
    /// file to stop it by.
    fn start(&mut self, name: &'static str, c: Command, pid_file: PathBuf) {
        // Registered first: a daemon that wrote its pid file and then failed is still stopped.
        self.daemons.push(Daemon {
            name,
            pid_file: pid_file.clone(),
        });
        self.run(c, name);
        wait_for(
            Duration::from_secs(30),
            || pid_file.exists(),
            || format!("{name} wrote no pid file\n{}", self.diagnostics()),
        );
    }

    /// Start munged, slurmctld and slurmd; wait until the node is idle.
    fn start_all() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        // munged insists on a socket folder everyone may traverse, and on a key only its user
        // may read.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod");
        let run = dir.path().join("run");
        std::fs::create_dir(&run).expect("mkdir");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for d in ["spool", "state"] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        let key = dir.path().join("munge.key");
        let mut bytes = [0u8; 128];
        getrandom::fill(&mut bytes).expect("random key");
        std::fs::write(&key, bytes).expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");

        let node = short_hostname();
        let conf = dir.path().join("slurm.conf");
        let mut cluster = Cluster {
            dir,
            conf,
            node,
            daemons: Vec::new(),
            jobs: Vec::new(),
        };
        let socket = run.join("munge.socket");
        std::fs::write(&cluster.conf, cluster.slurm_conf(&socket)).expect("write slurm.conf");

        let mut munged = cluster.command("munged");
        munged
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                cluster.path("munged.pid").display()
            ))
            .arg(format!(
                "--log-file={}",
                cluster.path("munged.log").display()
            ))
            .arg(format!(
                "--seed-file={}",
                cluster.path("munged.seed").display()
            ));
        let pid = cluster.path("munged.pid");
        cluster.start("munged", munged, pid);
        let pid = cluster.path("slurmctld.pid");
        let ctld = cluster.command("slurmctld");
        cluster.start("slurmctld", ctld, pid);
        let pid = cluster.path("slurmd.pid");
        let slurmd = cluster.command("slurmd");
        cluster.start("slurmd", slurmd, pid);

        wait_for(
            NODE_TIMEOUT,
            || cluster.node_state().as_deref() == Some("idle"),
            || {
                format!(
                    "node {} not idle after {NODE_TIMEOUT:?} (state {:?})\n{}",
                    cluster.node,
                    cluster.node_state(),
                    cluster.diagnostics()
                )
            },
        );
        cluster
    }

    /// slurm.conf for one node, every path in this cluster's folder.
    fn slurm_conf(&self, munge_socket: &Path) -> String {
        let (ctld_port, slurmd_port) = free_ports();
        let p = |name: &str| self.path(name).display().to_string();
        // The script asks for 2 CPUs per task: a smaller machine still gets a 2-CPU node
        // (config_overrides: slurmd takes the configured size instead of draining the node).
        let cpus = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(2);
        let node = &self.node;
        format!(
            "# One-node cluster of tests/slurm_cluster.rs.
ClusterName=dynosim-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket}
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={ctld_pid}
SlurmdPidFile={slurmd_pid}
SlurmctldLogFile={ctld_log}
SlurmdLogFile={slurmd_log}
SlurmctldDebug=info
SlurmdDebug=info
# A container: no cgroup plugins, no accounting database.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={jobcomp}
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
SlurmdParameters=config_overrides
# A merge whose shards failed is cancelled, not left pending.
DependencyParameters=kill_invalid_depend
MinJobAge=3600
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=2048 State=UNKNOWN
PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP
",
            socket = munge_socket.display(),
            state = p("state"),
            spool = p("spool"),
            ctld_pid = p("slurmctld.pid"),
            slurmd_pid = p("slurmd.pid"),
            ctld_log = p("slurmctld.log"),
            slurmd_log = p("slurmd.log"),
            jobcomp = p("jobcomp.txt"),
        )
    }

    /// The node's state as sinfo reports it (`idle`, `down*`, ...), if slurmctld answers.
    fn node_state(&self) -> Option<String> {
        let mut c = self.command("sinfo");
        c.args(["--noheader", "--Node", "--format=%T", "--nodes", &self.node]);
        let out = c.output().ok().filter(|o| o.status.success())?;
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!s.is_empty()).then_some(s)
    }

    /// Submit with sbatch from `cwd`; the job id, from "Submitted batch job N" or --parsable.
    fn submit(&mut self, args: &[&str], env: &[(&str, &Path)], cwd: &Path) -> String {
        let mut c = self.command("sbatch");
        c.args(args).current_dir(cwd);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = self.run(c, &format!("sbatch {args:?}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let id = text
            .trim()
            .trim_start_matches("Submitted batch job ")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
            "sbatch printed no job id: {text}"
        );
        self.jobs.push(id.clone());
        id
    }

    /// Whether any of this test's jobs is still pending or running.
    fn jobs_queued(&self) -> bool {
        let mut c = self.command("squeue");
        c.args(["--noheader", "--format=%i", "--jobs", &self.jobs.join(",")]);
        // An error (slurmctld busy) counts as "still queued": the deadline bounds the wait.
        match c.output() {
            Ok(o) if o.status.success() => !o.stdout.iter().all(u8::is_ascii_whitespace),
            _ => true,
        }
    }

    /// Every finished job's record from the jobcomp/filetxt log, `JobId` -> (`Key` -> value).
    fn completed_jobs(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let text = std::fs::read_to_string(self.path("jobcomp.txt")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let fields: BTreeMap<String, String> = line
                    .split_whitespace()
                    .filter_map(|f| f.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (fields.get("JobId").cloned().unwrap_or_default(), fields)
            })
            .collect()
    }

    /// The daemons' logs and the jobs' outputs, for a failure message.
    fn diagnostics(&self) -> String {
        let mut s = String::new();
        let mut files: Vec<PathBuf> = ["munged.log", "slurmctld.log", "slurmd.log", "jobcomp.txt"]
            .iter()
            .map(|f| self.path(f))
            .collect();
        if let Ok(rd) = std::fs::read_dir(self.path("work")) {
            let mut outs: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "out"))
                .collect();
            outs.sort();
            files.extend(outs);
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            s += &format!("--- {} (last {} lines)\n", f.display(), tail.len());
            for l in tail {
                s += l;
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.jobs.is_empty() {
            let mut c = self.command("scancel");
            c.args(&self.jobs);
            let _ = c.output();
            let deadline = Instant::now() + Duration::from_secs(30);
            while self.jobs_queued() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        for d in self.daemons.iter().rev() {
            stop(d);
        }
    }
}

/// Stop a daemon by its pid file: SIGTERM, then SIGKILL if it is still there after 30 s. The
/// pid is checked against the daemon's name first, so a recycled pid is never signalled.
fn stop(d: &Daemon) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(pid) = std::fs::read_to_string(&d.pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        eprintln!("{}: no pid file {}", d.name, d.pid_file.display());
        return;
    };
    if !is_running(pid, d.name) {
        return;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    while is_running(pid, d.name) {
        if Instant::now() > deadline {
            eprintln!("{} (pid {pid}) ignored SIGTERM for 30 s: SIGKILL", d.name);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `pid` is a live (not zombie) process named `name`.
fn is_running(pid: i32, name: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ...": comm may hold spaces and parentheses, so split at the last ')'.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let state = stat[close + 1..].trim_start().chars().next();
    &stat[open + 1..close] == name && state != Some('Z')
}

/// Poll `done` once a second until it holds; panic with `why()` after `timeout`.
fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool, why: impl FnOnce() -> String) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn the_sbatch_sweep_and_merge_on_a_real_slurm_equal_one_run() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let started = Instant::now();
    let mut cluster = Cluster::start_all();
    let version = cluster.run(
        {
            let mut c = cluster.command("sinfo");
            c.arg("--version");
            c
        },
        "sinfo --version",
    );
    eprintln!(
        "{} cluster up in {:.1?}: node {} idle, daemons {}",
        String::from_utf8_lossy(&version.stdout).trim(),
        started.elapsed(),
        cluster.node,
        cluster.pids()
    );

    // The script's default scenario, submitted as its header says, from a scratch folder (the
    // jobs' slurm-*.out files land there) with the settings passed through the environment.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("deploy/slurm/sweep.sbatch");
    let script = script.to_str().expect("utf-8 path");
    let scenario = root.join("scenarios/tiers.toml");
    let work = cluster.path("work");
    std::fs::create_dir(&work).expect("mkdir");
    let out = work.join("results/tiers");
    let env = [
        ("DYNOSIM", Path::new(BIN)),
        ("SCENARIO", scenario.as_path()),
        ("OUT", out.as_path()),
    ];
    let sweep = cluster.submit(&["--parsable", script], &env, &work);
    let dependency = format!("--dependency=afterok:{sweep}");
    let merge = cluster.submit(
        &[
            &dependency,
            "--array=0",
            "--export=ALL,DYNOSIM_MERGE=1",
            script,
        ],
        &env,
        &work,
    );
    wait_for(
        SWEEP_TIMEOUT,
        || !cluster.jobs_queued(),
        || {
            format!(
                "jobs {sweep} and {merge} not done after {SWEEP_TIMEOUT:?}\n{}",
                cluster.diagnostics()
            )
        },
    );
    eprintln!("sweep and merge done in {:.1?}", started.elapsed());

    // Four array tasks (#SBATCH --array=0-3) and the merge, each COMPLETED with exit code 0.
    let done = cluster.completed_jobs();
    let tasks = |array: &str| -> Vec<(String, String)> {
        done.values()
            .filter(|f| f.get("ArrayJobId").map(String::as_str) == Some(array))
            .map(|f| {
                let get = |k: &str| f.get(k).cloned().unwrap_or_default();
                (
                    get("ArrayTaskId"),
                    format!("{} {}", get("JobState"), get("ExitCode")),
                )
            })
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect()
    };
    let ok_task = |k: &str| (k.to_string(), "COMPLETED 0:0".to_string());
    assert_eq!(
        tasks(&sweep),
        ["0", "1", "2", "3"].map(ok_task),
        "the array tasks\n{}",
        cluster.diagnostics()
    );
    assert_eq!(
        tasks(&merge),
        [ok_task("0")],
        "the merge\n{}",
        cluster.diagnostics()
    );
    for k in 0..4 {
        assert!(
            work.join(format!("results/tiers.shard-{k}-of-4/manifest.json"))
                .exists(),
            "shard {k} of 4 written\n{}",
            cluster.diagnostics()
        );
    }

    // One plain run of the same scenario: same files, same bytes (CSVs and plots; the
    // manifest says how the folder was made, so it differs).
    let whole = cluster.path("whole");
    ok(&[
        "run",
        scenario.to_str().expect("utf-8 path"),
        "--out",
        whole.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    let names = files(&whole);
    assert_eq!(
        names,
        files(&out),
        "the merged folder holds the run's files"
    );
    assert!(names.iter().any(|n| n == "summary.csv"), "{names:?}");
    let compared: Vec<&String> = names.iter().filter(|n| *n != "manifest.json").collect();
    for n in &compared {
        let (a, b) = (
            std::fs::read(whole.join(n)).expect("read"),
            std::fs::read(out.join(n)).expect("read"),
        );
        assert!(a == b, "{n} differs between one run and the Slurm sweep");
    }
    eprintln!(
        "{} files byte-identical ({} CSVs) in {:.1?}",
        compared.len(),
        compared.iter().filter(|n| n.ends_with(".csv")).count(),
        started.elapsed()
    );
}
