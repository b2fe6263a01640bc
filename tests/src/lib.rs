//! Helpers shared by the end-to-end tests, once: where the built programs are, scratch
//! service directories, processes that are killed (by pid / process group) when the test
//! ends, the process table, status readers and polling waits on observable state, a
//! supervisor ([`Sup`]) and a scan directory with its s6-svscan ([`Scan`]), and [`skip`].
//! Tests assert behaviour, never timings: no sleep is followed by an assertion.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use common;
use common::status::StatusRecord;
use common::{control, layout};

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

/// Poll `pred` every 10 ms for `span`; whether it held every time. For "nothing happens"
/// checks: a failure shows as soon as it happens, and a pass never depends on a sleep.
pub fn stays_true(span: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + span;
    while Instant::now() < end {
        if !pred() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    pred()
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

/// Skip the current test for `why` (the caller returns right after). With
/// `S6RS_REQUIRE_ALL=1` (set by `.ci/run`) a skip is a failure: CI must run every test.
pub fn skip(why: impl std::fmt::Display) {
    if std::env::var_os("S6RS_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("test cannot run here, and S6RS_REQUIRE_ALL=1: {why}");
    }
    eprintln!("skipped: {why}");
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

// ---- the process table -------------------------------------------------------------------

/// Process state letter, `None` if gone.
pub fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rp = stat.rfind(')')?;
    stat.get(rp + 1..)?
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    pid > 0 && matches!(state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// Live (non-zombie) children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    proc_table()
        .into_iter()
        .filter(|&(_, pp, st)| pp == pid && st != 'Z' && st != 'X')
        .map(|(p, _, _)| p)
        .collect()
}

/// Zombie children of `pid`.
pub fn zombies_of(pid: i32) -> Vec<i32> {
    proc_table()
        .into_iter()
        .filter(|&(_, pp, st)| pp == pid && st == 'Z')
        .map(|(p, _, _)| p)
        .collect()
}

/// Resident set size in kB (VmRSS), 0 if unknown.
pub fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Number of open file descriptors.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Send `sig` to `pid` (never to 0, 1 or a group).
pub fn kill(pid: i32, sig: i32) {
    if pid > 1 {
        // SAFETY: kill(2) on a pid this test started or read from a status file it created.
        unsafe { libc::kill(pid, sig) };
    }
}

/// SIGKILL a pid and its process group (services run in their own session).
pub fn kill_pid_and_group(pid: i32) {
    if pid > 1 {
        kill_group(pid);
        kill(pid, libc::SIGKILL);
    }
}

// ---- status readers and waits ------------------------------------------------------------

pub fn status(svdir: &Path) -> Option<StatusRecord> {
    StatusRecord::read(svdir).ok()
}

pub fn up_pid(svdir: &Path) -> Option<i32> {
    status(svdir).filter(|s| s.is_up()).map(|s| s.pid_t())
}

/// Wait until the service is up with a live pid other than `not`; its pid.
pub fn wait_up_other(svdir: &Path, not: i32) -> i32 {
    let mut pid = 0;
    assert!(
        wait_until(SOON, || {
            pid = up_pid(svdir).unwrap_or(0);
            pid != 0 && pid != not && alive(pid)
        }),
        "{} up (not {not}); status {:?}",
        svdir.display(),
        status(svdir)
    );
    pid
}

/// Wait until the service is up with a live pid; its pid.
pub fn wait_up(svdir: &Path) -> i32 {
    wait_up_other(svdir, 0)
}

pub fn wait_down(svdir: &Path) {
    assert!(
        wait_until(SOON, || status(svdir).is_some_and(|s| !s.is_up())),
        "{} down; status {:?}",
        svdir.display(),
        status(svdir)
    );
}

/// Every service pid ever seen, killed (with its group) at drop.
#[derive(Default)]
pub struct Reaper {
    pub pids: Vec<i32>,
}

impl Reaper {
    pub fn add(&mut self, pid: i32) {
        if pid > 1 && !self.pids.contains(&pid) {
            self.pids.push(pid);
        }
    }

    /// Record the current pid of every service dir given.
    pub fn collect(&mut self, dirs: &[PathBuf]) {
        for d in dirs {
            if let Some(s) = status(d) {
                self.add(s.pid_t());
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for &p in &self.pids {
            kill_pid_and_group(p);
        }
    }
}

// ---- a supervisor ------------------------------------------------------------------------

/// A supervisor (`s6-supervise`, ours or Debian's) on one service directory, in its own
/// process group, its output logged to files. At drop the supervisor's group goes (with
/// `proc`), and every service pid ever seen in the status file, with its group.
pub struct Sup {
    pub proc: Proc,
    pub dir: PathBuf,
    err: PathBuf,
    seen: std::cell::RefCell<Reaper>,
}

impl Sup {
    /// Our s6-supervise on `scratch/name`, started as s6-svscan does (cwd = the parent,
    /// argument = the name).
    pub fn start(scratch: &Scratch, name: &str) -> Sup {
        Sup::start_with(scratch, name, |_| {})
    }

    /// The same, with the command adjusted by `f` first (`pre_exec`, environment).
    pub fn start_with(scratch: &Scratch, name: &str, f: impl FnOnce(&mut Command)) -> Sup {
        let mut cmd = Command::new(bin("s6-supervise"));
        cmd.arg(name).current_dir(&scratch.path);
        f(&mut cmd);
        Sup::start_cmd(&mut cmd, &scratch.join(name), &scratch.path)
    }

    /// The supervisor at `supervise` (ours or Debian's) on `scratch/name`.
    pub fn start_bin(supervise: &Path, scratch: &Scratch, name: &str) -> Sup {
        let mut cmd = Command::new(supervise);
        cmd.arg(name).current_dir(&scratch.path);
        Sup::start_cmd(&mut cmd, &scratch.join(name), &scratch.path)
    }

    /// A prepared command (e.g. under setpriv) supervising `svdir`; output in `logdir`.
    /// Returns once the supervisor listens on its control FIFO.
    pub fn start_cmd(cmd: &mut Command, svdir: &Path, logdir: &Path) -> Sup {
        let tag = format!(
            "{}.sup",
            svdir.file_name().unwrap_or_default().to_string_lossy()
        );
        let proc = Proc::spawn_logged(cmd, logdir, &tag);
        let s = Sup {
            proc,
            dir: svdir.to_path_buf(),
            err: logdir.join(format!("{tag}.err")),
            seen: Default::default(),
        };
        assert!(
            wait_until(SOON, || s.dir.join(layout::STATUS).exists()
                && control::send(&s.dir, layout::SUPERVISE_DIR, b"").is_ok()),
            "supervisor did not start on {}; stderr: {}",
            s.dir.display(),
            s.stderr()
        );
        s
    }

    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// The status now (its pid is remembered for the final cleanup).
    pub fn status(&self) -> StatusRecord {
        let st = StatusRecord::read(&self.dir).expect("status");
        self.seen.borrow_mut().add(st.pid_t());
        st
    }

    /// Record the current service pid for the final cleanup.
    pub fn note(&self) {
        if let Some(st) = status(&self.dir) {
            self.seen.borrow_mut().add(st.pid_t());
        }
    }

    /// Wait until the status satisfies `pred` (saying `what` if it never does); that status.
    pub fn wait_status(&self, what: &str, pred: impl Fn(&StatusRecord) -> bool) -> StatusRecord {
        let mut last = None;
        let ok = wait_until(SOON, || match status(&self.dir) {
            Some(st) => {
                self.seen.borrow_mut().add(st.pid_t());
                last = Some(st);
                pred(&st)
            }
            None => false,
        });
        assert!(
            ok,
            "waiting for {what}: last status {last:?}; stderr: {}",
            self.stderr()
        );
        last.expect("status")
    }

    pub fn wait(&self, pred: impl Fn(&StatusRecord) -> bool) -> StatusRecord {
        self.wait_status("a status", pred)
    }

    pub fn wait_up(&self) -> StatusRecord {
        self.wait_status("up", |s| s.is_up())
    }

    pub fn wait_up_other_than(&self, pid: u64) -> StatusRecord {
        self.wait_status("up again", |s| s.is_up() && s.pid != pid)
    }

    pub fn wait_down(&self) -> StatusRecord {
        self.wait_status("down", |s| s.pid == 0 && !s.finishing)
    }

    /// Write `bytes` to `supervise/control`.
    pub fn ctl(&self, bytes: &[u8]) {
        control::send(&self.dir, layout::SUPERVISE_DIR, bytes).expect("control");
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.proc.child.try_wait(), Ok(None))
    }

    /// Wait for the supervisor to exit; its exit code (-1 for a signal), `None` if it runs on.
    pub fn wait_exit(&mut self) -> Option<i32> {
        self.proc
            .wait_timeout(SOON)
            .map(|st| st.code().unwrap_or(-1))
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        self.note();
        // The supervisor's own group goes with `proc`; the services with `seen`.
    }
}

/// The supervisors to test against: ours, plus Debian's when installed.
pub fn supervisors() -> Vec<PathBuf> {
    let mut v = vec![bin("s6-supervise")];
    match real_s6("s6-supervise") {
        Some(p) => v.push(p),
        None => skip("Debian's s6-supervise is not installed: interop part"),
    }
    v
}

// ---- a scan directory --------------------------------------------------------------------

/// The s6-supervise child of `svscan` supervising `name`.
pub fn supervise_pid_of(svscan: i32, name: &str) -> Option<i32> {
    children(svscan)
        .into_iter()
        .find(|&p| cmdline(p) == ["s6-supervise", name])
}

/// A scan directory (`scratch/scan`) and its s6-svscan (own process group). At drop:
/// svscan's group (svscan and its supervisors) is killed, then every supervisor in `extra`
/// and every service, by the pid in its status file and every pid in `reaper`.
pub struct Scan {
    pub dir: PathBuf,
    pub proc: Option<Proc>,
    pub reaper: Reaper,
    /// Supervisors known by pid (they may have been orphaned by killing svscan).
    pub extra: Vec<i32>,
    pub scratch: Scratch,
}

impl Scan {
    pub fn new(tag: &str) -> Scan {
        let scratch = Scratch::new(tag);
        let dir = scratch.join("scan");
        std::fs::create_dir_all(&dir).expect("mkdir scan");
        Scan {
            dir,
            proc: None,
            reaper: Reaper::default(),
            extra: Vec::new(),
            scratch,
        }
    }

    pub fn svdir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A path in the scratch directory, beside the scan directory.
    pub fn tmp(&self, p: &str) -> PathBuf {
        self.scratch.join(p)
    }

    /// Start our s6-svscan with `args`; returns its pid once it listens.
    pub fn start(&mut self, args: &[&str]) -> i32 {
        let mut cmd = Command::new(bin("s6-svscan"));
        cmd.args(args).arg(&self.dir).current_dir(&self.dir);
        let p = Proc::spawn_logged(&mut cmd, &self.scratch.path, "svscan");
        let pid = p.pid();
        self.proc = Some(p);
        let d = self.dir.clone();
        assert!(
            wait_until(SOON, || control::send(&d, layout::SVSCAN_DIR, b"").is_ok()),
            "s6-svscan listening; stderr: {}",
            self.stderr()
        );
        pid
    }

    /// Start the s6-svscan at `exe` (a copy placed by the test), with no PATH to fall back
    /// on for s6-supervise; its output goes to `log`.out/.err; its pid.
    pub fn start_exe(&mut self, exe: &Path, log: &str) -> i32 {
        let mut cmd = Command::new(exe);
        cmd.arg(&self.dir)
            .current_dir(&self.dir)
            .env("PATH", "/nonexistent");
        let p = Proc::spawn_logged(&mut cmd, &self.scratch.path, log);
        let pid = p.pid();
        self.proc = Some(p);
        pid
    }

    pub fn pid(&self) -> i32 {
        self.proc.as_ref().map_or(0, Proc::pid)
    }

    pub fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("svscan started")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.scratch.join("svscan.err")).unwrap_or_default()
    }

    /// `s6-svscanctl -LETTERS` -> (exit code, stderr).
    pub fn ctl(&self, letters: &str) -> (i32, String) {
        let (rc, _, err) = run(Command::new(bin("s6-svscanctl"))
            .arg(format!("-{letters}"))
            .arg(&self.dir));
        (rc, err)
    }

    /// `s6-svscanctl -LETTERS`, which must succeed silently.
    pub fn ctl_ok(&self, letters: &str) {
        let (rc, err) = self.ctl(letters);
        assert_eq!((rc, err.as_str()), (0, ""), "s6-svscanctl -{letters}");
    }

    /// The s6-supervise child of our svscan for `name`.
    pub fn supervise_pid(&self, name: &str) -> Option<i32> {
        supervise_pid_of(self.pid(), name)
    }

    /// Wait for an s6-supervise for `name` other than `not`; its pid.
    pub fn wait_supervise(&self, name: &str, not: i32) -> i32 {
        let mut pid = 0;
        assert!(
            wait_until(SOON, || {
                pid = self.supervise_pid(name).unwrap_or(0);
                pid != 0 && pid != not
            }),
            "s6-supervise {name} (not {not}); svscan stderr: {}",
            self.stderr()
        );
        pid
    }

    /// Every service directory (and logger) under the scratch dir, for the final cleanup.
    pub fn service_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.scratch.path.clone()];
        while let Some(d) = stack.pop() {
            if d.join(layout::SUPERVISE_DIR).is_dir() {
                out.push(d.clone());
            }
            if let Ok(rd) = std::fs::read_dir(&d) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() && !p.is_symlink() && e.file_name() != layout::SUPERVISE_DIR {
                        stack.push(p);
                    }
                }
            }
        }
        out
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        let dirs = self.service_dirs();
        self.reaper.collect(&dirs);
        drop(self.proc.take());
        for &p in &self.extra {
            kill_pid_and_group(p);
        }
        // Services restarted between the first collection and the kill of their supervisor
        // (cleanup only: nothing is asserted after this pause).
        std::thread::sleep(Duration::from_millis(50));
        self.reaper.collect(&dirs);
    }
}

// ---- s6-svscan as process 1 --------------------------------------------------------------

/// Whether this machine lets us make a PID namespace (`unshare --pid`).
pub fn unshare_works() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Start our `s6-svscan scandir` as process 1 of a new PID namespace (output in
/// `scratch/pid1.{out,err}`); returns the unshare process and the host pid of s6-svscan.
pub fn start_pid1(scratch: &Scratch, scandir: &Path) -> (Proc, i32) {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .arg(bin("s6-svscan"))
        .arg(scandir)
        .current_dir(scandir);
    let p = Proc::spawn_logged(&mut cmd, &scratch.path, "pid1");
    let unshare = p.pid();
    let mut svscan = 0;
    assert!(
        wait_until(SOON, || {
            svscan = children(unshare)
                .into_iter()
                .find(|&pid| {
                    cmdline(pid)
                        .first()
                        .is_some_and(|a| a.ends_with("s6-svscan"))
                })
                .unwrap_or(0);
            svscan != 0
        }),
        "s6-svscan started in the namespace"
    );
    (p, svscan)
}
