//! End-to-end tests of `s6-sudo` / `s6-sudoc` / `s6-sudod`: real sockets, real fds, and
//! interop both ways with Debian's s6 2.11 (same wire protocol). The server side runs under
//! `s6-ipcserver-socketbinder` + `s6-ipcserverd` (ours when built, else Debian's). Every
//! process is killed by process group when its guard drops; tests wait on conditions.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tests::{bin, bindir, real_s6, wait_until, write_script, Proc, Scratch, SOON};

/// An IPC server program: ours if built, else Debian's; None (skip) if neither.
fn ipc_prog(name: &str) -> Option<PathBuf> {
    let ours = bindir().join(name);
    if ours.exists() {
        return Some(ours);
    }
    real_s6(name)
}

/// PATH with our programs first (s6-sudo execs s6-ipcclient and s6-sudoc through it).
fn path_env() -> String {
    format!(
        "{}:{}",
        bindir().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    )
}

/// `socketbinder SOCK ipcserverd -1 -- SUDOD [opts] -- server_argv...`, ready.
struct Server {
    proc: Proc,
    err: PathBuf,
    sock: PathBuf,
}

fn start_server(
    t: &Scratch,
    sudod: &Path,
    opts: &[&str],
    argv: &[&str],
    env: &[(&str, &str)],
) -> Option<Server> {
    let binder = ipc_prog("s6-ipcserver-socketbinder")?;
    let serverd = ipc_prog("s6-ipcserverd")?;
    let sock = t.join("s");
    let out = t.join("server.out");
    let err = t.join("server.err");
    let mut cmd = Command::new(binder);
    cmd.arg(&sock)
        .arg(serverd)
        .args(["-1", "--"])
        .arg(sudod)
        .args(opts)
        .arg("--")
        .args(argv)
        .envs(env.iter().copied())
        .env("PATH", path_env())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let proc = Proc::spawn(&mut cmd);
    assert!(
        wait_until(SOON, || std::fs::read(&out).unwrap_or_default() == b"\n"),
        "server not ready"
    );
    Some(Server { proc, err, sock })
}

fn sudo(
    client: &Path,
    args: &[&str],
    sock: &Path,
    cargs: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let out = Command::new(client)
        .args(args)
        .arg(sock)
        .args(cargs)
        .envs(env.iter().copied())
        .env("PATH", path_env())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The pairs (client s6-sudo, server s6-sudod) to test: ours with ours, and each side
/// against Debian's when installed.
fn pairs() -> Vec<(PathBuf, PathBuf)> {
    let mut v = vec![(bin("s6-sudo"), bin("s6-sudod"))];
    match (real_s6("s6-sudo"), real_s6("s6-sudod")) {
        (Some(rc), Some(rd)) => {
            v.push((rc, bin("s6-sudod")));
            v.push((bin("s6-sudo"), rd));
        }
        _ => eprintln!("Debian's s6-sudo/s6-sudod not installed: interop cases skipped"),
    }
    v
}

#[test]
fn args_env_exit_codes_and_output_cross_the_socket_both_ways() {
    for (client, sudod) in pairs() {
        let t = Scratch::new("sudo-interop");
        let script = t.join("prog");
        write_script(
            &script,
            "printf '%s|' \"$@\"; printf 'V=%s W=%s\\n' \"$V\" \"$W\"; case $2 in sig) kill -USR1 $$;; *) exit $2;; esac",
        );
        // V is set but empty on the server side, so the client fills it; W is not.
        let Some(server) = start_server(
            &t,
            &sudod,
            &[],
            &[script.to_str().unwrap(), "srv"],
            &[("V", "")],
        ) else {
            eprintln!("no s6-ipcserverd: skipped");
            return;
        };
        let env = [("V", "from-client"), ("W", "from-client")];
        let (code, out, err) = sudo(&client, &[], &server.sock, &["5", "a b"], &env);
        assert_eq!((code, err.as_str()), (5, ""), "{client:?} -> {sudod:?}");
        assert_eq!(out, "srv|5|a b|V=from-client W=\n");
        let (code, out, _) = sudo(&client, &["-e"], &server.sock, &["0"], &env);
        assert_eq!((code, out.as_str()), (0, "srv|0|V= W=\n"));
        let (code, _, _) = sudo(&client, &[], &server.sock, &["sig"], &[]);
        assert_eq!(code, 128 + libc::SIGUSR1);
        let (code, _, _) = sudo(&client, &[], &server.sock, &["200"], &[]);
        assert_eq!(code, 128);
    }
}

/// Connect as a raw client and read the banner.
fn raw_client(sock: &Path) -> UnixStream {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(SOON)).unwrap();
    let mut banner = [0u8; 15];
    s.read_exact(&mut banner).unwrap();
    assert_eq!(&banner, b"s6-sudo b v1.0\n");
    s
}

fn server_err(s: &Server) -> String {
    std::fs::read_to_string(&s.err).unwrap_or_default()
}

fn still_serves(s: &Server) {
    let (code, out, err) = sudo(&bin("s6-sudo"), &[], &s.sock, &["ok"], &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok\n", ""));
}

#[test]
fn bad_requests_get_clean_refusals_and_the_server_goes_on() {
    let t = Scratch::new("sudo-bad");
    let Some(server) = start_server(&t, &bin("s6-sudod"), &["-t", "5000"], &["echo"], &[]) else {
        eprintln!("no s6-ipcserverd: skipped");
        return;
    };
    // 1 MB of garbage after the banner: the length it announces is refused.
    let mut s = raw_client(&server.sock);
    let garbage: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = s.write_all(&garbage);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
    drop(s);
    assert!(wait_until(SOON, || server_err(&server).contains(
        "s6-sudod: fatal: unable to read message from client"
    )));
    still_serves(&server);

    // A well-framed message without the three fds.
    let s = raw_client(&server.sock);
    let data = sudo::proto::encode_request(&["x"], &[] as &[&str]);
    common::unixmsg::send_all(s.as_fd(), &data, &[], None).unwrap();
    assert!(wait_until(SOON, || server_err(&server)
        .contains("s6-sudod: fatal: client did not send 3 fds")));
    drop(s);
    still_serves(&server);

    // A wrong client banner, and lengths that do not add up.
    for (mutate, msg) in [
        (0usize, "wrong client banner"),
        (30usize, "wrong client argc/envlen"),
    ] {
        let s = raw_client(&server.sock);
        let mut data = sudo::proto::encode_request(&["x"], &[] as &[&str]);
        data[mutate] ^= 0x40;
        let fd = std::io::stdin().as_raw_fd();
        common::unixmsg::send_all(s.as_fd(), &data, &[fd, fd, fd], None).unwrap();
        assert!(
            wait_until(SOON, || server_err(&server).contains(msg)),
            "{msg}"
        );
        drop(s);
        still_serves(&server);
    }

    // An environment string without `=`: the EINVAL byte, then a refusal.
    let mut s = raw_client(&server.sock);
    let data = sudo::proto::encode_request(&["x"], &["NOEQUALS"]);
    let fd = std::io::stdin().as_raw_fd();
    common::unixmsg::send_all(s.as_fd(), &data, &[fd, fd, fd], None).unwrap();
    let mut byte = [0u8; 1];
    s.read_exact(&mut byte).unwrap();
    assert_eq!(byte[0] as i32, libc::EINVAL);
    assert!(wait_until(SOON, || server_err(&server)
        .contains("s6-sudod: fatal: bad environment from client")));
    drop(s);
    still_serves(&server);

    // A truncated message, then a hangup mid-request.
    let mut s = raw_client(&server.sock);
    s.write_all(&common::unixmsg::pack_header(100, 0)).unwrap();
    s.write_all(b"s6-sudo a").unwrap();
    drop(s);
    assert!(wait_until(SOON, || server_err(&server)
        .matches("unable to read message from client")
        .count()
        >= 2));
    still_serves(&server);
    assert!(server.proc.child.id() > 0);
}

#[test]
fn empty_server_and_client_args_are_refused() {
    let t = Scratch::new("sudo-empty");
    let Some(server) = start_server(&t, &bin("s6-sudod"), &[], &[], &[]) else {
        return;
    };
    let (code, _, err) = sudo(&bin("s6-sudo"), &[], &server.sock, &[], &[]);
    assert_eq!(code, 111, "{err}");
    assert!(
        err.starts_with("s6-sudoc: fatal: unable to get confirmation from server: "),
        "{err}"
    );
    assert!(wait_until(SOON, || server_err(&server).contains(
        "s6-sudod: fatal: client and server args both empty\n"
    )));
    // Client arguments alone are enough.
    let (code, out, _) = sudo(&bin("s6-sudo"), &[], &server.sock, &["echo", "hi"], &[]);
    assert_eq!((code, out.as_str()), (0, "hi\n"));
}

#[test]
fn the_program_gets_only_its_three_descriptors() {
    let t = Scratch::new("sudo-fds");
    let report = t.join("fds");
    let script = format!("ls -l /proc/$$/fd > {}", report.display());
    let Some(binder) = ipc_prog("s6-ipcserver-socketbinder") else {
        return;
    };
    let serverd = ipc_prog("s6-ipcserverd").unwrap();
    let sock = t.join("s");
    let out = t.join("server.out");
    // The server chain inherits a stray fd 5 (not close-on-exec).
    let stray = std::fs::File::open("/dev/null").unwrap();
    let stray_fd = stray.as_raw_fd();
    let mut cmd = Command::new(binder);
    cmd.arg(&sock)
        .arg(serverd)
        .args(["-1", "--"])
        .arg(bin("s6-sudod"))
        .args(["--", "sh", "-c", &script])
        .env("PATH", path_env())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap());
    let hook = move || {
        // SAFETY: dup2(2) on two descriptor numbers, async-signal-safe.
        if unsafe { libc::dup2(stray_fd, 5) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook runs in the child before exec and only calls dup2.
    unsafe { std::os::unix::process::CommandExt::pre_exec(&mut cmd, hook) };
    let _server = Proc::spawn(&mut cmd);
    assert!(wait_until(SOON, || std::fs::read(&out).unwrap_or_default() == b"\n"));
    let (code, _, err) = sudo(&bin("s6-sudo"), &[], &sock, &[], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let listing = std::fs::read_to_string(&report).unwrap();
    // Beside 0, 1 and 2 the shell or ls may hold fds of their own (the directory being
    // read), but neither the stray fd 5 nor the server's socket.
    for fd in ["0", "1", "2"] {
        assert!(listing.contains(&format!(" {fd} -> ")), "{listing}");
    }
    assert!(!listing.contains(" 5 -> "), "{listing}");
    assert!(!listing.contains("socket:"), "{listing}");
}

#[test]
fn client_hangup_kills_the_program() {
    let t = Scratch::new("sudo-hangup");
    let pidf = t.join("pid");
    let script = t.join("prog");
    write_script(
        &script,
        &format!("echo $$ > {}; exec sleep 1000", pidf.display()),
    );
    let Some(server) = start_server(&t, &bin("s6-sudod"), &[], &[script.to_str().unwrap()], &[])
    else {
        return;
    };
    let (code, _, err) = sudo(&bin("s6-sudo"), &["-T", "300"], &server.sock, &[], &[]);
    assert_eq!(code, 111, "{err}");
    assert!(wait_until(SOON, || std::fs::read_to_string(&pidf)
        .is_ok_and(|s| s.ends_with('\n'))));
    let pid: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_until(SOON, || {
            // SAFETY: kill(pid, 0) only checks existence.
            let gone = unsafe { libc::kill(pid, 0) } != 0;
            gone || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
        }),
        "the program survived its client"
    );
    drop(server);
}

#[test]
fn with_d_the_program_outlives_its_client() {
    let t = Scratch::new("sudo-detach");
    let fifo = t.join("go");
    let done = t.join("done");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let script = format!(
        "read x < {}; echo survived > {}",
        fifo.display(),
        done.display()
    );
    let Some(server) = start_server(&t, &bin("s6-sudod"), &["-d"], &["sh", "-c", &script], &[])
    else {
        return;
    };
    // The client gives up at once; the program is still waiting on the fifo.
    let (code, _, _) = sudo(&bin("s6-sudo"), &["-T", "200"], &server.sock, &[], &[]);
    assert_eq!(code, 111);
    // Opening the fifo waits for the program to read it: in a thread, so that a killed
    // program fails the test instead of hanging it.
    let f = fifo.clone();
    std::thread::spawn(move || std::fs::write(f, "go\n"));
    assert!(wait_until(SOON, || std::fs::read_to_string(&done)
        .is_ok_and(|s| s == "survived\n")));
}
