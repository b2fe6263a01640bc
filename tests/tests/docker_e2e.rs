//! `examples/rootfs` as a real Docker image on a real engine (issue 16): built by
//! `examples/rootfs/build` (`FROM scratch`: Debian's static busybox and our static binaries
//! from `scripts/install`; no registry needed), then driven with `docker run`, `exec`, `logs`,
//! `stop`, `restart`, `kill` and `inspect`.
//!
//! Checked: the services come up and ready (the overview command `s6-rs-status` exits 0);
//! `s6-svc` / `s6-svstat` through `docker exec`; an orphan is reaped by process 1 (no zombie);
//! `docker stop` exits 0, promptly; the app's exit status is the container's (3, 137 when the
//! app is SIGKILLed, 143 for SIGTERM) and `docker kill` gives 137; `--read-only --tmpfs /run`
//! and `--user 1000:1000`; sshd's logger (`s6-log -- p"[sshd]" 1 T /run/log/sshd`) puts its
//! lines in `docker logs` with `[sshd] ` in front and, stamped with the local time, in the logdir on /run
//! (written as the container's user; `s6-svc -a` rotates it into an `@<TAI64N>.s` archive);
//! `docker restart` comes back with every service (the container's
//! /run survives a restart: real s6 loops there on `unable to mkdir .../event: File exists`);
//! the image's `HEALTHCHECK` (`s6-svstat --ready --up-for`) turns the container healthy, and
//! unhealthy when a named service is taken down. The same tree with skarnet's s6
//! (`build --debian-s6`) boots and passes the exit status the same way; what it does on
//! `docker restart` is printed.
//!
//! Needs a Docker engine (`docker info`; scripts/setup starts dockerd), `/bin/busybox`
//! (busybox-static) and the static build (`S6RS_STATIC_BINDIR`, else
//! `target/x86_64-unknown-linux-{musl,gnu}/release`). Without them each test says why and
//! passes, except under `S6RS_REQUIRE_ALL=1` (CI), where it fails. Figures (boot to all ready,
//! `docker stop`, image size) are printed, never asserted.
//!
//! Containers are named `s6rs-e2e-<pid>-<n>` and removed (`docker rm -f`) when a test ends;
//! the image, `s6rs-e2e:<pid>`, by the next run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tests::{run, wait_until};

/// Bound on anything that could hang (an engine that does not answer, a container that stays).
const HANG: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn static_bindir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("S6RS_STATIC_BINDIR") {
        return Some(PathBuf::from(d));
    }
    ["musl", "gnu"]
        .map(|env| workspace().join(format!("target/x86_64-unknown-linux-{env}/release")))
        .into_iter()
        .find(|d| d.join("s6-rs").exists())
}

fn docker(args: &[&str]) -> (i32, String, String) {
    run(Command::new("timeout")
        .arg(HANG.as_secs().to_string())
        .arg("docker")
        .args(args))
}

/// Images are `s6rs-e2e:<pid of the test process>`: concurrent runs (other worktrees) do not
/// share one, and a run removes those whose process is gone (a test binary has no teardown).
const IMAGE_REPO: &str = "s6rs-e2e";

fn remove_stale_images() {
    let (_, tags, _) = docker(&["images", "--format", "{{.Tag}}", IMAGE_REPO]);
    for tag in tags.lines() {
        // `<pid>` or `<pid>-debian-s6`.
        let stale = tag
            .split('-')
            .next()
            .unwrap_or("")
            .parse::<u32>()
            .map_or(true, |pid| !Path::new(&format!("/proc/{pid}")).exists());
        if stale {
            let _ = docker(&["rmi", "-f", &format!("{IMAGE_REPO}:{tag}")]);
        }
    }
}

/// The image tag, built once per test binary; `Err(why)` when a prerequisite is missing.
fn image() -> Result<&'static str, String> {
    static IMAGE: OnceLock<Result<&'static str, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let (code, _, err) = docker(&["info"]);
            if code != 0 {
                return Err(format!(
                    "no Docker engine answers (`docker info`: {}); scripts/setup starts dockerd",
                    err.lines().last().unwrap_or("not installed")
                ));
            }
            if !Path::new("/bin/busybox").exists() {
                return Err("/bin/busybox missing (apt-get install busybox-static)".into());
            }
            let bindir = static_bindir()
                .ok_or("static build missing (scripts/build-static, or set S6RS_STATIC_BINDIR)")?;
            remove_stale_images();
            let tag: &'static str =
                Box::leak(format!("{IMAGE_REPO}:{}", std::process::id()).into_boxed_str());
            let (code, out, err) = run(Command::new(workspace().join("examples/rootfs/build"))
                .arg(tag)
                .env("S6RS_INSTALL_NOBUILD", "1")
                .env("S6RS_STATIC_BINDIR", &bindir));
            assert_eq!(code, 0, "examples/rootfs/build: {out}{err}");
            let (_, size, _) = docker(&["image", "inspect", "-f", "{{.Size}}", tag]);
            eprintln!("figure: image size {} bytes", size.trim());
            Ok(tag)
        })
        .clone()
}

/// The image, or `None` after saying why (a failure under `S6RS_REQUIRE_ALL=1`).
fn prerequisites() -> Option<&'static str> {
    match image() {
        Ok(tag) => Some(tag),
        Err(why) => {
            assert!(
                std::env::var_os("S6RS_REQUIRE_ALL").is_none_or(|v| v != "1"),
                "S6RS_REQUIRE_ALL=1 and the Docker test cannot run: {why}"
            );
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A container, removed at drop.
struct Container {
    name: String,
}

impl Container {
    /// `docker run -d` with `opts` (before the image).
    fn run(image: &str, opts: &[&str]) -> Container {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("s6rs-e2e-{}-{n}", std::process::id());
        let mut args = vec!["run", "-d", "--name", &name, "-e", "APP_GREETING=hi"];
        args.extend_from_slice(opts);
        args.push(image);
        let (code, _, err) = docker(&args);
        assert_eq!(code, 0, "docker run: {err}");
        Container { name }
    }

    fn exec(&self, argv: &[&str]) -> (i32, String, String) {
        let mut args = vec!["exec", &self.name];
        args.extend_from_slice(argv);
        docker(&args)
    }

    fn sh(&self, script: &str) -> (i32, String, String) {
        self.exec(&["sh", "-c", script])
    }

    fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "-f", format, &self.name])
            .1
            .trim()
            .to_string()
    }

    fn logs(&self) -> String {
        let (_, out, err) = docker(&["logs", &self.name]);
        out + &err
    }

    /// Until sshd's `n`-th line (one per start) is in `docker logs` with its `[sshd]` prefix,
    /// and in the logdir's `current`, stamped with the local time (`T`): sshd's logger,
    /// s6-log, writes both.
    /// Then exactly `n` of each: nothing doubled, nothing lost.
    fn wait_sshd_logged(&self, n: usize) {
        let in_docker_logs = || self.logs().lines().filter(|l| *l == SSHD_LINE).count();
        let in_logdir = || {
            let (_, current, _) = self.exec(&["cat", "/run/log/sshd/current"]);
            current
                .lines()
                .filter(|l| iso_stamped(l, SSHD_LINE))
                .count()
        };
        assert!(
            wait_until(HANG, || in_docker_logs() >= n),
            "want {n} x {SSHD_LINE:?} in docker logs:\n{}",
            self.logs()
        );
        assert!(
            wait_until(HANG, || in_logdir() >= n),
            "want {n} x \"<local time>  {SSHD_LINE}\" in /run/log/sshd/current:\n{}",
            self.exec(&["cat", "/run/log/sshd/current"]).1
        );
        assert_eq!(in_docker_logs(), n, "{}", self.logs());
        assert_eq!(
            in_logdir(),
            n,
            "{}",
            self.exec(&["cat", "/run/log/sshd/current"]).1
        );
    }

    /// Until the overview command says every service is as wanted (exit 0).
    fn wait_all_ready(&self) -> Duration {
        let t0 = Instant::now();
        let ok = wait_until(HANG, || self.exec(&["s6-rs-status"]).0 == 0);
        let (code, out, err) = self.exec(&["s6-rs-status"]);
        assert!(
            ok,
            "not all ready: status {code}\n{out}{err}\nlogs:\n{}",
            self.logs()
        );
        t0.elapsed()
    }

    /// `docker wait`: the container's exit code.
    fn wait(&self) -> i32 {
        let (code, out, err) = docker(&["wait", &self.name]);
        assert_eq!(code, 0, "docker wait: {err}");
        out.trim().parse().unwrap_or(-1)
    }

    fn app_pid(&self) -> String {
        let (code, out, err) = self.exec(&["s6-svstat", "-p", "/etc/s6/app"]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    }
}

/// sshd's line as its logger prints it on the container's stdout: the `p"[sshd]"` prefix and
/// one space, then the line.
const SSHD_LINE: &str = "[sshd] sshd: Server listening on 0.0.0.0 port 22 (pretend)";

/// `@` and 24 lowercase hex digits of a TAI64N label of our era.
fn tai64n_label(s: &str) -> bool {
    s.strip_prefix('@').is_some_and(|hex| {
        hex.len() == 24
            && hex.starts_with("40000000")
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `line` is s6-log's `T` stamp, local time `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` and two spaces,
/// then `text`.
fn iso_stamped(line: &str, text: &str) -> bool {
    line.strip_suffix(text)
        .and_then(|l| l.strip_suffix("  "))
        .is_some_and(|stamp| {
            let b = stamp.as_bytes();
            b.len() == 29
                && b.iter().enumerate().all(|(i, &c)| match i {
                    4 | 7 => c == b'-',
                    10 => c == b' ',
                    13 | 16 => c == b':',
                    19 => c == b'.',
                    _ => c.is_ascii_digit(),
                })
        })
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

#[test]
fn services_come_up_are_controlled_through_exec_and_stop_fast() {
    let Some(img) = prerequisites() else { return };
    let t0 = Instant::now();
    let c = Container::run(img, &[]);
    c.wait_all_ready();
    eprintln!(
        "figure: docker run until every service ready: {:?}",
        t0.elapsed()
    );

    // The overview, as a user sees it, and as JSON.
    let (code, out, _) = c.exec(&["s6-rs-status"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("SERVICE"), "{out}");
    for svc in ["app ", "sshd ", "sshd/log "] {
        let l = lines
            .iter()
            .find(|l| l.starts_with(svc))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(l.contains(" up ") && l.contains(" yes "), "{l}");
    }
    let (code, json, _) = c.exec(&["s6-rs-status", "--json"]);
    assert_eq!(code, 0);
    assert!(
        json.starts_with("[\n{\"name\":\"app\",\"dir\":\"/etc/s6/app\""),
        "{json}"
    );
    assert_eq!(json.matches("\"ready\":true").count(), 3, "{json}");

    // s6-svc and s6-svstat through docker exec.
    let (code, out, _) = c.exec(&["s6-svstat", "/etc/s6/app"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("up (pid "), "{out}");
    assert_eq!(c.exec(&["s6-svc", "-wd", "-d", "/etc/s6/app"]).0, 0);
    assert!(c.exec(&["s6-svstat", "/etc/s6/app"]).1.starts_with("down "));
    let (code, out, _) = c.exec(&["s6-rs-status"]);
    assert_eq!(code, 0, "down on purpose is as wanted: {out}");
    assert_eq!(c.exec(&["s6-svc", "-wu", "-u", "/etc/s6/app"]).0, 0);
    assert_eq!(
        c.inspect("{{.State.Running}}"),
        "true",
        "svc -d does not stop the container"
    );

    // An orphan is reparented to process 1 (s6-svscan) and reaped.
    assert_eq!(c.sh("sh -c 'sleep 0.2 &'").0, 0);
    let gone = wait_until(HANG, || {
        let (_, ps, _) = c.exec(&["ps", "-o", "pid,stat,args"]);
        !ps.lines()
            .any(|l| l.contains("sleep 0.2") || l.split_whitespace().nth(1) == Some("Z"))
    });
    assert!(
        gone,
        "orphan not reaped: {}",
        c.exec(&["ps", "-o", "pid,ppid,stat,args"]).1
    );

    // sshd's logger: its line in docker logs, prefixed, and in the logdir, stamped; a
    // rotation (s6-svc -a: SIGALRM to s6-log) archives it as @<TAI64N>.s.
    c.wait_sshd_logged(1);
    assert_eq!(c.exec(&["s6-svc", "-a", "/etc/s6/sshd/log"]).0, 0);
    let archived = || {
        let (_, out, _) = c.sh("cat /run/log/sshd/@*.s");
        out.lines().any(|l| iso_stamped(l, SSHD_LINE))
    };
    assert!(
        wait_until(HANG, archived),
        "no rotated archive: {}",
        c.exec(&["ls", "-l", "/run/log/sshd"]).1
    );
    // s6-log makes its stdout non-blocking: log/run gave it a description of its own, so the
    // container's stdout stays blocking for process 1 and every service (the app's writes
    // never fail with EAGAIN when Docker's pipe is full).
    let nonblocking = |pid: &str| {
        let (_, info, _) = c.exec(&["cat", &format!("/proc/{pid}/fdinfo/1")]);
        info.lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .map(|f| f & libc::O_NONBLOCK as u32 != 0)
    };
    let (_, logger, _) = c.exec(&["s6-svstat", "-p", "/etc/s6/sshd/log"]);
    assert_eq!(nonblocking(logger.trim()), Some(true), "s6-log's stdout");
    assert_eq!(nonblocking(&c.app_pid()), Some(false), "the app's stdout");
    assert_eq!(nonblocking("1"), Some(false), "s6-svscan's stdout");

    let (_, ls, _) = c.exec(&["ls", "/run/log/sshd"]);
    let names: Vec<&str> = ls.lines().collect();
    assert!(
        names.contains(&"current") && names.contains(&"lock"),
        "{ls}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.strip_suffix(".s").is_some_and(tai64n_label)),
        "{ls}"
    );

    let logs = c.logs();
    assert!(logs.contains("app: started (pid"), "{logs}");
    assert!(
        logs.contains("init: running /etc/cont-init.d/10-runtime-dirs"),
        "{logs}"
    );

    let t0 = Instant::now();
    let (code, _, err) = docker(&["stop", &c.name]);
    let dt = t0.elapsed();
    assert_eq!(code, 0, "{err}");
    eprintln!("figure: docker stop: {dt:?}");
    assert_eq!(c.inspect("{{.State.ExitCode}}"), "0");
    assert!(c
        .logs()
        .contains("container: every service is down, exiting with status 0"));
}

#[test]
fn the_apps_exit_status_is_the_containers() {
    let Some(img) = prerequisites() else { return };
    let crash = Container::run(img, &[]);
    let killed = Container::run(img, &[]);
    let termed = Container::run(img, &[]);
    let docker_killed = Container::run(img, &[]);
    for c in [&crash, &killed, &termed, &docker_killed] {
        c.wait_all_ready();
    }
    assert_eq!(crash.sh("echo 3 > /run/app/crash").0, 0);
    let pid = killed.app_pid();
    assert_eq!(killed.exec(&["kill", "-KILL", &pid]).0, 0);
    let pid = termed.app_pid();
    assert_eq!(termed.exec(&["kill", "-TERM", &pid]).0, 0);
    assert_eq!(docker(&["kill", &docker_killed.name]).0, 0);
    assert_eq!(crash.wait(), 3, "{}", crash.logs());
    assert_eq!(killed.wait(), 137, "{}", killed.logs());
    assert_eq!(termed.wait(), 143, "{}", termed.logs());
    assert_eq!(docker_killed.wait(), 137);
}

#[test]
fn read_only_root_and_an_unprivileged_user() {
    let Some(img) = prerequisites() else { return };
    let ro = Container::run(img, &["--read-only", "--tmpfs", "/run"]);
    let user = Container::run(
        img,
        &["--user", "1000:1000", "--tmpfs", "/run:uid=1000,gid=1000"],
    );
    let both = Container::run(
        img,
        &[
            "--read-only",
            "--user",
            "1000:1000",
            "--tmpfs",
            "/run:uid=1000,gid=1000",
        ],
    );
    for c in [&ro, &user, &both] {
        c.wait_all_ready();
        c.wait_sshd_logged(1);
        assert_eq!(c.exec(&["s6-svc", "-wr", "-r", "/etc/s6/sshd"]).0, 0);
        c.wait_all_ready();
        // The restarted sshd's line through the same logger, into the same logdir.
        c.wait_sshd_logged(2);
    }
    // The logger runs as the container's user and made its logdir as that user.
    for (c, uid) in [(&ro, "0"), (&user, "1000"), (&both, "1000")] {
        let (_, owner, _) = c.exec(&["stat", "-c", "%u", "/run/log/sshd"]);
        assert_eq!(owner.trim(), uid);
    }
    assert_ne!(ro.sh("touch /etc/x").0, 0, "the root is read-only");
    let (_, ps, _) = user.exec(&["ps", "-o", "user,args"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("1000") && l.contains("s6-svscan")),
        "{ps}"
    );
    for c in [ro, user, both] {
        assert_eq!(docker(&["stop", &c.name]).0, 0);
        assert_eq!(c.inspect("{{.State.ExitCode}}"), "0", "{}", c.logs());
    }
}

#[test]
fn docker_restart_comes_back_with_every_service() {
    let Some(img) = prerequisites() else { return };
    let c = Container::run(img, &[]);
    c.wait_all_ready();
    for round in 0..2 {
        let (code, _, err) = docker(&["restart", &c.name]);
        assert_eq!(code, 0, "{err}");
        c.wait_all_ready();
        let logs = c.logs();
        assert!(!logs.contains("File exists"), "round {round}: {logs}");
        assert_eq!(
            logs.matches("init: starting the services of /etc/s6")
                .count(),
            round + 2,
            "{logs}"
        );
        // The logger came back too: one more prefixed sshd line in docker logs per boot.
        let sshd_lines = || c.logs().lines().filter(|l| *l == SSHD_LINE).count();
        assert!(
            wait_until(HANG, || sshd_lines() == round + 2),
            "{}",
            c.logs()
        );
    }
    // The container's /run (its writable layer) kept the previous run's supervise/ and event/.
    assert_eq!(c.exec(&["test", "-p", "/run/s6/svscan/control"]).0, 0);
}

#[test]
fn healthcheck_turns_healthy_and_a_named_service_down_turns_it_unhealthy() {
    let Some(img) = prerequisites() else { return };
    let c = Container::run(img, &[]);
    let health = || c.inspect("{{.State.Health.Status}}");
    assert!(
        wait_until(HANG, || health() == "healthy"),
        "{}: {}",
        health(),
        c.inspect("{{json .State.Health}}")
    );
    // The probe by hand: all named services ready and up for 2 s.
    let probe = [
        "s6-svstat",
        "--ready",
        "--up-for",
        "2",
        "/etc/s6/app",
        "/etc/s6/sshd",
        "/etc/s6/sshd/log",
    ];
    assert_eq!(c.exec(&probe).0, 0);
    // A restart resets "up for" (checked with a bound no busy machine reaches between two
    // docker execs), and the probe passes again once sshd has run 2 s.
    assert_eq!(c.exec(&["s6-svc", "-wr", "-r", "/etc/s6/sshd"]).0, 0);
    let (code, _, err) = c.exec(&["s6-svstat", "--up-for", "30", "/etc/s6/sshd"]);
    assert_eq!(code, 1, "just restarted: {err}");
    assert!(err.contains("/etc/s6/sshd is not ready: up for "), "{err}");
    assert!(wait_until(HANG, || c.exec(&probe).0 == 0));
    // Down on purpose: the overview of the scan directory passes (sshd is as wanted), the
    // probe that names sshd fails and turns the container unhealthy.
    assert_eq!(c.exec(&["s6-svc", "-wd", "-d", "/etc/s6/sshd"]).0, 0);
    assert_eq!(c.exec(&["s6-rs-status", "/etc/s6"]).0, 0);
    assert_eq!(c.exec(&probe).0, 1);
    assert!(wait_until(HANG, || health() == "unhealthy"), "{}", health());
    assert_eq!(c.exec(&["s6-svc", "-u", "/etc/s6/sshd"]).0, 0);
    assert!(wait_until(HANG, || health() == "healthy"), "{}", health());
}

/// The same tree with skarnet's s6 (Debian's 2.11, `examples/rootfs/build --debian-s6`) in
/// place of ours: it boots and passes the app's exit status the same way (the image is plain
/// s6 protocol). After `docker restart` it is printed, not asserted, what s6 does with the
/// previous run's state on /run (2.11.3.2 loops: `unable to mkdir /run/s6/event/app: File
/// exists`), the case ours handles above.
#[test]
fn the_same_image_with_skarnets_s6_for_comparison() {
    let Some(_) = prerequisites() else { return };
    if !Path::new("/usr/bin/s6-svscan").exists() {
        eprintln!("skipped: Debian's s6 is not installed (apt-get install s6)");
        return;
    }
    let tag = format!("{IMAGE_REPO}:{}-debian-s6", std::process::id());
    let (code, out, err) = run(Command::new(workspace().join("examples/rootfs/build"))
        .arg("--debian-s6")
        .arg(&tag));
    assert_eq!(code, 0, "examples/rootfs/build --debian-s6: {out}{err}");
    let up = |c: &Container| {
        ["app", "sshd", "sshd/log"].iter().all(|s| {
            c.exec(&["s6-svstat", &format!("/etc/s6/{s}")])
                .1
                .starts_with("up ")
        })
    };
    let crash = Container::run(&tag, &[]);
    let restarted = Container::run(&tag, &[]);
    for c in [&crash, &restarted] {
        assert!(wait_until(HANG, || up(c)), "{}", c.logs());
    }
    assert_eq!(crash.sh("echo 3 > /run/app/crash").0, 0);
    assert_eq!(crash.wait(), 3, "{}", crash.logs());
    assert_eq!(docker(&["restart", &restarted.name]).0, 0);
    let back = wait_until(Duration::from_secs(5), || up(&restarted));
    let logs = restarted.logs();
    let why = logs.lines().find(|l| l.contains("fatal")).unwrap_or("-");
    eprintln!(
        "figure: skarnet's s6 after docker restart: services back: {back}; first fatal: {why}"
    );
    drop((crash, restarted));
    let _ = docker(&["rmi", "-f", &tag]);
}
