//! The I/O side of `s6-svscan`: start-up (`.s6-svscan/` lock and control FIFO), one
//! `mio::Poll` over the control FIFO and the signals, reading the scan directory, spawning
//! `s6-supervise` processes, reaping every child, the shutdown and the exec of
//! `.s6-svscan/finish` (or `.s6-svscan/crash` when something unrecoverable happens).
//!
//! Decisions are taken by [`crate::core::Core`]; this module only carries them out.

use crate::core::{self, Config, Core, DevIno, Key, Millis, Stat, Trigger};
use crate::options::{self, OptError, Options};
use common::control::FifoError;
use common::msg::{errno_of, errno_text, exit, StrError};
use common::sigwake::SignalSet;
use common::{Errno, Prog, SvscanCommand};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::fcntl::{fcntl, open, FcntlArg, FdFlag, OFlag};
use nix::sys::stat::{stat, Mode, SFlag};
use nix::unistd::{access, AccessFlags};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::layout::{
    LOG_DIR, SVSCAN_CONTROL as CONTROL, SVSCAN_CRASH as CRASH, SVSCAN_DIR as CTLDIR,
    SVSCAN_FINISH as FINISH, SVSCAN_LOCK as LOCK,
};
const SUPERVISE: &str = "s6-supervise";

/// Signals s6-svscan catches (everything else keeps its default action).
static SIGNALS: [i32; 11] = [
    libc::SIGCHLD,
    libc::SIGALRM,
    libc::SIGABRT,
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGPWR,
    libc::SIGWINCH,
];

/// Spawns per loop iteration: between batches the loop polls again, so that a SIGTERM or a
/// control command during the start of thousands of services is not kept waiting.
const START_BATCH: usize = 256;

const TOKEN_SIGNALS: Token = Token(0);
const TOKEN_CONTROL: Token = Token(1);

/// Runtime failures that send s6-svscan into `.s6-svscan/crash`.
#[derive(Debug, thiserror::Error)]
enum Panic {
    #[error("unable to iopause: {}", StrError(*.0))]
    Poll(Errno),
    #[error("unable to read control pipe: {}", StrError(*.0))]
    Control(Errno),
    #[error("unable to wait_nohang: {}", StrError(*.0))]
    Wait(Errno),
}

/// Start-up failures: `fatal: <message>` and the exit code s6 uses.
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error("invalid notification fd: {}", StrError(*.0))]
    Notif(Errno),
    #[error("invalid console holder fd: {}", StrError(*.0))]
    Console(Errno),
    #[error("unable to chdir to {dir}: {}", StrError(*.errno))]
    Chdir { dir: String, errno: Errno },
    #[error("{CTLDIR} exists and is not a directory")]
    CtlDirNotDir,
    #[error("another instance of s6-svscan is already running on the same directory")]
    Busy,
    #[error("{CONTROL} is not a FIFO")]
    NotFifo,
    /// Any other system call failure: `unable to <what>: <errno>`.
    #[error("unable to {what}: {}", StrError(*errno))]
    Sys { what: String, errno: Errno },
}

impl InitError {
    fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> InitError {
        let what = what.into();
        move |errno| InitError::Sys { what, errno }
    }

    /// s6's exit code for this failure.
    fn code(&self) -> i32 {
        match self {
            InitError::Notif(_)
            | InitError::Console(_)
            | InitError::CtlDirNotDir
            | InitError::Busy
            | InitError::NotFifo => exit::USAGE,
            InitError::Chdir { .. } | InitError::Sys { .. } => exit::SYSTEM,
        }
    }
}

fn prog() -> Prog {
    Prog::new("s6-svscan")
}

struct Clock(Instant);

impl Clock {
    fn now(&self) -> Millis {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Exec `.s6-svscan/crash` in place; never returns.
fn exec_crash() -> ! {
    let p = prog();
    p.warn(format_args!("executing into {CRASH}"));
    let path = CString::new(CRASH).unwrap_or_default();
    let e = match nix::unistd::execv(&path, &[&path]) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let code = if e == Errno::ENOENT {
        exit::EXEC_NOENT
    } else {
        exit::EXEC_FAILED
    };
    p.fatal(
        code,
        format_args!("unable to exec {CRASH}: {}", StrError(e)),
    )
}

/// Where to find `s6-supervise`: next to our own executable (as invoked, then as resolved by
/// /proc/self/exe), then in PATH. Computed before the chdir to the scandir.
fn supervise_candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let cwd = std::env::current_dir().ok();
    if let Some(a0) = common::rt::args_os().into_iter().next() {
        if a0.as_bytes().contains(&b'/') {
            let p = PathBuf::from(&a0);
            let p = match (&cwd, p.is_absolute()) {
                (Some(c), false) => c.join(p),
                _ => p,
            };
            if let Some(d) = p.parent() {
                dirs.push(d.to_path_buf());
            }
        }
    }
    if let Ok(exe) = std::fs::read_link("/proc/self/exe") {
        if let Some(d) = exe.parent() {
            dirs.push(d.to_path_buf());
        }
    }
    dirs.into_iter().map(|d| d.join(SUPERVISE)).collect()
}

fn find_supervise(candidates: &[PathBuf]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates
        .iter()
        .cloned()
        .chain(
            std::env::split_paths(&path)
                .filter(|d| !d.as_os_str().is_empty())
                .map(|d| d.join(SUPERVISE)),
        )
        .find(|p| access(p.as_path(), AccessFlags::X_OK).is_ok() && p.is_file())
        .unwrap_or_else(|| PathBuf::from(SUPERVISE))
}

fn fd_is_open(fd: RawFd) -> Result<(), Errno> {
    // Raw fcntl: nix's wants a BorrowedFd, which a number that may be closed is not.
    // SAFETY: F_GETFD on any integer is harmless.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn raise_nofile(max_services: u32) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let need = u64::from(max_services) + 64;
    if let Ok((cur, max)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if cur < need {
            // As s6: best effort, the scan limits itself later if fds run out.
            let _ = setrlimit(Resource::RLIMIT_NOFILE, need.min(max), max);
        }
    }
}

/// The control FIFO, both ends (the write end keeps it from ever reaching EOF).
struct ControlFifo {
    read: OwnedFd,
    _write: OwnedFd,
    _lock: OwnedFd,
}

fn is_type(path: &str, kind: SFlag) -> Result<bool, InitError> {
    let st = stat(path).map_err(InitError::sys(format!("stat {path}")))?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == kind)
}

fn control_init() -> Result<ControlFifo, InitError> {
    let old = nix::sys::stat::umask(Mode::empty());
    let r = control_init_masked();
    nix::sys::stat::umask(old);
    r
}

fn control_init_masked() -> Result<ControlFifo, InitError> {
    match nix::unistd::mkdir(CTLDIR, Mode::from_bits_truncate(0o700)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            if !is_type(CTLDIR, SFlag::S_IFDIR)? {
                return Err(InitError::CtlDirNotDir);
            }
        }
        Err(e) => return Err(InitError::sys(format!("mkdir {CTLDIR}"))(e)),
    }
    let lock = match common::lock::acquire(Path::new(LOCK), 0o600) {
        Ok(fd) => fd,
        Err(common::lock::LockError::Busy) => return Err(InitError::Busy),
        Err(common::lock::LockError::Io(e)) => {
            return Err(InitError::sys(format!("lock {LOCK}"))(e))
        }
    };
    let fifo = common::control::open_fifo(CONTROL).map_err(|e| match e {
        FifoError::NotFifo => InitError::NotFifo,
        FifoError::Sys(step, errno) => InitError::Sys {
            what: step.describe(CONTROL),
            errno,
        },
    })?;
    Ok(ControlFifo {
        read: fifo.read,
        _write: fifo.keep_open,
        _lock: lock,
    })
}

/// 2.15: remove dangling symlinks from the scandir before the first scan.
fn initial_cleanup() -> Result<(), InitError> {
    let rd = std::fs::read_dir(".").map_err(|e| InitError::sys("opendir .")(errno_of(&e)))?;
    for ent in rd {
        let name = ent
            .map_err(|e| InitError::sys("readdir .")(errno_of(&e)))?
            .file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        if access(Path::new(&name), AccessFlags::X_OK) == Err(Errno::ENOENT) {
            let _ = nix::unistd::unlink(Path::new(&name));
        }
    }
    Ok(())
}

fn stat_of(path: &CStr) -> Stat {
    match stat(path) {
        Err(e) => Stat::Error(e),
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {
            Stat::Dir(DevIno {
                dev: st.st_dev,
                ino: st.st_ino,
            })
        }
        Ok(_) => Stat::NotDir,
    }
}

/// `path` := `name` `suffix` NUL, as a C string (an empty one if `name` holds a NUL, which no
/// directory entry does).
fn cpath<'a>(path: &'a mut Vec<u8>, name: &[u8], suffix: &[&[u8]]) -> &'a CStr {
    path.clear();
    path.extend_from_slice(name);
    for s in suffix {
        path.extend_from_slice(s);
    }
    path.push(0);
    CStr::from_bytes_with_nul(path).unwrap_or_default()
}

/// Call `f` with the name of every entry of the open directory `dir` not starting with `.`,
/// in readdir's order, through a stack buffer: no heap.
fn list_dir(dir: &OwnedFd, mut f: impl FnMut(&[u8])) -> Result<(), Errno> {
    let mut buf = [0u64; 256];
    common::fsio::for_each_dir_name(dir.as_fd(), &mut buf, |name| {
        if name.first() != Some(&b'.') {
            f(name);
        }
    })
}

fn make_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

fn dup_stdio(fd: BorrowedFd<'_>) -> Result<Stdio, Errno> {
    let d = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nobody else owns.
    Ok(Stdio::from(unsafe { OwnedFd::from_raw_fd(d) }))
}

struct Driver {
    core: Core<OwnedFd>,
    clock: Clock,
    console: Option<OwnedFd>,
    candidates: Vec<PathBuf>,
    prog: Prog,
    /// The paths a scan stats (`name`, `name/log`), built here: kept from scan to scan.
    path: Vec<u8>,
}

impl Driver {
    fn spawn_one(&self, path: &Path, k: Key) -> Result<i32, Errno> {
        let Some(sv) = self.core.service(k) else {
            return Err(Errno::ESRCH);
        };
        let mut cmd = Command::new(path);
        cmd.arg0(SUPERVISE).arg(&sv.name);
        if let Some(pipe) = &sv.pipe {
            let s = dup_stdio(pipe.as_fd())?;
            if sv.logger {
                cmd.stdin(s);
            } else {
                cmd.stdout(s);
            }
        }
        if self.core.is_special(k) {
            if let Some(c) = &self.console {
                cmd.stderr(dup_stdio(c.as_fd())?);
            }
        }
        let child = cmd.spawn().map_err(|e| errno_of(&e))?;
        i32::try_from(child.id()).map_err(|_| Errno::EOVERFLOW)
    }

    fn start(&mut self) {
        let now = self.clock.now();
        let keys = self.core.take_starts(now, START_BATCH);
        if keys.is_empty() {
            return;
        }
        let path = find_supervise(&self.candidates);
        for k in keys {
            match self.spawn_one(&path, k) {
                Ok(pid) => self.core.spawned(k, pid, now),
                Err(e) => {
                    let name = self.core.service(k).map(|s| s.name.as_bytes());
                    common::cli::warn_bytes(
                        self.prog.name(),
                        &[
                            b"unable to spawn ",
                            SUPERVISE.as_bytes(),
                            b" for ",
                            name.unwrap_or_default(),
                            b": ",
                            errno_text(e).as_bytes(),
                        ],
                    );
                    self.core.spawn_failed(k, now);
                }
            }
        }
    }

    /// Read the scan directory and hand each entry to the core as it comes, as s6 does: a
    /// rescan allocates nothing (the names are borrowed from the listing buffer, the paths
    /// stat'd are built in one reused buffer). A listing that fails half-way commits nothing
    /// (no sweep), as in s6.
    fn scan(&mut self) {
        let now = self.clock.now();
        let dir = match open(
            c".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(e) => {
                self.prog
                    .warn(format_args!("unable to opendir .: {}", StrError(e)));
                self.core.scan_failed(now);
                return;
            }
        };
        let (core, path) = (&mut self.core, &mut self.path);
        let mut scan = core.begin_scan(now);
        let listed = list_dir(&dir, |name| {
            let stat = stat_of(cpath(path, name, &[]));
            let log = match stat {
                Stat::Dir(_) => stat_of(cpath(path, name, &[b"/", LOG_DIR.as_bytes()])),
                _ => Stat::NotDir,
            };
            let item = core::ScanItem {
                name: OsStr::from_bytes(name),
                stat,
                log,
            };
            core.scan_entry(&mut scan, &item, &mut make_pipe);
        });
        let warnings = match listed {
            Ok(()) => core.end_scan(scan),
            Err(_) => core.fail_scan(scan),
        };
        for w in warnings {
            common::cli::warn_bytes(self.prog.name(), &[&w.message()]);
        }
        if let Err(e) = listed {
            self.prog
                .warn(format_args!("unable to readdir .: {}", StrError(e)));
        }
    }

    fn reap(&mut self) -> Result<(), Panic> {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                Ok(st) => {
                    if let Some(pid) = st.pid() {
                        let now = self.clock.now();
                        self.core.child_exited(pid.as_raw(), now);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Panic::Wait(e)),
            }
        }
    }

    /// A caught signal: SIGCHLD/SIGALRM/SIGABRT act at once; the others run
    /// `.s6-svscan/SIG<NAME>` if it is executable, else their built-in action.
    fn signal(&mut self, sig: i32) {
        let now = self.clock.now();
        if !matches!(sig, libc::SIGCHLD | libc::SIGALRM | libc::SIGABRT) {
            let script = format!("{CTLDIR}/SIG{}", common::signals::name(sig));
            if access(Path::new(&script), AccessFlags::X_OK).is_ok() {
                match Command::new(&script).arg0(&script).spawn() {
                    Ok(_) => return,
                    Err(e) => {
                        let e = errno_of(&e);
                        if e != Errno::ENOENT {
                            self.prog
                                .warn(format_args!("unable to spawn {script}: {}", StrError(e)));
                        }
                    }
                }
            }
        }
        if let Some(t) = core::builtin_for_signal(sig) {
            self.core.trigger(t, now);
        }
    }

    fn control(&mut self, fd: BorrowedFd<'_>) -> Result<(), Panic> {
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let now = self.clock.now();
                    for &b in buf.get(..n).unwrap_or(&[]) {
                        match SvscanCommand::from_byte(b) {
                            Some(c) => self.core.trigger(Trigger::from(c), now),
                            None => {
                                let mut line =
                                    b"s6-svscan: warning: received unknown control command: "
                                        .to_vec();
                                line.push(b);
                                line.push(b'\n');
                                let _ = common::fsio::write_all(std::io::stderr(), &line);
                            }
                        }
                    }
                }
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Panic::Control(e)),
            }
        }
    }

    fn kill(&mut self) {
        use nix::sys::signal::{kill, Signal};
        for (pid, sig) in self.core.take_kills() {
            // A supervise pid we spawned and have not reaped yet; errors ignored, as s6.
            if let (true, Ok(sig)) = (pid > 0, Signal::try_from(sig)) {
                let _ = kill(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
    }

    fn run(&mut self, ctl: &ControlFifo, signals: &mut SignalSet) -> Result<(), Panic> {
        let mut poll = Poll::new().map_err(|e| Panic::Poll(errno_of(&e)))?;
        poll.registry()
            .register(signals, TOKEN_SIGNALS, Interest::READABLE)
            .map_err(|e| Panic::Poll(errno_of(&e)))?;
        let raw = ctl.read.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&raw), TOKEN_CONTROL, Interest::READABLE)
            .map_err(|e| Panic::Poll(errno_of(&e)))?;
        let mut events = Events::with_capacity(8);
        while self.core.cont() {
            self.iteration(&mut poll, &mut events, ctl, signals, false)?;
        }
        self.prepare_shutdown();
        // Wait for every supervisor, still serving signals and control bytes (unlike s6,
        // whose wait is blocking): `q`/`N` or SIGQUIT can escalate a `t` whose loggers do
        // not exit, `b` or SIGABRT stops waiting, and orphans keep being reaped.
        while self.core.waitall() && self.core.live() > 0 {
            self.iteration(&mut poll, &mut events, ctl, signals, true)?;
        }
        Ok(())
    }

    /// One wake-up of the loop. While draining (shutdown), nothing is scanned or started.
    fn iteration(
        &mut self,
        poll: &mut Poll,
        events: &mut Events,
        ctl: &ControlFifo,
        signals: &mut SignalSet,
        draining: bool,
    ) -> Result<(), Panic> {
        let now = self.clock.now();
        let timeout = if draining {
            None
        } else {
            self.core
                .next_deadline()
                .map(|d| Duration::from_millis(d.saturating_sub(now)))
        };
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Panic::Poll(errno_of(&e)));
            }
        }
        for sig in signals.pending() {
            self.signal(sig);
        }
        self.control(ctl.read.as_fd())?;
        self.reap()?;
        if !draining {
            // A scan asked for in this batch runs before the kills, so that `-an`/`-h`
            // prune against the new listing and `-at` rescans and then really stops.
            if self.core.scan_due(self.clock.now()) {
                self.scan();
            }
            if self.core.cont() {
                self.start();
            }
        }
        self.kill();
        Ok(())
    }

    /// Leaving the loop: close the logger pipes (loggers see EOF once their producers are
    /// gone), send stdout/stderr to /dev/null if there is a catch-all logger, give the
    /// console back.
    fn prepare_shutdown(&mut self) {
        self.core.close_pipes();
        if self.core.has_special() {
            match open("/dev/null", OFlag::O_WRONLY, Mode::empty()) {
                Ok(fd) => {
                    // Errors ignored, as s6 does.
                    let _ = nix::unistd::dup2_stdout(&fd);
                    let _ = nix::unistd::dup2_stderr(std::io::stdout());
                }
                Err(e) => self
                    .prog
                    .warn(format_args!("unable to open /dev/null: {}", StrError(e))),
            }
        }
        self.restore_console();
    }

    fn restore_console(&mut self) {
        if let Some(c) = self.console.take() {
            let _ = nix::unistd::dup2_stderr(&c);
            if let Err(e) = nix::unistd::dup2_stdout(std::io::stderr()) {
                self.prog
                    .warn(format_args!("unable to restore stdout: {}", StrError(e)));
            }
        }
    }
}

fn fail_options(e: OptError) -> ! {
    let p = prog();
    match e {
        OptError::Usage => p.usage(options::USAGE),
        OptError::Fatal(m) => p.fatal(exit::USAGE, m),
    }
}

/// Everything s6-svscan sets up before its loop.
struct Setup {
    opts: Options,
    console: Option<OwnedFd>,
    candidates: Vec<PathBuf>,
    ctl: ControlFifo,
    signals: SignalSet,
}

fn setup() -> Result<Setup, InitError> {
    let argv: Vec<OsString> = common::rt::args_os();
    let opts: Options = options::parse(&argv).unwrap_or_else(|e| fail_options(e));
    if let Some(fd) = opts.notif {
        fd_is_open(fd).map_err(InitError::Notif)?;
    }
    let console = match opts.console {
        None => None,
        Some(fd) => {
            fd_is_open(fd).map_err(InitError::Console)?;
            // SAFETY: the fd was handed to us by our parent for this purpose; we own it now.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
                .map_err(InitError::sys("coe console holder"))?;
            Some(owned)
        }
    };
    let candidates = supervise_candidates();
    raise_nofile(opts.max);
    nix::unistd::chdir(Path::new(&opts.scandir)).map_err(|errno| InitError::Chdir {
        dir: OsStr::new(&opts.scandir).to_string_lossy().into_owned(),
        errno,
    })?;
    let ctl = control_init()?;
    common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE)
        .map_err(InitError::sys("ignore SIGPIPE"))?;
    unblock_signals();
    let signals =
        SignalSet::new(&SIGNALS).map_err(|e| InitError::sys("trap signals")(errno_of(&e)))?;
    initial_cleanup()?;
    if let Some(fd) = opts.notif {
        // SAFETY: the fd was checked open and was handed to us for this one newline: we own
        // it, and dropping it closes it.
        let notif = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = nix::unistd::write(&notif, b"\n");
    }
    Ok(Setup {
        opts,
        console,
        candidates,
        ctl,
        signals,
    })
}

/// A parent may have started us with some of our signals blocked: we must receive them.
fn unblock_signals() {
    let mut set = nix::sys::signal::SigSet::empty();
    for &sig in &SIGNALS {
        if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
            set.add(s);
        }
    }
    let _ = set.thread_unblock();
}

pub fn main() -> ! {
    let argv = common::rt::args_os();
    common::cli::help_or_version(argv.get(1..).unwrap_or(&[]), options::HELP);
    let p = prog();
    let Setup {
        opts,
        console,
        candidates,
        ctl,
        mut signals,
    } = setup().unwrap_or_else(|e| p.fatal(e.code(), &e));
    let clock = Clock(Instant::now());
    let cfg = Config {
        max: opts.max as usize,
        namemax: opts.namemax as usize,
        period: opts.timeout_ms,
    };
    let mut d = Driver {
        core: Core::new(cfg, clock.now()),
        clock,
        console,
        candidates,
        prog: p.clone(),
        path: Vec::new(),
    };
    if let Err(e) = d.run(&ctl, &mut signals) {
        d.restore_console();
        p.warn(&e);
        exec_crash();
    }
    // SIGPIPE was caught by a nop handler (common::signals::alt_ignore): exec resets it.
    drop(signals);
    let path = CString::new(FINISH).unwrap_or_default();
    let e = match nix::unistd::execv(&path, &[&path]) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    if e == Errno::ENOENT {
        common::rt::exit(0);
    }
    p.warn(format_args!(
        "unable to exec finish script {FINISH}: {}",
        StrError(e)
    ));
    exec_crash()
}
