//! End-to-end tests of the chain loaders (s6-setuidgid, s6-envuidgid, s6-applyuidgid,
//! s6-envdir, s6-setsid, s6-softlimit, s6-fghack, s6-setlock) in the forms real images use,
//! checked from what the exec'd program sees in /proc; one ./run under our s6-supervise;
//! interop with Debian's s6-envuidgid / s6-applyuidgid. Behaviour only, never timings.

use std::path::Path;
use std::process::{Command, Stdio};

use tests::{
    bin, cmdline, make_service, real_s6, run, wait_until, Proc, Scratch, Supervisor, SOON,
};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn nobody() -> Option<(u32, u32)> {
    common::users::user_by_name(b"nobody").map(|u| (u.uid, u.gid))
}

/// `Key:\tv1\tv2...` of a /proc/PID/status dump, as numbers.
fn ids(status: &str, key: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// PATH with our programs first, as an install would have it.
fn path_env() -> String {
    format!("{}:/usr/bin:/bin", tests::bindir().display())
}

#[test]
fn setuidgid_real_form_drops_to_nobody_keeping_prog_args() {
    let (Some((uid, gid)), true) = (nobody(), is_root()) else {
        eprintln!("skipped: needs root and a nobody account");
        return;
    };
    let (code, out, err) = run(Command::new(bin("s6-setuidgid"))
        .args([
            "nobody",
            "/bin/sh",
            "-c",
            r#"cat /proc/$$/status; printf '<%s>' "$@""#,
            "sh",
        ])
        .args(["-D", "-e"])
        .env("UID", "1")
        .env("GIDLIST", "2"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(ids(&out, "Uid"), vec![uid; 4]);
    assert_eq!(ids(&out, "Gid"), vec![gid; 4]);
    assert!(ids(&out, "Groups").contains(&gid));
    assert!(out.ends_with("<-D><-e>"), "{out}");
}

#[test]
fn setuidgid_same_process_and_no_uid_variables() {
    let (Some((uid, _)), true) = (nobody(), is_root()) else {
        eprintln!("skipped: needs root and a nobody account");
        return;
    };
    let mut p = Proc::spawn(
        Command::new(bin("s6-setuidgid"))
            .args(["nobody", "sleep", "1000"])
            .env("GID", "5")
            .env("UID", "6"),
    );
    // Chain loading: the pid we started becomes sleep.
    assert!(wait_until(SOON, || cmdline(p.pid())
        .first()
        .map(String::as_str)
        == Some("sleep")));
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
    assert_eq!(ids(&status, "Uid"), vec![uid; 4]);
    let env = std::fs::read(format!("/proc/{}/environ", p.pid())).unwrap();
    assert!(!env
        .split(|&b| b == 0)
        .any(|v| v.starts_with(b"UID=") || v.starts_with(b"GID=") || v.starts_with(b"GIDLIST=")));
    p.signal(libc::SIGKILL);
    p.wait_timeout(SOON).expect("exit");
}

#[test]
fn setuidgid_numeric_and_errors() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (code, out, _) =
        run(Command::new(bin("s6-setuidgid")).args(["54999:54998", "cat", "/proc/self/status"]));
    assert_eq!(code, 0);
    assert_eq!(ids(&out, "Uid"), vec![54999; 4]);
    assert_eq!(ids(&out, "Groups"), vec![54998]);
    let (code, _, err) = run(Command::new(bin("s6-setuidgid")).args(["s6rs-nosuchuser", "true"]));
    assert_eq!(
        (code, err.as_str()),
        (1, "s6-envuidgid: fatal: unknown user: s6rs-nosuchuser\n")
    );
    let (code, _, err) = run(Command::new(bin("s6-setuidgid")).args(["nobody:x", "true"]));
    assert_eq!(code, 100);
    assert!(err.starts_with("s6-applyuidgid: usage: "), "{err}");
    let (code, _, err) = run(Command::new(bin("s6-setuidgid")).args(["root", "/nonexistent"]));
    assert_eq!(
        (code, err.as_str()),
        (
            127,
            "s6-applyuidgid: fatal: unable to exec /nonexistent: No such file or directory\n"
        )
    );
}

#[test]
fn envuidgid_defaults_real_form() {
    let (code, out, err) = run(Command::new(bin("s6-envuidgid"))
        .args(["-D", "65534:65534", "s6rs-nosuchuser", "/bin/sh", "-c"])
        .arg(r#"echo "$UID:$GID:$GIDLIST:${GIDLIST+set}""#));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "65534:65534::set\n", "")
    );
}

#[test]
fn envuidgid_feeds_debian_applyuidgid_and_back() {
    let Some(debian_apply) = real_s6("s6-applyuidgid") else {
        eprintln!("skipped: Debian's s6 is not installed");
        return;
    };
    if !is_root() || nobody().is_none() {
        eprintln!("skipped: needs root and a nobody account");
        return;
    }
    let (uid, _) = nobody().unwrap();
    // ours -> Debian's
    let (code, out, err) = run(Command::new(bin("s6-envuidgid"))
        .arg("nobody")
        .arg(&debian_apply)
        .args(["-Uz", "cat", "/proc/self/status"]));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(ids(&out, "Uid"), vec![uid; 4]);
    // Debian's -> ours
    let debian_env = real_s6("s6-envuidgid").expect("Debian's s6-envuidgid");
    let (code, out, err) = run(Command::new(debian_env)
        .arg("nobody")
        .arg(bin("s6-applyuidgid"))
        .args(["-Uz", "cat", "/proc/self/status"]));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(ids(&out, "Uid"), vec![uid; 4]);
}

#[test]
fn envdir_container_environment_real_form() {
    let t = Scratch::new("cl-envdir");
    let d = t.join("run/s6/container_environment");
    std::fs::create_dir_all(&d).unwrap();
    for (k, v) in [
        ("HOME", &b"/root"[..]),
        ("MOTD", b"line one\nline two"),
        ("EMPTY", b""),
        ("SPACED", b"  v \t"),
        ("NUL", b"a\0b"),
        // PATH for prog; the lookup of prog itself still uses the caller's PATH.
        ("PATH", b"/nonexistent"),
    ] {
        std::fs::write(d.join(k), v).unwrap();
    }
    let (code, out, err) = run(Command::new(bin("s6-envdir"))
        .arg(&d)
        .args(["env"])
        .env("EMPTY", "was set")
        .env("PATH", "/usr/bin:/bin"));
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "HOME=/root",
        "MOTD=line one",
        "SPACED=  v",
        "NUL=a",
        "b",
        "PATH=/nonexistent",
    ] {
        assert!(lines.contains(&want), "{want} not in {out}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("EMPTY=")));
}

#[test]
fn setsid_makes_a_new_session() {
    // The test's child is not a process group leader, so setsid works.
    let (code, out, err) = run(Command::new("/bin/sh").arg("-c").arg(format!(
        "{} /bin/sh -c 'echo $$; cat /proc/$$/stat'; :",
        bin("s6-setsid").display()
    )));
    assert_eq!((code, err.as_str()), (0, ""));
    let mut l = out.lines();
    let pid: i32 = l.next().unwrap().parse().unwrap();
    let stat = l.next().unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let (pgrp, sid, tty): (i32, i32, i32) = (
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
        f[4].parse().unwrap(),
    );
    assert_eq!((pgrp, sid, tty), (pid, pid, 0));
}

#[test]
fn setsid_g_q_under_a_supervisor_fails_without_tty() {
    // `exec s6-setsid -g -q prog` where there is no terminal: 2.15 dies (we follow it).
    let (code, _, err) = run(Command::new(bin("s6-setsid"))
        .args(["-g", "-q", "true"])
        .stdin(Stdio::null())
        .env("PATH", path_env()));
    // Under a terminal the test runner's /dev/tty may exist; only check the no-tty case.
    if std::fs::File::open("/dev/tty").is_err() {
        assert_eq!(
            (code, err.as_str()),
            (
                111,
                "s6-setsid: fatal: unable to open /dev/tty: No such device or address\n"
            )
        );
    }
}

#[test]
fn softlimit_limits_seen_by_prog() {
    let (code, out, err) = run(Command::new(bin("s6-softlimit")).args([
        "-m",
        "100000000",
        "-o",
        "50",
        "cat",
        "/proc/self/limits",
    ]));
    assert_eq!((code, err.as_str()), (0, ""));
    let soft = |row: &str| -> String {
        let l = out
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("{row}"));
        l[26..47].trim().to_string()
    };
    for row in [
        "Max data size",
        "Max stack size",
        "Max locked memory",
        "Max address space",
    ] {
        let hard = resource_hard(row, &out);
        let want = if hard == "unlimited" || hard.parse::<u64>().unwrap_or(0) >= 100000000 {
            "100000000".to_string()
        } else {
            hard
        };
        assert_eq!(soft(row), want, "{row}");
    }
    assert_eq!(soft("Max open files"), "50");
}

fn resource_hard(row: &str, limits: &str) -> String {
    let l = limits.lines().find(|l| l.starts_with(row)).expect("row");
    l[47..68].trim().to_string()
}

fn lock_holder_pid(path: &Path) -> i32 {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open lock file");
    // SAFETY: flock is plain data; zeroed is a valid whole-file probe.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETLK(&mut fl)).expect("F_GETLK");
    if fl.l_type == libc::F_UNLCK as libc::c_short {
        0
    } else {
        fl.l_pid
    }
}

#[test]
fn setlock_excludes_a_second_holder_and_d_keeps_the_lock() {
    let t = Scratch::new("cl-lock");
    let lk = t.join("lock");
    for extra in [&[][..], &["-d", "7"][..]] {
        let mut holder = Proc::spawn(
            Command::new(bin("s6-setlock"))
                .args(extra)
                .arg(&lk)
                .args(["sleep", "1000"]),
        );
        assert!(wait_until(SOON, || cmdline(holder.pid())
            .first()
            .map(String::as_str)
            == Some("sleep")));
        assert_eq!(lock_holder_pid(&lk), holder.pid(), "{extra:?}");
        let (code, _, err) = run(Command::new(bin("s6-setlock"))
            .arg("-n")
            .arg(&lk)
            .arg("true"));
        assert_eq!(code, 1, "{extra:?}");
        assert!(err.starts_with(&format!(
            "s6-setlock: fatal: unable to lock {}: ",
            lk.display()
        )));
        // A waiting locker gets it once the holder is gone.
        let mut waiter = Proc::spawn(
            Command::new(bin("s6-setlock"))
                .arg(&lk)
                .args(["/bin/sh", "-c", "exit 0"]),
        );
        let blocked = format!(" {} ", waiter.pid());
        assert!(wait_until(SOON, || std::fs::read_to_string("/proc/locks")
            .is_ok_and(|l| l
                .lines()
                .any(|x| x.contains("-> POSIX") && x.contains(&blocked)))));
        assert!(waiter.child.try_wait().unwrap().is_none());
        holder.signal(libc::SIGKILL);
        holder.wait_timeout(SOON).expect("holder exit");
        let st = waiter.wait_timeout(SOON).expect("waiter ran");
        assert!(st.success());
    }
}

#[test]
fn fghack_waits_for_the_background() {
    let t = Scratch::new("cl-fghack");
    let pidfile = t.join("bg");
    let mut p = Proc::spawn(
        Command::new(bin("s6-fghack"))
            .args(["/bin/sh", "-c", "sleep 1000 & echo $! > \"$0\"; exit 3"])
            .arg(&pidfile)
            .stderr(Stdio::null()),
    );
    assert!(wait_until(SOON, || std::fs::read_to_string(&pidfile)
        .is_ok_and(|s| s.ends_with('\n'))));
    let bg: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(p.child.try_wait().unwrap().is_none());
    // SAFETY: kill(2) on the background process our own child started.
    unsafe { libc::kill(bg, libc::SIGKILL) };
    let st = p.wait_timeout(SOON).expect("fghack exits");
    assert_eq!(st.code(), Some(3));
}

#[test]
fn run_script_with_setuidgid_under_our_supervise() {
    if !is_root() || nobody().is_none() {
        eprintln!("skipped: needs root and a nobody account");
        return;
    }
    let t = Scratch::new("cl-sup");
    make_service(
        &t.path,
        "app",
        &format!("exec {} nobody sleep 1000", bin("s6-setuidgid").display()),
    );
    let sup = Supervisor::start(&bin("s6-supervise"), &t, "app");
    let st = sup.wait(|s| s.is_up() && s.pid != 0);
    let pid = st.pid_t();
    assert!(wait_until(SOON, || cmdline(pid)
        .first()
        .map(String::as_str)
        == Some("sleep")));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(ids(&status, "Uid"), vec![nobody().unwrap().0; 4]);
    sup.ctl(b"d");
    sup.wait(|s| !s.is_up());
    sup.ctl(b"x");
}
