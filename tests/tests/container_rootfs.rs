//! The container story end to end (issue 6): `examples/rootfs` with our static binaries and
//! Debian's busybox-static as a whole root filesystem, booted like a container runtime would:
//! new PID and mount namespaces, /proc, a tmpfs on /run (noexec, as `docker run --tmpfs /run`),
//! a minimal /dev, chroot, then the image's CMD (`/init`: cont-init.d, then `exec s6-svscan
//! /etc/s6`), so that s6-svscan is process 1. `nsenter` plays `docker exec`, SIGTERM to
//! process 1 plays `docker stop`.
//!
//! Checked: cont-init scripts in order before the services; services up and ready; the logger
//! pipe (s6-log: sshd's line stamped with the local time in its logdir, `[sshd]`-prefixed on the container's
//! stdout); supervise/ and event/ created on /run through the image's symlinks; `svc -d` / `-u`
//! and `svstat` from inside; orphans reaped by process 1; the app's death stops the container
//! with the app's exit status (its code, 128 + signal when killed); SIGTERM stops everything,
//! bounded by `timeout-kill`; leftover children killed by `finish` let loggers drain; a
//! read-only root and an unprivileged uid (65534) both boot; the same tree boots under
//! skarnet's s6 (Debian's, when installed).
//!
//! Needs root, `/bin/busybox` (busybox-static), util-linux `unshare`/`nsenter`, coreutils
//! `chroot`, and the static binaries: `S6RS_STATIC_BINDIR`, else the first of
//! `<workspace>/target/x86_64-unknown-linux-{musl,gnu}/release` that holds them, built by
//! `scripts/build-static` (or `scripts/install PREFIX`). Without them every test is skipped
//! with a note. Stop latencies are measured and printed, never asserted.
//!
//! Nothing outlives a test: everything runs inside the PID namespace, which dies with its
//! process 1; on every path the guard kills process 1 (by its pid) and unshare's process group.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tests::{cmdline, proc_table, run, wait_until, write_script, Proc, Scratch, SOON};

/// Upper bound on anything that could hang (a container that does not stop).
const HANG: Duration = Duration::from_secs(30);

/// The unprivileged uid/gid of the non-root variants (nobody/nogroup).
const NOBODY: u32 = 65534;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn static_bindir() -> PathBuf {
    if let Some(d) = std::env::var_os("S6RS_STATIC_BINDIR") {
        return PathBuf::from(d);
    }
    let candidates = ["musl", "gnu"]
        .map(|env| workspace().join(format!("target/x86_64-unknown-linux-{env}/release")));
    candidates
        .iter()
        .find(|d| d.join("s6-rs").exists())
        .unwrap_or(&candidates[0])
        .clone()
}

/// Our programs: the s6 and short names of `multicall/programs.list` (each a link to the one
/// binary, `s6-rs`, in the build directory and in the installed tree).
fn our_programs() -> Vec<String> {
    let list = std::fs::read_to_string(workspace().join("multicall/programs.list"))
        .expect("read multicall/programs.list");
    let mut out: Vec<String> = list
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .flat_map(|l| l.split_whitespace().skip(1).take(2).map(str::to_string))
        .filter(|name| name != "-")
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether an ELF file asks for a dynamic loader (a `PT_INTERP` program header).
fn has_interp(path: &Path) -> bool {
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let b = &head[..n];
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return true; // not a little-endian ELF64: certainly not one of our static builds
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3
    })
}

fn tool_works(prog: &str, args: &[&str]) -> bool {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip<T>(why: String) -> Option<T> {
    tests::skip(why);
    None
}

/// Root, busybox-static and the runtime's tools; `None` (after printing why) to skip.
fn host_prerequisites() -> Option<()> {
    if !tests::is_root() {
        return skip("needs root (namespaces, mounts, chroot)".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return skip("/bin/busybox missing (apt-get install busybox-static)".into());
    }
    for (tool, args) in [
        ("unshare", &["--version"][..]),
        ("nsenter", &["--version"][..]),
        ("chroot", &["--version"][..]),
        ("mount", &["--version"][..]),
    ] {
        if !tool_works(tool, args) {
            return skip(format!("`{tool}` missing (util-linux, coreutils)"));
        }
    }
    if !tool_works("unshare", &["--pid", "--fork", "--mount", "true"]) {
        return skip("unshare --pid --mount not permitted here".into());
    }
    Some(())
}

/// The static bindir when everything needed is there; `None` (after printing why) to skip.
fn prerequisites() -> Option<PathBuf> {
    host_prerequisites()?;
    let dir = static_bindir();
    let progs = our_programs();
    let missing: Vec<&String> = progs.iter().filter(|p| !dir.join(p).exists()).collect();
    if !missing.is_empty() {
        return skip(format!(
            "static binaries missing in {} ({} of {}, e.g. {}); build them with \
             scripts/build-static, or set S6RS_STATIC_BINDIR",
            dir.display(),
            missing.len(),
            progs.len(),
            missing[0]
        ));
    }
    for p in &progs {
        assert!(
            !has_interp(&dir.join(p)),
            "{} is not a static executable (it needs a dynamic loader, absent from the rootfs)",
            dir.join(p).display()
        );
    }
    Some(dir)
}

fn cp_a(from: &Path, to: &Path) {
    let (code, _, err) = run(Command::new("cp").arg("-a").arg(from).arg(to));
    assert_eq!(code, 0, "cp -a {} {}: {err}", from.display(), to.display());
}

/// Build the root filesystem: the image of `examples/rootfs` (`/init`, `/etc`), busybox (with
/// a symlink per applet) and our static programs in `/bin`, installed there by
/// `scripts/install` as users do (s6-svscan and s6-supervise one file; ours replace
/// busybox's applets of the same names, svc and svok), empty mount points.
fn build_rootfs(scratch: &Scratch, bindir: &Path) -> PathBuf {
    let root = build_base_rootfs(scratch);
    let (code, out, err) = run(Command::new(workspace().join("scripts/install"))
        .arg(&root)
        .env("S6RS_INSTALL_NOBUILD", "1")
        .env("S6RS_STATIC_BINDIR", bindir));
    assert_eq!(code, 0, "scripts/install: {out}{err}");
    use std::os::unix::fs::MetadataExt;
    let inode = |p: &str| {
        let meta = std::fs::symlink_metadata(root.join("bin").join(p)).unwrap();
        assert!(
            meta.is_file(),
            "/bin/{p} is our program, not an applet link"
        );
        (meta.dev(), meta.ino())
    };
    for p in our_programs() {
        inode(&p);
    }
    for p in ["svscan", "s6-supervise", "supervise"] {
        assert_eq!(inode(p), inode("s6-svscan"), "/bin/{p} is s6-svscan's file");
    }
    root
}

/// The same image with Debian's (dynamically linked) s6 in place of ours: its programs in
/// /usr/bin (its s6-svscan execs /usr/bin/s6-supervise), their libraries and loader as `ldd`
/// lists them. `None` when Debian's s6 is not installed.
fn build_skarnet_rootfs(scratch: &Scratch) -> Option<PathBuf> {
    let progs: Vec<PathBuf> = std::fs::read_dir("/usr/bin")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("s6-"))
        })
        .collect();
    if !progs.iter().any(|p| p.ends_with("s6-svscan")) || !tool_works("ldd", &["--version"]) {
        return None;
    }
    let root = build_base_rootfs(scratch);
    let mut libs = std::collections::BTreeSet::new();
    for p in &progs {
        let dest = root.join("usr/bin").join(p.file_name().unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(p, &dest).unwrap();
        let (_, out, _) = run(Command::new("ldd").arg(p));
        // "libs6.so.2.11 => /lib/x86_64-linux-gnu/libs6.so.2.11 (0x...)", "/lib64/ld-linux... (0x...)"
        for l in out.lines() {
            let path = l.split("=>").last().unwrap_or("").split_whitespace().next();
            if let Some(lib) = path.filter(|x| x.starts_with('/')) {
                libs.insert(PathBuf::from(lib));
            }
        }
    }
    for lib in libs {
        let dest = root.join(lib.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &dest).unwrap();
    }
    Some(root)
}

/// `/init`, `/etc` of the image, busybox and its applets, empty mount points.
fn build_base_rootfs(scratch: &Scratch) -> PathBuf {
    let root = scratch.join("rootfs");
    let bin = root.join("bin");
    for d in ["bin", "proc", "run", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let image = workspace().join("examples/rootfs");
    cp_a(&image.join("init"), &root.join("init"));
    cp_a(&image.join("etc"), &root.join("etc"));
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let (code, list, err) = run(Command::new("/bin/busybox").arg("--list"));
    assert_eq!(code, 0, "busybox --list: {err}");
    for applet in list.split_whitespace() {
        let link = bin.join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link).unwrap();
        }
    }
    root
}

/// How the runtime starts the image.
#[derive(Clone, Copy, Debug)]
struct Variant {
    /// The root filesystem is bind-mounted read-only (`docker run --read-only`).
    read_only: bool,
    /// Run `/init` (and so s6-svscan) as this uid and gid (`docker run --user`).
    uid: Option<u32>,
}

const PLAIN: Variant = Variant {
    read_only: false,
    uid: None,
};

/// The container runtime, run as process 1 of the new namespaces until it execs the image's
/// `/init` (which execs svscan): mounts as Docker does, then chroot (and drop privileges).
const RUNTIME: &str = r#"set -e
R="$1" RO="$2" U="$3"
if [ "$RO" = ro ]; then mount --bind "$R" "$R"; mount -o remount,bind,ro "$R"; fi
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
owner=; [ -z "$U" ] || owner="uid=$U,gid=$U,"
mount -t tmpfs -o "${owner}mode=0755,nosuid,nodev,noexec" tmpfs "$R/run"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$R/dev"
for n in null zero full random urandom tty; do
  touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"
done
[ -z "$U" ] || exec chroot --userspec="$U:$U" --groups="$U" "$R" /init
exec chroot "$R" /init
"#;

struct Container {
    unshare: Proc,
    /// Host pid of the namespace's process 1 (s6-svscan once /init has exec'ed it).
    pid1: i32,
    variant: Variant,
    out: PathBuf,
    exited: Option<ExitStatus>,
}

impl Container {
    fn start(scratch: &Scratch, root: &Path, variant: Variant) -> Container {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount", "--propagation", "private"])
            .args(["sh", "-c", RUNTIME, "runtime"])
            .arg(root)
            .arg(if variant.read_only { "ro" } else { "rw" })
            .arg(variant.uid.map(|u| u.to_string()).unwrap_or_default())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("APP_GREETING", "hello from the test");
        let unshare = Proc::spawn_logged(&mut cmd, &scratch.path, "container");
        let mut c = Container {
            pid1: 0,
            variant,
            out: scratch.join("container.out"),
            exited: None,
            unshare,
        };
        let upid = c.unshare.pid();
        assert!(
            wait_until(SOON, || {
                c.pid1 = children_of(upid).first().copied().unwrap_or(0);
                c.pid1 != 0
            }),
            "process 1 of the container started"
        );
        // Process 1 is s6-svscan once the runtime and /init have exec'ed.
        assert!(
            wait_until(SOON, || cmdline(c.pid1)
                .first()
                .is_some_and(|a| a.ends_with("svscan"))
                || c.unshare.child.try_wait().is_ok_and(|s| s.is_some())),
            "s6-svscan became process 1"
        );
        assert!(
            c.unshare.child.try_wait().is_ok_and(|s| s.is_none()),
            "container died while booting:\n{}\n{}",
            c.stdout(),
            std::fs::read_to_string(scratch.join("container.err")).unwrap_or_default()
        );
        c
    }

    /// `docker exec`: a busybox sh command line inside the container (its namespaces and
    /// root, as the container's user), killed after 20 s; (exit code, stdout, stderr).
    fn exec(&self, script: &str) -> (i32, String, String) {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid1.to_string(), "-p", "-m", "-r"]);
        if let Some(u) = self.variant.uid {
            cmd.args(["-S", &u.to_string(), "-G", &u.to_string()]);
        }
        // Bounded (busybox timeout), so that a command stuck inside cannot hang the test.
        cmd.args(["/bin/timeout", "20", "/bin/sh", "-c", script])
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        run(&mut cmd)
    }

    /// `s6-svstat -o FIELDS SVC` from inside, trimmed ("" on failure).
    fn svstat(&self, fields: &str, svc: &str) -> String {
        let (code, out, _) = self.exec(&format!("s6-svstat -o {fields} {svc}"));
        if code == 0 {
            out.trim().to_string()
        } else {
            String::new()
        }
    }

    fn wait_svstat(&self, fields: &str, svc: &str, want: &str) {
        let mut last = String::new();
        assert!(
            wait_until(SOON, || {
                last = self.svstat(fields, svc);
                last == want
            }),
            "svstat -o {fields} {svc}: want {want:?}, last {last:?}\nconsole:\n{}",
            self.stdout()
        );
    }

    /// A path of the container's file system, seen from the host.
    fn path(&self, p: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{p}", self.pid1))
    }

    /// What the container printed (`docker logs`).
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.exited.is_none() && self.unshare.child.try_wait().is_ok_and(|s| s.is_none())
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let st = self.unshare.wait_timeout(limit);
        self.exited = st;
        st.unwrap_or_else(|| {
            panic!(
                "container still running after {limit:?}:\n{}",
                self.stdout()
            )
        })
    }

    /// `docker stop`: SIGTERM to process 1; returns the exit status and the time it took.
    fn stop(&mut self) -> (ExitStatus, Duration) {
        let t0 = Instant::now();
        // SAFETY: kill(2) on the host pid of the namespace's process 1, which we started.
        unsafe { libc::kill(self.pid1, libc::SIGTERM) };
        // Poll every millisecond (Proc::wait_timeout's 10 ms would be the resolution).
        while t0.elapsed() < HANG {
            if let Ok(Some(st)) = self.unshare.child.try_wait() {
                self.exited = Some(st);
                return (st, t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!(
            "container still running {HANG:?} after SIGTERM:\n{}",
            self.stdout()
        )
    }

    /// Every process of the container: (host pid, host ppid, state, cmdline).
    fn processes(&self) -> Vec<(i32, i32, char, Vec<String>)> {
        let Ok(ns) = std::fs::read_link(format!("/proc/{}/ns/pid", self.pid1)) else {
            return Vec::new();
        };
        proc_table()
            .into_iter()
            .filter(|&(pid, _, _)| {
                std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l == ns)
            })
            .map(|(pid, pp, st)| (pid, pp, st, cmdline(pid)))
            .collect()
    }

    fn zombies(&self) -> Vec<i32> {
        self.processes()
            .into_iter()
            .filter(|p| p.2 == 'Z')
            .map(|p| p.0)
            .collect()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.running() && self.pid1 > 0 {
            // SAFETY: kill(2) on the host pid of the namespace's process 1 (still our
            // grandchild: unshare has not reaped it); the whole namespace dies with it.
            unsafe { libc::kill(self.pid1, libc::SIGKILL) };
        }
        // Proc's drop then kills unshare's process group and reaps unshare.
    }
}

fn children_of(ppid: i32) -> Vec<i32> {
    proc_table()
        .into_iter()
        .filter(|&(_, pp, _)| pp == ppid)
        .map(|t| t.0)
        .collect()
}

/// Real uid of a process (host view).
fn uid_of(pid: i32) -> Option<u32> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    st.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

/// The image's services are up, sshd is ready, its logger (s6-log) got its first line: in
/// the logdir, stamped with the local time (`T`), and on the container's stdout with the
/// `[sshd]` prefix.
fn assert_booted(c: &Container) {
    c.wait_svstat("up", "/etc/s6/app", "true");
    c.wait_svstat("up,ready", "/etc/s6/sshd", "true true");
    c.wait_svstat("up", "/etc/s6/sshd/log", "true");
    let line = "[sshd] sshd: Server listening on 0.0.0.0 port 22 (pretend)";
    let log = c.path("/run/log/sshd/current");
    assert!(
        wait_until(SOON, || std::fs::read_to_string(&log).is_ok_and(|l| l
            .lines()
            // s6-log's T: "YYYY-MM-DD HH:MM:SS.nnnnnnnnn  LINE".
            .any(|l| l.len() == 31 + line.len()
                && l.as_bytes().get(4) == Some(&b'-')
                && l.ends_with(&format!("  {line}"))))),
        "sshd's line reached its logger through the pipe: {:?}",
        std::fs::read_to_string(&log)
    );
    assert!(
        wait_until(SOON, || c.stdout().lines().any(|l| l == line)),
        "the logger copied it to the container's stdout:\n{}",
        c.stdout()
    );
}

/// A service added to the image, with its `supervise` and `event` symlinks into /run as the
/// image's own services have.
fn add_service(root: &Path, name: &str, run: &str) -> PathBuf {
    let d = root.join("etc/s6").join(name);
    std::fs::create_dir_all(&d).unwrap();
    write_script(&d.join("run"), run);
    for sub in ["supervise", "event"] {
        std::os::unix::fs::symlink(format!("/run/s6/{sub}/{name}"), d.join(sub)).unwrap();
    }
    d
}

/// `svc -d` takes the app down without stopping the container; `svc -u` brings it back.
/// (Both name sets; the short ones by path: Debian's busybox sh prefers its own `svc` and
/// `svok` applets to anything in PATH.)
/// `up` is the command line bringing the app back up (the short name only exists with ours).
fn assert_svc_down_up(c: &mut Container, up: &str) {
    let (code, _, err) = c.exec("s6-svc -d /etc/s6/app");
    assert_eq!(code, 0, "svc -d: {err}");
    c.wait_svstat("up,wantedup", "/etc/s6/app", "false false");
    assert!(
        wait_until(SOON, || c.stdout().contains("app: stopped on request")),
        "app/finish saw a requested stop:\n{}",
        c.stdout()
    );
    assert!(c.running(), "svc -d of the app does not stop the container");
    let (code, _, err) = c.exec(up);
    assert_eq!(code, 0, "svc -u: {err}");
    c.wait_svstat("up,wantedup", "/etc/s6/app", "true true");
    assert!(c.running());
    let (code, out, err) = c.exec("s6-svstat /etc/s6/app");
    assert_eq!(code, 0, "svstat: {err}");
    assert!(out.starts_with("up (pid "), "svstat: {out}");
}

#[test]
fn boots_like_an_image_and_stops_promptly_on_sigterm() {
    let Some(bindir) = prerequisites() else {
        return;
    };
    let scratch = Scratch::new("container-boot");
    let root = build_rootfs(&scratch, &bindir);
    // A service that leaves orphans to process 1: five that die at once, one that lives
    // until the test lets it go (recognisable by its last argument).
    add_service(
        &root,
        "orphans",
        "for i in 1 2 3 4 5; do ( sh -c 'exit 0' & ); done\n\
         ( exec sh -c 'while [ ! -e /run/orphan-go ]; do sleep 0.05; done' orphan-marker & )\n\
         exec sleep 2147483647",
    );
    let mut c = Container::start(&scratch, &root, PLAIN);
    assert_booted(&c);
    c.wait_svstat("up", "/etc/s6/orphans", "true");

    // Stage 1 ran the cont-init scripts in order, then started the services; the app got
    // its configuration (from the container's environment) from 20-app-config.
    let out = c.stdout();
    let pos = |s: &str| {
        out.find(s)
            .unwrap_or_else(|| panic!("{s:?} not in console:\n{out}"))
    };
    assert!(pos("running /etc/cont-init.d/10-runtime-dirs") < pos("20-app-config"));
    assert!(pos("20-app-config") < pos("init: starting the services"));
    assert!(pos("init: starting the services") < pos("app: started"));
    assert!(out.contains("greeting: hello from the test"), "{out}");

    // supervise/ and event/ live on /run, created through the image's (dangling) symlinks.
    for s in ["app", "sshd", "sshd-log", "orphans"] {
        assert!(
            c.path(&format!("/run/s6/supervise/{s}/status")).exists(),
            "supervise/ of {s} on /run"
        );
    }
    assert!(c.path("/run/s6/event/app").is_dir());
    for l in [
        "etc/s6/app/supervise",
        "etc/s6/app/event",
        "etc/s6/sshd/log/supervise",
    ] {
        assert!(
            root.join(l).is_symlink(),
            "{l} is still the image's symlink"
        );
    }
    assert!(c.path("/run/s6/svscan/control").exists());
    assert_eq!(uid_of(c.pid1), Some(0));

    assert_svc_down_up(&mut c, "/bin/svc -u /etc/s6/app");
    let (code, out, err) = c.exec("/bin/svstat -o up,ready /etc/s6/sshd");
    assert_eq!(
        (code, out.as_str()),
        (0, "true true\n"),
        "short name svstat: {err}"
    );

    // Orphans: adopted by process 1 and reaped, no zombie left in the namespace.
    let mut orphan = 0;
    assert!(
        wait_until(SOON, || {
            orphan = c
                .processes()
                .iter()
                .find(|p| p.3.last().is_some_and(|a| a == "orphan-marker"))
                .map_or(0, |p| p.0);
            orphan != 0
        }),
        "the long-lived orphan runs"
    );
    assert!(
        wait_until(SOON, || c
            .processes()
            .iter()
            .any(|p| p.0 == orphan && p.1 == c.pid1)),
        "the orphan was adopted by process 1 (s6-svscan)"
    );
    std::fs::write(c.path("/run/orphan-go"), "").unwrap();
    assert!(
        wait_until(SOON, || !c.processes().iter().any(|p| p.0 == orphan)),
        "the dead orphan was reaped"
    );
    assert!(
        wait_until(SOON, || c.zombies().is_empty()),
        "zombies left in the container: {:?}",
        c.zombies()
    );

    // docker stop: every service down through its finish, then .s6-svscan/finish exits 0.
    let (st, took) = c.stop();
    eprintln!(
        "docker-stop latency, services that stop promptly: {} ms (SIGTERM to process 1 \
         until the container exited)",
        took.as_millis()
    );
    assert_eq!(st.code(), Some(0), "console:\n{}", c.stdout());
    let out = c.stdout();
    // Once for `svc -d` above, once for the shutdown.
    assert_eq!(
        out.matches("app: stopped on request (exit 256, signal 15)")
            .count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("container: every service is down, exiting with status 0"),
        "{out}"
    );
}

/// Boot, make the app die with `kill_app` (a command run inside), expect `want` as the
/// container's exit status.
fn app_death_sets_exit_status(variant: Variant, kill_app: &str, want: i32) {
    let Some(bindir) = prerequisites() else {
        return;
    };
    let scratch = Scratch::new("container-exitcode");
    let root = build_rootfs(&scratch, &bindir);
    let mut c = Container::start(&scratch, &root, variant);
    assert_booted(&c);
    // The app is blocked on its FIFO once it exists.
    assert!(wait_until(SOON, || c.path("/run/app/crash").exists()));
    let (code, _, err) = c.exec(kill_app);
    assert_eq!(code, 0, "{kill_app}: {err}");
    let st = c.wait_exit(HANG);
    let out = c.stdout();
    assert_eq!(
        st.code(),
        Some(want),
        "container exit status; console:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "container: every service is down, exiting with status {want}"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("stopping the container with status {want}")),
        "{out}"
    );
}

#[test]
fn app_exit_code_is_the_container_exit_status() {
    app_death_sets_exit_status(PLAIN, "echo 3 > /run/app/crash", 3);
}

#[test]
fn app_killed_by_a_signal_gives_128_plus_the_signal() {
    app_death_sets_exit_status(PLAIN, "kill -KILL $(svstat -o pid /etc/s6/app)", 128 + 9);
}

#[test]
fn sigterm_is_bounded_by_timeout_kill() {
    let Some(bindir) = prerequisites() else {
        return;
    };
    let scratch = Scratch::new("container-timeout-kill");
    let root = build_rootfs(&scratch, &bindir);
    // A daemon that ignores SIGTERM: only timeout-kill (1 s) ends it, with SIGKILL.
    let d = add_service(&root, "stubborn", "trap '' TERM\nexec sleep 2147483647");
    std::fs::write(d.join("timeout-kill"), "1000\n").unwrap();
    write_script(&d.join("finish"), "echo \"stubborn: finish $1 $2\"");
    let mut c = Container::start(&scratch, &root, PLAIN);
    assert_booted(&c);
    c.wait_svstat("up", "/etc/s6/stubborn", "true");
    let (st, took) = c.stop();
    eprintln!(
        "docker-stop latency with a service ignoring SIGTERM (timeout-kill 1000 ms): {} ms",
        took.as_millis()
    );
    let out = c.stdout();
    assert_eq!(st.code(), Some(0), "console:\n{out}");
    assert!(
        out.contains("stubborn: finish 256 9"),
        "killed by timeout-kill:\n{out}"
    );
}

/// A logged service whose `run` leaves a background child behind: the child holds the write
/// end of the logger's pipe, so the logger never sees EOF and, by s6's design, s6-svscan would
/// wait for its supervisor forever (no `timeout-kill` applies: the service's main process did
/// die). The recipe: the service's `finish` kills what is left of its process group (`$4`, the
/// pid of the dead `./run`, which is a session and group leader). Shutdown then completes.
#[test]
fn leftover_children_are_killed_by_finish_so_loggers_drain() {
    let Some(bindir) = prerequisites() else {
        return;
    };
    let scratch = Scratch::new("container-leftovers");
    let root = build_rootfs(&scratch, &bindir);
    let d = add_service(
        &root,
        "leaky",
        "echo leaky: started\nsleep 2147483647 &\nexec sleep 2147483647",
    );
    write_script(
        &d.join("finish"),
        "echo \"leaky: finish $1 $2, killing process group $4\"\nkill -KILL -\"$4\"",
    );
    let log = d.join("log");
    std::fs::create_dir(&log).unwrap();
    write_script(
        &log.join("run"),
        "while IFS= read -r l; do echo \"leaky-log: $l\"; done; echo leaky-log: eof",
    );
    for sub in ["supervise", "event"] {
        std::os::unix::fs::symlink(format!("/run/s6/{sub}/leaky-log"), log.join(sub)).unwrap();
    }
    let mut c = Container::start(&scratch, &root, PLAIN);
    assert_booted(&c);
    c.wait_svstat("up", "/etc/s6/leaky/log", "true");
    assert!(wait_until(SOON, || c
        .stdout()
        .contains("leaky-log: leaky: started")));
    let (st, took) = c.stop();
    eprintln!(
        "docker-stop latency with a leftover child on a logger's pipe, killed by finish: {} ms",
        took.as_millis()
    );
    let out = c.stdout();
    assert_eq!(st.code(), Some(0), "console:\n{out}");
    assert!(out.contains("leaky-log: eof"), "the logger drained:\n{out}");
}

#[test]
fn read_only_root_boots_and_keeps_its_state_on_run() {
    let variant = Variant {
        read_only: true,
        uid: None,
    };
    let Some(bindir) = prerequisites() else {
        return;
    };
    let scratch = Scratch::new("container-ro");
    let root = build_rootfs(&scratch, &bindir);
    let mut c = Container::start(&scratch, &root, variant);
    assert_booted(&c);
    let (code, _, err) = c.exec("touch /etc/s6/probe");
    assert_ne!(code, 0, "the root is read-only");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_svc_down_up(&mut c, "/bin/svc -u /etc/s6/app");
    let (st, took) = c.stop();
    eprintln!(
        "docker-stop latency, read-only root: {} ms",
        took.as_millis()
    );
    assert_eq!(st.code(), Some(0), "console:\n{}", c.stdout());
    // The exit-status recipe works there too (its file is on /run).
    app_death_sets_exit_status(variant, "echo 5 > /run/app/crash", 5);
}

#[test]
fn unprivileged_user_boots_with_and_without_a_read_only_root() {
    for read_only in [false, true] {
        let variant = Variant {
            read_only,
            uid: Some(NOBODY),
        };
        let Some(bindir) = prerequisites() else {
            return;
        };
        let scratch = Scratch::new("container-nobody");
        let root = build_rootfs(&scratch, &bindir);
        let mut c = Container::start(&scratch, &root, variant);
        assert_booted(&c);
        assert_eq!(uid_of(c.pid1), Some(NOBODY), "s6-svscan runs as {NOBODY}");
        let app = c.svstat("pid", "/etc/s6/app");
        let app_host = c
            .processes()
            .iter()
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{}/status", p.0)).is_ok_and(|s| {
                    s.lines().any(|l| {
                        l.strip_prefix("NSpid:")
                            .is_some_and(|v| v.split_whitespace().last() == Some(app.as_str()))
                    })
                })
            })
            .map(|p| p.0)
            .expect("the app's process");
        assert_eq!(uid_of(app_host), Some(NOBODY), "the app runs as {NOBODY}");
        assert_svc_down_up(&mut c, "/bin/svc -u /etc/s6/app");
        let (st, took) = c.stop();
        eprintln!(
            "docker-stop latency, uid {NOBODY}, read-only root {read_only}: {} ms",
            took.as_millis()
        );
        assert_eq!(st.code(), Some(0), "console:\n{}", c.stdout());
    }
    app_death_sets_exit_status(
        Variant {
            read_only: true,
            uid: Some(NOBODY),
        },
        "kill -TERM $(svstat -o pid /etc/s6/app)",
        128 + 15,
    );
}

/// The image is plain s6 protocol: skarnet's own s6 (Debian's 2.11, when installed) boots the
/// very same tree, and the exit-status recipe gives the same result. So an image made for
/// s6 takes our static binaries in place of s6's, and back.
#[test]
fn the_same_image_runs_under_skarnets_s6() {
    if host_prerequisites().is_none() {
        return;
    }
    let scratch = Scratch::new("container-skarnet");
    let Some(root) = build_skarnet_rootfs(&scratch) else {
        tests::skip("Debian's s6 is not installed (apt-get install s6)");
        return;
    };
    let mut c = Container::start(&scratch, &root, PLAIN);
    assert_booted(&c);
    assert!(c.path("/run/s6/supervise/app/status").exists());
    assert_svc_down_up(&mut c, "s6-svc -u /etc/s6/app");
    assert!(wait_until(SOON, || c.path("/run/app/crash").exists()));
    let (code, _, err) = c.exec("echo 7 > /run/app/crash");
    assert_eq!(code, 0, "{err}");
    let st = c.wait_exit(HANG);
    assert_eq!(st.code(), Some(7), "console:\n{}", c.stdout());

    // docker stop under s6, for comparison with ours.
    let scratch = Scratch::new("container-skarnet-stop");
    let root = build_skarnet_rootfs(&scratch).expect("s6 still installed");
    let mut c = Container::start(&scratch, &root, PLAIN);
    assert_booted(&c);
    let (st, took) = c.stop();
    eprintln!(
        "docker-stop latency under skarnet's s6, services that stop promptly: {} ms",
        took.as_millis()
    );
    assert_eq!(st.code(), Some(0), "console:\n{}", c.stdout());
}
