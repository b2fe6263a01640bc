//! End-to-end tests of the IPC family (`s6-ipcserver-socketbinder`, `s6-ipcserverd`,
//! `s6-ipcserver`, `s6-ipcserver-access`, `s6-accessrules-*`, `s6-ipcclient`): access
//! control (the rules alone decide, refusal before any command runs), robustness against
//! bad clients, descriptor hygiene, and interop with Debian's real s6 programs and cdbs.
//! Real sockets and processes; every wait is on an observable condition; every process is
//! killed by process group at the end.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tests::{bin, real_s6, run, wait_until, write_script, Proc, Scratch, SOON};

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `socketbinder SOCK ipcserverd -1 OPTS -- PROG...`, started and waited for readiness.
fn server(t: &Scratch, sock: &Path, opts: &[&str], prog: &[&str]) -> Proc {
    server_with(
        t,
        bin("s6-ipcserver-socketbinder"),
        bin("s6-ipcserverd"),
        sock,
        opts,
        prog,
    )
}

fn server_with(
    t: &Scratch,
    binder: PathBuf,
    serverd: PathBuf,
    sock: &Path,
    opts: &[&str],
    prog: &[&str],
) -> Proc {
    let name = sock
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("server");
    let err = std::fs::File::create(t.join(format!("{name}.err"))).expect("log");
    let mut cmd = Command::new(binder);
    cmd.arg(sock)
        .arg(serverd)
        .arg("-1")
        .args(opts)
        .arg("--")
        .args(prog)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err);
    let mut p = Proc::spawn(&mut cmd);
    let mut nl = [0u8; 1];
    let mut out = p.child.stdout.take().expect("stdout");
    out.read_exact(&mut nl).expect("readiness newline");
    assert_eq!(&nl, b"\n");
    p
}

fn talk(sock: &Path, data: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(SOON)).expect("timeout");
    if !data.is_empty() {
        match s.write_all(data) {
            Ok(()) => {}
            // A server that refuses may close before the request is sent.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => panic!("send: {e}"),
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut v = Vec::new();
    match s.read_to_end(&mut v) {
        Ok(_) => {}
        // A server that closes without reading what was sent resets the connection.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("read answer: {e}"),
    }
    v
}

/// The descriptors above 2 this test process hands to every child it starts (open without
/// close-on-exec, inherited from whoever runs the tests): they are not ours to close.
fn ambient_fds() -> Vec<i32> {
    let mut v: Vec<i32> = open_fds(std::process::id() as i32)
        .into_iter()
        .filter(|&fd| {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } == 0
        })
        .collect();
    v.sort();
    v
}

fn with_ambient(base: &[i32]) -> Vec<i32> {
    let mut v: Vec<i32> = base.to_vec();
    v.extend(ambient_fds());
    v.sort();
    v.dedup();
    v
}

fn rules(base: &Path, allow: &[&str], deny: &[&str]) -> PathBuf {
    for k in allow {
        std::fs::create_dir_all(base.join(k)).expect("mkdir");
        std::fs::write(base.join(k).join("allow"), "").expect("allow");
    }
    for k in deny {
        std::fs::create_dir_all(base.join(k)).expect("mkdir");
        std::fs::write(base.join(k).join("deny"), "").expect("deny");
    }
    base.to_path_buf()
}

/// Run our s6-ipcclient as uid/gid `id` (when root) to `sock`; its prog prints what the
/// server sends.
fn client_as(id: Option<u32>, sock: &Path) -> (i32, String, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(bin("s6-ipcclient"));
    cmd.arg(sock).args(["sh", "-c", "exec cat <&6"]);
    if let Some(id) = id {
        cmd.uid(id).gid(id);
    }
    run(&mut cmd)
}

fn public_dir(t: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = t.join("pub");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // The scratch dir's ancestors are /tmp-like and traversable.
    std::fs::set_permissions(&t.path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

#[test]
fn a_client_no_rule_allows_is_refused_before_anything_runs() {
    if !is_root() {
        eprintln!("note: not root; the nobody-client test is skipped");
        return;
    }
    let t = Scratch::new("ipc-refuse");
    let sock = public_dir(&t).join("s");
    let marker = t.join("ran");
    // Root is allowed; nobody (uid and gid 65534) has no rule; gid 65534 is denied.
    let r = rules(&t.join("rules"), &["uid/0"], &["gid/65534"]);
    let script = t.join("prog");
    write_script(
        &script,
        &format!(
            "echo \"$IPCREMOTEEUID\" >> {}\necho served",
            marker.display()
        ),
    );
    let rs = r.to_str().expect("utf8");
    let _srv = server(
        &t,
        &sock,
        &[],
        &[
            bin("s6-ipcserver-access").to_str().expect("utf8"),
            "-v0",
            "-i",
            rs,
            "--",
            script.to_str().expect("utf8"),
        ],
    );
    let (rc, out, _) = client_as(Some(NOBODY), &sock);
    assert_eq!((rc, out.as_str()), (0, ""), "nobody got an answer");
    // The refused connection is closed without the program having run...
    assert!(!marker.exists(), "the command ran for a refused client");
    // ...and the server goes on serving allowed clients.
    let (rc, out, _) = client_as(None, &sock);
    assert_eq!((rc, out.as_str()), (0, "served\n"));
    assert_eq!(std::fs::read_to_string(&marker).expect("marker"), "0\n");
    // A cdb with the same rules refuses the same way.
    let cdb = t.join("rules.cdb");
    let (rc, _, err) = run(Command::new(bin("s6-accessrules-cdb-from-fs"))
        .arg(&cdb)
        .arg(&r));
    assert_eq!((rc, err.as_str()), (0, ""));
    let sock2 = t.join("pub/s2");
    let _srv2 = server(
        &t,
        &sock2,
        &[],
        &[
            bin("s6-ipcserver-access").to_str().expect("utf8"),
            "-v0",
            "-x",
            cdb.to_str().expect("utf8"),
            "--",
            script.to_str().expect("utf8"),
        ],
    );
    assert_eq!(client_as(Some(NOBODY), &sock2).1, "");
    assert_eq!(client_as(None, &sock2).1, "served\n");
    assert_eq!(std::fs::read_to_string(&marker).expect("marker"), "0\n0\n");
}

#[test]
fn bad_clients_get_a_clean_refusal_and_the_server_goes_on() {
    let t = Scratch::new("ipc-bad");
    let sock = t.join("s");
    // The program reads the whole request, then answers with its size.
    let script = t.join("prog");
    write_script(&script, "n=$(wc -c | tr -d ' ')\necho \"got $n\"");
    let srv = server(&t, &sock, &["-c", "4"], &[script.to_str().expect("utf8")]);
    // A client that connects and goes away at once.
    for _ in 0..20 {
        drop(UnixStream::connect(&sock).expect("connect"));
    }
    // A client that sends part of a request and disconnects without reading.
    {
        let mut s = UnixStream::connect(&sock).expect("connect");
        s.write_all(b"half a requ").expect("send");
    }
    // 1 MB of garbage.
    let garbage: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    assert_eq!(talk(&sock, &garbage), b"got 1048576\n");
    // The server still serves others, and is still the same process.
    assert_eq!(talk(&sock, b"ok"), b"got 2\n");
    assert!(
        std::fs::read_to_string(format!("/proc/{}/cmdline", srv.pid()))
            .map(|c| c.contains("s6-ipcserverd"))
            .unwrap_or(false),
        "s6-ipcserverd is gone"
    );

    // Through s6-ipcserver-access with a corrupt cdb: every connection is refused cleanly
    // (the checker exits 111), and the server lives on.
    let junk = t.join("junk.cdb");
    std::fs::write(&junk, &garbage[..5000]).expect("junk");
    let sock2 = t.join("s2");
    let srv2 = server(
        &t,
        &sock2,
        &[],
        &[
            bin("s6-ipcserver-access").to_str().expect("utf8"),
            "-x",
            junk.to_str().expect("utf8"),
            "--",
            "echo",
            "in",
        ],
    );
    for _ in 0..3 {
        assert_eq!(talk(&sock2, b"hello"), b"");
    }
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(srv2.pid()), None).is_ok());

    // A client the rules deny, sending 1 MB of garbage or half a request: refused without
    // the program running, again and again, while the server lives on.
    let r = rules(&t.join("rules"), &[], &["uid/0", "gid/0"]);
    let marker = t.join("ran");
    let script3 = t.join("prog3");
    write_script(&script3, &format!("touch {}", marker.display()));
    let sock3 = t.join("s3");
    let srv3 = server(
        &t,
        &sock3,
        &["-v2"],
        &[
            bin("s6-ipcserver-access").to_str().expect("utf8"),
            "-i",
            r.to_str().expect("utf8"),
            "--",
            script3.to_str().expect("utf8"),
        ],
    );
    for _ in 0..3 {
        assert_eq!(talk(&sock3, &garbage), b"");
        assert_eq!(talk(&sock3, b"half"), b"");
    }
    assert!(!marker.exists(), "the program ran for a denied client");
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(srv3.pid()), None).is_ok());
    assert!(wait_until(SOON, || {
        std::fs::read_to_string(t.join("s3.err"))
            .map(|e| e.matches("info: end pid ").count() >= 6)
            .unwrap_or(false)
    }));
}

fn open_fds(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn cmdline0(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|c| {
            c.split(|&b| b == 0)
                .next()
                .map(|a| String::from_utf8_lossy(a).into_owned())
        })
        .unwrap_or_default()
}

/// Connect, read the pid the child prints, wait until it has exec'd sleep, list its fds.
fn child_fds(sock: &Path) -> Vec<i32> {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(SOON)).expect("timeout");
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        // The test process gets signals from its children (EINTR): read again.
        match s.read(&mut b) {
            Ok(1) if b[0] != b'\n' => line.push(b[0]),
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("read pid: {e}"),
        }
    }
    let pid: i32 = String::from_utf8_lossy(&line).parse().expect("pid");
    assert!(
        wait_until(SOON, || cmdline0(pid).ends_with("sleep")),
        "the child did not exec sleep"
    );
    // sleep may hold a file open for a moment while it starts (locale data): wait for the
    // set to settle on what it keeps.
    let want = with_ambient(&[0, 1, 2]);
    let mut fds = Vec::new();
    wait_until(SOON, || {
        fds = open_fds(pid);
        fds == want
    });
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    fds
}

#[test]
fn no_descriptor_leaks_into_the_programs_run() {
    let t = Scratch::new("ipc-fds");
    let sock = t.join("s");
    let child = ["sh", "-c", "echo $$; exec sleep 1000"];
    let _srv = server(&t, &sock, &["-v2"], &child);
    // Several connections at once: no child sees another's connection or the listener.
    let a = UnixStream::connect(&sock).expect("connect");
    assert_eq!(child_fds(&sock), with_ambient(&[0, 1, 2]));
    assert_eq!(child_fds(&sock), with_ambient(&[0, 1, 2]));
    drop(a);
    // Through s6-ipcserver-access (rules dir and cdb) as s6-rc chains it.
    let r = rules(&t.join("rules"), &["uid/0", "uid/default"], &[]);
    let sock2 = t.join("s2");
    let mut prog = vec![
        bin("s6-ipcserver-access")
            .to_str()
            .expect("utf8")
            .to_owned(),
        "-v0".into(),
        "-E".into(),
        "-i".into(),
        r.to_str().expect("utf8").to_owned(),
        "--".into(),
    ];
    prog.extend(child.iter().map(|s| s.to_string()));
    let prog: Vec<&str> = prog.iter().map(String::as_str).collect();
    let _srv2 = server(&t, &sock2, &[], &prog);
    assert_eq!(child_fds(&sock2), with_ambient(&[0, 1, 2]));
    // The socket binder hands the server exactly fds 0-2 too (its lock is released).
    let sock3 = t.join("s3");
    let mut cmd = Command::new(bin("s6-ipcserver-socketbinder"));
    cmd.arg(&sock3).args(["sh", "-c", "exec sleep 1000"]);
    let p = Proc::spawn_logged(&mut cmd, &t.path, "binder");
    assert!(wait_until(SOON, || cmdline0(p.pid()).ends_with("sleep")));
    let want = with_ambient(&[0, 1, 2]);
    assert!(
        wait_until(SOON, || open_fds(p.pid()) == want),
        "{:?}",
        open_fds(p.pid())
    );
    assert!(t.join("s3.lock").exists());
    // s6-ipcclient: the program gets 0-2 and the socket on 6 and 7, nothing else.
    let mut cmd = Command::new(bin("s6-ipcclient"));
    cmd.arg(&sock).args(["sh", "-c", "exec sleep 1000"]);
    let c = Proc::spawn_logged(&mut cmd, &t.path, "client");
    assert!(wait_until(SOON, || cmdline0(c.pid()).ends_with("sleep")));
    let want = with_ambient(&[0, 1, 2, 6, 7]);
    assert!(
        wait_until(SOON, || open_fds(c.pid()) == want),
        "{:?}",
        open_fds(c.pid())
    );
}

#[test]
fn interop_with_debian_ipcclient_and_ipcserver() {
    let (Some(dclient), Some(dserver)) = (real_s6("s6-ipcclient"), real_s6("s6-ipcserver")) else {
        eprintln!("note: Debian's s6 is not installed; interop test skipped");
        return;
    };
    let t = Scratch::new("ipc-interop");
    // Debian's client -> our server (the s6-ipcserver wrapper).
    let sock = t.join("ours");
    let err = std::fs::File::create(t.join("ours.err")).expect("log");
    let mut cmd = Command::new(bin("s6-ipcserver"));
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            tests::bindir().display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    )
    .arg("-1")
    .arg(&sock)
    .args(["sh", "-c", "echo \"$PROTO $IPCREMOTEEUID $(cat)\""])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(err);
    let mut ours = Proc::spawn(&mut cmd);
    let mut nl = [0u8; 1];
    ours.child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut nl)
        .expect("ready");
    let uid = nix::unistd::geteuid().as_raw();
    // Debian's client, our s6-ioconnect in between: stdin goes to the server, the
    // half-close gives it EOF, the answer comes back on stdout.
    let mut c = Command::new(&dclient)
        .arg(&sock)
        .arg(bin("s6-ioconnect"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(b"hi\n")
        .expect("send");
    let o = c.wait_with_output().expect("client");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("IPC {uid} hi\n")
    );
    // A request/answer that does not need a half-close: the server writes first.
    drop(ours);
    let sock = t.join("ours2");
    let _ours2 = server(
        &t,
        &sock,
        &[],
        &["sh", "-c", "echo \"$PROTO:$IPCREMOTEEUID:$IPCREMOTEPATH\""],
    );
    let (rc, out, err) = run(Command::new(&dclient)
        .args(["-p"])
        .arg(t.join("bound"))
        .arg(&sock)
        .args(["sh", "-c", "exec cat <&6"]));
    assert_eq!((rc, err.as_str()), (0, ""));
    assert_eq!(out, format!("IPC:{uid}:{}\n", t.join("bound").display()));

    // Our client -> Debian's server (Debian's socketbinder + ipcserverd under it).
    let dsock = t.join("theirs");
    let err = std::fs::File::create(t.join("theirs.err")).expect("log");
    let mut cmd = Command::new(&dserver);
    cmd.arg("-1")
        .arg(&dsock)
        .args(["sh", "-c", "echo \"$PROTO $IPCREMOTEEUID $IPCCONNNUM\""])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err);
    let mut theirs = Proc::spawn(&mut cmd);
    theirs
        .child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut nl)
        .expect("ready");
    let (rc, out, err) = run(Command::new(bin("s6-ipcclient")).arg(&dsock).args([
        "sh",
        "-c",
        "echo \"$PROTO [$IPCLOCALPATH]\"; exec cat <&6",
    ]));
    assert_eq!((rc, err.as_str()), (0, ""));
    // Debian 2.11 counts IPCCONNNUM from 1.
    assert_eq!(out, format!("IPC []\nIPC {uid} 1\n"));
}

#[test]
fn interop_rules_cdb_with_debian() {
    let (Some(dmake), Some(daccess)) = (
        real_s6("s6-accessrules-cdb-from-fs"),
        real_s6("s6-ipcserver-access"),
    ) else {
        eprintln!("note: Debian's s6 is not installed; interop test skipped");
        return;
    };
    let t = Scratch::new("ipc-cdb-interop");
    let r = rules(
        &t.join("rules"),
        &["uid/0", "gid/100", "uid/default"],
        &["uid/1000"],
    );
    std::fs::create_dir_all(r.join("uid/0/env")).expect("env");
    std::fs::write(r.join("uid/0/env/RULEVAR"), "root rule\n").expect("env");
    std::fs::write(r.join("uid/0/env/EMPTY"), "\n").expect("env");
    std::fs::write(r.join("uid/0/env/GONE"), "").expect("env");
    std::fs::write(r.join("gid/100/exec"), "echo from exec\n").expect("exec");
    for i in 0..40 {
        std::fs::create_dir_all(r.join(format!("uid/{}", 2000 + i))).expect("mkdir");
        std::fs::write(r.join(format!("uid/{}/deny", 2000 + i)), "").expect("deny");
    }
    let (ours, theirs) = (t.join("ours.cdb"), t.join("theirs.cdb"));
    assert_eq!(
        run(Command::new(bin("s6-accessrules-cdb-from-fs"))
            .arg(&ours)
            .arg(&r))
        .0,
        0
    );
    assert_eq!(run(Command::new(&dmake).arg(&theirs).arg(&r)).0, 0);
    // Same directory read in the same order: the very same bytes.
    assert_eq!(
        std::fs::read(&ours).expect("ours"),
        std::fs::read(&theirs).expect("theirs")
    );
    let check = |access: &Path, cdb: &Path, uid: u32, gid: u32| {
        run(Command::new(access)
            .env("PROTO", "IPC")
            .env("IPCREMOTEEUID", uid.to_string())
            .env("IPCREMOTEEGID", gid.to_string())
            .env("GONE", "set")
            .args(["-v0", "-E", "-x"])
            .arg(cdb)
            .args(["sh", "-c", "echo \"$RULEVAR|${EMPTY-unset}|${GONE-unset}\""]))
    };
    for (access, cdb) in [(bin("s6-ipcserver-access"), &theirs), (daccess, &ours)] {
        assert_eq!(
            check(&access, cdb, 0, 0),
            (0, "root rule||unset\n".into(), String::new())
        );
        assert_eq!(check(&access, cdb, 1000, 5).0, 1);
        assert_eq!(check(&access, cdb, 2039, 5).0, 1);
        assert_eq!(check(&access, cdb, 5, 100).1, "from exec\n");
        assert_eq!(check(&access, cdb, 5, 5).1, "|unset|set\n");
    }
    // And back to a directory with ours, from Debian's cdb.
    let back = t.join("back");
    assert_eq!(
        run(Command::new(bin("s6-accessrules-fs-from-cdb"))
            .arg(&back)
            .arg(&theirs))
        .0,
        0
    );
    assert_eq!(
        std::fs::read_to_string(back.join("uid/0/env/RULEVAR")).expect("env"),
        "root rule\n"
    );
    assert!(back.join("uid/2039/deny").exists());
}

#[test]
fn sigterm_closes_the_socket_and_per_uid_limit_holds() {
    let t = Scratch::new("ipc-limits");
    let sock = t.join("s");
    let srv = server(
        &t,
        &sock,
        &["-C", "1"],
        &["sh", "-c", "echo in; exec cat >/dev/null"],
    );
    let mut a = UnixStream::connect(&sock).expect("connect");
    a.set_read_timeout(Some(SOON)).expect("timeout");
    let mut b = [0u8; 3];
    a.read_exact(&mut b).expect("first served");
    // A second connection of the same uid is closed at once.
    assert_eq!(talk(&sock, b""), b"");
    srv.signal(libc::SIGTERM);
    assert!(wait_until(SOON, || UnixStream::connect(&sock).is_err()));
    drop(a);
}
