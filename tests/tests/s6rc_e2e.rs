//! skarnet's s6-rc 0.7 driving a supervision tree where every s6 program is ours (issue 15).
//!
//! s6-rc is not part of the project and is never built or fetched here: the test runs only
//! when `S6RS_S6RC_BINDIR` names a directory holding s6-rc's binaries (s6-rc, s6-rc-compile,
//! s6-rc-init; s6-rc finds its libexec helpers by itself), and skips with a message
//! otherwise. execline (needed by the scripts s6-rc generates) comes from
//! `S6RS_EXECLINE_BINDIR`, else /opt/ref/execline/bin, else /usr/bin.
//!
//! PATH holds our bindir first, then s6-rc's, execline's and a private directory of the few
//! non-s6 tools the scripts use (sh, sleep, echo), so every s6 program s6-rc runs by name
//! (s6-svc, s6-sudo*, s6-ipcserver*, s6-fdholder-*, s6-log, ...) is ours.
//!
//! skarnet's `s6-rc-init` is linked with libs6, whose ftrigr library spawns the `s6-ftrigrd`
//! helper by an absolute path compiled in (s6's libexec directory). When that path is given
//! in `S6RS_S6RC_FTRIGRD` (e.g. /opt/ref/s6/libexec/s6-ftrigrd) and we are root with
//! `unshare`, s6-rc-init runs in a private mount namespace where our `s6-ftrigrd` is bound
//! over it, so no s6 program but ours runs; otherwise s6's helper serves it (said on stderr).
//!
//! The scenario: two oneshots (oneB depends on oneA and on `ready`), a longrun `ready` that
//! notifies readiness only once the test allows it, a producer `producer` piped into a
//! logger `logger` (s6-log, readiness on fd 3) named as the pipeline bundle `pipe`, and a
//! bundle `all`; compile, init, `-u change all`, `-d change` of part, `-u` again, an
//! s6-rc-update to a database with one more longrun, `-da change`, then s6-svscanctl -t. Every wait polls observable state.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::{bin, bindir, run, wait_until, write_script, Proc, Scratch, SOON};

fn s6rc_bindir() -> Option<PathBuf> {
    let d = PathBuf::from(std::env::var_os("S6RS_S6RC_BINDIR")?);
    d.join("s6-rc").exists().then_some(d)
}

fn execline_bindir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("S6RS_EXECLINE_BINDIR").map(PathBuf::from),
        Some(PathBuf::from("/opt/ref/execline/bin")),
        Some(PathBuf::from("/usr/bin")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("redirfd").exists() && d.join("fdmove").exists())
}

fn system_tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// (unshare, mount, the helper path libs6 spawns) when we can bind our s6-ftrigrd over that
/// path for s6-rc-init.
fn our_ftrigrd_over() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let theirs = std::env::var_os("S6RS_S6RC_FTRIGRD").map(PathBuf::from);
    // SAFETY: geteuid(2) has no failure mode.
    let root = unsafe { libc::geteuid() } == 0;
    let found = match (root, theirs, system_tool("unshare"), system_tool("mount")) {
        (true, Some(theirs), Some(unshare), Some(mount)) if theirs.exists() => {
            Some((unshare, mount, theirs))
        }
        _ => None,
    };
    if found.is_none() {
        eprintln!(
            "note: s6-rc-init and s6-rc-update use s6's own s6-ftrigrd (need root, unshare, S6RS_S6RC_FTRIGRD)"
        );
    }
    found
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// s6-rc's tree: s6-svscan in its own process group; at drop, `s6-svscanctl -t` (which
/// stops every service), a bounded wait, then the group is killed by pgid.
struct Tree {
    svscan: Proc,
    scan: PathBuf,
    path: String,
}

impl Tree {
    fn ctl(&self, prog: &str, args: &[&str]) -> (i32, String, String) {
        run(Command::new(prog).args(args).env("PATH", &self.path))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if matches!(self.svscan.child.try_wait(), Ok(None)) {
            let _ = self.ctl("s6-svscanctl", &["-t", &self.scan.to_string_lossy()]);
            let _ = self.svscan.wait_timeout(SOON);
        }
    }
}

fn write(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

/// Writes the s6-rc source tree under `src`; markers go to `m`, logs to `logdir`.
fn source_tree(src: &Path, m: &Path, logdir: &Path) {
    let ev = m.join("events");
    let ev = ev.display();
    let svc = |name: &str, ty: &str| {
        let d = src.join(name);
        std::fs::create_dir_all(&d).expect("mkdir service");
        write(&d.join("type"), &format!("{ty}\n"));
        d
    };
    for (name, deps) in [("oneA", &[][..]), ("oneB", &["oneA", "ready"][..])] {
        let d = svc(name, "oneshot");
        write(
            &d.join("up"),
            &format!("redirfd -a 1 {ev} echo {name} up\n"),
        );
        write(
            &d.join("down"),
            &format!("redirfd -a 1 {ev} echo {name} down\n"),
        );
        std::fs::create_dir_all(d.join("dependencies.d")).expect("mkdir deps");
        for dep in deps {
            write(&d.join("dependencies.d").join(dep), "");
        }
    }
    let d = svc("ready", "longrun");
    write(&d.join("notification-fd"), "3\n");
    let go = m.join("ready-go");
    write_script(
        &d.join("run"),
        &format!(
            "echo ready started >> {ev}\n\
             while [ ! -e {go} ]; do sleep 0.02; done\n\
             echo ready notifies >> {ev}\n\
             echo >&3\nexec 3>&-\nexec sleep 100000",
            go = go.display()
        ),
    );
    let d = svc("producer", "longrun");
    write(&d.join("producer-for"), "logger\n");
    write_script(
        &d.join("run"),
        "echo producer line one\necho producer line two\nexec sleep 100000",
    );
    let d = svc("logger", "longrun");
    write(&d.join("consumer-for"), "producer\n");
    write(&d.join("pipeline-name"), "pipe\n");
    write(&d.join("notification-fd"), "3\n");
    write_script(
        &d.join("run"),
        &format!("exec s6-log -d 3 -b -- n3 {}", logdir.display()),
    );
    let d = svc("all", "bundle");
    std::fs::create_dir_all(d.join("contents.d")).expect("mkdir contents.d");
    write(&d.join("contents.d/oneB"), "");
    write(&d.join("contents.d/pipe"), "");
}

#[test]
fn s6rc_drives_our_supervision_tree() {
    let Some(rcbin) = s6rc_bindir() else {
        eprintln!("skipped: S6RS_S6RC_BINDIR does not name a directory with s6-rc");
        return;
    };
    let Some(exbin) = execline_bindir() else {
        eprintln!("skipped: execline (redirfd, fdmove) not found");
        return;
    };
    let t = Scratch::new("s6rc");
    let tools = t.join("tools");
    std::fs::create_dir_all(&tools).expect("mkdir tools");
    for tool in ["sh", "sleep", "echo"] {
        let real = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not found"));
        std::os::unix::fs::symlink(real, tools.join(tool)).expect("symlink tool");
    }
    let path = format!(
        "{}:{}:{}:{}",
        bindir().display(),
        rcbin.display(),
        exbin.display(),
        tools.display()
    );
    let (scan, live, src, db, m, logdir) = (
        t.join("scan"),
        t.join("live"),
        t.join("src"),
        t.join("compiled"),
        t.join("markers"),
        t.join("logdir"),
    );
    for d in [&scan, &src, &m] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    source_tree(&src, &m, &logdir);
    let events = m.join("events");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let (scan_s, live_s) = (s(&scan), s(&live));

    let mut cmd = Command::new(bin("s6-svscan"));
    cmd.arg(&scan).env("PATH", &path);
    let svscan = Proc::spawn_logged(&mut cmd, &t.path, "svscan");
    let mut tree = Tree {
        svscan,
        scan: scan.clone(),
        path: path.clone(),
    };
    assert!(wait_until(SOON, || scan
        .join(".s6-svscan/control")
        .exists()));

    let rc = |args: &[&str]| tree.ctl("s6-rc", &[&["-l", &live_s][..], args].concat());
    let up_list = || {
        let (code, out, err) = rc(&["-a", "list"]);
        assert_eq!(code, 0, "s6-rc -a list: {err}");
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v.join(" ")
    };
    let svstat = |name: &str| {
        let (_, out, _) = tree.ctl("s6-svstat", &["-o", "up,ready", &s(&scan.join(name))]);
        out.trim().to_string()
    };

    let (code, _, err) = tree.ctl("s6-rc-compile", &[&s(&db), &s(&src)]);
    assert_eq!(code, 0, "s6-rc-compile: {err}");
    // s6-rc-init and s6-rc-update are linked with libs6, which spawns s6-ftrigrd.
    let helper = our_ftrigrd_over();
    let libs6 = |prog: &str, args: &[&str]| match &helper {
        Some((unshare, mount, theirs)) => {
            // In a private mount namespace: bind ours over the helper, then exec prog.
            let script = r#"$1 --bind "$2" "$3" && shift 3 && exec "$@""#;
            let (mount, ours, theirs) = (s(mount), s(&bin("s6-ftrigrd")), s(theirs));
            let head = ["-m", "sh", "-c", script, "sh", &mount, &ours, &theirs, prog];
            tree.ctl(&s(unshare), &[&head[..], args].concat())
        }
        None => tree.ctl(prog, args),
    };
    let (code, _, err) = libs6("s6-rc-init", &["-c", &s(&db), "-l", &live_s, &scan_s]);
    assert_eq!(code, 0, "s6-rc-init: {err}");
    assert_eq!(up_list(), "");

    // Up: s6-rc must wait for `ready`'s notification before starting oneB.
    let mut up = Command::new("s6-rc");
    up.args(["-l", &live_s, "-u", "change", "all"])
        .env("PATH", &path);
    let mut up = Proc::spawn_logged(&mut up, &t.path, "up1");
    assert!(wait_until(SOON, || read(&events).contains("ready started")
        && svstat("ready") == "true false"));
    assert!(
        matches!(up.child.try_wait(), Ok(None)),
        "s6-rc did not wait for readiness"
    );
    assert!(!read(&events).contains("oneB up"));
    write(&m.join("ready-go"), "");
    let st = up.wait_timeout(SOON).expect("s6-rc -u change all finishes");
    assert_eq!(st.code(), Some(0), "{}", read(&t.join("up1.err")));
    let ev = read(&events);
    let pos = |needle: &str| {
        ev.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in {ev}"))
    };
    assert!(pos("oneA up") < pos("oneB up") && pos("ready notifies") < pos("oneB up"));
    assert_eq!(svstat("ready"), "true true");
    assert_eq!(svstat("logger"), "true true");
    assert_eq!(svstat("producer"), "true false");
    let current = logdir.join("current");
    assert!(wait_until(SOON, || read(&current).lines().count() >= 2));
    assert_eq!(read(&current), "producer line one\nproducer line two\n");
    assert_eq!(
        up_list(),
        "logger oneA oneB producer ready s6rc-fdholder s6rc-oneshot-runner"
    );

    // Down part of it: oneB goes before oneA, the logger stays.
    write(&events, "");
    let (code, _, err) = rc(&["-d", "change", "oneA", "producer"]);
    assert_eq!(code, 0, "s6-rc -d change: {err}");
    assert_eq!(read(&events), "oneB down\noneA down\n");
    assert_eq!(svstat("producer"), "false false");
    assert_eq!(svstat("logger"), "true true");
    assert_eq!(up_list(), "logger ready s6rc-fdholder s6rc-oneshot-runner");

    // Up again: the producer writes into the same pipe, the logger gets its lines.
    let (code, _, err) = rc(&["-u", "change", "all"]);
    assert_eq!(code, 0, "s6-rc -u change all (again): {err}");
    assert!(wait_until(SOON, || read(&current).lines().count() >= 4));
    assert_eq!(
        read(&current),
        "producer line one\nproducer line two\n".repeat(2)
    );
    assert_eq!(
        up_list(),
        "logger oneA oneB producer ready s6rc-fdholder s6rc-oneshot-runner"
    );

    // Live update to a database with one more longrun in `all`.
    let (src2, db2) = (t.join("src2"), t.join("compiled2"));
    source_tree(&src2, &m, &logdir);
    let d = src2.join("newlr");
    std::fs::create_dir_all(&d).expect("mkdir newlr");
    write(&d.join("type"), "longrun\n");
    write_script(&d.join("run"), "exec sleep 100000");
    write(&src2.join("all/contents.d/newlr"), "");
    let (code, _, err) = tree.ctl("s6-rc-compile", &[&s(&db2), &s(&src2)]);
    assert_eq!(code, 0, "s6-rc-compile (2): {err}");
    let (code, _, err) = libs6("s6-rc-update", &["-l", &live_s, &s(&db2)]);
    assert_eq!(code, 0, "s6-rc-update: {err}");
    assert!(
        scan.join("newlr").exists(),
        "newlr not linked into the scandir"
    );
    let (code, _, err) = rc(&["-u", "change", "all"]);
    assert_eq!(code, 0, "s6-rc -u change all (updated): {err}");
    assert_eq!(svstat("newlr"), "true false");
    assert_eq!(
        up_list(),
        "logger newlr oneA oneB producer ready s6rc-fdholder s6rc-oneshot-runner"
    );

    // Everything down but the essential services.
    write(&events, "");
    let (code, _, err) = rc(&["-da", "change"]);
    assert_eq!(code, 0, "s6-rc -da change: {err}");
    assert_eq!(read(&events), "oneB down\noneA down\n");
    for name in ["ready", "producer", "logger", "newlr"] {
        assert_eq!(svstat(name), "false false", "{name}");
    }
    assert_eq!(up_list(), "s6rc-fdholder s6rc-oneshot-runner");

    let (code, _, err) = tree.ctl("s6-svscanctl", &["-t", &scan_s]);
    assert_eq!(code, 0, "s6-svscanctl -t: {err}");
    let st = tree.svscan.wait_timeout(SOON).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(0));
}
