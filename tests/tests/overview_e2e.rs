//! End-to-end tests of the overview command `s6-rs-status` and of the probes of `s6-svstat`
//! (`--ready`, `--up-for`, `--json`, a scan directory as argument) on a live scan directory
//! under our s6-svscan: a service up, one crash-looping, one down by its `down` file, one
//! that never notifies readiness, a logged one. Behaviour only: every wait is on an
//! observable condition, no timing is asserted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tests::{bin, make_service, run, wait_until, Proc, Scratch, SOON};

struct Scan {
    _scratch: Scratch,
    dir: PathBuf,
    proc: Option<Proc>,
}

impl Scan {
    fn new() -> Scan {
        let scratch = Scratch::new("overview");
        let dir = scratch.join("scan");
        std::fs::create_dir_all(&dir).unwrap();
        make_service(&dir, "up", "exec sleep 1000");
        make_service(&dir, "crash", "exit 3");
        let lazy = make_service(&dir, "lazy", "exec sleep 1000");
        std::fs::write(lazy.join("down"), "").unwrap();
        let silent = make_service(&dir, "silent", "exec sleep 1000");
        std::fs::write(silent.join("notification-fd"), "3\n").unwrap();
        let logged = make_service(&dir, "logged", "echo hello; exec sleep 1000");
        std::fs::create_dir_all(logged.join("log")).unwrap();
        tests::write_script(&logged.join("log/run"), "exec cat >/dev/null");
        let mut cmd = Command::new(bin("s6-svscan"));
        cmd.arg(&dir).stdout(Stdio::null()).stderr(Stdio::null());
        let proc = Some(Proc::spawn(&mut cmd));
        Scan {
            _scratch: scratch,
            dir,
            proc,
        }
    }

    fn svc(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn status(&self, extra: &[&str]) -> (i32, String, String) {
        run(Command::new(bin("s6-rs-status")).args(extra).arg(&self.dir))
    }

    fn svstat(&self, args: &[&str]) -> (i32, String, String) {
        run(Command::new(bin("s6-svstat")).args(args))
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        let _ = run(Command::new(bin("s6-svscanctl")).arg("-t").arg(&self.dir));
        if let Some(mut p) = self.proc.take() {
            let _ = p.wait_timeout(SOON);
        }
        for n in ["up", "crash", "lazy", "silent", "logged", "logged/log"] {
            if let Ok(st) = common::status::StatusRecord::read(&self.dir.join(n)) {
                tests::kill_group(st.pid_t());
            }
        }
    }
}

fn line<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no line for {name}:\n{table}"))
        .split_whitespace()
        .collect()
}

fn valid_json(text: &str) -> bool {
    let mut child = match Command::new("python3")
        .args(["-c", "import json,sys; json.load(sys.stdin)"])
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return true, // no python3: the shape is checked below anyway
    };
    use std::io::Write;
    let _ = child.stdin.take().map(|mut i| i.write_all(text.as_bytes()));
    child.wait().is_ok_and(|s| s.success())
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn overview_and_probes_on_a_live_scan_directory() {
    let s = Scan::new();
    // Everything supervised, up is up, the crash loop has died at least twice.
    let settled = wait_until(SOON, || {
        let (_, out, _) = s.status(&[]);
        out.lines().count() == 7
            && !out.contains("unsupervised")
            && line(&out, "up")[1] == "up"
            && line(&out, "logged/log")[1] == "up"
            && line(&out, "crash")
                .last()
                .and_then(|n| n.parse::<u32>().ok())
                >= Some(2)
    });
    let (code, table, err) = s.status(&[]);
    assert!(settled, "{table}{err}");
    assert_eq!(
        code, 1,
        "a crash loop and a service not ready: not as wanted\n{table}"
    );
    assert!(table.starts_with("SERVICE "), "{table}");
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["crash", "lazy", "logged", "logged/log", "silent", "up"]
    );
    // Columns: SERVICE STATE PID FOR READY WANT LAST RESTARTS.
    let up = line(&table, "up");
    assert_eq!(
        (up[1], up[4], up[5], up[6], up[7]),
        ("up", "yes", "up", "-", "0"),
        "{table}"
    );
    assert!(up[2].parse::<u32>().is_ok(), "{table}");
    let lazy = line(&table, "lazy");
    assert_eq!(&lazy[1..3], ["not", "started"], "{table}");
    let silent = line(&table, "silent");
    assert_eq!((silent[1], silent[4]), ("up", "no"), "{table}");
    let crash = line(&table, "crash");
    assert!(crash.contains(&"exit") && crash.contains(&"3"), "{table}");
    assert!(!table.contains('\x1b'), "no colour off a terminal");
    let coloured = s.status(&["--color=always"]).1;
    assert!(coloured.contains("\x1b[32mup\x1b[0m"), "{coloured}");

    // --json: one array, the same judgements.
    let (code, json, _) = s.status(&["--json"]);
    assert_eq!(code, 1);
    assert!(valid_json(&json), "{json}");
    assert!(json.starts_with("[\n{\"name\":\"crash\","), "{json}");
    let obj = |name: &str| {
        json.lines()
            .find(|l| l.contains(&format!("{{\"name\":\"{name}\",")))
            .unwrap_or_else(|| panic!("{name}: {json}"))
            .to_string()
    };
    assert!(obj("up").contains("\"ready\":true,"), "{json}");
    assert!(
        obj("silent").contains("\"ready\":false,") && obj("silent").contains("\"notifies\":true")
    );
    assert!(
        obj("crash").contains("\"ok\":false")
            && obj("crash").contains("\"lastdeath\":{\"exitcode\":3,")
    );
    assert!(obj("lazy").contains("\"ok\":true") && obj("lazy").contains("\"normallyup\":false"));
    assert!(obj("up").contains("\"since_iso8601\":\"20"), "{json}");

    // s6-svstat --json says the same of ready as --ready does.
    let (_, j, _) = s.svstat(&["--json", p(&s.svc("up")), p(&s.svc("silent"))]);
    let mut l = j.lines();
    assert!(l.next().unwrap().contains("\"ready\":true,"), "{j}");
    assert!(l.next().unwrap().contains("\"ready\":false,"), "{j}");
    assert_eq!(s.svstat(&["--ready", p(&s.svc("up"))]).0, 0);
    let (code, _, err) = s.svstat(&["--ready", p(&s.svc("silent"))]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is not ready: up but readiness not notified yet"),
        "{err}"
    );

    // Liveness: a crash loop never stays up for a second; the long-running one does.
    let (code, _, err) = s.svstat(&[p(&s.svc("crash")), "--up-for", "1", "--ready"]);
    assert_eq!(code, 1, "{err}");
    assert!(wait_until(SOON, || s
        .svstat(&["--up-for", "1", p(&s.svc("up"))])
        .0
        == 0));
    let (code, _, err) = s.svstat(&["--up-for", "3600", p(&s.svc("up"))]);
    assert_eq!(code, 1);
    assert!(err.contains("seconds only (--up-for 3600)"), "{err}");

    // Down on purpose passes unless named: the scan directory as a probe.
    let (code, _, err) = s.svstat(&["--ready", p(&s.dir)]);
    assert_eq!(code, 1, "crash and silent are wanted up: {err}");
    for n in ["crash", "silent"] {
        let (code, _, err) = run(Command::new(bin("s6-svc"))
            .args(["-wD", "-d"])
            .arg(s.svc(n)));
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(
        s.svstat(&["--ready", p(&s.dir)]),
        (0, String::new(), String::new())
    );
    let (code, _, err) = s.svstat(&["--ready", p(&s.dir), p(&s.svc("lazy"))]);
    assert_eq!(code, 1, "lazy is named: {err}");
    let (code, table, _) = s.status(&[]);
    assert_eq!(code, 0, "every service as wanted:\n{table}");
    // --up-for makes the overview a liveness probe too.
    let (code, _, _) = run(Command::new(bin("s6-rs-status"))
        .args(["--up-for", "3600"])
        .arg(s.svc("up")));
    assert_eq!(code, 1, "up, but not for an hour");
    let (code, _, _) = run(Command::new(bin("s6-rs-status"))
        .arg(s.svc("up"))
        .arg("--up-for=1"));
    assert_eq!(code, 0, "up for a second already (waited above)");
    // A service dir as argument, with its logger.
    let (code, one, _) = run(Command::new(bin("s6-rs-status")).arg(s.svc("logged")));
    assert_eq!(code, 0);
    assert_eq!(one.lines().count(), 3, "{one}");
}

#[test]
fn overview_usage_help_version_and_missing_dirs() {
    let st = |args: &[&str]| run(Command::new(bin("s6-rs-status")).args(args));
    let (code, out, _) = st(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("s6-rs status [ --json ]"), "{out}");
    let (code, out, _) = st(&["--version"]);
    assert_eq!((code, out.starts_with("s6-rs 0.")), (0, true), "{out}");
    let (code, _, err) = st(&["-x"]);
    assert_eq!(code, 100);
    assert!(
        err.starts_with("s6-rs status: usage: s6-rs status"),
        "{err}"
    );
    let (code, out, _) = st(&["/nonexistent/s6rs-overview"]);
    assert_eq!(code, 111);
    assert!(
        out.contains("error: unable to read /nonexistent/s6rs-overview: No such file or directory"),
        "{out}"
    );
}

/// Every program of multicall/programs.list: `--help` (its usage line first, exit 0) and
/// `--version` (`s6-rs 0.x (s6 2.15.1 compatible)`, exit 0).
#[test]
fn every_program_has_help_and_version() {
    let list = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../multicall/programs.list"),
    )
    .unwrap();
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert!(names.contains(&"s6-svscan") && names.contains(&"s6-rs-status"));
    for name in names {
        let (code, out, err) = run(Command::new(bin(name)).arg("--help"));
        assert_eq!(code, 0, "{name} --help: {err}");
        let shown = name.strip_prefix("s6-rs-").map(|n| format!("s6-rs {n}"));
        let shown = shown.as_deref().unwrap_or(name);
        assert!(
            out.starts_with(&format!("{shown} ")) || out.starts_with(&format!("{shown}\n")),
            "{name} --help: {out}"
        );
        assert!(
            out.lines().count() >= 2,
            "{name} --help: usage line and options: {out}"
        );
        let (code, out, _) = run(Command::new(bin(name)).arg("--version"));
        assert_eq!(
            (code, out.as_str()),
            (0, format!("{}\n", common::msg::VERSION).as_str()),
            "{name}"
        );
    }
}

/// The overview reads what skarnet's s6 writes: Debian's s6-svscan and s6-supervise (2.11),
/// when installed, and finds that s6-svscan's scan directory through /proc.
#[test]
fn overview_of_services_run_by_real_s6() {
    let Some(svscan) = tests::real_s6("s6-svscan") else {
        eprintln!("skipped: Debian's s6 is not installed (apt-get install s6)");
        return;
    };
    let scratch = Scratch::new("overview-real");
    let dir = scratch.join("scan");
    make_service(&dir, "svc", "exec sleep 1000");
    let mut cmd = Command::new(svscan);
    cmd.arg(&dir).stdout(Stdio::null()).stderr(Stdio::null());
    let mut proc = Proc::spawn(&mut cmd);
    let up = wait_until(SOON, || {
        let (code, out, _) = run(Command::new(bin("s6-rs-status")).arg(&dir));
        code == 0 && line(&out, "svc")[1] == "up"
    });
    let (_, out, err) = run(Command::new(bin("s6-rs-status")).arg(&dir));
    // With no argument, every running s6-svscan's directory is shown: ours among them.
    let (_, all, _) = run(&mut Command::new(bin("s6-rs-status")));
    let _ = run(Command::new("/usr/bin/s6-svscanctl").arg("-t").arg(&dir));
    let _ = proc.wait_timeout(SOON);
    if let Ok(st) = common::status::StatusRecord::read(&dir.join("svc")) {
        tests::kill_group(st.pid_t());
    }
    assert!(up, "{out}{err}");
    // One svscan running: names alone; several: prefixed by their scan directory.
    let prefixed = format!("{}/svc ", dir.display());
    assert!(
        all.lines()
            .any(|l| l.starts_with("svc ") || l.starts_with(&prefixed)),
        "{all}"
    );
}
