//! End-to-end tests of s6-svscan / s6-svscanctl with real processes: our s6-svscan spawning
//! our s6-supervise (found next to it in the target directory).
//!
//! Every test asserts behaviour, never timings: waits are generous upper bounds. At the end of
//! each test s6-svscan's process group (svscan and its supervise children) is killed by
//! pgid, then every service (its own session) by the pid in its status file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tests::{
    alive, bin, children, cmdline, make_service, proc_table, run, status, supervise_pid_of, up_pid,
    wait_until, wait_up, write_script, Proc, Scan, SOON,
};

/// A long-running service that also ends by itself once its directory is gone (the scratch
/// directory is removed at the end of the test), so nothing can outlive a test even if it
/// escaped the kills.
const LONG: &str = "while [ -e run ]; do sleep 0.2; done";

/// Sorted arguments of the s6-supervise children of `svscan`.
fn supervised(svscan: i32) -> Vec<String> {
    let mut v: Vec<String> = children(svscan)
        .into_iter()
        .map(cmdline)
        .filter(|c| c.len() == 2 && c[0] == "s6-supervise")
        .map(|c| c[1].clone())
        .collect();
    v.sort();
    v
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn one_supervise_per_service_dot_entries_and_files_ignored() {
    let mut s = Scan::new("svscan-one");
    for n in ["alpha", "beta"] {
        make_service(&s.dir, n, LONG);
    }
    make_service(&s.dir, ".hidden", LONG);
    std::fs::write(s.dir.join("plainfile"), "x").unwrap();
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || supervised(pid) == ["alpha", "beta"]));
    for n in ["alpha", "beta"] {
        let d = s.dir.join(n);
        assert!(wait_until(SOON, || up_pid(&d).is_some()), "{n} up");
        let sp = supervise_pid_of(pid, n).unwrap();
        // Same process group as s6-svscan (no setsid).
        let pgid = |p: i32| nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(p))).ok();
        assert_eq!(pgid(sp), pgid(pid));
    }
    assert!(!s.dir.join(".hidden/supervise").exists());
    assert_eq!(children(pid).len(), 2);
    let sc = s.dir.join(".s6-svscan");
    assert!(sc.join("lock").is_file());
    assert!(s.proc().child.try_wait().unwrap().is_none());
}

#[test]
fn rescan_starts_new_service() {
    let mut s = Scan::new("svscan-rescan");
    make_service(&s.dir, "first", LONG);
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || supervised(pid) == ["first"]));
    make_service(&s.dir, "second", LONG);
    s.ctl_ok("a");
    assert!(wait_until(SOON, || supervised(pid) == ["first", "second"]));
    let d = s.dir.join("second");
    assert!(wait_until(SOON, || up_pid(&d).is_some()));
}

#[test]
fn removed_service_kept_until_n() {
    let mut s = Scan::new("svscan-remove");
    let m = s.tmp("m");
    make_service(&s.dir, "keep", LONG);
    let gone = make_service(
        &s.dir,
        "gone",
        &format!("trap 'echo TERM >> {}; exit 0' TERM; {LONG}", m.display()),
    );
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || up_pid(&gone).is_some()));
    let sp = supervise_pid_of(pid, "gone").unwrap();
    let moved = s.tmp("moved");
    std::fs::rename(&gone, &moved).unwrap();
    s.ctl_ok("a");
    // The rescan is processed (a later command is answered) and the supervisor is still there.
    s.ctl_ok("z");
    assert!(alive(sp), "a removed service is not killed by a rescan");
    s.ctl_ok("n");
    assert!(wait_until(SOON, || !alive(sp)));
    assert!(wait_until(SOON, || lines(&m) == ["TERM"]));
    assert_eq!(supervised(pid), ["keep"]);
}

#[test]
fn supervise_respawned_after_sigkill() {
    let mut s = Scan::new("svscan-respawn");
    let d = make_service(&s.dir, "svc", LONG);
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || up_pid(&d).is_some()));
    let old = supervise_pid_of(pid, "svc").unwrap();
    // The service outlives its supervise (s6 semantics): clean it up at the end.
    s.reaper.add(wait_up(&d));
    sigkill(old);
    assert!(wait_until(SOON, || {
        supervise_pid_of(pid, "svc").is_some_and(|p| p != old)
    }));
}

#[test]
fn logger_pipe_carries_lines_across_logger_restart() {
    let mut s = Scan::new("svscan-log");
    let out = s.tmp("out");
    let more = s.tmp("more");
    let svc = make_service(
        &s.dir,
        "svc",
        &format!(
            "echo one; while [ ! -e {} ]; do sleep 0.05; done; echo two; {LONG}",
            more.display()
        ),
    );
    let log = svc.join("log");
    std::fs::create_dir(&log).unwrap();
    write_script(
        &log.join("run"),
        &format!(
            "while IFS= read -r l; do echo \"$l\" >> {}; done",
            out.display()
        ),
    );
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || supervised(pid) == ["svc", "svc/log"]));
    assert!(wait_until(SOON, || lines(&out) == ["one"]));
    // The logger dies; its supervise restarts it on the same pipe.
    let first = wait_up(&log);
    tests::kill_group(first);
    assert!(wait_until(SOON, || up_pid(&log).is_some_and(|p| p != first)));
    std::fs::write(&more, "").unwrap();
    assert!(wait_until(SOON, || lines(&out) == ["one", "two"]));
    // And the same happens when the logger's supervise itself is killed.
    let lsup = supervise_pid_of(pid, "svc/log").unwrap();
    s.reaper.add(wait_up(&log));
    sigkill(lsup);
    assert!(wait_until(SOON, || supervise_pid_of(pid, "svc/log")
        .is_some_and(|p| p != lsup)));
    let svc_pid = wait_up(&svc);
    // The producer's stdout and the logger's stdin are one pipe.
    let fd1 = std::fs::read_link(format!("/proc/{svc_pid}/fd/1")).unwrap();
    assert!(wait_until(SOON, || {
        up_pid(&log)
            .and_then(|p| std::fs::read_link(format!("/proc/{p}/fd/0")).ok())
            .is_some_and(|fd0| fd0 == fd1)
    }));
    assert!(fd1.to_string_lossy().starts_with("pipe:"));
}

#[test]
fn t_tears_down_and_execs_finish() {
    let mut s = Scan::new("svscan-finish");
    let m = s.tmp("m");
    let d = make_service(&s.dir, "svc", LONG);
    write_script(
        &d.join("finish"),
        &format!("echo svc-finish >> {}", m.display()),
    );
    std::fs::create_dir(s.dir.join(".s6-svscan")).unwrap();
    write_script(
        &s.dir.join(".s6-svscan/finish"),
        &format!(
            "echo \"svscan-finish $$ $# $(pwd)\" >> {}; exit 3",
            m.display()
        ),
    );
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || up_pid(&d).is_some()));
    s.ctl_ok("t");
    let st = s.proc().wait_timeout(SOON).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(3), "finish's exit code");
    let dir = std::fs::canonicalize(&s.dir).unwrap();
    assert_eq!(
        lines(&m),
        [
            "svc-finish".to_string(),
            format!("svscan-finish {pid} 0 {}", dir.display())
        ]
    );
}

#[test]
fn at_rescans_then_exits() {
    let mut s = Scan::new("svscan-at");
    let d = make_service(&s.dir, "a", LONG);
    s.start(&[]);
    assert!(wait_until(SOON, || up_pid(&d).is_some()));
    make_service(&s.dir, "b", LONG);
    s.ctl_ok("at");
    let st = s.proc().wait_timeout(SOON).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(0));
}

#[test]
fn sighup_script_replaces_default() {
    let mut s = Scan::new("svscan-sighup");
    let m = s.tmp("m");
    std::fs::create_dir(s.dir.join(".s6-svscan")).unwrap();
    write_script(
        &s.dir.join(".s6-svscan/SIGHUP"),
        &format!("echo \"$0 $#\" >> {}", m.display()),
    );
    make_service(&s.dir, "a", LONG);
    let pid = s.start(&[]);
    assert!(wait_until(SOON, || supervised(pid) == ["a"]));
    make_service(&s.dir, "b", LONG);
    s.proc().signal(libc::SIGHUP);
    assert!(wait_until(SOON, || lines(&m) == [".s6-svscan/SIGHUP 0"]));
    s.ctl_ok("z");
    assert_eq!(supervised(pid), ["a"], "the script replaced the rescan");
    // The script process was reaped.
    assert!(wait_until(SOON, || proc_table()
        .iter()
        .all(|&(_, pp, st)| pp != pid || st != 'Z')));
}

#[test]
fn bad_entries_do_not_stop_the_others() {
    let mut s = Scan::new("svscan-bad");
    make_service(&s.dir, "good", LONG);
    std::fs::create_dir(s.dir.join("norun")).unwrap();
    let long = "x".repeat(20);
    make_service(&s.dir, &long, LONG);
    let pid = s.start(&["-L", "12"]);
    // The first scan is done (and with it the start-up clean-up, which removes dangling
    // symlinks) once its supervisors run: only then plant the dangling one.
    assert!(wait_until(SOON, || supervised(pid) == ["good", "norun"]));
    std::os::unix::fs::symlink(s.tmp("nowhere"), s.dir.join("dangling")).unwrap();
    s.ctl_ok("a");
    let d = s.dir.join("good");
    assert!(wait_until(SOON, || up_pid(&d).is_some()));
    assert!(wait_until(SOON, || {
        let e = s.stderr();
        e.contains(&format!(
            "s6-svscan: warning: name too long - not spawning service: {long}\n"
        )) && e.contains("s6-svscan: warning: unable to stat dangling: No such file or directory\n")
    }));
    assert!(s.proc().child.try_wait().unwrap().is_none());
}

#[test]
fn too_many_services_starts_what_fits() {
    let mut s = Scan::new("svscan-max");
    for n in ["a", "b", "c", "d", "e"] {
        make_service(&s.dir, n, LONG);
    }
    let pid = s.start(&["-C", "4"]);
    assert!(wait_until(SOON, || supervised(pid).len() == 4));
    assert!(wait_until(SOON, || s
        .stderr()
        .contains(": too many services\n")));
}

#[test]
fn svscanctl_errors() {
    let s = Scan::new("svscanctl-err");
    let ctl = |args: &[&str]| run(Command::new(bin("s6-svscanctl")).args(args));
    let usage = "s6-svscanctl: usage: s6-svscanctl [ -zabhitqnN ] svscandir\n";
    for args in [&[][..], &["-Z", "x"], &["-p", "x"], &["-a"]] {
        let (rc, _, err) = ctl(args);
        assert_eq!((rc, err.as_str()), (100, usage), "{args:?}");
    }
    let nope = s.tmp("nope");
    let nope = nope.to_str().unwrap();
    let (rc, _, err) = ctl(&["-a", nope]);
    assert_eq!(rc, 111);
    assert_eq!(
        err,
        format!("s6-svscanctl: fatal: unable to control {nope}: No such file or directory\n")
    );
    let d = s.dir.to_str().unwrap();
    let (rc, _, err) = ctl(&["-a", d]);
    assert_eq!(rc, 100);
    assert_eq!(
        err,
        format!("s6-svscanctl: fatal: unable to control {d}: supervisor not listening\n")
    );
    std::fs::create_dir(s.dir.join(".s6-svscan")).unwrap();
    let (rc, _, err) = ctl(&["-a", d]);
    assert_eq!(rc, 100);
    assert_eq!(
        err,
        format!(
            "s6-svscanctl: fatal: something is wrong with the {d}/.s6-svscan directory. \
             errno reported: No such file or directory\n"
        )
    );
}

#[test]
fn svscan_startup_errors() {
    let s = Scan::new("svscan-err");
    let svscan = |args: &[&str]| run(Command::new(bin("s6-svscan")).args(args));
    let (rc, _, err) = svscan(&[]);
    assert_eq!(rc, 100);
    assert!(err.starts_with("s6-svscan: usage: s6-svscan [ -C services_max ]"));
    let nope = s.tmp("nope");
    let nope = nope.to_str().unwrap();
    let (rc, _, err) = svscan(&[nope]);
    assert_eq!(
        (rc, err),
        (
            111,
            format!("s6-svscan: fatal: unable to chdir to {nope}: No such file or directory\n")
        )
    );
    std::fs::write(s.dir.join(".s6-svscan"), "").unwrap();
    let (rc, _, err) = svscan(&[s.dir.to_str().unwrap()]);
    assert_eq!(
        (rc, err.as_str()),
        (
            100,
            "s6-svscan: fatal: .s6-svscan exists and is not a directory\n"
        )
    );
    // 2.11's -c is still accepted.
    let (rc, _, err) = svscan(&["-c", "x", "d"]);
    assert_eq!(
        (rc, err.as_str()),
        (
            100,
            "s6-svscan: fatal: maxservices must be an unsigned integer\n"
        )
    );
}

#[test]
fn second_instance_exits_100() {
    let mut s = Scan::new("svscan-second");
    s.start(&[]);
    let (rc, _, err) = run(Command::new(bin("s6-svscan")).arg(&s.dir));
    assert_eq!(
        (rc, err.as_str()),
        (
            100,
            "s6-svscan: fatal: another instance of s6-svscan is already running on the same directory\n"
        )
    );
    assert!(s.proc().wait_timeout(Duration::from_millis(1)).is_none());
}

#[test]
fn q_after_t_escalates_a_stubborn_logger() {
    let mut s = Scan::new("svscan-escalate");
    let svc = make_service(&s.dir, "svc", LONG);
    let log = svc.join("log");
    std::fs::create_dir(&log).unwrap();
    // Survives EOF on stdin: only a SIGTERM from its supervise stops it.
    write_script(&log.join("run"), &format!("cat > /dev/null; {LONG}"));
    s.start(&[]);
    assert!(wait_until(SOON, || up_pid(&svc).is_some() && up_pid(&log).is_some()));
    s.ctl_ok("t");
    assert!(wait_until(SOON, || status(&svc).is_some_and(|st| st.pid == 0)));
    // s6-svscan keeps waiting for the logger (it got SIGHUP, not SIGTERM)...
    s.ctl_ok("z");
    assert!(s.proc().wait_timeout(Duration::from_millis(300)).is_none());
    // ...and still listens: q sends SIGTERM to the logger's supervise too.
    s.ctl_ok("q");
    let st = s.proc().wait_timeout(SOON).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(0));
    assert_eq!(status(&log).map(|st| st.pid), Some(0));
}

#[test]
fn unspawnable_supervise_is_retried_and_svscan_keeps_running() {
    let mut s = Scan::new("svscan-nosup");
    // A copy of s6-svscan alone in a directory, with no s6-supervise in PATH either.
    let lone = s.tmp("lone");
    std::fs::create_dir(&lone).unwrap();
    std::fs::copy(bin("s6-svscan"), lone.join("s6-svscan")).unwrap();
    make_service(&s.dir, "svc", LONG);
    s.start_exe(&lone.join("s6-svscan"), "svscan");
    assert!(wait_until(SOON, || s.stderr().contains(
        "s6-svscan: warning: unable to spawn s6-supervise for svc: No such file or directory\n"
    )));
    let d = s.dir.clone();
    assert!(wait_until(SOON, || tests::common::control::send(
        &d,
        ".s6-svscan",
        b""
    )
    .is_ok()));
    s.ctl_ok("t");
    let st = s.proc().wait_timeout(SOON).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(0));
}

#[test]
fn console_holder_goes_to_the_catch_all_logger() {
    use std::os::fd::AsRawFd;
    let mut s = Scan::new("svscan-console");
    let console = s.tmp("console");
    let f = std::fs::File::create(&console).unwrap();
    let fd = f.as_raw_fd();
    make_service(
        &s.dir,
        "s6-svscan-log",
        // A catch-all logger reads its stdin (here s6-svscan's, /dev/null) until EOF: on
        // `t` it gets SIGHUP and its supervise exits once it is done.
        "echo to-console >&2; exec cat > /dev/null",
    );
    let mut cmd = Command::new(bin("s6-svscan"));
    cmd.arg("-X")
        .arg(fd.to_string())
        .arg(&s.dir)
        .current_dir(&s.dir);
    // The console holder fd is inherited: clear its close-on-exec flag in the child only.
    let in_child = move || {
        // SAFETY: fcntl(2) on an fd of ours; async-signal-safe.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure only makes an async-signal-safe system call.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(in_child);
    }
    s.proc = Some(Proc::spawn_logged(&mut cmd, &s.scratch.path, "svscan"));
    drop(f);
    assert!(wait_until(SOON, || std::fs::read_to_string(&console)
        .unwrap_or_default()
        .contains("to-console")));
    s.ctl_ok("t");
    let st = s.proc().wait_timeout(SOON).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(0));
}

/// The installed layout (`scripts/install`): s6-supervise is a hard link to s6-svscan. svscan
/// starts it under the name s6-supervise and it supervises; every supervisor runs the very
/// file svscan runs (same inode: shared pages). A real, separate s6-supervise put next to
/// it instead is what runs then (the mixed install keeps working).
#[test]
fn one_file_for_svscan_and_supervise() {
    use std::os::unix::fs::MetadataExt;
    let mut s = Scan::new("svscan-onefile");
    let prefix = s.tmp("bin");
    std::fs::create_dir(&prefix).unwrap();
    std::fs::copy(bin("s6-svscan"), prefix.join("s6-svscan")).unwrap();
    std::fs::hard_link(prefix.join("s6-svscan"), prefix.join("s6-supervise")).unwrap();
    for name in ["a", "b"] {
        make_service(&s.dir, name, LONG);
    }
    let svscan = s.start_exe(&prefix.join("s6-svscan"), "svscan");
    for name in ["a", "b"] {
        wait_up(&s.dir.join(name));
    }
    assert_eq!(supervised(svscan), ["a", "b"]);
    let inode = |pid: i32| {
        std::fs::metadata(format!("/proc/{pid}/exe"))
            .map(|m| (m.dev(), m.ino()))
            .ok()
    };
    let own = inode(svscan);
    assert!(own.is_some());
    for name in ["a", "b"] {
        let sup = supervise_pid_of(svscan, name).expect("supervise child");
        assert_eq!(
            inode(sup),
            own,
            "s6-supervise for {name} runs svscan's file"
        );
    }
    // Commands reach a supervisor that is the s6-svscan file under another name.
    let a = s.dir.join("a");
    let pid_a = wait_up(&a);
    let (rc, _, err) = run(Command::new(bin("s6-svc")).args(["-wd", "-d"]).arg(&a));
    assert_eq!((rc, err.as_str()), (0, ""));
    assert!(!status(&a).unwrap().is_up());
    assert!(wait_until(SOON, || !alive(pid_a)));

    // Debian's s6-supervise in place of the link, when installed: that one runs.
    if let Some(real) = tests::real_s6("s6-supervise") {
        s.ctl_ok("t");
        s.proc().wait_timeout(SOON).expect("s6-svscan exits");
        std::fs::remove_file(prefix.join("s6-supervise")).unwrap();
        std::fs::copy(&real, prefix.join("s6-supervise")).unwrap();
        let svscan = s.start_exe(&prefix.join("s6-svscan"), "svscan2");
        wait_up(&s.dir.join("b"));
        let sup = supervise_pid_of(svscan, "b").expect("supervise child");
        assert_eq!(
            std::fs::read_link(format!("/proc/{sup}/exe")).ok(),
            Some(prefix.join("s6-supervise"))
        );
        assert_ne!(inode(sup), inode(svscan));
    }
}

fn sigkill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}
