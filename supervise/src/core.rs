//! The pure state machine of s6-supervise (spec supervise.md §3-§8).
//!
//! No I/O and no clock reads: every input comes with the time it happened ([`Now`]), every
//! setting the machine needs arrives as a field of an input, and every effect leaves as an
//! [`Action`] for the driver to perform. A few actions are questions (spawn ./run, spawn
//! ./finish, read `timeout-kill`): the driver answers them at once with a reply input
//! ([`Input::RunStarted`], [`Input::FinishStarted`], [`Input::KillTimeout`]), which is always
//! the last action of a step.

use common::control::SuperviseCommand;
use common::event::ServiceEvent;
use common::wait::WaitStatus;
use common::StatusRecord;
use common::Tai64n;
use std::time::Duration;

/// The five states of the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing runs; waiting for a command or the restart deadline.
    Down,
    /// ./run is running.
    Up,
    /// ./run died, ./finish is running.
    Finish,
    /// Like `Up`, but exit once the service is down.
    LastUp,
    /// Like `Finish`, but exit once ./finish ends.
    LastFinish,
}

/// When an input happened: the monotonic clock (for deadlines) and the wall clock (for the
/// stamps stored in `supervise/status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub mono: Duration,
    pub wall: Tai64n,
}

/// Outcome of an attempt to start ./run (the driver's answer to [`Action::SpawnRun`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStart {
    /// ./run is running with this pid.
    Spawned(u64),
    /// The spawn failed (already reported): try again in 60 seconds.
    RetryLater,
    /// The configuration forbids starting (already reported): wait for a command.
    Never,
}

/// Outcome of an attempt to start ./finish (the answer to [`Action::SpawnFinish`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishStart {
    /// ./finish is running with this pid; it may live this long (`None` = forever).
    Spawned { pid: u64, timeout_ms: Option<u32> },
    /// No finish phase (absent or unspawnable ./finish).
    None,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The deadline passed.
    Timeout,
    /// The tracked process (the one in `status.pid`) was reaped with this raw wait status.
    Child(i32),
    /// Signals received by the supervisor.
    Term,
    Hup,
    Quit,
    Int,
    /// A known control byte.
    Command(SuperviseCommand),
    /// A newline arrived on the notification pipe.
    Ready,
    /// Reply to [`Action::SpawnRun`].
    RunStarted(RunStart),
    /// Reply to [`Action::SpawnFinish`].
    FinishStarted(FinishStart),
    /// Reply to [`Action::ReadKillTimeout`]: `timeout-kill` in ms (0 = never).
    KillTimeout(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub now: Now,
    pub input: Input,
}

/// Who a [`Action::Kill`] goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Pid(u64),
    Group(u64),
}

/// An effect for the driver to perform, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Try to start ./run; answer with [`Input::RunStarted`].
    SpawnRun,
    /// Try to start ./finish with these arguments; answer with [`Input::FinishStarted`].
    SpawnFinish { wstat: i32, pid: u64 },
    /// Send a signal.
    Kill(Target, i32),
    /// Send the `down-signal` (read now) to the pid.
    KillDownSignal(u64),
    /// Send the `reload-signal` (read now) to the pid.
    KillReloadSignal(u64),
    /// timeout-kill expiry: SIGKILL then SIGCONT, to the group if `flag-timeout-killpg`
    /// exists, else to the pid.
    TimeoutKill(u64),
    /// Read `timeout-kill`; answer with [`Input::KillTimeout`].
    ReadKillTimeout,
    /// Print the finish-timeout warning.
    WarnFinishTimeout,
    /// Print the "can't happen" warning.
    WarnUpTimeout,
    /// Replace `supervise/status`.
    WriteStatus(StatusRecord),
    /// Notify `event/` (one write of these events' letters).
    Emit(&'static [ServiceEvent]),
    /// Record a death of ./run in `supervise/death_tally`.
    AppendDeathTally { stamp: Tai64n, wstat: i32 },
    /// Create `./down`.
    CreateDownFile,
    /// Remove `./down`.
    RemoveDownFile,
    /// Close the notification pipe (if open).
    CloseNotify,
    /// Replace the supervisor's fds 0 and 1 with /dev/null.
    CloseStdio,
    /// Leave the main loop, send `x`, exit 0.
    Exit,
}

/// Most actions a single step can produce.
pub const MAX_ACTIONS: usize = 12;

/// A small fixed-capacity list of actions (no allocation per step).
#[derive(Clone, Copy, Debug)]
pub struct Actions {
    buf: [Action; MAX_ACTIONS],
    len: usize,
}

impl Actions {
    fn new() -> Actions {
        Actions {
            buf: [Action::Exit; MAX_ACTIONS],
            len: 0,
        }
    }

    fn push(&mut self, a: Action) {
        // The capacity is sized for the longest step; an overflow would be a bug in this file,
        // caught by the unit tests (debug) and harmlessly dropped in release.
        debug_assert!(self.len < MAX_ACTIONS, "action buffer overflow");
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = a;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[Action] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.as_slice().iter()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

const ONE_SEC: Duration = Duration::from_secs(1);
const FIVE_SECS: Duration = Duration::from_secs(5);
const SIXTY_SECS: Duration = Duration::from_secs(60);

/// The supervisor's state.
#[derive(Clone, Debug)]
pub struct Core {
    state: State,
    status: StatusRecord,
    /// Next timeout on the monotonic clock; `None` = infinite.
    deadline: Option<Duration>,
    /// Earliest automatic restart, set at readiness; `None` = "not set" (s6's zero).
    nextstart: Option<Duration>,
    /// A timeout-kill is armed.
    dying: bool,
    /// Exit has been requested.
    exiting: bool,
}

impl Core {
    /// A fresh supervisor: wanted up unless `down` exists. Returns the startup actions (the
    /// status with 2.15's "not started yet" marker, then event `s`); the deadline is `now`,
    /// so the first loop iteration starts ./run if wanted.
    pub fn new(want_up: bool, now: Now) -> (Core, Actions) {
        let status = StatusRecord {
            stamp: now.wall,
            ready_stamp: now.wall,
            pid: 0,
            wstat: 0,
            paused: false,
            finishing: false,
            want_up,
            ready: true,
        };
        let core = Core {
            state: State::Down,
            status,
            deadline: Some(now.mono),
            nextstart: None,
            dying: false,
            exiting: false,
        };
        let mut a = Actions::new();
        let mut marker = status;
        marker.paused = true;
        a.push(Action::WriteStatus(marker));
        a.push(Action::Emit(&[ServiceEvent::Start]));
        (core, a)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn status(&self) -> &StatusRecord {
        &self.status
    }

    /// The pid whose death is an input (run or finish), 0 if none.
    pub fn tracked_pid(&self) -> u64 {
        self.status.pid
    }

    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    pub fn dying(&self) -> bool {
        self.dying
    }

    pub fn exiting(&self) -> bool {
        self.exiting
    }

    /// Feed one input; returns the actions to perform, in order.
    pub fn step(&mut self, ev: Event) -> Actions {
        let mut a = Actions::new();
        let now = ev.now;
        use Input as I;
        use State as S;
        match ev.input {
            I::RunStarted(r) => self.run_started(now, r, &mut a),
            I::FinishStarted(f) => self.finish_started(now, f, &mut a),
            I::KillTimeout(ms) => {
                if ms > 0 {
                    self.deadline = Some(now.mono.saturating_add(Duration::from_millis(ms as u64)));
                    self.dying = true;
                } else {
                    self.deadline = None;
                }
            }
            I::Ready => self.ready(now, &mut a),
            I::Timeout => match self.state {
                S::Down => {
                    if self.status.want_up {
                        a.push(Action::SpawnRun);
                    } else {
                        self.deadline = None;
                    }
                }
                S::Up | S::LastUp => self.up_timeout(now, &mut a),
                S::Finish | S::LastFinish => {
                    a.push(Action::WarnFinishTimeout);
                    self.cont(&mut a);
                    a.push(Action::Kill(Target::Pid(self.status.pid), libc::SIGKILL));
                    self.deadline = Some(now.mono.saturating_add(FIVE_SECS));
                }
            },
            I::Child(wstat) => match self.state {
                S::Down => {}
                S::Up | S::LastUp => self.run_died(now, wstat, &mut a),
                S::Finish | S::LastFinish => self.finish_died(now, wstat, &mut a),
            },
            I::Term => match self.state {
                S::Down => self.exit(&mut a),
                S::Up | S::LastUp => {
                    self.state = S::LastUp;
                    self.take_down(&mut a);
                }
                S::Finish => {
                    self.state = S::LastFinish;
                    a.push(Action::CloseStdio);
                }
                S::LastFinish => {}
            },
            I::Hup => self.exit_when_down(&mut a),
            I::Quit => self.exit(&mut a),
            I::Int => {
                if self.state != S::Down && self.status.pid != 0 {
                    a.push(Action::Kill(Target::Group(self.status.pid), libc::SIGINT));
                }
                self.exit(&mut a);
            }
            I::Command(c) => self.command(now, c, &mut a),
        }
        a
    }

    fn exit(&mut self, a: &mut Actions) {
        if !self.exiting {
            self.exiting = true;
            a.push(Action::Exit);
        }
    }

    /// SIGHUP and `x`: exit now if down, else once the service is down (without taking it
    /// down); the supervisor's stdin and stdout go to /dev/null meanwhile.
    fn exit_when_down(&mut self, a: &mut Actions) {
        match self.state {
            State::Down => self.exit(a),
            State::Up => {
                self.state = State::LastUp;
                a.push(Action::CloseStdio);
            }
            State::Finish => {
                self.state = State::LastFinish;
                a.push(Action::CloseStdio);
            }
            State::LastUp | State::LastFinish => a.push(Action::CloseStdio),
        }
    }

    fn announce(&self, a: &mut Actions) {
        a.push(Action::WriteStatus(self.status));
    }

    fn want(&mut self, up: bool, a: &mut Actions) {
        self.status.want_up = up;
        self.announce(a);
    }

    /// `killc`: SIGCONT to the pid, clear paused, write status.
    fn cont(&mut self, a: &mut Actions) {
        a.push(Action::Kill(Target::Pid(self.status.pid), libc::SIGCONT));
        self.status.paused = false;
        self.announce(a);
    }

    /// `up_d`: wantup=0, down-signal, SIGCONT (+ status), then arm timeout-kill.
    fn take_down(&mut self, a: &mut Actions) {
        self.status.want_up = false;
        a.push(Action::KillDownSignal(self.status.pid));
        self.cont(a);
        a.push(Action::ReadKillTimeout);
    }

    fn up_timeout(&mut self, now: Now, a: &mut Actions) {
        if self.dying {
            a.push(Action::TimeoutKill(self.status.pid));
            self.status.paused = false;
            self.announce(a);
            self.deadline = Some(now.mono.saturating_add(FIVE_SECS));
        } else {
            self.deadline = None;
            a.push(Action::WarnUpTimeout);
        }
    }

    fn run_started(&mut self, now: Now, r: RunStart, a: &mut Actions) {
        if self.state != State::Down {
            return;
        }
        match r {
            RunStart::Spawned(pid) => {
                self.deadline = None;
                self.nextstart = None;
                self.state = State::Up;
                self.status.pid = pid;
                self.status.ready = false;
                self.status.stamp = now.wall;
                self.announce(a);
                a.push(Action::Emit(&[ServiceEvent::Up]));
            }
            RunStart::RetryLater => self.deadline = Some(now.mono.saturating_add(SIXTY_SECS)),
            RunStart::Never => self.deadline = None,
        }
    }

    fn ready(&mut self, now: Now, a: &mut Actions) {
        if !matches!(self.state, State::Up | State::LastUp) {
            return;
        }
        self.nextstart = Some(now.mono.saturating_add(ONE_SEC));
        self.status.ready_stamp = now.wall;
        self.status.ready = true;
        self.announce(a);
        a.push(Action::Emit(&[ServiceEvent::Ready]));
        a.push(Action::CloseNotify);
    }

    /// `uplastup_z`: ./run was reaped.
    fn run_died(&mut self, now: Now, wstat: i32, a: &mut Actions) {
        let pid = self.status.pid;
        self.status.wstat = wstat as u16;
        self.status.paused = false;
        self.status.ready = false;
        self.dying = false;
        self.status.stamp = now.wall;
        a.push(Action::CloseNotify);
        a.push(Action::AppendDeathTally {
            stamp: now.wall,
            wstat,
        });
        a.push(Action::SpawnFinish { wstat, pid });
    }

    fn finish_started(&mut self, now: Now, f: FinishStart, a: &mut Actions) {
        let last = match self.state {
            State::Up => false,
            State::LastUp => true,
            _ => return,
        };
        match f {
            FinishStart::Spawned { pid, timeout_ms } => {
                self.status.pid = pid;
                self.deadline =
                    timeout_ms.map(|ms| now.mono.saturating_add(Duration::from_millis(ms as u64)));
                self.status.finishing = true;
                self.announce(a);
                a.push(Action::Emit(&[ServiceEvent::Down]));
                self.state = if last {
                    State::LastFinish
                } else {
                    State::Finish
                };
            }
            FinishStart::None => {
                self.down_and_ready(now, &[ServiceEvent::Down, ServiceEvent::DownReady], a);
                if last {
                    self.exit(a);
                }
            }
        }
    }

    fn finish_died(&mut self, now: Now, wstat: i32, a: &mut Actions) {
        let last = self.state == State::LastFinish;
        // ./finish exiting 125 means "do not restart" (permanent failure).
        if WaitStatus::is_exit(wstat, 125) {
            self.status.want_up = false;
            self.down_and_ready(
                now,
                &[ServiceEvent::PermanentFailure, ServiceEvent::DownReady],
                a,
            );
        } else {
            self.down_and_ready(now, &[ServiceEvent::DownReady], a);
        }
        if last {
            self.exit(a);
        }
    }

    fn down_and_ready(&mut self, now: Now, ev: &'static [ServiceEvent], a: &mut Actions) {
        self.status.pid = 0;
        self.status.finishing = false;
        self.status.ready = true;
        self.state = State::Down;
        self.deadline = Some(self.nextstart.unwrap_or(now.mono.saturating_add(ONE_SEC)));
        self.status.ready_stamp = now.wall;
        self.announce(a);
        a.push(Action::Emit(ev));
    }

    fn command(&mut self, _now: Now, c: SuperviseCommand, a: &mut Actions) {
        use State as S;
        use SuperviseCommand as C;
        let up = matches!(self.state, S::Up | S::LastUp);
        let pid = self.status.pid;
        match c {
            C::Signal(s) if up => a.push(Action::Kill(Target::Pid(pid), s.signal())),
            C::Pause if up => {
                a.push(Action::Kill(Target::Pid(pid), libc::SIGSTOP));
                self.status.paused = true;
                self.announce(a);
            }
            C::Continue if up => self.cont(a),
            C::Restart if up => a.push(Action::KillDownSignal(pid)),
            C::Reload if up => a.push(Action::KillReloadSignal(pid)),
            C::GroupPause if up => {
                a.push(Action::Kill(Target::Group(pid), libc::SIGSTOP));
                self.status.paused = true;
                self.announce(a);
            }
            C::GroupContinue if up => {
                a.push(Action::Kill(Target::Group(pid), libc::SIGCONT));
                self.status.paused = false;
                self.announce(a);
            }
            C::GroupKill if up => a.push(Action::Kill(Target::Group(pid), libc::SIGKILL)),
            C::Signal(_)
            | C::Pause
            | C::Continue
            | C::Restart
            | C::Reload
            | C::GroupPause
            | C::GroupContinue
            | C::GroupKill => {}
            C::Once => {
                self.want(false, a);
                if self.state == S::Down {
                    a.push(Action::SpawnRun);
                }
            }
            C::Down => {
                if up {
                    self.take_down(a);
                } else {
                    self.want(false, a);
                }
            }
            C::Up => {
                self.want(true, a);
                if self.state == S::Down {
                    a.push(Action::SpawnRun);
                }
            }
            C::DownPersist => {
                a.push(Action::CreateDownFile);
                if up {
                    self.take_down(a);
                } else {
                    self.want(false, a);
                }
            }
            C::UpPersist => {
                a.push(Action::RemoveDownFile);
                self.want(true, a);
                if self.state == S::Down {
                    a.push(Action::SpawnRun);
                }
            }
            C::Exit => self.exit_when_down(a),
            C::OnceAtMost => self.want(false, a),
            C::OnceAtMostPersist => {
                a.push(Action::CreateDownFile);
                self.want(false, a);
            }
        }
    }
}

#[cfg(test)]
mod tests;
