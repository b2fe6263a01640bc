//! The pure state machine of s6-supervise (`supervise::core`), driven the way the driver
//! drives it: random sequences of signals, control bytes, deaths of the tracked child,
//! readiness and expired deadlines, with random spawn outcomes for ./run and ./finish and a
//! random `timeout-kill`. A model of the process table checks, after every action and step:
//!
//! * never two children: ./run or ./finish is only spawned when no child is alive;
//! * signals only go to the live child (never pid 0, never a reaped pid);
//! * the core tracks exactly the live child, and `status.pid` is it (0 when down);
//! * the status agrees with the state (flags `finishing`, `ready`) and the last status
//!   written is the core's status; every written status survives pack/unpack;
//! * at most one reply-needing action per step, and it is the last one; a step never fills
//!   the action buffer; `Exit` happens at most once;
//! * liveness: wanted up and down (and not exiting, and the last spawn not refused by the
//!   configuration) always has a deadline to restart;
//! * no panic (the release build aborts on one).
#![no_main]

use common::status::StatusRecord;
use common::Tai64n;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use supervise::core::{
    Action, Core, Event, FinishStart, Input, Now, RunStart, State, Target, MAX_ACTIONS,
};

struct Bytes<'a> {
    d: &'a [u8],
}

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.d.split_first()?;
        self.d = rest;
        Some(b)
    }
    fn u16(&mut self) -> u16 {
        let lo = self.byte().unwrap_or(0) as u16;
        let hi = self.byte().unwrap_or(0) as u16;
        lo | hi << 8
    }
}

fn at(ms: u64) -> Now {
    Now {
        mono: Duration::from_millis(ms),
        wall: Tai64n::from_unix(1_700_000_000 + ms / 1000, ((ms % 1000) * 1_000_000) as u32),
    }
}

/// What the driver knows of the world.
struct Model {
    /// The one child that is alive (./run or ./finish).
    live: Option<u64>,
    /// The notification pipe of the live ./run is open.
    notify_open: bool,
    next_pid: u64,
    /// The outcome of the last ./run spawn.
    last_run: Option<RunStart>,
    /// The ./run pid reaped last (for SpawnFinish's argument).
    reaped: Option<u64>,
    exits: u32,
}

fn is_reply(a: &Action) -> bool {
    matches!(
        a,
        Action::SpawnRun | Action::SpawnFinish { .. } | Action::ReadKillTimeout
    )
}

fn check_status(core: &Core, m: &Model) {
    let st = core.status();
    match core.state() {
        State::Down => {
            assert_eq!(st.pid, 0);
            assert!(!st.finishing && st.ready);
            assert_eq!(m.live, None, "down with a child alive");
        }
        State::Up | State::LastUp => {
            assert!(st.pid != 0 && !st.finishing);
            assert_eq!(m.live, Some(st.pid), "up but not tracking the live child");
        }
        State::Finish | State::LastFinish => {
            assert!(st.pid != 0 && st.finishing && !st.ready);
            assert_eq!(m.live, Some(st.pid), "finishing but not tracking ./finish");
            assert!(!m.notify_open);
        }
    }
    if m.notify_open {
        assert!(matches!(core.state(), State::Up | State::LastUp));
    }
    if core.dying() {
        // (A later `timeout-kill` of 0 clears the deadline but leaves the flag: harmless,
        // nothing but a new nonzero timeout-kill re-arms a deadline while up.)
        assert!(matches!(core.state(), State::Up | State::LastUp));
    }
    if core.state() == State::Down
        && st.want_up
        && !core.exiting()
        && m.last_run != Some(RunStart::Never)
    {
        assert!(
            core.deadline().is_some(),
            "wanted up, down, and no restart scheduled"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes { d: data };
    let Some(first) = b.byte() else {
        return;
    };
    let mut t: u64 = 0;
    let (mut core, a) = Core::new(first & 1 == 0, at(0));
    let mut m = Model {
        live: None,
        notify_open: false,
        next_pid: 100,
        last_run: None,
        reaped: None,
        exits: 0,
    };
    let startup = a.as_slice();
    assert!(matches!(startup.first(), Some(Action::WriteStatus(s)) if s.not_started()));
    assert_eq!(
        startup.last(),
        Some(&Action::Emit(&[common::event::ServiceEvent::Start]))
    );
    let commands: Vec<_> = common::SuperviseCommand::all().collect();

    for _ in 0..512 {
        let Some(op) = b.byte() else {
            break;
        };
        let cfg = b.byte().unwrap_or(0);
        let with_notify = first & 2 != 0;
        t += b.u16() as u64;
        let input = match op % 12 {
            0 => match core.deadline() {
                Some(d) => {
                    t = t.max(d.as_nanos().div_ceil(1_000_000) as u64);
                    Input::Timeout
                }
                None => continue,
            },
            1 | 2 => match m.live {
                Some(p) => {
                    // The driver only reports the death of the tracked pid.
                    assert_eq!(core.tracked_pid(), p);
                    let w = b.u16() as i32;
                    m.live = None;
                    m.notify_open = false;
                    m.reaped = Some(p);
                    Input::Child(w)
                }
                None => continue,
            },
            3 if m.notify_open => Input::Ready,
            3 => continue,
            4 => Input::Term,
            5 => Input::Hup,
            6 => Input::Quit,
            7 => Input::Int,
            _ => Input::Command(commands[b.byte().unwrap_or(0) as usize % commands.len()]),
        };

        let mut writes: Vec<StatusRecord> = Vec::new();
        let mut next = Some(input);
        while let Some(i) = next.take() {
            let acts = core.step(Event {
                now: at(t),
                input: i,
            });
            let acts = acts.as_slice();
            assert!(acts.len() < MAX_ACTIONS, "action buffer full: {acts:?}");
            let replies = acts.iter().filter(|a| is_reply(a)).count();
            assert!(replies <= 1, "{acts:?}");
            if replies == 1 {
                assert!(is_reply(acts.last().unwrap()), "reply not last: {acts:?}");
            }
            for &x in acts {
                match x {
                    Action::SpawnRun => {
                        assert_eq!(m.live, None, "two children: spawning ./run");
                        let r = match cfg & 3 {
                            0 => RunStart::RetryLater,
                            1 if cfg & 0x80 != 0 => RunStart::Never,
                            _ => {
                                m.next_pid += 1;
                                m.live = Some(m.next_pid);
                                m.notify_open = with_notify;
                                RunStart::Spawned(m.next_pid)
                            }
                        };
                        m.last_run = Some(r);
                        next = Some(Input::RunStarted(r));
                    }
                    Action::SpawnFinish { pid, .. } => {
                        assert_eq!(m.live, None, "two children: spawning ./finish");
                        assert_eq!(Some(pid), m.reaped, "./finish gets the dead pid");
                        let f = match (cfg >> 2) & 3 {
                            0 => FinishStart::None,
                            1 => {
                                m.next_pid += 1;
                                FinishStart::Spawned {
                                    pid: m.next_pid,
                                    timeout_ms: None,
                                }
                            }
                            _ => {
                                m.next_pid += 1;
                                FinishStart::Spawned {
                                    pid: m.next_pid,
                                    timeout_ms: Some(b.u16() as u32),
                                }
                            }
                        };
                        if let FinishStart::Spawned { pid, .. } = f {
                            m.live = Some(pid);
                        }
                        next = Some(Input::FinishStarted(f));
                    }
                    Action::ReadKillTimeout => {
                        next = Some(Input::KillTimeout(((cfg >> 4) & 3) as u32 * 500));
                    }
                    Action::Kill(Target::Pid(p) | Target::Group(p), _)
                    | Action::KillDownSignal(p)
                    | Action::KillReloadSignal(p)
                    | Action::TimeoutKill(p) => {
                        assert!(p != 0, "signal to pid 0: {x:?}");
                        assert_eq!(Some(p), m.live, "signal to a dead pid: {x:?}");
                    }
                    Action::WriteStatus(st) => {
                        assert_eq!(StatusRecord::unpack(&st.pack()).ok(), Some(st));
                        writes.push(st);
                    }
                    Action::Emit(e) => {
                        assert!(!e.is_empty() && e.len() <= common::event::MAX_BATCH);
                    }
                    Action::CloseNotify => m.notify_open = false,
                    Action::Exit => m.exits += 1,
                    Action::WarnFinishTimeout
                    | Action::WarnUpTimeout
                    | Action::AppendDeathTally { .. }
                    | Action::CreateDownFile
                    | Action::RemoveDownFile
                    | Action::CloseStdio => {}
                }
            }
        }
        assert!(m.exits <= 1, "exit twice");
        if let Some(w) = writes.last() {
            assert_eq!(w, core.status(), "the last status written is the core's");
        }
        if core.exiting() {
            assert_eq!(m.exits, 1);
            break;
        }
        check_status(&core, &m);
    }
});
