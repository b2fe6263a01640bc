//! End-to-end tests of the fd holder: our daemon with Debian's clients and Debian's daemon
//! with ours (same wire protocol), bad clients refused while the daemon goes on serving
//! others, and SIGTERM's exit code. Every process is killed by process group at drop.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tests::{bin, bindir, real_s6, wait_until, Proc, Scratch, SOON};

fn path_env() -> String {
    format!(
        "{}:{}",
        bindir().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    )
}

/// Rules allowing uid 0 (and so this test, run as root, or the owner via uid/self)
/// everything on ids starting with `pipe:`.
fn write_rules(dir: &Path) {
    for key in ["uid/0", "uid/self"] {
        let env = dir.join(key).join("env");
        std::fs::create_dir_all(&env).unwrap();
        std::fs::write(dir.join(key).join("allow"), "").unwrap();
        for (k, v) in [
            ("S6_FDHOLDER_STORE_REGEX", "^pipe:\n"),
            ("S6_FDHOLDER_RETRIEVE_REGEX", "^pipe:\n"),
            ("S6_FDHOLDER_LIST", "\n"),
            ("S6_FDHOLDER_GETDUMP", "\n"),
            ("S6_FDHOLDER_SETDUMP", "\n"),
        ] {
            std::fs::write(env.join(k), v).unwrap();
        }
    }
}

struct Daemon {
    proc: Proc,
    sock: PathBuf,
}

fn start_daemon(t: &Scratch, daemon: &Path, name: &str, opts: &[&str]) -> Daemon {
    let rules = t.join(format!("{name}.rules"));
    write_rules(&rules);
    let sock = t.join(format!("{name}.s"));
    let out = t.join(format!("{name}.out"));
    let mut cmd = Command::new(daemon);
    cmd.arg("-1")
        .args(opts)
        .arg("-i")
        .arg(&rules)
        .arg(&sock)
        .env("PATH", path_env())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(t.join(format!("{name}.err"))).unwrap());
    let proc = Proc::spawn(&mut cmd);
    assert!(
        wait_until(SOON, || std::fs::read(&out).unwrap_or_default() == b"\n"),
        "{daemon:?} not ready"
    );
    Daemon { proc, sock }
}

/// A client program: ours, or Debian's.
fn client(real: bool, name: &str) -> PathBuf {
    if real {
        real_s6(name).unwrap()
    } else {
        bin(name)
    }
}

fn run_client(prog: &Path, args: &[&str], keep: &[i32]) -> (i32, String, String) {
    let keep = keep.to_vec();
    let mut cmd = Command::new(prog);
    cmd.args(args).env("PATH", path_env()).stdin(Stdio::null());
    let hook = move || {
        for &fd in &keep {
            // SAFETY: fcntl(F_SETFD) on a descriptor number, async-signal-safe.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        }
        Ok(())
    };
    // SAFETY: the hook only clears FD_CLOEXEC in the child before exec.
    unsafe { cmd.pre_exec(hook) };
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn list(real: bool, sock: &Path) -> Vec<String> {
    let (code, out, err) = run_client(
        &client(real, "s6-fdholder-list"),
        &[sock.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let mut v: Vec<String> = out.lines().map(str::to_owned).collect();
    v.sort();
    v
}

fn have_debian() -> bool {
    [
        "s6-fdholder-daemon",
        "s6-fdholderd",
        "s6-fdholder-store",
        "s6-fdholder-retrieve",
        "s6-fdholder-list",
    ]
    .iter()
    .all(|n| real_s6(n).is_some())
        && real_s6("s6-ipcserver-socketbinder").is_some()
}

/// Store a pipe's write end with one side's store, retrieve it with the other side's
/// retrieve, and check that what the retriever writes comes out of our read end.
fn store_then_retrieve(daemon: &Daemon, store_real: bool, retrieve_real: bool) {
    let sock = daemon.sock.to_str().unwrap();
    let (r, w) = nix::unistd::pipe().unwrap();
    let wfd = w.as_raw_fd().to_string();
    let id = format!("pipe:{store_real}-{retrieve_real}");
    let (code, _, err) = run_client(
        &client(store_real, "s6-fdholder-store"),
        &["-d", &wfd, sock, &id],
        &[w.as_raw_fd()],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    drop(w);
    let (code, _, err) = run_client(
        &client(retrieve_real, "s6-fdholder-retrieve"),
        &["-D", sock, &id, "sh", "-c", "printf same-pipe >&0"],
        &[],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    let mut buf = [0u8; 9];
    let mut f = std::fs::File::from(r);
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"same-pipe");
}

#[test]
fn our_daemon_serves_debian_clients_and_debian_daemon_serves_ours() {
    let t = Scratch::new("fdh-interop");
    let ours = start_daemon(&t, &bin("s6-fdholder-daemon"), "ours", &[]);
    store_then_retrieve(&ours, false, false);
    if !have_debian() {
        eprintln!("Debian's s6 fd holder not installed: interop skipped");
        return;
    }
    let theirs = start_daemon(&t, &real_s6("s6-fdholder-daemon").unwrap(), "theirs", &[]);
    for (d, sr, rr) in [
        (&ours, true, false),
        (&ours, false, true),
        (&theirs, false, false),
        (&theirs, true, false),
    ] {
        store_then_retrieve(d, sr, rr);
    }
    // Lists agree, whoever asks.
    let (_r, w) = nix::unistd::pipe().unwrap();
    let wfd = w.as_raw_fd().to_string();
    for d in [&ours, &theirs] {
        for id in ["pipe:a", "pipe:b c"] {
            let (code, _, err) = run_client(
                &bin("s6-fdholder-store"),
                &["-T", "600000", "-d", &wfd, d.sock.to_str().unwrap(), id],
                &[w.as_raw_fd()],
            );
            assert_eq!(code, 0, "{err}");
        }
    }
    for real in [false, true] {
        assert_eq!(list(real, &ours.sock), ["pipe:a", "pipe:b c"]);
        assert_eq!(list(real, &theirs.sock), ["pipe:a", "pipe:b c"]);
    }
    // transferdump both ways, and their getdump sees what ours stored.
    let third = start_daemon(&t, &bin("s6-fdholder-daemon"), "third", &[]);
    let (code, _, err) = run_client(
        &bin("s6-fdholder-transferdump"),
        &[theirs.sock.to_str().unwrap(), third.sock.to_str().unwrap()],
        &[],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(list(true, &third.sock), ["pipe:a", "pipe:b c"]);
    if let Some(real_transfer) = real_s6("s6-fdholder-transferdump") {
        let fourth = start_daemon(&t, &real_s6("s6-fdholder-daemon").unwrap(), "fourth", &[]);
        let (code, _, err) = run_client(
            &real_transfer,
            &[ours.sock.to_str().unwrap(), fourth.sock.to_str().unwrap()],
            &[],
        );
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(list(false, &fourth.sock), ["pipe:a", "pipe:b c"]);
    }
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn send_raw(sock: &Path, bytes: &[u8]) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(SOON)).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
}

#[test]
fn bad_clients_are_dropped_and_the_daemon_goes_on() {
    let t = Scratch::new("fdh-bad");
    let d = start_daemon(&t, &bin("s6-fdholder-daemon"), "d", &[]);
    let (_r, w) = nix::unistd::pipe().unwrap();
    let wfd = w.as_raw_fd().to_string();
    let (code, _, err) = run_client(
        &bin("s6-fdholder-store"),
        &["-d", &wfd, d.sock.to_str().unwrap(), "pipe:kept"],
        &[w.as_raw_fd()],
    );
    assert_eq!(code, 0, "{err}");
    // A client that stays connected and says nothing does not block anyone.
    let idle = UnixStream::connect(&d.sock).unwrap();
    // Served after the idle client was accepted (connections are accepted in order).
    assert_eq!(list(false, &d.sock), ["pipe:kept"]);
    let baseline = open_fds(d.proc.pid());

    let garbage: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let header = common::unixmsg::pack_header;
    let mut cases: Vec<Vec<u8>> = vec![
        garbage,
        // A truncated message, then the hangup.
        [&header(40, 0)[..], b"S\0\0"].concat(),
        // Unknown request, empty request, store without its fd, bad id length.
        [&header(1, 0)[..], b"Z"].concat(),
        header(0, 0).to_vec(),
        [
            &header(16, 0)[..],
            &fdholder::proto::encode_store(&Default::default(), b"pipe:x"),
        ]
        .concat(),
        [&header(5, 0)[..], b"D\x09ab\0"].concat(),
        // Announces fds it does not send.
        [&header(1, 3)[..], b"L"].concat(),
        // A length over any request.
        header(u32::MAX, 0).to_vec(),
    ];
    cases.push(b"\0".to_vec());
    for bytes in &cases {
        send_raw(&d.sock, bytes);
        assert_eq!(list(false, &d.sock), ["pipe:kept"]);
    }
    // A malformed setdump batch: fds sent with a description that does not match.
    {
        let s = UnixStream::connect(&d.sock).unwrap();
        let fd = w.as_raw_fd();
        common::unixmsg::send_all(s.as_fd(), &fdholder::proto::encode_setdump(2), &[], None)
            .unwrap();
        common::unixmsg::send_all(s.as_fd(), b".garbage-garbage", &[fd, fd], None).unwrap();
        let mut rx = common::unixmsg::Receiver::new(1 << 16);
        let m = common::unixmsg::recv_message(s.as_fd(), &mut rx, None).unwrap();
        assert_eq!(m.data, [0, 0, 0, 0, 1]);
        assert!(common::unixmsg::recv_message(s.as_fd(), &mut rx, None).is_err());
    }
    assert_eq!(list(false, &d.sock), ["pipe:kept"]);
    // Nothing the bad clients sent is still held.
    assert!(
        wait_until(SOON, || open_fds(d.proc.pid()) <= baseline),
        "fds leaked: {} > {baseline}",
        open_fds(d.proc.pid())
    );
    drop(idle);
}

#[test]
fn sigterm_exit_code_says_what_was_lost() {
    let t = Scratch::new("fdh-term");
    let mut d = start_daemon(&t, &bin("s6-fdholder-daemon"), "d", &[]);
    let (_r, w) = nix::unistd::pipe().unwrap();
    let wfd = w.as_raw_fd().to_string();
    let (code, _, _) = run_client(
        &bin("s6-fdholder-store"),
        &["-d", &wfd, d.sock.to_str().unwrap(), "pipe:x"],
        &[w.as_raw_fd()],
    );
    assert_eq!(code, 0);
    let idle = UnixStream::connect(&d.sock).unwrap();
    // The idle client is accepted once the daemon answers someone after it.
    assert_eq!(list(false, &d.sock), ["pipe:x"]);
    d.proc.signal(libc::SIGTERM);
    let st = d.proc.wait_timeout(SOON).expect("daemon did not exit");
    assert_eq!(st.code(), Some(3));
    drop(idle);

    let mut e = start_daemon(&t, &bin("s6-fdholder-daemon"), "e", &[]);
    e.proc.signal(libc::SIGTERM);
    let st = e.proc.wait_timeout(SOON).expect("daemon did not exit");
    assert_eq!(st.code(), Some(0));
}

fn write_cdb(path: &Path, decision: common::accessrules::Decision) {
    let mut w = common::cdb::Writer::new();
    let data = common::accessrules::encode_rule(&decision).unwrap();
    w.add(b"uid/0", &data).unwrap();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, w.finish().unwrap()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

#[test]
fn answer_timeout_drops_idle_clients_and_sighup_rereads_the_cdb() {
    let t = Scratch::new("fdh-cdb");
    let cdb = t.join("rules.cdb");
    let allow = common::accessrules::Decision::Allow(common::accessrules::Params {
        env: b"S6_FDHOLDER_LIST=\0".to_vec(),
        exec: Vec::new(),
    });
    write_cdb(&cdb, allow);
    let sock = t.join("s");
    let out = t.join("out");
    let mut cmd = Command::new(bin("s6-fdholder-daemon"));
    cmd.args(["-1", "-t", "300", "-x"])
        .arg(&cdb)
        .arg(&sock)
        .env("PATH", path_env())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap());
    let d = Proc::spawn(&mut cmd);
    assert!(wait_until(SOON, || std::fs::read(&out).unwrap_or_default() == b"\n"));
    // A client that never asks anything is dropped once -t has passed.
    let mut idle = UnixStream::connect(&sock).unwrap();
    idle.set_read_timeout(Some(SOON)).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        idle.read(&mut buf).ok(),
        Some(0),
        "the idle client was not dropped"
    );
    assert_eq!(list(false, &sock), Vec::<String>::new());
    // A new cdb counts only after SIGHUP.
    write_cdb(&cdb, common::accessrules::Decision::Deny);
    assert_eq!(list(false, &sock), Vec::<String>::new());
    d.signal(libc::SIGHUP);
    assert!(wait_until(SOON, || {
        run_client(&bin("s6-fdholder-list"), &[sock.to_str().unwrap()], &[]).0 == 1
    }));
}

#[test]
fn setdump_and_getdump_beyond_one_message_of_fds() {
    let t = Scratch::new("fdh-many");
    let mut daemons = vec![start_daemon(&t, &bin("s6-fdholder-daemon"), "ours", &[])];
    if have_debian() {
        daemons.push(start_daemon(
            &t,
            &real_s6("s6-fdholder-daemon").unwrap(),
            "theirs",
            &[],
        ));
    }
    let (_r, w) = nix::unistd::pipe().unwrap();
    let n = 300;
    for (k, d) in daemons.iter().enumerate() {
        let mut cmd = Command::new(bin("s6-fdholder-setdump"));
        cmd.arg(&d.sock).env("S6_FD#", n.to_string());
        for i in 0..n {
            cmd.env(format!("S6_FD_{i}"), w.as_raw_fd().to_string())
                .env(format!("S6_FDID_{i}"), format!("pipe:{i}"));
        }
        let fd = w.as_raw_fd();
        let hook = move || {
            // SAFETY: fcntl(F_SETFD) on a descriptor number, async-signal-safe.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
            Ok(())
        };
        // SAFETY: the hook only clears FD_CLOEXEC in the child before exec.
        unsafe { cmd.pre_exec(hook) };
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(list(false, &d.sock).len(), n);
        if k > 0 {
            // Debian's 2.11 daemon cannot send a dump of more than 253 fds itself.
            continue;
        }
        // getdump brings all of them back (two messages of fds).
        let (code, out, err) = run_client(
            &bin("s6-fdholder-getdump"),
            &[
                d.sock.to_str().unwrap(),
                "sh",
                "-c",
                "env | grep -c '^S6_FDID_'; echo $S6_FDID_299",
            ],
            &[],
        );
        assert_eq!((code, err.as_str()), (0, ""));
        let mut words = out.split_whitespace();
        assert_eq!(words.next(), Some("300"));
        assert!(words.next().is_some_and(|id| id.starts_with("pipe:")));
    }
}

#[test]
fn a_flooding_client_does_not_starve_the_others() {
    let t = Scratch::new("fdh-flood");
    let d = start_daemon(&t, &bin("s6-fdholder-daemon"), "d", &[]);
    let mut flood = UnixStream::connect(&d.sock).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    // Valid list requests, sent as fast as possible, answers never read.
    let writer = std::thread::spawn(move || {
        let one = common::unixmsg::encode(b"L", 0).unwrap();
        let many: Vec<u8> = one.iter().copied().cycle().take(one.len() * 4096).collect();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            if flood.write_all(&many).is_err() {
                break;
            }
        }
    });
    for _ in 0..5 {
        assert_eq!(list(false, &d.sock), Vec::<String>::new());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // The flooder is dropped once its unread answers pile up, which ends the writer.
    writer.join().unwrap();
}
