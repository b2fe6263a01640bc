//! Helpers shared by the end-to-end tests: where the built programs are, scratch service
//! directories, processes that are killed (by pid / process group) when the test ends, and
//! polling on observable state. Tests assert behaviour, never timings.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use common;

/// Directory holding the built programs: `S6RS_BINDIR`, else the target dir of this build.
pub fn bindir() -> PathBuf {
    if let Some(d) = std::env::var_os("S6RS_BINDIR") {
        return PathBuf::from(d);
    }
    // tests/target/<profile>/deps/<test-binary> -> <target>/<profile>
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target dir")
}

/// Path of one of our programs (short or s6 name).
pub fn bin(name: &str) -> PathBuf {
    let p = bindir().join(name);
    assert!(
        p.exists(),
        "{} not built (run `cargo build --workspace` first)",
        p.display()
    );
    p
}

/// Debian's real s6 program, when installed (`apt-get install s6`), for interop tests.
pub fn real_s6(name: &str) -> Option<PathBuf> {
    let p = Path::new("/usr/bin").join(name);
    p.exists().then_some(p)
}

/// A scratch directory removed at drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("s6rs-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        Scratch { path }
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Write an executable script (`#!/bin/sh` prepended unless given).
pub fn write_script(path: &Path, body: &str) {
    let text = if body.starts_with("#!") {
        body.to_string()
    } else {
        format!("#!/bin/sh\n{body}\n")
    };
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
}

/// Make a service directory `parent/name` with a `run` script body.
pub fn make_service(parent: &Path, name: &str, run: &str) -> PathBuf {
    let d = parent.join(name);
    std::fs::create_dir_all(&d).expect("mkdir service");
    write_script(&d.join("run"), run);
    d
}

/// A process started in its own process group; at drop the whole group gets SIGKILL (by
/// pgid, never by name) and the child is reaped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        if cmd.get_program().is_empty() {
            panic!("empty program");
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
        Proc { child }
    }

    /// Start with stdin from /dev/null and stdout/stderr to files in `logdir`.
    pub fn spawn_logged(cmd: &mut Command, logdir: &Path, tag: &str) -> Proc {
        let out = std::fs::File::create(logdir.join(format!("{tag}.out"))).expect("log file");
        let err = std::fs::File::create(logdir.join(format!("{tag}.err"))).expect("log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        Proc::spawn(cmd)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Wait for exit up to `limit`; `None` if still running.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The process group we created for this child, then the child itself.
        let pid = nix::unistd::Pid::from_raw(self.pid());
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Kill every process of a session/group we know by id (services run in their own session).
pub fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) on a process group id taken from a status file we created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

/// Poll `pred` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The generous bound used when waiting for something that should happen "soon".
pub const SOON: Duration = Duration::from_secs(10);

/// Run a command to completion, capturing (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (pid, ppid, state letter) of every process, from `/proc/*/stat` (processes that vanish while
/// being read are left out).
pub fn proc_table() -> Vec<(i32, i32, char)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid ...": comm may hold spaces or parentheses.
        let Some(rp) = stat.rfind(')') else { continue };
        let mut f = stat[rp + 1..].split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, ppid, state));
    }
    out
}

/// The argv of a process (empty once it is gone or a zombie).
pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A supervisor (`supervise`, ours or Debian's) started on the service directory
/// `scratch/name`, its output logged to `name.sup.{out,err}`. At drop the service's process
/// group (from the status file) and the supervisor's are killed.
pub struct Supervisor {
    pub proc: Proc,
    pub dir: PathBuf,
}

impl Supervisor {
    /// Start `supervise` on `t/name` and wait until it answers on its control FIFO.
    pub fn start(supervise: &Path, t: &Scratch, name: &str) -> Supervisor {
        let mut cmd = Command::new(supervise);
        cmd.arg(name).current_dir(&t.path);
        let proc = Proc::spawn_logged(&mut cmd, &t.path, &format!("{name}.sup"));
        let dir = t.join(name);
        assert!(
            wait_until(SOON, || dir.join("supervise/status").exists()
                && common::control::send(&dir, "supervise", b"").is_ok()),
            "supervisor did not start on {}",
            dir.display()
        );
        Supervisor { proc, dir }
    }

    pub fn status(&self) -> common::status::StatusRecord {
        common::status::StatusRecord::read(&self.dir).expect("status")
    }

    /// Wait until the status satisfies `pred`; that status.
    pub fn wait(
        &self,
        pred: impl Fn(&common::status::StatusRecord) -> bool,
    ) -> common::status::StatusRecord {
        let mut last = None;
        let ok = wait_until(SOON, || {
            match common::status::StatusRecord::read(&self.dir) {
                Ok(st) => {
                    last = Some(st);
                    pred(&st)
                }
                Err(_) => false,
            }
        });
        assert!(ok, "status never matched; last {last:?}");
        last.expect("status")
    }

    /// Write `bytes` to `supervise/control`.
    pub fn ctl(&self, bytes: &[u8]) {
        common::control::send(&self.dir, "supervise", bytes).expect("control");
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Ok(st) = common::status::StatusRecord::read(&self.dir) {
            kill_group(st.pid_t());
        }
        // The supervisor's own group goes with `proc`.
    }
}

/// The supervisors to test against: ours, plus Debian's when installed.
pub fn supervisors() -> Vec<PathBuf> {
    let mut v = vec![bin("s6-supervise")];
    match real_s6("s6-supervise") {
        Some(p) => v.push(p),
        None => eprintln!("note: Debian's s6-supervise is not installed; interop part skipped"),
    }
    v
}
