//! The I/O side of s6-supervise: set up `supervise/` and `event/`, then one `mio::Poll` over
//! the control FIFO, the signals and the notification pipe, with a single deadline taken from
//! the core. Every effect the core asks for is performed here.

use crate::core::{Action, Actions, Core, Event, FinishStart, Input, Now, RunStart, Target};
use crate::msgs::{Fatal, Warning};
use crate::spawn::{self, cstring, cstring_os, FdMove, SpawnSpec};
use common::control::{self, FifoError, SuperviseCommand};
use common::dtally::{self, AppendError, DeathRecord};
use common::event::EventBytes;
use common::fsio::ShortPath;
use common::lock::{self, LockError};
use common::msg::{exit, StrError};
use common::servicedir::{ServiceDir, Setting};
use common::sigwake::SignalSet;
use common::wait::WaitStatus;
use common::{fifodir, Prog};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{lstat, stat, umask, Mode, SFlag};
use nix::unistd::{chown, getegid, mkdir};
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

const USAGE: &str = "s6-supervise dir";
/// `--help` (our extension, like `--version`: s6 would chdir to a dir of that name).
pub const HELP: &str = "\
s6-supervise dir
Supervise the service in dir: run ./run, restart it when it dies (after ./finish), obey
s6-svc commands on supervise/control, keep supervise/status, announce events on event/.
Files read in dir: run, finish, down, notification-fd, lock-fd, timeout-kill,
timeout-finish, max-death-tally, down-signal, nosetsid, flag-newpidns, flag-timeout-killpg.
Usually started by s6-svscan, one per service directory.
";
use common::layout::{CONTROL, DOWN, EVENT_DIR as EVENTDIR, LOCK, SERVICE_LOCK, SUPERVISE_DIR};

const TOK_SIGNALS: Token = Token(0);
const TOK_CONTROL: Token = Token(1);
const TOK_NOTIFY: Token = Token(2);

static CAUGHT: [i32; 5] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGINT,
];

/// Errors that end s6-supervise during initialisation, with s6's texts and exit codes.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("unable to {0}: {desc}", desc = StrError(*.1))]
    Sys(String, Errno),
    #[error("{0} exists and is not a directory")]
    NotDir(&'static str),
    #[error("{CONTROL} is not a FIFO")]
    ControlNotFifo,
    #[error("another instance of s6-supervise is already running")]
    Busy,
}

impl InitError {
    fn code(&self) -> i32 {
        match self {
            InitError::Sys(..) => exit::SYSTEM,
            _ => exit::USAGE,
        }
    }
}

fn sys(what: &'static str) -> impl FnOnce(Errno) -> InitError {
    // The message is made only on failure: no allocation or formatting on the way up.
    move |e| InitError::Sys(what.into(), e)
}

/// Entry point: never returns.
pub fn main() -> ! {
    let mut drv = setup();
    drv.run()
}

/// Everything before the loop, out of line: its frame (path buffers, messages) is not under
/// the loop's on the stack, whose pages are private memory of every supervisor.
#[inline(never)]
fn setup() -> Driver {
    let args: Vec<OsString> = common::rt::args_os();
    common::cli::help_or_version(args.get(1..).unwrap_or(&[]), HELP);
    let base = Prog::new("s6-supervise");
    let Some(dir) = args.get(1) else {
        base.usage(USAGE)
    };
    if let Err(e) = nix::unistd::chdir(&ShortPath(Path::new(dir))) {
        base.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to chdir to {}: {}",
                dir.to_string_lossy(),
                StrError(e)
            ),
        )
    }
    let prog = Prog::new(format!("s6-supervise {}", dir.to_string_lossy()));
    match Driver::init(prog.clone(), dir.clone()) {
        Ok(d) => d,
        Err(e) => prog.fatal(e.code(), e),
    }
}

fn is_dir(mode: libc::mode_t) -> bool {
    SFlag::from_bits_truncate(mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// `mkdir name 0700`; an existing directory (also through a symlink) is kept; a dangling
/// symlink gets its target created. Returns whether a directory was created.
fn trymkdir(name: &'static str) -> Result<bool, InitError> {
    let path = ShortPath(Path::new(name));
    match mkdir(&path, Mode::from_bits_truncate(0o700)) {
        Ok(()) => return Ok(true),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(InitError::Sys(format!("mkdir {name}"), e)),
    }
    let l = lstat(&path).map_err(|e| InitError::Sys(format!("stat {name}"), e))?;
    let is_link = SFlag::from_bits_truncate(l.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK;
    if !is_link {
        return if is_dir(l.st_mode) {
            Ok(false)
        } else {
            Err(InitError::NotDir(name))
        };
    }
    match stat(&path) {
        Ok(st) if is_dir(st.st_mode) => Ok(false),
        Ok(_) => Err(InitError::NotDir(name)),
        Err(Errno::ENOENT) => {
            let target = std::fs::read_link(name).map_err(|e| {
                InitError::Sys(format!("readlink {name}"), common::msg::errno_of(&e))
            })?;
            mkdir(&ShortPath(&target), Mode::from_bits_truncate(0o700))
                .map_err(|e| InitError::Sys(format!("mkdir {}", target.display()), e))?;
            Ok(true)
        }
        Err(e) => Err(InitError::Sys(format!("stat {name}"), e)),
    }
}

struct Driver {
    prog: Prog,
    /// The servicedir argument, verbatim (argv of run and finish).
    name: CString,
    sd: ServiceDir,
    poll: Poll,
    signals: SignalSet,
    control: File,
    _control_w: OwnedFd,
    _lock: OwnedFd,
    notify: Option<OwnedFd>,
    start: Instant,
    maxfd: u64,
    run_path: CString,
    finish_path: CString,
    /// Caught signals that were ignored at startup (restored as ignored in children).
    ignored: Vec<i32>,
}

impl Driver {
    #[inline(never)]
    fn init(prog: Prog, dir: OsString) -> Result<Driver, InitError> {
        // fds 0-2 are open: common::rt saw to it before main.
        common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE)
            .map_err(sys("ignore SIGPIPE"))?;
        let maxfd = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_err(sys("getrlimit"))?
            .0;
        let old = umask(Mode::empty());
        let r = Self::control_init();
        umask(old);
        let (lock, control, control_w) = r?;

        let ignored = ignored_at_startup();
        let poll = Poll::new()
            .map_err(|e| InitError::Sys("init poll".into(), common::msg::errno_of(&e)))?;
        let mut signals = SignalSet::new(&CAUGHT)
            .map_err(|e| InitError::Sys("trap signals".into(), common::msg::errno_of(&e)))?;
        let reg =
            |e: std::io::Error| InitError::Sys("register fds".into(), common::msg::errno_of(&e));
        poll.registry()
            .register(&mut signals, TOK_SIGNALS, Interest::READABLE)
            .map_err(reg)?;
        poll.registry()
            .register(
                &mut SourceFd(&control.as_raw_fd()),
                TOK_CONTROL,
                Interest::READABLE,
            )
            .map_err(reg)?;

        fifodir::clean(Path::new(EVENTDIR));
        dtally::truncate(Path::new(".")).map_err(sys("truncate supervise/death_tally"))?;
        Ok(Driver {
            prog,
            name: cstring_os(&dir),
            sd: ServiceDir::new("."),
            poll,
            signals,
            control,
            _control_w: control_w,
            _lock: lock,
            notify: None,
            start: Instant::now(),
            maxfd,
            run_path: cstring(b"./run"),
            finish_path: cstring(b"./finish"),
            ignored,
        })
    }

    /// event/, supervise/, the lock and the control FIFO (under umask 0).
    #[inline(never)]
    fn control_init() -> Result<(OwnedFd, File, OwnedFd), InitError> {
        if trymkdir(EVENTDIR)? {
            chown(&ShortPath(Path::new(EVENTDIR)), None, Some(getegid()))
                .map_err(sys("chown event"))?;
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                &ShortPath(Path::new(EVENTDIR)),
                Mode::from_bits_truncate(fifodir::FIFODIR_MODE),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(sys("chmod event"))?;
        }
        trymkdir(SUPERVISE_DIR)?;
        let lock = match lock::acquire(Path::new(LOCK), 0o644) {
            Ok(fd) => fd,
            Err(LockError::Busy) => return Err(InitError::Busy),
            Err(LockError::Io(e)) => return Err(InitError::Sys(format!("lock {LOCK}"), e)),
        };
        let fifo = control::open_fifo(CONTROL).map_err(|e| match e {
            FifoError::NotFifo => InitError::ControlNotFifo,
            FifoError::Sys(step, e) => InitError::Sys(step.describe(CONTROL), e),
        })?;
        Ok((lock, File::from(fifo.read), fifo.keep_open))
    }

    fn now(&self) -> Now {
        Now {
            mono: self.start.elapsed(),
            wall: common::Tai64n::now(),
        }
    }

    fn warn_setting<T>(&self, s: Setting<T>) -> T {
        if let Some(w) = &s.warning {
            self.prog.warn(w);
        }
        s.value
    }

    /// The core, made from `./down`, and its first actions performed.
    #[inline(never)]
    fn first(&mut self) -> Core {
        let wantup = match self.sd.down() {
            Ok(down) => !down,
            Err(e) => self.prog.fatal(exit::SYSTEM, Fatal::AccessDown(e)),
        };
        let (core, acts) = Core::new(wantup, self.now());
        self.perform_all(acts.as_slice());
        core
    }

    fn run(&mut self) -> ! {
        let mut core = self.first();
        let mut events = Events::with_capacity(8);
        // Start-up is over: what only it needed (signal registration) stops costing a page.
        common::alloc::trim();
        while !core.exiting() {
            let timeout = core
                .deadline()
                .map(|d| d.saturating_sub(self.start.elapsed()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                self.prog
                    .fatal(exit::SYSTEM, Fatal::Iopause(common::msg::errno_of(&e)));
            }
            if events.is_empty() {
                if core.deadline().is_some_and(|d| self.start.elapsed() >= d) {
                    self.feed(&mut core, Input::Timeout);
                }
                continue;
            }
            let (mut sig, mut ctl, mut notif) = (false, false, false);
            for ev in events.iter() {
                match ev.token() {
                    TOK_SIGNALS => sig = true,
                    TOK_CONTROL => ctl = true,
                    TOK_NOTIFY => notif = true,
                    _ => {}
                }
            }
            if notif {
                self.handle_notify(&mut core);
            }
            if sig && !core.exiting() {
                self.handle_signals(&mut core);
            }
            if ctl && !core.exiting() {
                self.handle_control(&mut core);
            }
        }
        fifodir::notify(Path::new(EVENTDIR), b"x");
        common::rt::exit(0)
    }

    #[inline(never)]
    fn handle_notify(&mut self, core: &mut Core) {
        // Small: readiness is one newline, and this frame is under feed's on the stack.
        let mut buf = [0u8; 64];
        loop {
            let Some(fd) = self.notify.as_ref() else {
                return;
            };
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => {
                    self.close_notify();
                    return;
                }
                Ok(n) => {
                    if buf.get(..n).is_some_and(|b| b.contains(&b'\n')) {
                        self.feed(core, Input::Ready);
                        // The core closes the pipe; make sure it is gone in any case.
                        self.close_notify();
                        return;
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    self.close_notify();
                    return;
                }
            }
        }
    }

    #[inline(never)]
    fn handle_signals(&mut self, core: &mut Core) {
        let mut got = [0i32; 8];
        let mut n = 0;
        for s in self.signals.pending() {
            if let Some(slot) = got.get_mut(n) {
                *slot = s;
                n += 1;
            }
        }
        for &s in got.get(..n).unwrap_or(&[]) {
            if core.exiting() {
                return;
            }
            match s {
                libc::SIGCHLD => self.reap(core),
                libc::SIGTERM => self.feed(core, Input::Term),
                libc::SIGHUP => self.feed(core, Input::Hup),
                libc::SIGQUIT => self.feed(core, Input::Quit),
                libc::SIGINT => self.feed(core, Input::Int),
                _ => {}
            }
        }
    }

    #[inline(never)]
    fn reap(&mut self, core: &mut Core) {
        loop {
            let mut st = 0;
            // Raw waitpid: nix decodes the status, and supervise/status stores the raw 16 bits.
            // SAFETY: waitpid on any of our children, non-blocking, into a local.
            let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
            if pid < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    Errno::ECHILD => return,
                    e => self.prog.fatal(exit::SYSTEM, Fatal::Wait(e)),
                }
            }
            if pid == 0 {
                return;
            }
            if core.tracked_pid() != 0 && pid as u64 == core.tracked_pid() {
                self.feed(core, Input::Child(st));
                if core.exiting() {
                    return;
                }
            }
        }
    }

    #[inline(never)]
    fn handle_control(&mut self, core: &mut Core) {
        let mut buf = [0u8; 256];
        loop {
            match self.control.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    for &b in buf.get(..n).unwrap_or(&[]) {
                        if core.exiting() {
                            break;
                        }
                        if let Some(c) = SuperviseCommand::from_byte(b) {
                            self.feed(core, Input::Command(c));
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => self
                    .prog
                    .fatal(exit::SYSTEM, Fatal::ReadControl(common::msg::errno_of(&e))),
            }
        }
    }

    /// Step the core with `input`, perform its actions, and feed back any reply.
    fn feed(&mut self, core: &mut Core, input: Input) {
        let mut next = Some(input);
        while let Some(input) = next.take() {
            let acts = step(core, self.now(), input);
            next = self.perform_all(acts.as_slice());
        }
    }

    fn perform_all(&mut self, acts: &[Action]) -> Option<Input> {
        let mut reply = None;
        for &a in acts {
            if let Some(r) = self.perform(a) {
                reply = Some(r);
            }
        }
        reply
    }

    fn perform(&mut self, a: Action) -> Option<Input> {
        match a {
            Action::SpawnRun => return Some(Input::RunStarted(self.start_run())),
            Action::SpawnFinish { wstat, pid } => {
                return Some(Input::FinishStarted(self.start_finish(wstat, pid)))
            }
            Action::Kill(t, sig) => kill(t, sig),
            Action::KillDownSignal(pid) => {
                let sig = self.warn_setting(self.sd.down_signal());
                kill(Target::Pid(pid), sig);
            }
            Action::KillReloadSignal(pid) => {
                let sig = self.warn_setting(self.sd.reload_signal());
                kill(Target::Pid(pid), sig);
            }
            Action::TimeoutKill(pid) => {
                if self.warn_setting(self.sd.flag_timeout_killpg()) {
                    kill(Target::Group(pid), libc::SIGKILL);
                    kill(Target::Group(pid), libc::SIGCONT);
                } else {
                    kill(Target::Pid(pid), libc::SIGKILL);
                    kill(Target::Pid(pid), libc::SIGCONT);
                }
            }
            Action::ReadKillTimeout => {
                return Some(Input::KillTimeout(
                    self.warn_setting(self.sd.timeout_kill()),
                ))
            }
            Action::WarnFinishTimeout => self.prog.warn(Warning::FinishTimeout),
            Action::WarnUpTimeout => self.prog.warn(Warning::UpTimeout),
            Action::WriteStatus(st) => self.write_status(&st),
            Action::Emit(ev) => emit(ev),
            Action::AppendDeathTally { stamp, wstat } => self.death_tally(stamp, wstat),
            Action::CreateDownFile => self.create_down(),
            Action::RemoveDownFile => self.remove_down(),
            Action::CloseNotify => self.close_notify(),
            Action::CloseStdio => self.close_stdio(),
            Action::Exit => {}
        }
        None
    }

    // The actions that reach the file system, each out of line: a path argument costs a
    // path buffer on the stack, which then stays out of perform_all's frame.
    #[inline(never)]
    fn write_status(&self, st: &common::status::StatusRecord) {
        if let Err(e) = st.write(Path::new(".")) {
            self.prog.warn(Warning::StatusWrite(e));
        }
    }

    #[inline(never)]
    fn create_down(&self) {
        let r = open(
            &ShortPath(Path::new(DOWN)),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        );
        if let Err(e) = r {
            self.prog.warn(Warning::DownCreate(e));
        }
    }

    #[inline(never)]
    fn remove_down(&self) {
        match nix::unistd::unlink(&ShortPath(Path::new(DOWN))) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => self.prog.warn(Warning::DownUnlink(e)),
        }
    }

    #[inline(never)]
    fn death_tally(&self, stamp: common::Tai64n, wstat: i32) {
        let max = self.warn_setting(self.sd.max_death_tally());
        let rec = DeathRecord::from_wstat(stamp, wstat);
        match dtally::append(Path::new("."), rec, max) {
            Ok(()) => {}
            Err(AppendError::Read(e)) => self.prog.warn(Warning::TallyRead(e)),
            Err(AppendError::Write(e)) => self.prog.warn(Warning::TallyWrite(e)),
        }
    }

    fn close_notify(&mut self) {
        if let Some(fd) = self.notify.take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
    }

    #[inline(never)]
    fn close_stdio(&self) {
        // As s6, a failed dup2 is not reported (the old fd stays).
        match open(
            c"/dev/null",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(n) => drop(nix::unistd::dup2_stdin(n)),
            Err(e) => self.prog.warn(Warning::DevNull("reading", e)),
        }
        match open(
            c"/dev/null",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(n) => drop(nix::unistd::dup2_stdout(n)),
            Err(e) => self.prog.warn(Warning::DevNull("writing", e)),
        }
    }

    #[inline(never)]
    fn start_run(&mut self) -> RunStart {
        let new_pidns = self.warn_setting(self.sd.flag_newpidns());
        let lock_fd = match self.service_lock() {
            Ok(l) => l,
            Err(r) => return r,
        };
        let lock_target = lock_fd.as_ref().map(|(lk, _)| *lk);
        let pipe = match self.notification_pipe(lock_target) {
            Ok(p) => p,
            Err(r) => return r,
        };
        // At most two fds move into place: the notification pipe, then the lock.
        let no_move = FdMove {
            from: -1,
            to: -1,
            lock: false,
        };
        let mut moves = [no_move; 2];
        let mut nmoves = 0;
        let wanted = [
            pipe.as_ref().map(|(n, _, w)| FdMove {
                from: w.as_raw_fd(),
                to: *n as i32,
                lock: false,
            }),
            lock_fd.as_ref().map(|(lk, fd)| FdMove {
                from: fd.as_raw_fd(),
                to: *lk as i32,
                lock: true,
            }),
        ];
        for (slot, m) in moves.iter_mut().zip(wanted.into_iter().flatten()) {
            *slot = m;
            nmoves += 1;
        }

        let argv = [cstring(b"./run"), self.name.clone()];
        let spec = SpawnSpec {
            path: &self.run_path,
            argv: &argv,
            moves: moves.get(..nmoves).unwrap_or(&[]),
            new_pidns,
            ignored: &self.ignored,
        };
        let r = spawn::spawn(&spec);
        drop(lock_fd);
        match r {
            Ok(pid) => {
                if let Some((_, rd, w)) = pipe {
                    drop(w);
                    self.watch_notification(rd);
                }
                RunStart::Spawned(pid as u64)
            }
            Err(e) => {
                self.spawn_failed(e);
                RunStart::RetryLater
            }
        }
    }

    /// `lock-fd`: the fd number and an open `supervise/service-lock` for the child to lock,
    /// `None` without (or with an invalid) `lock-fd`; `Err` when ./run must not start now.
    #[inline(never)]
    fn service_lock(&self) -> Result<Option<(u32, OwnedFd)>, RunStart> {
        let Some(lk) = self.warn_setting(self.sd.lock_fd()) else {
            return Ok(None);
        };
        if lk == 0 || lk as u64 >= self.maxfd {
            self.prog.warn(Warning::InvalidLockFd);
            return Ok(None);
        }
        let fd = open(
            &ShortPath(Path::new(SERVICE_LOCK)),
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_TRUNC
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
        .map_err(|e| {
            self.prog.warn(Warning::ServiceLockOpen(e));
            RunStart::RetryLater
        })?;
        match lock::is_locked(Path::new(SERVICE_LOCK)) {
            Ok(true) => self.prog.warn(Warning::ServiceLockBusy),
            Ok(false) => {}
            Err(e) => {
                self.prog.warn(Warning::ServiceLockState(e));
                return Err(RunStart::RetryLater);
            }
        }
        Ok(Some((lk, fd)))
    }

    /// `notification-fd`: the fd number and a fresh pipe (read end, write end), `None`
    /// without one; `Err` when ./run must not start now (or at all, when the number is the
    /// lock's).
    #[inline(never)]
    fn notification_pipe(
        &self,
        lock_target: Option<u32>,
    ) -> Result<Option<(u32, OwnedFd, OwnedFd)>, RunStart> {
        let Some(n) = self.warn_setting(self.sd.notification_fd()) else {
            return Ok(None);
        };
        let valid = n != 0 && (n as u64) < self.maxfd;
        if !valid {
            self.prog.warn(Warning::InvalidNotifyFd);
        }
        if lock_target == Some(n) {
            self.prog.warn(Warning::SameFd);
            return Err(RunStart::Never);
        }
        if n != 0 && !valid {
            // s6 goes on with the bad number and its spawn fails on it.
            self.spawn_failed(Errno::EBADF);
            return Err(RunStart::RetryLater);
        }
        if !valid {
            return Ok(None);
        }
        match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
            Ok((r, w)) => Ok(Some((n, r, w))),
            Err(e) => {
                self.prog.warn(Warning::NotifyPipe(e));
                Err(RunStart::RetryLater)
            }
        }
    }

    /// Poll the notification pipe's read end (non-blocking) until readiness or EOF.
    #[inline(never)]
    fn watch_notification(&mut self, rd: OwnedFd) {
        let _ = nix::fcntl::fcntl(&rd, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        if self
            .poll
            .registry()
            .register(
                &mut SourceFd(&rd.as_raw_fd()),
                TOK_NOTIFY,
                Interest::READABLE,
            )
            .is_ok()
        {
            self.notify = Some(rd);
        }
    }

    fn spawn_failed(&self, e: Errno) {
        self.prog.warn(Warning::SpawnRun(e));
    }

    #[inline(never)]
    fn start_finish(&mut self, wstat: i32, pid: u64) -> FinishStart {
        let (code, sig) = WaitStatus::finish_args(wstat);
        let argv = [
            cstring(b"finish"),
            cstring(code.to_string().as_bytes()),
            cstring(sig.to_string().as_bytes()),
            self.name.clone(),
            cstring(pid.to_string().as_bytes()),
        ];
        let spec = SpawnSpec {
            path: &self.finish_path,
            argv: &argv,
            moves: &[],
            new_pidns: false,
            ignored: &self.ignored,
        };
        match spawn::spawn(&spec) {
            Ok(fpid) => {
                let timeout_ms = self.warn_setting(self.sd.timeout_finish());
                FinishStart::Spawned {
                    pid: fpid as u64,
                    timeout_ms,
                }
            }
            Err(Errno::ENOENT) => FinishStart::None,
            Err(e) => {
                self.prog.warn(Warning::SpawnFinish(e));
                FinishStart::None
            }
        }
    }
}

/// Announce `events` on `event/`.
#[inline(never)]
fn emit(events: &'static [common::event::ServiceEvent]) {
    fifodir::notify(Path::new(EVENTDIR), EventBytes::new(events).as_bytes())
}

/// The core's step, out of line: its locals are not on the stack while the actions are
/// performed (a supervisor's stack pages are private memory).
#[inline(never)]
fn step(core: &mut Core, now: Now, input: Input) -> Actions {
    core.step(Event { now, input })
}

/// Which of the signals we are about to catch were ignored by whoever started us (SIGCHLD
/// excepted: ignoring it would make children vanish without a wait status).
fn ignored_at_startup() -> Vec<i32> {
    CAUGHT
        .iter()
        .copied()
        .filter(|&s| s != libc::SIGCHLD)
        .filter(|&s| {
            // SAFETY: sigaction is a plain C struct; all-zero is a valid value to overwrite.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: a null new action only reads the current disposition (nix has no
            // read-only sigaction).
            let r = unsafe { libc::sigaction(s, std::ptr::null(), &mut old) };
            r == 0 && old.sa_sigaction == libc::SIG_IGN
        })
        .collect()
}

fn kill(t: Target, sig: i32) {
    let (pid, group) = match t {
        Target::Pid(p) => (p, false),
        Target::Group(p) => (p, true),
    };
    // Never signal pid 0 / our own group, nor a pid that does not fit pid_t.
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return;
    };
    if p <= 0 {
        return;
    }
    // Raw kill(2): the down-signal and reload-signal files may name any number, which nix's
    // `Signal` enum cannot carry (real-time signals). Errors are ignored, as s6 does.
    if group {
        // SAFETY: killpg with a positive pgid has no memory effects.
        unsafe { libc::killpg(p, sig) };
    } else {
        // SAFETY: kill with a positive pid has no memory effects.
        unsafe { libc::kill(p, sig) };
    }
}
