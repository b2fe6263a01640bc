//! End-to-end tests of our `s6-supervise` with real processes, FIFOs and signals.
//!
//! Every supervisor is started in its own process group (killed at drop by `Proc`); every
//! service pid ever seen in the status file is killed by process group at the end (services
//! run in their own session). Behaviour is asserted, never timings: waits are generous.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::fifodir::Listener;
use common::wait::WaitStatus;
use tests::{
    alive, bin, kill_group, make_service, run, stays_true, wait_until, write_script, Scratch, Sup,
    SOON,
};

/// Subscribe to `dir/event` (created first, as a listener would), and collect events.
struct Events {
    l: Listener,
    got: std::cell::RefCell<Vec<u8>>,
}

impl Events {
    fn new(svdir: &Path) -> Events {
        let ev = svdir.join("event");
        common::fifodir::make(&ev, nix::unistd::getegid()).expect("fifodir");
        Events {
            l: Listener::subscribe(&ev, 0o622).expect("subscribe"),
            got: Default::default(),
        }
    }

    fn text(&self) -> String {
        let mut buf = [0u8; 64];
        while let Ok(n) = self.l.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.got.borrow_mut().extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&self.got.borrow()).into_owned()
    }

    fn wait_for(&self, s: &str) -> String {
        let ok = wait_until(SOON, || self.text().contains(s));
        let t = self.text();
        assert!(ok, "events: waiting for {s:?}, got {t:?}");
        t
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn proc_stat_fields(pid: i32) -> Vec<String> {
    let s = read(Path::new(&format!("/proc/{pid}/stat")));
    s.rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

// ------------------------------------------------------------------ start, layout

#[test]
fn starts_service_as_session_leader_with_layout() {
    let t = Scratch::new("sup-start");
    let arg = t.join("arg");
    make_service(
        &t.path,
        "svc",
        &format!("echo \"$0|$1\" > {}; exec sleep 1000", arg.display()),
    );
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    assert_eq!(st.flags(), common::status::FLAG_WANTUP);
    assert!(wait_until(SOON, || !read(&arg).is_empty()));
    assert_eq!(read(&arg), "./run|svc\n");
    // session leader: pgrp (field 3 after state) and session == pid
    let f = proc_stat_fields(st.pid_t());
    assert_eq!(
        f.get(2).map(String::as_str),
        Some(st.pid.to_string().as_str())
    );
    assert_eq!(
        f.get(3).map(String::as_str),
        Some(st.pid.to_string().as_str())
    );
    // layout
    let meta = std::fs::metadata(sup.dir.join("event")).expect("event");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o3730);
    let sm = std::fs::metadata(sup.dir.join("supervise")).expect("supervise");
    assert_eq!(sm.permissions().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(sup.dir.join("supervise/death_tally"))
            .expect("tally")
            .len(),
        0
    );
    assert!(common::lock::is_supervised(&sup.dir).expect("lock probe"));
}

#[test]
fn restarts_after_death_and_records_tally() {
    let t = Scratch::new("sup-restart");
    let n = t.join("n");
    make_service(
        &t.path,
        "svc",
        &format!("echo x >> {}; exit 3", n.display()),
    );
    let sup = Sup::start(&t, "svc");
    assert!(wait_until(SOON, || read(&n).lines().count() >= 3));
    let st = sup.status();
    assert!(st.want_up);
    let tally = common::dtally::read(&sup.dir, 100).expect("tally");
    assert!(tally.len() >= 2);
    assert!(tally.iter().all(|r| r.exitcode == 3 && r.sig == 0));
}

// ------------------------------------------------------------------ finish

#[test]
fn finish_gets_argv_and_125_stops_restarts() {
    let t = Scratch::new("sup-finish");
    let fin = t.join("fin");
    let runs = t.join("runs");
    let d = make_service(
        &t.path,
        "svc",
        &format!("echo x >> {}; exec sleep 1000", runs.display()),
    );
    write_script(
        &d.join("finish"),
        &format!("echo \"$0|$#|$1|$2|$3|$4\" >> {}; exit 125", fin.display()),
    );
    let ev = Events::new(&d);
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    // Up is the fork; the kill must come after the run script's one line.
    assert!(wait_until(Duration::from_secs(10), || read(&runs)
        .lines()
        .count()
        == 1));
    sup.ctl(b"k");
    ev.wait_for("OD");
    assert_eq!(read(&fin), format!("./finish|4|256|9|svc|{}\n", st.pid));
    // Past the 1-second restart delay: never restarted.
    assert!(stays_true(Duration::from_millis(1500), || read(&runs)
        .lines()
        .count()
        == 1
        && sup.status().pid == 0));
    let st2 = sup.status();
    assert_eq!(st2.pid, 0);
    assert!(!st2.want_up && st2.ready);
    assert_eq!(read(&runs).lines().count(), 1);
    assert_eq!(ev.text(), "sudOD");
}

#[test]
fn finish_after_normal_exit_and_finishing_status() {
    let t = Scratch::new("sup-finish2");
    let fin = t.join("fin");
    let go = t.join("go");
    let d = make_service(&t.path, "svc", "exit 8");
    write_script(
        &d.join("finish"),
        &format!(
            "echo \"$1|$2\" >> {}; while [ ! -e {} ]; do sleep 0.05; done",
            fin.display(),
            go.display()
        ),
    );
    std::fs::write(d.join("down"), "").expect("down");
    let sup = Sup::start(&t, "svc");
    sup.ctl(b"o");
    let st = sup.wait_status("finishing", |s| s.finishing);
    assert!(st.pid != 0 && !st.ready && !st.is_up());
    assert_eq!(WaitStatus::from_raw(st.wstat as i32), WaitStatus::Exited(8));
    std::fs::write(&go, "").expect("go");
    let st = sup.wait_down();
    assert!(st.ready && !st.want_up);
    assert_eq!(read(&fin), "8|0\n");
}

#[test]
fn no_finish_gives_dd_in_one_write() {
    let t = Scratch::new("sup-dd");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    let ev = Events::new(&d);
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
    ev.wait_for("su");
    sup.ctl(b"d");
    ev.wait_for("dD");
    let st = sup.wait_down();
    assert_eq!(st.flags(), common::status::FLAG_READY);
    assert_eq!(
        WaitStatus::from_raw(st.wstat as i32),
        WaitStatus::Signaled {
            signal: 15,
            core: false
        }
    );
}

// ------------------------------------------------------------------ readiness

#[test]
fn readiness_sets_ready_and_emits_u() {
    let t = Scratch::new("sup-ready");
    let go = t.join("go");
    let d = make_service(
        &t.path,
        "svc",
        &format!(
            "while [ ! -e {} ]; do sleep 0.05; done; printf 'READY=1\\nmore' >&3; exec sleep 1000",
            go.display()
        ),
    );
    std::fs::write(d.join("notification-fd"), "3\n").expect("nfd");
    let ev = Events::new(&d);
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    assert!(!st.ready);
    std::fs::write(&go, "").expect("go");
    ev.wait_for("U");
    let st2 = sup.wait_status("ready", |s| s.ready);
    assert_eq!(st2.pid, st.pid);
    assert!(st2.ready_stamp >= st2.stamp);
    assert_eq!(ev.text(), "suU");
}

// ------------------------------------------------------------------ control bytes

#[test]
fn control_bytes_drive_the_service() {
    let t = Scratch::new("sup-ctl");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("down"), "").expect("down");
    let ev = Events::new(&d);
    let mut sup = Sup::start(&t, "svc");
    // Starts down: nothing happens.
    assert!(stays_true(Duration::from_millis(300), || sup.status().pid
        == 0
        && ev.text() == "s"));
    // u: up at once
    sup.ctl(b"u");
    let st = sup.wait_up();
    assert!(st.want_up);
    // p / c: paused flag, process stopped and continued
    sup.ctl(b"p");
    sup.wait_status("paused", |s| s.paused);
    assert!(wait_until(SOON, || proc_stat_fields(st.pid_t())
        .first()
        .is_some_and(|s| s == "T")));
    sup.ctl(b"c");
    sup.wait_status("continued", |s| !s.paused);
    // O: wanted down, still running
    sup.ctl(b"O");
    sup.wait_status("want down", |s| !s.want_up);
    assert!(alive(st.pid_t()));
    // u again, then k: restarted with a new pid
    sup.ctl(b"u");
    sup.wait_status("want up", |s| s.want_up);
    sup.ctl(b"k");
    let st2 = sup.wait_up_other_than(st.pid);
    // D: down file created, service down; U: removed, up again
    sup.ctl(b"D");
    sup.wait_down();
    assert!(d.join("down").exists());
    assert!(!alive(st2.pid_t()));
    sup.ctl(b"U");
    sup.wait_up();
    assert!(!d.join("down").exists());
    // Q: down file, wanted down, not killed
    sup.ctl(b"Q");
    let st3 = sup.wait_status("Q", |s| !s.want_up);
    assert!(d.join("down").exists() && alive(st3.pid_t()));
    // xd: exits after the service is down
    sup.ctl(b"xd");
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(ev.text().ends_with("dDx"), "{}", ev.text());
    assert!(!common::lock::is_supervised(&sup.dir).expect("probe"));
}

#[test]
fn once_runs_once() {
    let t = Scratch::new("sup-once");
    let n = t.join("n");
    let d = make_service(
        &t.path,
        "svc",
        &format!("echo x >> {}; exit 0", n.display()),
    );
    std::fs::write(d.join("down"), "").expect("down");
    let sup = Sup::start(&t, "svc");
    sup.ctl(b"o");
    assert!(wait_until(SOON, || !read(&n).is_empty()));
    sup.wait_down();
    assert!(stays_true(Duration::from_millis(1500), || read(&n)
        .lines()
        .count()
        == 1));
    assert!(!sup.status().want_up);
}

#[test]
fn garbage_on_control_is_ignored() {
    let t = Scratch::new("sup-garbage");
    make_service(&t.path, "svc", "exec sleep 1000");
    let mut sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    let mut junk: Vec<u8> = (0u8..=255)
        .filter(|b| !b"abqhktiy12pcrlPCKoduDUxOQ".contains(b))
        .collect();
    junk.extend(std::iter::repeat_n(b'Z', 70000));
    sup.ctl(&junk);
    assert!(stays_true(Duration::from_millis(300), || sup.alive()
        && sup.status().pid == st.pid));
    sup.ctl(b"zz?d");
    sup.wait_down();
    assert_eq!(sup.stderr(), "");
}

// ------------------------------------------------------------------ timeouts

#[test]
fn timeout_kill_kills_a_service_ignoring_sigterm() {
    let t = Scratch::new("sup-tkill");
    let trapped = t.join("trapped");
    let d = make_service(
        &t.path,
        "svc",
        &format!("trap '' TERM; touch {}; exec sleep 1000", trapped.display()),
    );
    std::fs::write(d.join("timeout-kill"), "300\n").expect("tk");
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
    assert!(wait_until(SOON, || trapped.exists()), "trap installed");
    sup.ctl(b"d");
    let st = sup.wait_down();
    assert_eq!(
        WaitStatus::from_raw(st.wstat as i32),
        WaitStatus::Signaled {
            signal: 9,
            core: false
        }
    );
}

#[test]
fn no_timeout_kill_leaves_it_running() {
    let t = Scratch::new("sup-notkill");
    let trapped = t.join("trapped");
    make_service(
        &t.path,
        "svc",
        &format!("trap '' TERM; touch {}; exec sleep 1000", trapped.display()),
    );
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    assert!(wait_until(SOON, || trapped.exists()), "trap installed");
    sup.ctl(b"d");
    sup.wait_status("want down", |s| !s.want_up);
    assert!(stays_true(Duration::from_millis(800), || sup.status().pid
        == st.pid
        && alive(st.pid_t())));
}

#[test]
fn timeout_finish_kills_finish() {
    let t = Scratch::new("sup-tfin");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    write_script(&d.join("finish"), "exec sleep 1000");
    std::fs::write(d.join("timeout-finish"), "300").expect("tf");
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
    sup.ctl(b"d");
    let fin = sup.wait_status("finishing", |s| s.finishing);
    sup.wait_down();
    assert!(!alive(fin.pid_t()));
    assert_eq!(
        sup.stderr(),
        "s6-supervise svc: warning: finish script lifetime reached maximum value - sending it a SIGKILL\n"
    );
}

// ------------------------------------------------------------------ bad input

#[test]
fn bad_settings_warn_and_fall_back() {
    let t = Scratch::new("sup-badset");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "abc").expect("nfd");
    std::fs::write(d.join("down-signal"), "NOTASIGNAL\n").expect("ds");
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
    assert!(wait_until(SOON, || !sup.stderr().is_empty()));
    assert_eq!(
        sup.stderr(),
        "s6-supervise svc: warning: invalid notification-fd\n"
    );
    sup.ctl(b"d");
    let st = sup.wait_down();
    assert_eq!(
        WaitStatus::from_raw(st.wstat as i32),
        WaitStatus::Signaled {
            signal: libc::SIGTERM as u8,
            core: false
        }
    );
    assert_eq!(
        sup.stderr(),
        "s6-supervise svc: warning: invalid notification-fd\ns6-supervise svc: warning: invalid down-signal\n"
    );
}

#[test]
fn notification_fd_zero_still_starts() {
    let t = Scratch::new("sup-nfd0");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "0").expect("nfd");
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
    assert!(wait_until(SOON, || !sup.stderr().is_empty()));
    assert_eq!(
        sup.stderr(),
        "s6-supervise svc: warning: invalid notification-fd\n"
    );
}

fn assert_spawn_failure(name: &str, setup: impl FnOnce(&Path), reason: &str) {
    let t = Scratch::new(name);
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    setup(&d);
    let ev = Events::new(&d);
    let mut sup = Sup::start(&t, "svc");
    let want = format!(
        "s6-supervise svc: warning: unable to spawn ./run (waiting 60 seconds): {reason}\n"
    );
    assert!(wait_until(SOON, || !sup.stderr().is_empty()));
    // That one warning, and nothing more.
    assert!(
        stays_true(Duration::from_millis(200), || sup.stderr() == want),
        "stderr: {:?}",
        sup.stderr()
    );
    assert!(sup.alive());
    let st = sup.status();
    assert_eq!((st.pid, st.wstat), (0, 0));
    assert!(st.not_started() && st.want_up && st.ready);
    assert_eq!(ev.text(), "s");
    // A command starts it again at once (and fails again, with the same message).
    sup.ctl(b"u");
    assert!(wait_until(SOON, || sup.stderr().lines().count() == 2));
}

#[test]
fn run_not_executable() {
    assert_spawn_failure(
        "sup-noexec",
        |d| {
            std::fs::set_permissions(d.join("run"), std::fs::Permissions::from_mode(0o644))
                .expect("chmod")
        },
        "Permission denied",
    );
}

#[test]
fn run_missing() {
    assert_spawn_failure(
        "sup-norun",
        |d| std::fs::remove_file(d.join("run")).expect("rm"),
        "No such file or directory",
    );
}

#[test]
fn second_instance_exits_100() {
    let t = Scratch::new("sup-second");
    make_service(&t.path, "svc", "exec sleep 1000");
    let mut sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    let (code, out, err) = run(Command::new(bin("s6-supervise"))
        .arg("svc")
        .current_dir(&t.path));
    assert_eq!(code, 100);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "s6-supervise svc: fatal: another instance of s6-supervise is already running\n"
    );
    assert!(sup.alive());
    assert_eq!(sup.status().pid, st.pid);
}

#[test]
fn usage_and_bad_dirs() {
    let (code, _, err) = run(&mut Command::new(bin("s6-supervise")));
    assert_eq!(
        (code, err.as_str()),
        (100, "s6-supervise: usage: s6-supervise dir\n")
    );
    let t = Scratch::new("sup-baddir");
    let nope = t.join("nope");
    let (code, _, err) = run(Command::new(bin("s6-supervise")).arg(&nope));
    assert_eq!(code, 111);
    assert_eq!(
        err,
        format!(
            "s6-supervise: fatal: unable to chdir to {}: No such file or directory\n",
            nope.display()
        )
    );
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("supervise"), "").expect("file");
    let (code, _, err) = run(Command::new(bin("s6-supervise"))
        .arg("svc")
        .current_dir(&t.path));
    assert_eq!(
        (code, err.as_str()),
        (
            100,
            "s6-supervise svc: fatal: supervise exists and is not a directory\n"
        )
    );
}

#[test]
fn symlinked_supervise_dir_existing_or_dangling() {
    let t = Scratch::new("sup-symlink");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    let target = t.join("elsewhere");
    std::os::unix::fs::symlink(&target, d.join("supervise")).expect("symlink");
    {
        let mut sup = Sup::start(&t, "svc");
        sup.wait_up();
        assert!(target.join("status").exists());
        sup.ctl(b"dx");
        assert_eq!(sup.wait_exit(), Some(0));
    }
    // The target now exists: a new supervisor uses it (s6 would die with EEXIST).
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
}

// ------------------------------------------------------------------ signals to supervise

#[test]
fn sigterm_takes_service_down_and_exits() {
    let t = Scratch::new("sup-term");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    let ev = Events::new(&d);
    let mut sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    sup.proc.signal(libc::SIGTERM);
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(wait_until(SOON, || !alive(st.pid_t())));
    assert_eq!(ev.wait_for("x"), "sudDx");
    assert_eq!(sup.status().flags(), common::status::FLAG_READY);
}

#[test]
fn sigquit_leaves_service_running() {
    let t = Scratch::new("sup-quit");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    let ev = Events::new(&d);
    let mut sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    sup.proc.signal(libc::SIGQUIT);
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(alive(st.pid_t()));
    assert_eq!(ev.wait_for("x"), "sux");
}

#[test]
fn sighup_waits_for_service_death() {
    let t = Scratch::new("sup-hup");
    make_service(&t.path, "svc", "exec sleep 1000");
    let mut sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    sup.proc.signal(libc::SIGHUP);
    assert!(stays_true(Duration::from_millis(500), || sup.alive()
        && alive(st.pid_t())));
    // SAFETY: kill(2) on the service pid read from our status file.
    unsafe { libc::kill(st.pid_t(), libc::SIGTERM) };
    assert_eq!(sup.wait_exit(), Some(0));
    let st2 = sup.status();
    assert_eq!(st2.pid, 0);
    assert!(st2.want_up);
}

#[test]
fn lock_fd_gives_a_held_lock() {
    let t = Scratch::new("sup-lockfd");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("lock-fd"), "5").expect("lockfd");
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    let lock = d.join("supervise/service-lock");
    assert!(wait_until(SOON, || std::fs::read_link(format!(
        "/proc/{}/fd/5",
        st.pid
    ))
    .is_ok_and(|p| p == lock)));
    // Unlike s6, the service really holds the lock.
    assert!(common::lock::is_locked(&lock).expect("probe"));
    assert_eq!(sup.stderr(), "");
}

fn proc_mask(pid: i32, field: &str) -> u64 {
    read(Path::new(&format!("/proc/{pid}/status")))
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn run_gets_clean_signals_and_only_its_fds() {
    use std::os::unix::process::CommandExt;
    let t = Scratch::new("sup-sigs");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "7").expect("nfd");
    let sup = Sup::start_with(&t, "svc", |cmd| {
        let in_child = || {
            // Our own dispositions, whatever the test runner was started with (a background
            // job of a shell has SIGINT and SIGQUIT ignored): the supervisor rightly passes
            // inherited ignores on, so the test sets every one it checks.
            for s in [
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGCHLD,
                libc::SIGPIPE,
            ] {
                // SAFETY: signal(2) in the child before exec; async-signal-safe.
                unsafe { libc::signal(s, libc::SIG_DFL) };
            }
            // SAFETY: as above.
            unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
            // The test harness leaks fds (cargo's jobserver) that s6 would pass on too:
            // keep them away from the supervisor.
            for fd in 3..1024 {
                // SAFETY: fcntl(2) on any integer is harmless; async-signal-safe.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
            Ok(())
        };
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe { cmd.pre_exec(in_child) };
    });
    let st = sup.wait_up();
    let pid = st.pid_t();
    assert!(wait_until(SOON, || read(Path::new(&format!(
        "/proc/{pid}/cmdline"
    )))
    .starts_with("sleep")));
    assert_eq!(proc_mask(pid, "SigBlk:"), 0);
    let ign = proc_mask(pid, "SigIgn:");
    let bit = |s: i32| 1u64 << (s - 1);
    assert_ne!(ign & bit(libc::SIGINT), 0, "inherited SIG_IGN kept");
    for s in [
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGCHLD,
        libc::SIGPIPE,
    ] {
        assert_eq!(ign & bit(s), 0, "signal {s} must be default");
    }
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort();
    assert_eq!(fds, vec![0, 1, 2, 7]);
}

#[test]
fn notification_fd_beyond_the_fd_limit_fails_the_spawn() {
    // As 2.15: a warning, then the spawn fails on the bad fd and is retried later.
    let t = Scratch::new("sup-nfdbig");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "5000000").expect("nfd");
    let mut sup = Sup::start(&t, "svc");
    assert!(wait_until(SOON, || sup.stderr().lines().count() >= 2));
    assert_eq!(
        sup.stderr(),
        "s6-supervise svc: warning: invalid notification-fd\n\
         s6-supervise svc: warning: unable to spawn ./run (waiting 60 seconds): Bad file descriptor\n"
    );
    assert!(sup.alive());
    assert!(sup.status().not_started());
}

fn wait_child_pid(f: &Path) -> i32 {
    assert!(wait_until(SOON, || read(f).trim().parse::<i32>().is_ok()));
    read(f).trim().parse().unwrap_or(0)
}

#[test]
fn timeout_killpg_kills_the_whole_group() {
    let t = Scratch::new("sup-killpg");
    let child = t.join("child");
    let d = make_service(
        &t.path,
        "svc",
        &format!(
            "trap '' TERM; sleep 1000 & echo $! > {}; wait",
            child.display()
        ),
    );
    std::fs::write(d.join("timeout-kill"), "300").expect("tk");
    std::fs::write(d.join("flag-timeout-killpg"), "").expect("flag");
    let sup = Sup::start(&t, "svc");
    sup.wait_up();
    let c = wait_child_pid(&child);
    sup.ctl(b"d");
    let st = sup.wait_down();
    assert_eq!(
        WaitStatus::from_raw(st.wstat as i32),
        WaitStatus::Signaled {
            signal: 9,
            core: false
        }
    );
    assert!(wait_until(SOON, || !alive(c)));
}

#[test]
fn group_kill_and_restart_with_down_signal() {
    let t = Scratch::new("sup-K");
    let log = t.join("log");
    let d = make_service(
        &t.path,
        "svc",
        &format!(
            "trap 'echo USR1 >> {log}; exit 0' USR1; sleep 1000 & echo $! > {dir}/child.$$; wait",
            log = log.display(),
            dir = t.path.display()
        ),
    );
    std::fs::write(d.join("down-signal"), "SIGUSR1").expect("ds");
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    let c = wait_child_pid(&t.join(format!("child.{}", st.pid)));
    // r: the down-signal, and the service comes back
    sup.ctl(b"r");
    let st2 = sup.wait_up_other_than(st.pid);
    assert!(wait_until(SOON, || read(&log) == "USR1\n"));
    // the old group member was not touched by r
    assert!(alive(c));
    kill_group(st.pid_t());
    // K: the whole group of the new instance is killed
    let c2 = wait_child_pid(&t.join(format!("child.{}", st2.pid)));
    sup.ctl(b"K");
    sup.wait_up_other_than(st2.pid);
    assert!(wait_until(SOON, || !alive(c2)));
}

#[test]
fn flag_newpidns_runs_service_as_pid_1() {
    if !tests::is_root() {
        tests::skip("not root, flag-newpidns");
        return;
    }
    let t = Scratch::new("sup-pidns");
    let inner = t.join("inner");
    let d = make_service(
        &t.path,
        "svc",
        &format!(
            "trap 'exit 7' TERM; echo $$ > {}; sleep 1000 & wait",
            inner.display()
        ),
    );
    std::fs::write(d.join("flag-newpidns"), "").expect("flag");
    let sup = Sup::start(&t, "svc");
    let st = sup.wait_status("up or failed", |s| s.is_up() || !sup.stderr().is_empty());
    if !st.is_up() {
        tests::skip(format!("PID namespaces unavailable: {}", sup.stderr()));
        return;
    }
    assert!(wait_until(SOON, || !read(&inner).is_empty()));
    assert_eq!(read(&inner), "1\n");
    sup.ctl(b"d");
    let st2 = sup.wait_down();
    assert_eq!(
        WaitStatus::from_raw(st2.wstat as i32),
        WaitStatus::Exited(7)
    );
}

#[test]
fn lock_fd_busy_makes_the_service_wait_not_the_supervisor() {
    let t = Scratch::new("sup-lockbusy");
    let ran = t.join("ran");
    let d = make_service(
        &t.path,
        "svc",
        &format!("touch {}; exec sleep 1000", ran.display()),
    );
    std::fs::write(d.join("lock-fd"), "4").expect("lockfd");
    std::fs::create_dir(d.join("supervise")).expect("mkdir");
    let lock = d.join("supervise/service-lock");
    // Another "instance" (this test process) holds the service lock.
    let held = common::lock::acquire(&lock, 0o644).expect("lock");
    let mut sup = Sup::start(&t, "svc");
    let st = sup.wait_up();
    assert!(wait_until(SOON, || !sup.stderr().is_empty()));
    assert_eq!(
        sup.stderr(),
        "s6-supervise svc: warning: another instance of the service is already running, child will block\n"
    );
    assert!(
        stays_true(Duration::from_millis(300), || !ran.exists()),
        "the service must wait for the lock"
    );
    // The supervisor is not blocked: it still answers commands.
    sup.ctl(b"O");
    sup.wait_status("want down", |s| !s.want_up);
    assert!(sup.alive());
    drop(held);
    assert!(wait_until(SOON, || ran.exists()));
    assert_eq!(sup.status().pid, st.pid);
    assert!(common::lock::is_locked(&lock).expect("probe"));
}

#[test]
fn closed_stdio_is_replaced_by_dev_null() {
    use std::os::unix::process::CommandExt;
    let t = Scratch::new("sup-stdio");
    let out = t.join("fds");
    make_service(
        &t.path,
        "svc",
        &format!(
            "echo \"$(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/1)\" > {}; exec sleep 1000",
            out.display()
        ),
    );
    let sup = Sup::start_with(&t, "svc", |cmd| {
        let in_child = || {
            for fd in [0, 1] {
                // SAFETY: close(2) in the child before exec; async-signal-safe.
                unsafe { libc::close(fd) };
            }
            Ok(())
        };
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe { cmd.pre_exec(in_child) };
    });
    sup.wait_up();
    assert!(wait_until(SOON, || !read(&out).is_empty()));
    assert_eq!(read(&out), "/dev/null /dev/null\n");
}
