//! End-to-end tests of the logging programs, each a real process: the s6-log command lines
//! seen in real images, a logger under our s6-svscan with a size rotation, crash recovery
//! after SIGKILL, a full disk (tmpfs, root only), and interop with Debian's /usr/bin/s6-log
//! both ways. Behaviour only: every wait is on an observable condition with a timeout.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

use tests::{bin, real_s6, wait_until, Proc, Scratch, SOON};

/// A running logger whose stdin we write to; stdout and stderr go to files.
struct Logger {
    proc: Proc,
    stdin: Option<ChildStdin>,
    out: PathBuf,
    err: PathBuf,
}

impl Logger {
    fn start(prog: &Path, args: &[&str], cwd: &Path, tag: &str) -> Logger {
        let out = cwd.join(format!("{tag}.out"));
        let err = cwd.join(format!("{tag}.err"));
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let mut proc = Proc::spawn(&mut cmd);
        let stdin = proc.child.stdin.take();
        Logger {
            proc,
            stdin,
            out,
            err,
        }
    }

    fn send(&mut self, data: &[u8]) {
        self.stdin.as_mut().unwrap().write_all(data).unwrap();
    }

    fn eof(&mut self) {
        self.stdin = None;
    }

    fn wait(&mut self) -> i32 {
        let st = self.proc.wait_timeout(SOON).expect("logger exits");
        st.code().unwrap_or(-1)
    }

    fn out(&self) -> Vec<u8> {
        std::fs::read(&self.out).unwrap_or_default()
    }

    fn err(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

fn rd(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// `@` + 24 hex digits + `.s` or `.u`.
fn is_archive_name(n: &[u8]) -> bool {
    n.len() == 27
        && n[0] == b'@'
        && n[1..25].iter().all(u8::is_ascii_hexdigit)
        && n[25] == b'.'
        && matches!(n[26], b's' | b'u')
}

/// Archives of a logdir, oldest first.
fn archives(ld: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(ld)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| is_archive_name(p.file_name().unwrap().as_encoded_bytes()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Everything a logdir holds, archives then current, in order.
fn logged(ld: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for a in archives(ld) {
        all.extend(rd(&a));
    }
    all.extend(rd(&ld.join("current")));
    all
}

fn is_tai_line(l: &[u8], text: &[u8]) -> bool {
    l.len() == 26 + text.len()
        && l[0] == b'@'
        && l[1..25].iter().all(u8::is_ascii_hexdigit)
        && l[25] == b' '
        && &l[26..] == text
}

fn numbered(n: std::ops::Range<usize>) -> Vec<u8> {
    n.flat_map(|i| format!("line {i:06} {}\n", "x".repeat(80)).into_bytes())
        .collect()
}

#[test]
fn select_all_to_stdout() {
    // exec s6-log +.* 1
    let t = Scratch::new("log-sel");
    let mut l = Logger::start(&bin("s6-log"), &["+.*", "1"], &t.path, "l");
    l.send(b"one\n\ntwo\n");
    l.eof();
    assert_eq!(l.wait(), 0);
    assert_eq!(l.out(), b"one\n\ntwo\n");
}

#[test]
fn gzip_processor_container_form() {
    // exec s6-log n30 s10000000 S30000000 T !"gzip -nq9" /config/logs/app
    if which("execlineb").is_none() || which("gzip").is_none() {
        eprintln!("skipped: execlineb or gzip not installed");
        return;
    }
    let t = Scratch::new("log-gzip");
    std::fs::create_dir_all(t.join("config/logs")).unwrap();
    let ld = t.join("config/logs/app");
    let ldarg = ld.to_str().unwrap();
    let mut l = Logger::start(
        &bin("s6-log"),
        &["n30", "s10000000", "S30000000", "T", "!gzip -nq9", ldarg],
        &t.path,
        "l",
    );
    l.send(b"hello\nworld\n");
    assert!(wait_until(SOON, || rd(&ld.join("current")).ends_with(b"  world\n")));
    let cur = rd(&ld.join("current"));
    l.proc.signal(libc::SIGALRM);
    assert!(wait_until(SOON, || archives(&ld).len() == 1
        && !ld.join("processed").exists()
        && !ld.join("previous").exists()));
    let a = &archives(&ld)[0];
    assert_eq!(mode(a), 0o744);
    let out = Command::new("gzip").arg("-dc").arg(a).output().unwrap();
    assert_eq!(out.stdout, cur);
    l.eof();
    assert_eq!(l.wait(), 0);
    assert_eq!(l.err(), "");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

#[test]
fn protect_container_form() {
    // exec s6-log -bp t /var/log/app
    let t = Scratch::new("log-bp");
    let ld = t.join("var-log-app");
    let mut l = Logger::start(
        &bin("s6-log"),
        &["-bp", "t", ld.to_str().unwrap()],
        &t.path,
        "l",
    );
    l.send(b"one\n");
    assert!(wait_until(SOON, || rd(&ld.join("current")).ends_with(b" one\n")));
    l.proc.signal(libc::SIGTERM);
    l.send(b"two\n");
    assert!(wait_until(SOON, || rd(&ld.join("current")).ends_with(b" two\n")));
    l.proc.signal(libc::SIGHUP);
    assert_eq!(l.wait(), 0);
    let cur = rd(&ld.join("current"));
    let lines: Vec<&[u8]> = cur.split(|&c| c == b'\n').collect();
    assert!(is_tai_line(lines[0], b"one") && is_tai_line(lines[1], b"two"));
    assert_eq!(mode(&ld.join("current")), 0o744);
}

#[test]
fn readiness_container_form() {
    // exec s6-log -bpd3 -- t /run/uncaught-logs
    let t = Scratch::new("log-d3");
    let ld = t.join("uncaught-logs");
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let mut cmd = Command::new(bin("s6-log"));
    cmd.args(["-bpd3", "--", "t", ld.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let wfd = {
        use std::os::fd::AsRawFd;
        w.as_raw_fd()
    };
    let hook = move || {
        // SAFETY: dup2(2) on two descriptor numbers, async-signal-safe.
        if unsafe { libc::dup2(wfd, 3) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook only calls dup2; wfd stays open in the parent until spawn returns.
    unsafe { std::os::unix::process::CommandExt::pre_exec(&mut cmd, hook) };
    let mut p = Proc::spawn(&mut cmd);
    drop(w);
    let mut f = std::fs::File::from(r);
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut got).unwrap();
    // EOF on the pipe: the notification was written and fd 3 closed.
    assert_eq!(got, b"\n");
    for n in ["lock", "state", "current"] {
        assert!(ld.join(n).exists(), "{n}");
    }
    let mut stdin = p.child.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    assert!(wait_until(SOON, || {
        let c = rd(&ld.join("current"));
        is_tai_line(c.strip_suffix(b"\n").unwrap_or(&c), b"hello")
    }));
    drop(stdin);
    assert_eq!(p.wait_timeout(SOON).and_then(|s| s.code()), Some(0));
}

#[test]
fn tai64n_tai64nlocal_pipeline_into_selection() {
    // s6-tai64n | s6-tai64nlocal | s6-log -b -- - +local1.* n10 s1000000 1 /log/x
    let t = Scratch::new("log-pipe");
    let ld = t.join("x");
    let mut tai = Command::new(bin("s6-tai64n"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut local = Command::new(bin("s6-tai64nlocal"))
        .env("TZ", "UTC0")
        .stdin(tai.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let logger = Command::new(bin("s6-log"))
        .args(["-b", "--", "-", "+local1.*", "n10", "s1000000", "1"])
        .arg(&ld)
        .stdin(local.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut i = tai.stdin.take().unwrap();
        i.write_all(b"local1.info: a\nlocal2.info: b\nuser.notice: local1 c\n")
            .unwrap();
    }
    let out = logger.wait_with_output().unwrap();
    assert!(tai.wait().unwrap().success() && local.wait().unwrap().success());
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<&[u8]> = out.stdout.split(|&c| c == b'\n').collect();
    assert_eq!(lines.len(), 3);
    for (l, text) in lines
        .iter()
        .zip([&b" local1.info: a"[..], b" user.notice: local1 c"])
    {
        // `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` then the text.
        assert_eq!(l.len(), 29 + text.len(), "{}", String::from_utf8_lossy(l));
        assert_eq!(&l[29..], text);
        assert_eq!((l[4], l[10], l[19]), (b'-', b' ', b'.'));
    }
    assert_eq!(rd(&ld.join("current")), out.stdout);
}

#[test]
fn sigkill_loses_nothing_written_and_restart_recovers() {
    let t = Scratch::new("log-kill");
    let ld = t.join("ld");
    // 230 lines of 93 bytes: five archives of 44 lines, 10 lines left in current.
    let data = numbered(0..230);
    let mut l = Logger::start(&bin("s6-log"), &["s4096", "n100", "./ld"], &t.path, "l");
    l.send(&data);
    assert!(wait_until(SOON, || logged(&ld) == data));
    l.proc.signal(libc::SIGKILL);
    l.wait();
    drop(l);
    // current was not finalized: the next s6-log archives it as .u and goes on.
    assert_eq!(logged(&ld), data);
    assert!(!rd(&ld.join("current")).is_empty());
    let more = numbered(230..240);
    let mut l = Logger::start(&bin("s6-log"), &["s4096", "n100", "./ld"], &t.path, "l2");
    l.send(&more);
    l.eof();
    assert_eq!(l.wait(), 0);
    let a = archives(&ld);
    assert!(a.last().unwrap().to_str().unwrap().ends_with(".u"));
    let mut want = data.clone();
    want.extend(&more);
    assert_eq!(logged(&ld), want);
}

#[test]
fn logger_under_our_svscan_rotates_by_size() {
    let t = Scratch::new("log-svscan");
    let scan = t.join("scan");
    let svc = scan.join("app");
    std::fs::create_dir_all(svc.join("log")).unwrap();
    tests::write_script(
        &svc.join("run"),
        "i=0\nwhile [ $i -lt 200 ]; do echo \"app line $i padding padding padding padding\"; i=$((i+1)); done\nexec sleep 1000",
    );
    tests::write_script(
        &svc.join("log/run"),
        &format!("exec {} n5 s4096 ./main", bin("s6-log").display()),
    );
    let mut cmd = Command::new(bin("s6-svscan"));
    cmd.arg(&scan).current_dir(&scan).env(
        "PATH",
        format!("{}:/usr/bin:/bin", tests::bindir().display()),
    );
    let _svscan = Proc::spawn_logged(&mut cmd, &t.path, "svscan");
    let ld = svc.join("log/main");
    let ok = wait_until(SOON, || {
        !archives(&ld).is_empty() && logged(&ld).iter().filter(|&&c| c == b'\n').count() == 200
    });
    // Services run in their own sessions: kill them by the pids in their status files.
    for d in [&svc, &svc.join("log")] {
        if let Ok(st) = common_status(d) {
            tests::kill_group(st);
        }
    }
    assert!(ok, "no rotation in {}", ld.display());
    let all = logged(&ld);
    let text = String::from_utf8(all).unwrap();
    for (i, l) in text.lines().enumerate() {
        assert_eq!(l, format!("app line {i} padding padding padding padding"));
    }
    for a in archives(&ld) {
        assert!(a.to_str().unwrap().ends_with(".s"));
        assert_eq!(mode(&a), 0o744);
    }
}

fn common_status(svdir: &Path) -> Result<i32, ()> {
    let raw = std::fs::read(svdir.join("supervise/status")).map_err(|_| ())?;
    let st = tests::common::status::StatusRecord::unpack(&raw).map_err(|_| ())?;
    Ok(st.pid_t())
}

/// Log `first` with `a`, stop it (EOF, or SIGKILL), continue with `b`: nothing lost, the
/// rotated archives of the first kept.
fn continue_logdir(a: &Path, b: &Path, kill: bool) {
    let t = Scratch::new("log-interop");
    let ld = t.join("ld");
    let first = numbered(0..100);
    let mut l = Logger::start(a, &["n50", "s4096", "./ld"], &t.path, "a");
    l.send(&first);
    assert!(wait_until(SOON, || logged(&ld) == first));
    l.proc.signal(libc::SIGALRM);
    assert!(wait_until(SOON, || archives(&ld).len() >= 2
        && logged(&ld) == first
        && !ld.join("previous").exists()));
    if kill {
        l.proc.signal(libc::SIGKILL);
        l.wait();
    } else {
        l.eof();
        assert_eq!(l.wait(), 0);
    }
    let kept = archives(&ld);
    let second = numbered(100..150);
    let mut l = Logger::start(b, &["n50", "s4096", "./ld"], &t.path, "b");
    l.send(&second);
    l.eof();
    assert_eq!(l.wait(), 0, "{}", l.err());
    for k in &kept {
        assert!(k.exists(), "{} kept", k.display());
    }
    let mut want = first;
    want.extend(second);
    assert_eq!(logged(&ld), want);
    assert_eq!(mode(&ld.join("current")), 0o744);
    assert!(ld.join("state").exists() && ld.join("lock").exists());
}

#[test]
fn interop_debian_logdir_continued_by_ours() {
    let Some(real) = real_s6("s6-log") else {
        eprintln!("skipped: Debian's s6-log not installed");
        return;
    };
    continue_logdir(&real, &bin("s6-log"), false);
    continue_logdir(&real, &bin("s6-log"), true);
}

#[test]
fn interop_our_logdir_continued_by_debian() {
    let Some(real) = real_s6("s6-log") else {
        eprintln!("skipped: Debian's s6-log not installed");
        return;
    };
    continue_logdir(&bin("s6-log"), &real, false);
    continue_logdir(&bin("s6-log"), &real, true);
}

/// A full disk: s6-log waits and retries, and every line ends up in `current` exactly once.
#[test]
fn full_disk_waits_and_loses_nothing() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to mount a small tmpfs");
        return;
    }
    let t = Scratch::new("log-enospc");
    let mnt = t.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .status();
    if !st.map(|s| s.success()).unwrap_or(false) {
        eprintln!("skipped: cannot mount a tmpfs");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _um = Unmount(mnt.clone());
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![b'F'; 4096];
        while f.write_all(&block).is_ok() {}
    }
    let mut l = Logger::start(&bin("s6-log"), &["r50", "s1000000", "./ld"], &mnt, "l");
    let data = numbered(0..1000);
    l.send(&data);
    // The disk is full: some lines wait in memory.
    let ld = mnt.join("ld");
    // Once s6-log has read everything (the pipe is empty), part of it must be waiting in
    // memory for room on the disk.
    let fd = {
        use std::os::fd::AsRawFd;
        l.stdin.as_ref().unwrap().as_raw_fd()
    };
    assert!(wait_until(SOON, || {
        let mut n: libc::c_int = -1;
        // SAFETY: FIONREAD on our own pipe end, into a local int.
        unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
        n == 0
    }));
    assert!(rd(&ld.join("current")).len() < data.len());
    assert!(l.proc.child.try_wait().unwrap().is_none(), "s6-log waits");
    std::fs::remove_file(&filler).unwrap();
    l.eof();
    assert_eq!(l.wait(), 0);
    assert_eq!(rd(&ld.join("current")), data);
    drop(l);
}
