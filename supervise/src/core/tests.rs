//! Transition-by-transition tests of the state machine (spec supervise.md §4-§8).

#![allow(non_snake_case)]

use super::*;
use common::control::{SignalCommand, SuperviseCommand as C};

const RUN: u64 = 1000;
const FIN: u64 = 2000;

fn at(ms: u64) -> Now {
    Now {
        mono: Duration::from_millis(ms),
        wall: Tai64n::from_unix(1_700_000_000 + ms / 1000, ((ms % 1000) * 1_000_000) as u32),
    }
}

fn ev(ms: u64, input: Input) -> Event {
    Event { now: at(ms), input }
}

fn acts(a: &Actions) -> Vec<Action> {
    a.as_slice().to_vec()
}

/// Feed `input`, then the replies a driver would give (spawns succeed with `RUN` / `FIN`,
/// timeout-kill from `kill_ms`), collecting every action.
struct Sim {
    core: Core,
    run_result: RunStart,
    finish_result: FinishStart,
    kill_ms: u32,
}

impl Sim {
    fn new(want_up: bool) -> (Sim, Vec<Action>) {
        let (core, a) = Core::new(want_up, at(0));
        (
            Sim {
                core,
                run_result: RunStart::Spawned(RUN),
                finish_result: FinishStart::Spawned {
                    pid: FIN,
                    timeout_ms: Some(5000),
                },
                kill_ms: 0,
            },
            acts(&a),
        )
    }

    fn feed(&mut self, ms: u64, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        let mut next = Some(input);
        while let Some(i) = next.take() {
            let a = self.core.step(ev(ms, i));
            for &x in a.iter() {
                out.push(x);
                match x {
                    Action::SpawnRun => next = Some(Input::RunStarted(self.run_result)),
                    Action::SpawnFinish { .. } => {
                        next = Some(Input::FinishStarted(self.finish_result))
                    }
                    Action::ReadKillTimeout => next = Some(Input::KillTimeout(self.kill_ms)),
                    _ => {}
                }
            }
        }
        out
    }

    /// A started, up service (pid RUN).
    fn up() -> Sim {
        let (mut s, _) = Sim::new(true);
        s.feed(0, Input::Timeout);
        assert_eq!(s.core.state(), State::Up);
        s
    }

    /// Up, then ./run died and ./finish runs (pid FIN).
    fn finishing() -> Sim {
        let mut s = Sim::up();
        s.feed(100, Input::Child(0x0f));
        assert_eq!(s.core.state(), State::Finish);
        s
    }

    fn st(&self) -> StatusRecord {
        *self.core.status()
    }
}

fn emits(a: &[Action]) -> Vec<Vec<u8>> {
    a.iter()
        .filter_map(|x| match x {
            Action::Emit(e) => Some(common::event::EventBytes::new(e).as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

fn writes(a: &[Action]) -> Vec<StatusRecord> {
    a.iter()
        .filter_map(|x| match x {
            Action::WriteStatus(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn kills(a: &[Action]) -> Vec<(Target, i32)> {
    a.iter()
        .filter_map(|x| match x {
            Action::Kill(t, s) => Some((*t, *s)),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------- startup

#[test]
fn startup_writes_not_started_marker_then_s() {
    let (s, a) = Sim::new(true);
    assert_eq!(a.len(), 2);
    let w = writes(&a);
    assert_eq!(w.len(), 1);
    assert!(w[0].paused && w[0].want_up && w[0].ready && w[0].pid == 0);
    assert_eq!(w[0].stamp, w[0].ready_stamp);
    assert_eq!(emits(&a), vec![b"s".to_vec()]);
    // The marker is in the file only; in memory paused is clear.
    assert!(!s.st().paused);
    assert_eq!(s.core.deadline(), Some(Duration::ZERO));
    assert_eq!(s.core.state(), State::Down);
}

#[test]
fn startup_with_down_file() {
    let (mut s, a) = Sim::new(false);
    assert!(!writes(&a)[0].want_up);
    let a = s.feed(0, Input::Timeout);
    assert!(a.is_empty());
    assert_eq!(s.core.deadline(), None);
    assert_eq!(s.core.state(), State::Down);
}

// ---------------------------------------------------------------- DOWN

#[test]
fn down_timeout_starts_when_wanted() {
    let (mut s, _) = Sim::new(true);
    let a = s.feed(0, Input::Timeout);
    assert_eq!(a[0], Action::SpawnRun);
    assert_eq!(s.core.state(), State::Up);
    assert_eq!(s.core.tracked_pid(), RUN);
    assert_eq!(s.core.deadline(), None);
    let w = writes(&a);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].flags(), common::status::FLAG_WANTUP);
    assert_eq!(w[0].pid, RUN);
    assert_eq!(emits(&a), vec![b"u".to_vec()]);
}

#[test]
fn spawn_failure_retries_in_60s_without_status_or_event() {
    let (mut s, _) = Sim::new(true);
    s.run_result = RunStart::RetryLater;
    let a = s.feed(500, Input::Timeout);
    assert_eq!(a, vec![Action::SpawnRun]);
    assert_eq!(s.core.state(), State::Down);
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(60_500)));
    s.run_result = RunStart::Never;
    s.feed(60_500, Input::Timeout);
    assert_eq!(s.core.deadline(), None);
}

#[test]
fn down_signals_and_signal_commands_are_ignored() {
    let (mut s, _) = Sim::new(false);
    s.feed(0, Input::Timeout);
    for c in [
        C::Signal(SignalCommand::Kill),
        C::Pause,
        C::Continue,
        C::Restart,
        C::Reload,
        C::GroupPause,
        C::GroupContinue,
        C::GroupKill,
    ] {
        assert!(s.feed(1, Input::Command(c)).is_empty(), "{c:?}");
    }
    assert!(s.feed(1, Input::Child(0)).is_empty());
}

#[test]
fn down_u_o_U_start_immediately() {
    for (c, want) in [(C::Up, true), (C::Once, false), (C::UpPersist, true)] {
        let (mut s, _) = Sim::new(false);
        s.feed(0, Input::Timeout);
        let a = s.feed(10, Input::Command(c));
        assert!(a.contains(&Action::SpawnRun), "{c:?}");
        assert_eq!(s.core.state(), State::Up);
        assert_eq!(s.st().want_up, want);
        assert_eq!(a.contains(&Action::RemoveDownFile), c == C::UpPersist);
    }
}

#[test]
fn down_d_D_O_Q_want_down() {
    for c in [C::Down, C::DownPersist, C::OnceAtMost, C::OnceAtMostPersist] {
        let (mut s, _) = Sim::new(true);
        s.run_result = RunStart::RetryLater;
        s.feed(0, Input::Timeout);
        let a = s.feed(10, Input::Command(c));
        assert!(!s.st().want_up);
        assert_eq!(writes(&a).len(), 1);
        assert_eq!(
            a.contains(&Action::CreateDownFile),
            matches!(c, C::DownPersist | C::OnceAtMostPersist)
        );
        assert_eq!(s.core.state(), State::Down);
    }
}

#[test]
fn down_x_term_hup_quit_int_exit() {
    for i in [
        Input::Command(C::Exit),
        Input::Term,
        Input::Hup,
        Input::Quit,
        Input::Int,
    ] {
        let (mut s, _) = Sim::new(false);
        let a = s.feed(0, i);
        assert_eq!(a, vec![Action::Exit], "{i:?}");
        assert!(s.core.exiting());
    }
}

// ---------------------------------------------------------------- UP

#[test]
fn up_signal_commands_go_to_the_pid() {
    let mut s = Sim::up();
    for (sc, sig) in [
        (SignalCommand::Alrm, libc::SIGALRM),
        (SignalCommand::Abrt, libc::SIGABRT),
        (SignalCommand::Quit, libc::SIGQUIT),
        (SignalCommand::Hup, libc::SIGHUP),
        (SignalCommand::Kill, libc::SIGKILL),
        (SignalCommand::Term, libc::SIGTERM),
        (SignalCommand::Int, libc::SIGINT),
        (SignalCommand::Usr1, libc::SIGUSR1),
        (SignalCommand::Usr2, libc::SIGUSR2),
        (SignalCommand::Winch, libc::SIGWINCH),
    ] {
        let a = s.feed(1, Input::Command(C::Signal(sc)));
        assert_eq!(a, vec![Action::Kill(Target::Pid(RUN), sig)]);
    }
    assert_eq!(
        s.feed(1, Input::Command(C::Restart)),
        vec![Action::KillDownSignal(RUN)]
    );
    assert_eq!(
        s.feed(1, Input::Command(C::Reload)),
        vec![Action::KillReloadSignal(RUN)]
    );
    assert_eq!(
        s.feed(1, Input::Command(C::GroupKill)),
        vec![Action::Kill(Target::Group(RUN), libc::SIGKILL)]
    );
    assert!(s.st().want_up, "r and signals leave wantup alone");
}

#[test]
fn up_pause_continue_write_status() {
    let mut s = Sim::up();
    let a = s.feed(1, Input::Command(C::Pause));
    assert_eq!(kills(&a), vec![(Target::Pid(RUN), libc::SIGSTOP)]);
    assert!(writes(&a)[0].paused);
    let a = s.feed(1, Input::Command(C::Continue));
    assert_eq!(kills(&a), vec![(Target::Pid(RUN), libc::SIGCONT)]);
    assert!(!writes(&a)[0].paused);
    let a = s.feed(1, Input::Command(C::GroupPause));
    assert_eq!(kills(&a), vec![(Target::Group(RUN), libc::SIGSTOP)]);
    assert!(writes(&a)[0].paused);
    let a = s.feed(1, Input::Command(C::GroupContinue));
    assert_eq!(kills(&a), vec![(Target::Group(RUN), libc::SIGCONT)]);
    assert!(!writes(&a)[0].paused);
    assert!(emits(&a).is_empty());
}

#[test]
fn up_d_takes_down_with_cont_and_no_timeout() {
    let mut s = Sim::up();
    s.feed(1, Input::Command(C::Pause));
    let a = s.feed(2, Input::Command(C::Down));
    assert_eq!(a[0], Action::KillDownSignal(RUN));
    assert_eq!(a[1], Action::Kill(Target::Pid(RUN), libc::SIGCONT));
    let w = writes(&a);
    assert_eq!(w.len(), 1);
    assert!(!w[0].want_up && !w[0].paused);
    assert_eq!(s.core.deadline(), None);
    assert!(!s.core.dying());
    assert_eq!(s.core.state(), State::Up);
}

#[test]
fn up_D_creates_down_file() {
    let mut s = Sim::up();
    let a = s.feed(2, Input::Command(C::DownPersist));
    assert_eq!(a[0], Action::CreateDownFile);
    assert_eq!(a[1], Action::KillDownSignal(RUN));
}

#[test]
fn timeout_kill_escalation() {
    let mut s = Sim::up();
    s.kill_ms = 400;
    s.feed(1000, Input::Command(C::Down));
    assert!(s.core.dying());
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(1400)));
    let a = s.feed(1400, Input::Timeout);
    assert_eq!(a[0], Action::TimeoutKill(RUN));
    assert!(!writes(&a)[0].paused);
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(6400)));
    // Still there 5 s later: again.
    let a = s.feed(6400, Input::Timeout);
    assert_eq!(a[0], Action::TimeoutKill(RUN));
    // Death clears dying.
    s.feed(6500, Input::Child(9));
    assert!(!s.core.dying());
}

#[test]
fn up_timeout_without_dying_warns() {
    let mut s = Sim::up();
    let a = s.feed(5, Input::Timeout);
    assert_eq!(a, vec![Action::WarnUpTimeout]);
    assert_eq!(s.core.deadline(), None);
}

#[test]
fn up_u_U_o_O_Q_only_change_wantup() {
    let mut s = Sim::up();
    let a = s.feed(1, Input::Command(C::OnceAtMost));
    assert!(kills(&a).is_empty() && !s.st().want_up);
    let a = s.feed(1, Input::Command(C::Up));
    assert!(!a.contains(&Action::SpawnRun) && s.st().want_up);
    let a = s.feed(1, Input::Command(C::Once));
    assert!(!a.contains(&Action::SpawnRun) && !s.st().want_up);
    let a = s.feed(1, Input::Command(C::UpPersist));
    assert!(a.contains(&Action::RemoveDownFile) && s.st().want_up);
    let a = s.feed(1, Input::Command(C::OnceAtMostPersist));
    assert!(a.contains(&Action::CreateDownFile) && !s.st().want_up);
    assert!(kills(&a).is_empty());
    assert_eq!(s.core.state(), State::Up);
}

#[test]
fn up_x_and_hup_go_lastup_closing_stdio() {
    for i in [Input::Command(C::Exit), Input::Hup] {
        let mut s = Sim::up();
        let a = s.feed(1, i);
        assert_eq!(a, vec![Action::CloseStdio]);
        assert_eq!(s.core.state(), State::LastUp);
        // In LASTUP, x/HUP only close again.
        assert_eq!(s.feed(2, i), vec![Action::CloseStdio]);
    }
}

#[test]
fn up_term_goes_lastup_and_takes_down() {
    let mut s = Sim::up();
    let a = s.feed(1, Input::Term);
    assert_eq!(s.core.state(), State::LastUp);
    assert_eq!(a[0], Action::KillDownSignal(RUN));
    assert!(!s.st().want_up);
    // TERM again in LASTUP: take-down again.
    let a = s.feed(2, Input::Term);
    assert_eq!(a[0], Action::KillDownSignal(RUN));
}

#[test]
fn up_quit_exits_leaving_service() {
    let mut s = Sim::up();
    assert_eq!(s.feed(1, Input::Quit), vec![Action::Exit]);
}

#[test]
fn up_int_kills_group_then_exits() {
    let mut s = Sim::up();
    assert_eq!(
        s.feed(1, Input::Int),
        vec![Action::Kill(Target::Group(RUN), libc::SIGINT), Action::Exit]
    );
}

// ---------------------------------------------------------------- death of run, finish

#[test]
fn run_death_spawns_finish() {
    let mut s = Sim::up();
    s.feed(50, Input::Ready);
    let a = s.feed(100, Input::Child(0x0f));
    assert_eq!(a[0], Action::CloseNotify);
    assert!(matches!(a[1], Action::AppendDeathTally { wstat: 0x0f, .. }));
    assert_eq!(
        a[2],
        Action::SpawnFinish {
            wstat: 0x0f,
            pid: RUN
        }
    );
    let w = writes(&a);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].pid, FIN);
    assert!(w[0].finishing && !w[0].ready && !w[0].paused);
    assert_eq!(w[0].wstat, 0x0f);
    assert_eq!(emits(&a), vec![b"d".to_vec()]);
    assert_eq!(s.core.state(), State::Finish);
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(5100)));
}

#[test]
fn run_death_without_finish_is_dD_and_throttled() {
    let mut s = Sim::up();
    s.finish_result = FinishStart::None;
    let a = s.feed(3000, Input::Child(0x0300));
    assert_eq!(emits(&a), vec![b"dD".to_vec()]);
    let w = writes(&a);
    assert_eq!(w.len(), 1);
    assert!(w[0].ready && !w[0].finishing && w[0].pid == 0 && w[0].want_up);
    assert_eq!(w[0].wstat, 0x0300);
    assert_eq!(s.core.state(), State::Down);
    // §5.1: no readiness -> now + 1 s.
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(4000)));
}

#[test]
fn restart_throttle_after_readiness() {
    // Ready for more than 1 s: immediate restart (deadline in the past).
    let mut s = Sim::up();
    s.finish_result = FinishStart::None;
    s.feed(100, Input::Ready);
    s.feed(5000, Input::Child(0));
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(1100)));
    // Died 0.3 s after readiness: restart at readiness + 1 s.
    let mut s = Sim::up();
    s.finish_result = FinishStart::None;
    s.feed(4000, Input::Ready);
    s.feed(4300, Input::Child(0));
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(5000)));
    // A new start resets nextstart.
    s.feed(5000, Input::Timeout);
    s.feed(9000, Input::Child(0));
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(10000)));
}

#[test]
fn readiness_sets_flag_and_emits_U_once() {
    let mut s = Sim::up();
    let a = s.feed(200, Input::Ready);
    let w = writes(&a);
    assert!(w[0].ready);
    assert_eq!(w[0].ready_stamp, at(200).wall);
    assert_eq!(emits(&a), vec![b"U".to_vec()]);
    assert!(a.contains(&Action::CloseNotify));
    // Readiness is meaningless when not up.
    let mut s = Sim::finishing();
    assert!(s.feed(300, Input::Ready).is_empty());
}

#[test]
fn finish_exit_125_is_OD_and_wanted_down() {
    let mut s = Sim::finishing();
    let a = s.feed(200, Input::Child(125 << 8));
    assert_eq!(emits(&a), vec![b"OD".to_vec()]);
    assert!(!s.st().want_up);
    assert_eq!(s.core.state(), State::Down);
    // Killed by signal 125? Not an exit code: plain D.
    let mut s = Sim::finishing();
    let a = s.feed(200, Input::Child(9));
    assert_eq!(emits(&a), vec![b"D".to_vec()]);
    assert!(s.st().want_up);
}

#[test]
fn finish_end_is_down_and_ready() {
    let mut s = Sim::finishing();
    let a = s.feed(700, Input::Child(0));
    let w = writes(&a);
    assert_eq!(w.len(), 1);
    assert!(w[0].ready && w[0].pid == 0 && !w[0].finishing);
    assert_eq!(w[0].wstat, 0x0f, "wstat of run kept");
    assert_eq!(w[0].ready_stamp, at(700).wall);
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(1700)));
    // Then the throttle deadline restarts it.
    let a = s.feed(1700, Input::Timeout);
    assert!(a.contains(&Action::SpawnRun));
    let w = writes(&a);
    assert_eq!(w[0].wstat, 0x0f, "wstat kept while up again");
    assert_eq!(w[0].flags(), common::status::FLAG_WANTUP);
}

#[test]
fn finish_timeout_kills_finish() {
    let mut s = Sim::finishing();
    let a = s.feed(5100, Input::Timeout);
    assert_eq!(a[0], Action::WarnFinishTimeout);
    assert_eq!(
        kills(&a),
        vec![
            (Target::Pid(FIN), libc::SIGCONT),
            (Target::Pid(FIN), libc::SIGKILL)
        ]
    );
    assert_eq!(s.core.deadline(), Some(Duration::from_millis(10100)));
}

#[test]
fn finish_unlimited_timeout() {
    let mut s = Sim::up();
    s.finish_result = FinishStart::Spawned {
        pid: FIN,
        timeout_ms: None,
    };
    s.feed(100, Input::Child(0));
    assert_eq!(s.core.deadline(), None);
}

#[test]
fn finish_ignores_signal_commands() {
    let mut s = Sim::finishing();
    for c in [
        C::Signal(SignalCommand::Kill),
        C::Pause,
        C::Continue,
        C::Restart,
        C::Reload,
        C::GroupPause,
        C::GroupContinue,
        C::GroupKill,
    ] {
        assert!(s.feed(1, Input::Command(c)).is_empty(), "{c:?}");
    }
    // d only changes wantup.
    let a = s.feed(1, Input::Command(C::Down));
    assert!(kills(&a).is_empty() && !s.st().want_up);
    let a = s.feed(1, Input::Command(C::Up));
    assert!(!a.contains(&Action::SpawnRun) && s.st().want_up);
}

#[test]
fn finish_term_hup_x_go_lastfinish() {
    for i in [Input::Term, Input::Hup, Input::Command(C::Exit)] {
        let mut s = Sim::finishing();
        assert_eq!(s.feed(1, i), vec![Action::CloseStdio]);
        assert_eq!(s.core.state(), State::LastFinish);
        let a = s.feed(2, Input::Child(0));
        assert_eq!(emits(&a), vec![b"D".to_vec()]);
        assert_eq!(*a.last().unwrap_or(&Action::SpawnRun), Action::Exit);
    }
}

#[test]
fn lastfinish_term_does_nothing() {
    let mut s = Sim::finishing();
    s.feed(1, Input::Term);
    assert!(s.feed(2, Input::Term).is_empty());
    assert_eq!(s.feed(2, Input::Hup), vec![Action::CloseStdio]);
}

#[test]
fn finishing_int_kills_finish_group() {
    let mut s = Sim::finishing();
    assert_eq!(
        s.feed(1, Input::Int),
        vec![Action::Kill(Target::Group(FIN), libc::SIGINT), Action::Exit]
    );
}

#[test]
fn lastup_death_without_finish_exits() {
    let mut s = Sim::up();
    s.finish_result = FinishStart::None;
    s.feed(1, Input::Command(C::Exit));
    let a = s.feed(2, Input::Child(0x0f));
    assert_eq!(emits(&a), vec![b"dD".to_vec()]);
    assert_eq!(*a.last().unwrap_or(&Action::SpawnRun), Action::Exit);
    assert!(s.core.exiting());
}

#[test]
fn lastup_death_with_finish_goes_lastfinish() {
    let mut s = Sim::up();
    s.feed(1, Input::Hup);
    s.feed(2, Input::Child(0x0f));
    assert_eq!(s.core.state(), State::LastFinish);
    assert!(!s.core.exiting());
}

#[test]
fn sigterm_while_up_full_sequence() {
    // SIGTERM -> take-down; death -> dD; exit; wantup cleared.
    let mut s = Sim::up();
    s.finish_result = FinishStart::None;
    s.feed(1, Input::Term);
    let a = s.feed(2, Input::Child(0x0f));
    assert_eq!(emits(&a), vec![b"dD".to_vec()]);
    assert!(s.core.exiting());
    assert_eq!(s.st().flags(), common::status::FLAG_READY);
}

#[test]
fn replies_out_of_place_are_ignored() {
    let mut s = Sim::finishing();
    assert!(s
        .core
        .step(ev(1, Input::RunStarted(RunStart::Spawned(5))))
        .is_empty());
    assert!(s
        .core
        .step(ev(1, Input::FinishStarted(FinishStart::None)))
        .is_empty());
    assert_eq!(s.core.state(), State::Finish);
}

#[test]
fn every_command_in_every_state_fits_the_action_buffer() {
    let states: [fn() -> Sim; 3] = [
        || {
            let (mut s, _) = Sim::new(false);
            s.feed(0, Input::Timeout);
            s
        },
        Sim::up,
        Sim::finishing,
    ];
    for mk in states {
        for c in C::all() {
            let mut s = mk();
            let a = s.feed(1, Input::Command(c));
            assert!(a.len() <= MAX_ACTIONS * 3);
        }
        for i in [
            Input::Term,
            Input::Hup,
            Input::Quit,
            Input::Int,
            Input::Timeout,
        ] {
            let mut s = mk();
            s.feed(1, i);
        }
    }
}

// ---------------------------------------------------------------- the whole table

fn in_state(st: State) -> Sim {
    match st {
        State::Down => {
            let (mut s, _) = Sim::new(false);
            s.feed(0, Input::Timeout);
            s
        }
        State::Up => Sim::up(),
        State::Finish => Sim::finishing(),
        State::LastUp => {
            let mut s = Sim::up();
            s.feed(1, Input::Command(C::Exit));
            s
        }
        State::LastFinish => {
            let mut s = Sim::finishing();
            s.feed(1, Input::Command(C::Exit));
            s
        }
    }
}

const ALL_STATES: [State; 5] = [
    State::Down,
    State::Up,
    State::Finish,
    State::LastUp,
    State::LastFinish,
];

#[test]
fn table_signal_letters_only_reach_a_running_run() {
    for st in ALL_STATES {
        let running = matches!(st, State::Up | State::LastUp);
        for c in C::all() {
            let is_signal_cmd = matches!(
                c,
                C::Signal(_)
                    | C::Pause
                    | C::Continue
                    | C::Restart
                    | C::Reload
                    | C::GroupPause
                    | C::GroupContinue
                    | C::GroupKill
            );
            if !is_signal_cmd {
                continue;
            }
            let mut s = in_state(st);
            let a = s.feed(5, Input::Command(c));
            assert_eq!(!a.is_empty(), running, "{st:?} {c:?}");
            assert_eq!(s.core.state(), st, "{st:?} {c:?}");
            assert!(emits(&a).is_empty(), "no event for {c:?}");
        }
    }
}

#[test]
fn table_want_commands_in_every_state() {
    for st in ALL_STATES {
        let running = matches!(st, State::Up | State::LastUp);
        // d / D: take-down when running, else want-down
        for c in [C::Down, C::DownPersist] {
            let mut s = in_state(st);
            let a = s.feed(5, Input::Command(c));
            assert!(!s.st().want_up);
            assert_eq!(
                a.iter().any(|x| matches!(x, Action::KillDownSignal(_))),
                running,
                "{st:?} {c:?}"
            );
            assert_eq!(a.contains(&Action::CreateDownFile), c == C::DownPersist);
        }
        // O / Q: never kill
        for c in [C::OnceAtMost, C::OnceAtMostPersist] {
            let mut s = in_state(st);
            let a = s.feed(5, Input::Command(c));
            assert!(!s.st().want_up && kills(&a).is_empty(), "{st:?} {c:?}");
            assert_eq!(
                a.contains(&Action::CreateDownFile),
                c == C::OnceAtMostPersist
            );
            assert_eq!(s.core.state(), st);
        }
        // u / U / o: start only from DOWN
        for c in [C::Up, C::UpPersist, C::Once] {
            let mut s = in_state(st);
            let a = s.feed(5, Input::Command(c));
            assert_eq!(s.st().want_up, c != C::Once, "{st:?} {c:?}");
            assert_eq!(
                a.contains(&Action::SpawnRun),
                st == State::Down,
                "{st:?} {c:?}"
            );
        }
    }
}

#[test]
fn table_supervisor_signals_in_every_state() {
    for st in ALL_STATES {
        // QUIT: exit everywhere, nothing else.
        let mut s = in_state(st);
        assert_eq!(s.feed(5, Input::Quit), vec![Action::Exit], "{st:?}");
        // INT: group of the tracked pid (none in DOWN), then exit.
        let mut s = in_state(st);
        let pid = s.core.tracked_pid();
        let a = s.feed(5, Input::Int);
        if st == State::Down {
            assert_eq!(a, vec![Action::Exit]);
        } else {
            assert_eq!(
                a,
                vec![Action::Kill(Target::Group(pid), libc::SIGINT), Action::Exit],
                "{st:?}"
            );
        }
        // Child of the tracked pid is ignored only in DOWN.
        let mut s = in_state(st);
        let a = s.feed(5, Input::Child(0));
        assert_eq!(a.is_empty(), st == State::Down, "{st:?}");
        // Exit after the death in the LAST states, not otherwise.
        let mut s = in_state(st);
        s.finish_result = FinishStart::None;
        s.feed(5, Input::Child(0));
        assert_eq!(
            s.core.exiting(),
            matches!(st, State::LastUp | State::LastFinish),
            "{st:?}"
        );
    }
}

// ---------------------------------------------------------------- random walks

/// Random input sequences (a fixed-seed LCG, no dependency): the machine never overflows its
/// action buffer (debug_assert), and its status always agrees with its state.
#[test]
fn random_walks_keep_invariants() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let cmds: Vec<C> = C::all().collect();
    for walk in 0..300 {
        let (mut s, _) = Sim::new(rnd(2) == 0);
        let mut t = 0u64;
        let mut next_pid = 10u64;
        for _ in 0..200 {
            t += rnd(3000);
            s.run_result = match rnd(6) {
                0 => RunStart::RetryLater,
                1 => RunStart::Never,
                _ => {
                    next_pid += 1;
                    RunStart::Spawned(next_pid)
                }
            };
            next_pid += 1;
            s.finish_result = if rnd(3) == 0 {
                FinishStart::None
            } else {
                FinishStart::Spawned {
                    pid: next_pid,
                    timeout_ms: if rnd(2) == 0 {
                        None
                    } else {
                        Some(rnd(9000) as u32)
                    },
                }
            };
            s.kill_ms = rnd(3) as u32 * 400;
            let input = match rnd(10) {
                0 => Input::Timeout,
                1 | 2 => Input::Child(rnd(0x10000) as i32),
                3 => Input::Ready,
                4 => [Input::Term, Input::Hup, Input::Quit, Input::Int][rnd(4) as usize],
                _ => Input::Command(cmds[rnd(cmds.len() as u64) as usize]),
            };
            let a = s.feed(t, input);
            if s.core.exiting() {
                assert_eq!(a.iter().filter(|x| **x == Action::Exit).count(), 1);
                break;
            }
            let st = s.st();
            match s.core.state() {
                State::Down => assert!(st.pid == 0 && !st.finishing && st.ready, "{walk}"),
                State::Up | State::LastUp => {
                    assert!(st.pid != 0 && !st.finishing, "{walk}")
                }
                State::Finish | State::LastFinish => {
                    assert!(st.pid != 0 && st.finishing && !st.ready, "{walk}")
                }
            }
            if let Some(w) = writes(&a).last() {
                assert_eq!(*w, st, "the last write is the current status");
            }
        }
    }
}
