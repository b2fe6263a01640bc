//! Fault injection on resources, with a real s6-supervise:
//!
//! * `supervise/` on a full file system (a tiny tmpfs, filled): the status write fails,
//!   supervise warns and keeps supervising; once space is back, the next state change
//!   (an `s6-svc` command) writes the status again;
//! * file descriptors exhausted (`prlimit --nofile` on the running supervisor): spawning
//!   fails with a warning, supervise keeps reading commands, and retries on `s6-svc -u`
//!   once the limit is raised;
//! * fork failing (`RLIMIT_NPROC` on a supervisor running as uid 65534): same.
//!
//! Root is needed (mount, prlimit on another process, setpriv); without it the tests pass
//! with a note. Behaviour only, never timings.

mod faults_support;

use faults_support::*;
use std::io::Write;
use std::process::Command;
use tests::{bin, make_service, run, wait_until, Scratch, SOON};

/// Set the soft limit `what` of `pid` (`prlimit --pid`; the hard limit is left alone, so
/// that the soft one can be raised back without CAP_SYS_RESOURCE). `as_uid`: run prlimit as
/// that user (prlimit(2) on another user's process needs CAP_SYS_RESOURCE, which a root
/// inside a container may lack).
fn prlimit(pid: i32, what: &str, soft: &str, as_uid: Option<&str>) {
    let mut cmd = match as_uid {
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={u}"),
                &format!("--regid={u}"),
                "--clear-groups",
                "prlimit",
            ]);
            c
        }
        None => Command::new("prlimit"),
    };
    let (rc, out, err) = run(cmd
        .arg(format!("--pid={pid}"))
        .arg(format!("--{what}={soft}:")));
    assert_eq!(rc, 0, "prlimit --{what}={soft}: {out}{err}");
}

/// The soft limit named `label` in /proc/PID/limits ("Max open files", "Max processes").
fn soft_limit(pid: i32, label: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(label))
        .and_then(|l| l[label.len()..].split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{label} in /proc/{pid}/limits"))
}

fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmpfs mounted on `dir`, lazily unmounted at drop.
struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_filesystem_status_write_fails_then_catches_up() {
    if !is_root() {
        tests::skip("needs root (mount a tmpfs)");
        return;
    }
    let scratch = Scratch::new("faults-enospc");
    let mnt = scratch.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let (rc, _, err) = run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0755", "s6rs-faults"])
        .arg(&mnt));
    if rc != 0 {
        tests::skip(format!("cannot mount a tmpfs here: {err}"));
        return;
    }
    let _fs = Tmpfs(mnt.clone());
    let d = make_service(&mnt, "svc", LONG);
    let sup = Sup::start_cmd(Command::new(bin("s6-supervise")).arg(&d), &d, &scratch.path);
    let run1 = wait_up(&d);
    sup.note();

    // Fill the file system.
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
    }
    // Small files too, until not even a page is left.
    for i in 0.. {
        if std::fs::write(mnt.join(format!("f{i}")), b"x").is_err() || i > 1000 {
            break;
        }
    }

    // A command that changes the status: the write fails, supervise warns, and still acts.
    assert_eq!(svc(&["-d"], &d), (0, String::new()));
    assert!(
        wait_until(SOON, || !alive(run1)),
        "the service is taken down even though the status cannot be written"
    );
    // Two failed status writes (the `d` command, then the death, which also appends to
    // the death tally first): only after the second one is supervise idle again, so only
    // then may the temporaries be checked.
    assert!(
        wait_until(SOON, || sup
            .stderr()
            .matches("unable to write status file")
            .count()
            >= 2),
        "warnings printed; stderr: {}",
        sup.stderr()
    );
    assert!(
        sup.stderr()
            .contains("unable to write supervise/death_tally"),
        "{}",
        sup.stderr()
    );
    assert!(alive(sup.pid()), "supervise survives ENOSPC");
    for tmp in ["status.new", "death_tally.new"] {
        assert!(
            !d.join("supervise").join(tmp).exists(),
            "no partial temporary {tmp} left"
        );
    }
    let (rc, _, _) = run(Command::new(tests::bin("s6-svok")).arg(&d));
    assert_eq!(rc, 0);

    // Space is back: the next command writes the status again and it is right.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(svc(&["-u"], &d), (0, String::new()));
    let run2 = wait_up_other(&d, run1);
    sup.note();
    let st = status(&d).unwrap();
    assert!(st.want_up && st.pid_t() == run2);
    assert_eq!(svc(&["-d"], &d), (0, String::new()));
    wait_down(&d);
    assert!(!status(&d).unwrap().want_up);
    assert!(alive(sup.pid()));
    drop(sup);
}

#[test]
fn file_descriptors_exhausted_spawn_fails_and_supervise_stays_responsive() {
    if !is_root() || !have("prlimit") {
        tests::skip("needs root and prlimit (util-linux)");
        return;
    }
    let scratch = Scratch::new("faults-emfile");
    let d = make_service(&scratch.path, "svc", LONG);
    let sup = Sup::start_cmd(Command::new(bin("s6-supervise")).arg(&d), &d, &scratch.path);
    let run1 = wait_up(&d);
    sup.note();
    let pid = sup.pid();

    // No new descriptor can be opened by the supervisor from now on.
    let open = fd_count(pid);
    assert!(open > 3, "fds of supervise: {open}");
    let orig = soft_limit(pid, "Max open files");
    prlimit(pid, "nofile", &open.to_string(), None);

    // The service dies: ./finish and ./run cannot be spawned (a pipe is needed), the status
    // cannot be written; supervise warns and goes on.
    kill(run1, libc::SIGKILL);
    assert!(
        wait_until(SOON * 2, || sup.stderr().contains("unable to spawn ./run")),
        "spawn failure reported; stderr: {}",
        sup.stderr()
    );
    assert!(
        sup.stderr().contains("Too many open files"),
        "{}",
        sup.stderr()
    );
    assert!(alive(pid), "supervise survives EMFILE");
    // Still reading commands (the control FIFO is already open): several commands are
    // accepted, and supervise is still there.
    for cmd in ["-d", "-u", "-d"] {
        assert_eq!(svc(&[cmd], &d), (0, String::new()), "svc {cmd}");
    }
    assert!(alive(pid));

    // Limit raised: `s6-svc -u` retries at once, without waiting for the 60 s retry.
    prlimit(pid, "nofile", &orig, None);
    assert_eq!(svc(&["-u"], &d), (0, String::new()));
    let run2 = wait_up_other(&d, run1);
    sup.note();
    let st = status(&d).unwrap();
    assert!(st.want_up && st.pid_t() == run2);
    assert!(
        fd_count(pid) <= open + 2,
        "no descriptor leaked by the failures"
    );
}

#[test]
fn fork_failing_under_rlimit_nproc_supervise_retries_on_command() {
    if !is_root() || !have("prlimit") || !have("setpriv") {
        tests::skip("needs root, prlimit and setpriv (util-linux)");
        return;
    }
    let scratch = Scratch::new("faults-eagain");
    let d = make_service(&scratch.path, "svc", LONG);
    // The service directory belongs to the unprivileged user the supervisor runs as.
    let (rc, _, err) = run(Command::new("chown").args(["-R", "65534:65534"]).arg(&d));
    assert_eq!(rc, 0, "chown: {err}");
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(tests::bin("s6-supervise"))
        .arg(&d);
    let sup = Sup::start_cmd(&mut cmd, &d, &scratch.path);
    let run1 = wait_up(&d);
    sup.note();
    let pid = sup.pid();

    // RLIMIT_NPROC 1: the uid already has more processes, so fork fails with EAGAIN.
    let orig = soft_limit(pid, "Max processes");
    prlimit(pid, "nproc", "1", Some("65534"));
    kill(run1, libc::SIGKILL);
    assert!(
        wait_until(SOON * 2, || sup.stderr().contains("unable to spawn ./run")),
        "spawn failure reported; stderr: {}",
        sup.stderr()
    );
    assert!(alive(pid), "supervise survives a failing fork");
    // The status is written (no fd shortage here) and shows the service down, wanted up.
    wait_down(&d);
    assert!(status(&d).unwrap().want_up);
    // Commands are obeyed: down is recorded; up retries (and fails again, still down).
    assert_eq!(svc(&["-d"], &d), (0, String::new()));
    assert!(wait_until(SOON, || status(&d).is_some_and(|s| !s.want_up)));
    assert_eq!(svc(&["-u"], &d), (0, String::new()));
    assert!(wait_until(SOON, || status(&d).is_some_and(|s| s.want_up)));
    assert!(alive(pid));
    assert_eq!(up_pid(&d), None);

    // Limit lifted: the next `s6-svc -u` starts the service at once.
    prlimit(pid, "nproc", &orig, Some("65534"));
    assert_eq!(svc(&["-u"], &d), (0, String::new()));
    let run2 = wait_up_other(&d, run1);
    sup.note();
    assert!(alive(run2) && alive(pid));
}
