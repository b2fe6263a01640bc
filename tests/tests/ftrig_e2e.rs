//! End-to-end tests of the ftrig family: s6-notifyoncheck under a real s6-svscan with
//! s6-svwait, and interop of our fifodir tools with Debian's real s6 (2.11.3.2) notifiers,
//! listeners and supervisor. Behaviour only, never timings: every wait polls an observable
//! condition with a generous bound. Every process started here is killed by pid / process
//! group when its guard drops.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::common::status::StatusRecord;
use tests::{
    bin, bindir, kill_group, make_service, proc_table, real_s6, run, wait_until, write_script,
    Proc, Scratch, Sup, SOON,
};

/// PATH for everything started here: our programs first (s6-svscan finds our
/// s6-supervise), then the system (execlineb, sh).
fn path_env() -> String {
    format!("{}:/usr/bin:/bin", bindir().display())
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn status(sv: &Path) -> Option<StatusRecord> {
    StatusRecord::read(sv).ok()
}

/// Whether `pid` no longer runs (gone, or a zombie nobody reaped yet).
fn not_running(pid: i32) -> bool {
    !proc_table()
        .iter()
        .any(|&(p, _, state)| p == pid && state != 'Z')
}

/// The subscriber FIFOs (`ftrig1:@...`, 39 characters) in fifodir `d`.
fn subscribers(d: &Path) -> Vec<String> {
    std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("ftrig1:@") && n.len() == 39)
                .collect()
        })
        .unwrap_or_default()
}

/// Our s6-svscan on `scan`; at drop the services' groups, then s6-svscan's, are killed.
struct Scan {
    proc: Option<Proc>,
    services: Vec<PathBuf>,
}

impl Scan {
    fn start(t: &Scratch, scan: &Path) -> Scan {
        let mut cmd = Command::new(bin("s6-svscan"));
        cmd.arg(scan).current_dir(scan).env("PATH", path_env());
        let proc = Proc::spawn_logged(&mut cmd, &t.path, "svscan");
        assert!(
            wait_until(SOON, || tests::common::control::send(
                scan,
                ".s6-svscan",
                b""
            )
            .is_ok()),
            "s6-svscan listening"
        );
        Scan {
            proc: Some(proc),
            services: Vec::new(),
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        for sv in &self.services {
            if let Some(st) = status(sv) {
                kill_group(st.pid_t());
            }
        }
        self.proc.take();
    }
}

#[test]
fn notifyoncheck_makes_the_service_ready_exactly_when_the_check_succeeds() {
    let t = Scratch::new("ftrig-noc");
    let scan = t.join("scan");
    std::fs::create_dir(&scan).unwrap();
    let marker = t.join("marker");
    let log = t.join("checks");
    let checker_pid = t.join("checker");
    // The check logs each run and its parent (the checker), and succeeds once the marker
    // exists.
    let check = t.join("check");
    write_script(
        &check,
        &format!(
            "echo $PPID > {c}\necho run >> {l}\ntest -e {m}",
            c = checker_pid.display(),
            l = log.display(),
            m = marker.display()
        ),
    );
    let sv = make_service(
        &scan,
        "app",
        &format!(
            "exec {} -d -s 0 -w 50 -n 0 -c {} sleep 1000",
            bin("s6-notifyoncheck").display(),
            check.display()
        ),
    );
    std::fs::write(sv.join("notification-fd"), "3\n").unwrap();
    let mut s = Scan::start(&t, &scan);
    s.services.push(sv.clone());

    assert!(
        wait_until(SOON, || status(&sv).is_some_and(|st| st.is_up())),
        "service up"
    );
    let pid = status(&sv).unwrap().pid;
    // Up, the check is running and failing: not ready.
    assert!(wait_until(SOON, || lines(&log) >= 2), "check ran twice");
    assert!(!status(&sv).unwrap().ready);

    let mut svwait = Proc::spawn(
        Command::new(bin("s6-svwait"))
            .args(["-U", "-t", "60000"])
            .arg(&sv)
            .env("PATH", path_env()),
    );
    // s6-svwait has subscribed; more checks fail and it keeps waiting.
    // (the checker's FIFO and s6-svwait's)
    assert!(wait_until(SOON, || subscribers(&sv.join("event")).len() >= 2));
    let n = lines(&log);
    assert!(wait_until(SOON, || lines(&log) >= n + 2), "checks go on");
    assert!(
        svwait.child.try_wait().unwrap().is_none(),
        "svwait returned early"
    );
    assert!(!status(&sv).unwrap().ready);

    std::fs::write(&marker, "").unwrap();
    let st = svwait
        .wait_timeout(SOON)
        .expect("s6-svwait returns once ready");
    assert_eq!(st.code(), Some(0));
    let now = status(&sv).unwrap();
    assert!(now.ready && now.pid == pid, "{now:?}");

    // The checker is gone once readiness is reported: nothing polls a ready service.
    let checker: i32 = std::fs::read_to_string(&checker_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_until(SOON, || not_running(checker)), "checker exited");
}

#[test]
fn debian_ftrig_wait_and_svwait_see_our_notifications() {
    let (Some(wait), Some(svwait)) = (real_s6("s6-ftrig-wait"), real_s6("s6-svwait")) else {
        eprintln!("note: Debian's s6 is not installed; skipped");
        return;
    };
    let t = Scratch::new("ftrig-interop-a");
    let d = t.join("fifodir");
    let (rc, _, err) = run(Command::new(bin("s6-mkfifodir")).arg(&d));
    assert_eq!((rc, err.as_str()), (0, ""));

    let mut w = Proc::spawn_logged(
        Command::new(&wait)
            .args(["-t", "20000"])
            .arg(&d)
            .arg("a.*z"),
        &t.path,
        "wait",
    );
    assert!(
        wait_until(SOON, || subscribers(&d).len() == 1),
        "subscribed"
    );
    let notify = |dir: &Path, msg: &str| {
        let (rc, out, err) = run(Command::new(bin("s6-ftrig-notify")).arg(dir).arg(msg));
        assert_eq!((rc, out.as_str(), err.as_str()), (0, "", ""));
    };
    notify(&d, "ab");
    notify(&d, "xz");
    let st = w
        .wait_timeout(SOON)
        .expect("Debian's s6-ftrig-wait returns");
    assert_eq!(st.code(), Some(0));
    // 2.11 prints the last character of the match.
    assert_eq!(std::fs::read_to_string(t.join("wait.out")).unwrap(), "z\n");
    assert!(wait_until(SOON, || subscribers(&d).is_empty()));

    // Debian's s6-svwait -u on a (down) service: our notifier's `u` wakes it up.
    let sv = t.join("svc");
    std::fs::create_dir_all(sv.join("supervise")).unwrap();
    let (rc, _, _) = run(Command::new(bin("s6-mkfifodir")).arg(sv.join("event")));
    assert_eq!(rc, 0);
    StatusRecord::default().write(&sv).unwrap();
    let mut w = Proc::spawn_logged(
        Command::new(&svwait).args(["-u", "-t", "20000"]).arg(&sv),
        &t.path,
        "svwait",
    );
    assert!(wait_until(SOON, || subscribers(&sv.join("event")).len() == 1));
    notify(&sv.join("event"), "u");
    let st = w.wait_timeout(SOON).expect("Debian's s6-svwait returns");
    assert_eq!(st.code(), Some(0));
}

#[test]
fn our_ftrig_wait_sees_debian_notify_and_debian_supervise() {
    let (Some(notify), Some(supervise)) = (real_s6("s6-ftrig-notify"), real_s6("s6-supervise"))
    else {
        eprintln!("note: Debian's s6 is not installed; skipped");
        return;
    };
    let t = Scratch::new("ftrig-interop-b");
    let d = t.join("fifodir");
    std::fs::create_dir(&d).unwrap();
    let mut w = Proc::spawn_logged(
        Command::new(bin("s6-ftrig-wait"))
            .args(["-t", "20000"])
            .arg(&d)
            .arg("^ab.*z"),
        &t.path,
        "wait",
    );
    assert!(
        wait_until(SOON, || subscribers(&d).len() == 1),
        "subscribed"
    );
    for msg in ["ab", "xz"] {
        let (rc, _, err) = run(Command::new(&notify).arg(&d).arg(msg));
        assert_eq!((rc, err.as_str()), (0, ""));
    }
    let st = w.wait_timeout(SOON).expect("our s6-ftrig-wait returns");
    assert_eq!(st.code(), Some(0));
    // 2.15 prints everything received since subscribing.
    assert_eq!(
        std::fs::read_to_string(t.join("wait.out")).unwrap(),
        "abxz\n"
    );
    assert!(subscribers(&d).is_empty());

    // Debian's s6-supervise's events: `u` when the service is started.
    let sv = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(sv.join("down"), "").unwrap();
    let sup = Sup::start_bin(&supervise, &t, "svc");
    let mut w = Proc::spawn_logged(
        Command::new(bin("s6-ftrig-wait"))
            .args(["-t", "20000"])
            .arg(sv.join("event"))
            .arg("u"),
        &t.path,
        "wait2",
    );
    assert!(wait_until(SOON, || subscribers(&sv.join("event")).len() == 1));
    sup.ctl(b"u");
    let st = w.wait_timeout(SOON).expect("our s6-ftrig-wait sees u");
    assert_eq!(st.code(), Some(0));
    assert_eq!(std::fs::read_to_string(t.join("wait2.out")).unwrap(), "u\n");
    sup.wait(|s| s.is_up());
}

#[test]
fn listen1_catches_the_event_its_prog_causes_and_cleanfifodir_removes_stale_fifos() {
    let t = Scratch::new("ftrig-listen1");
    let d = t.join("fifodir");
    std::fs::create_dir(&d).unwrap();
    let (rc, out, err) = run(Command::new(bin("s6-ftrig-listen1"))
        .arg(&d)
        .arg("y")
        .arg(bin("s6-ftrig-notify"))
        .arg(&d)
        .arg("xyz"));
    assert_eq!((rc, out.as_str(), err.as_str()), (0, "xyz\n", ""));
    assert!(subscribers(&d).is_empty());

    let stale = d.join("ftrig1:@400000006b0288e1244b9b7e:stale1");
    nix::unistd::mkfifo(&stale, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (rc, out, err) = run(Command::new(bin("s6-cleanfifodir")).arg(&d));
    assert_eq!((rc, out.as_str(), err.as_str()), (0, "", ""));
    assert!(!stale.exists());
}

/// A signal-mask field (`SigBlk`, `SigIgn`) of a `/proc/PID/status` text, as a bit set.
fn sig_field(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(":\t"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no {field} in {status:?}"))
}

#[test]
fn exec_gives_back_sigpipe_and_keeps_the_signal_mask() {
    // common::exec, through s6-notify-socket-from-fd without NOTIFY_SOCKET (a plain exec).
    let pipe_bit = 1u64 << (libc::SIGPIPE - 1);
    let usr1_bit = 1u64 << (libc::SIGUSR1 - 1);
    let cat = || {
        let mut c = Command::new(bin("s6-notify-socket-from-fd"));
        c.env_remove("NOTIFY_SOCKET")
            .args(["cat", "/proc/self/status"])
            .env("PATH", path_env());
        c
    };
    // Started with SIGPIPE at its default: the exec'd program has it at its default too,
    // although our programs ignore it for themselves.
    let (rc, out, err) = run(&mut cat());
    assert_eq!((rc, err.as_str()), (0, ""));
    assert_eq!(sig_field(&out, "SigIgn") & pipe_bit, 0, "{out}");

    // Started with SIGPIPE ignored and SIGUSR1 blocked: both are passed on.
    let mut c = cat();
    {
        use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
        use std::os::unix::process::CommandExt;
        let hook = || {
            // SAFETY: SIG_IGN is not a handler function.
            unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) }?;
            let mut set = SigSet::empty();
            set.add(Signal::SIGUSR1);
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
            Ok(())
        };
        // SAFETY: between fork and exec the hook only calls signal(2) and sigprocmask(2),
        // both async-signal-safe.
        unsafe { c.pre_exec(hook) };
    }
    let (rc, out, err) = run(&mut c);
    assert_eq!((rc, err.as_str()), (0, ""));
    assert_ne!(sig_field(&out, "SigIgn") & pipe_bit, 0, "{out}");
    assert_ne!(sig_field(&out, "SigBlk") & usr1_bit, 0, "{out}");

    // Not found: 127 and skalibs' message.
    let (rc, out, err) = run(Command::new(bin("s6-notify-socket-from-fd"))
        .env_remove("NOTIFY_SOCKET")
        .arg("/nonexistent/prog"));
    assert_eq!(
        (rc, out.as_str(), err.as_str()),
        (
            127,
            "",
            "s6-notify-socket-from-fd: fatal: unable to exec /nonexistent/prog: No such file or directory\n"
        )
    );
}
