//! Helpers shared by the reliability tests (`faults_*.rs`, `security.rs`, `soak.rs`): the
//! process table from /proc, RSS and fd counts, a scan directory with its s6-svscan, a
//! directly started s6-supervise, and cleanup of everything by pid / process group.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tests::common::status::StatusRecord;
use tests::{bin, run, wait_until, Proc, Scratch, SOON};
pub use tests::{cmdline, proc_table};

/// A service that runs until killed. (Services also die with their scratch directory in
/// the worst case: every test kills them by process group at the end.)
pub const LONG: &str = "exec sleep 3600";

/// Process state letter, `None` if gone.
pub fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rp = stat.rfind(')')?;
    stat[rp + 1..].split_whitespace().next()?.chars().next()
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    pid > 0 && matches!(state(pid), Some(s) if s != 'Z' && s != 'X')
}

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

/// `s6-svc ARGS` -> (exit code, stderr).
pub fn svc(args: &[&str], dir: &Path) -> (i32, String) {
    let (rc, _, err) = run(Command::new(bin("s6-svc")).args(args).arg(dir));
    (rc, err)
}

pub fn kill(pid: i32, sig: i32) {
    if pid > 1 {
        // SAFETY: kill(2) on a pid this test started or read from a status file it created.
        unsafe { libc::kill(pid, sig) };
    }
}

/// SIGKILL a pid and its process group (services run in their own session).
pub fn kill_pid_and_group(pid: i32) {
    if pid > 1 {
        // SAFETY: as above (the group, then the pid).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
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

/// A scan directory and its s6-svscan (own process group). At drop: svscan's group (svscan
/// and its supervisors) is killed, then every service by the pid in its status file and
/// every pid recorded in `reaper`.
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

    pub fn start(&mut self, args: &[&str]) -> i32 {
        let mut cmd = Command::new(bin("s6-svscan"));
        cmd.args(args).arg(&self.dir).current_dir(&self.dir);
        let p = Proc::spawn_logged(&mut cmd, &self.scratch.path, "svscan");
        let pid = p.pid();
        self.proc = Some(p);
        let d = self.dir.clone();
        assert!(
            wait_until(SOON, || tests::common::control::send(&d, ".s6-svscan", b"")
                .is_ok()),
            "s6-svscan listening; stderr: {}",
            self.stderr()
        );
        pid
    }

    pub fn pid(&self) -> i32 {
        self.proc.as_ref().map_or(0, Proc::pid)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.scratch.join("svscan.err")).unwrap_or_default()
    }

    /// `s6-svscanctl -LETTERS` -> exit code.
    pub fn ctl(&self, letters: &str) -> (i32, String) {
        let (rc, _, err) = run(Command::new(bin("s6-svscanctl"))
            .arg(format!("-{letters}"))
            .arg(&self.dir));
        (rc, err)
    }

    /// The s6-supervise child of svscan for `name`.
    pub fn supervise_pid(&self, name: &str) -> Option<i32> {
        let svscan = self.pid();
        children(svscan)
            .into_iter()
            .find(|&p| cmdline(p) == ["s6-supervise", name])
    }

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

    pub fn service_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("supervise").is_dir())
                    .collect()
            })
            .unwrap_or_default()
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
        // Services restarted between the first collection and the kill of their supervisor.
        std::thread::sleep(Duration::from_millis(50));
        self.reaper.collect(&dirs);
    }
}

/// One s6-supervise started directly on `svdir` (own process group; stderr to a file).
pub struct Sup {
    pub proc: Proc,
    pub svdir: PathBuf,
    pub err: PathBuf,
    pub reaper: Reaper,
}

impl Sup {
    pub fn start(svdir: &Path, logdir: &Path) -> Sup {
        Sup::start_with(Command::new(bin("s6-supervise")).arg(svdir), svdir, logdir)
    }

    /// Start with a prepared command (e.g. under setpriv); its last argument is `svdir`.
    pub fn start_with(cmd: &mut Command, svdir: &Path, logdir: &Path) -> Sup {
        let tag = format!(
            "supervise-{}",
            svdir.file_name().unwrap_or_default().to_string_lossy()
        );
        let proc = Proc::spawn_logged(cmd, logdir, &tag);
        let err = logdir.join(format!("{tag}.err"));
        let d = svdir.to_path_buf();
        assert!(
            wait_until(SOON, || tests::common::control::send(&d, "supervise", b"")
                .is_ok()),
            "s6-supervise listening; stderr: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        Sup {
            proc,
            svdir: svdir.to_path_buf(),
            err,
            reaper: Reaper::default(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Record the current service pid for the final cleanup.
    pub fn note(&mut self) {
        let d = [self.svdir.clone()];
        self.reaper.collect(&d);
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        self.note();
    }
}
