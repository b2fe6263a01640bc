//! End-to-end test of the runit face: a phusion/baseimage-style tree (`runsvdir -P
//! /etc/service`, services whose ./run uses `chpst -u`), driven with `sv status`,
//! `sv -w 30 stop`, `sv start`, as such an image does, on our programs only. Behaviour only,
//! never timings.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::status::StatusRecord;
use tests::{bin, bindir, cmdline, kill_group, make_service, run, wait_until, Proc, Scratch, SOON};

/// Kills the services' process groups (they run in their own sessions) at drop.
struct Services(Vec<PathBuf>);

impl Drop for Services {
    fn drop(&mut self) {
        for d in &self.0 {
            if let Ok(st) = StatusRecord::read(d) {
                kill_group(st.pid_t());
            }
        }
    }
}

fn path_env() -> String {
    format!("{}:/usr/bin:/bin", bindir().display())
}

fn status(d: &Path) -> Option<StatusRecord> {
    StatusRecord::read(d).ok()
}

fn sv(svdir: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(bin("sv"))
        .args(args)
        .env("SVDIR", svdir)
        .env("PATH", path_env())
        .env_remove("SVWAIT"))
}

fn uid_of(pid: i32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn runit_style_tree_under_runsvdir() {
    let Some(nobody) = common::users::user_by_name(b"nobody") else {
        eprintln!("skipped: no nobody account");
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (chpst -u)");
        return;
    }
    let t = Scratch::new("alias-runit");
    let svdir = t.join("etc/service");
    std::fs::create_dir_all(&svdir).unwrap();
    let app = make_service(&svdir, "app", "exec chpst -u nobody sleep 1000");
    let web = make_service(&svdir, "web", "exec sleep 1000");
    let _guard = Services(vec![app.clone(), web.clone()]);

    let mut cmd = Command::new(bin("runsvdir"));
    cmd.arg("-P")
        .arg(&svdir)
        .env("PATH", path_env())
        .current_dir(&t.path);
    let tree = Proc::spawn_logged(&mut cmd, &t.path, "runsvdir");
    for d in [&app, &web] {
        assert!(
            wait_until(SOON, || status(d).is_some_and(|s| s.is_up())),
            "{} never came up",
            d.display()
        );
    }
    // runsvdir became s6-svscan -t0 DIR, in the same process.
    let argv = cmdline(tree.pid());
    assert!(argv[0].ends_with("s6-svscan"), "{argv:?}");
    assert_eq!(argv[1..], ["-t0".to_string(), svdir.display().to_string()]);

    // chpst -u dropped the app to nobody, in the process the supervisor started.
    let app_pid = status(&app).unwrap().pid_t();
    assert!(wait_until(SOON, || cmdline(app_pid)
        .first()
        .map(String::as_str)
        == Some("sleep")));
    assert_eq!(uid_of(app_pid), Some(nobody.uid));

    // sv status /etc/service/*
    let (code, out, err) = sv(
        &svdir,
        &[
            "status",
            &app.display().to_string(),
            &web.display().to_string(),
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("{}: up (pid {app_pid} ", app.display())));
    assert!(lines[1].starts_with(&format!("{}: up (pid ", web.display())));

    // sv -w 30 stop app: waits until it is down, prints the status.
    let (code, out, err) = sv(&svdir, &["-w", "30", "stop", "app"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with(&format!("{}/app: down (signal SIGTERM) ", svdir.display())),
        "{out}"
    );
    let st = status(&app).unwrap();
    assert!(!st.is_up() && !st.want_up);

    // sv start app: up again, as nobody again.
    let (code, out, _) = sv(&svdir, &["start", "app"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("{}/app: up (pid ", svdir.display())),
        "{out}"
    );
    let st = status(&app).unwrap();
    assert!(st.is_up() && st.want_up);
    let pid = st.pid_t();
    assert!(wait_until(SOON, || cmdline(pid)
        .first()
        .map(String::as_str)
        == Some("sleep")));
    assert_eq!(uid_of(pid), Some(nobody.uid));

    // A failing name counts as one failure; the others still run.
    let (code, _, _) = sv(&svdir, &["status", "app", "no-such-service"]);
    assert_eq!(code, 1);
}

#[test]
fn chpst_v_prints_the_chain_and_runs_it() {
    let t = Scratch::new("alias-chpst");
    let e = t.join("env");
    std::fs::create_dir_all(&e).unwrap();
    std::fs::write(e.join("FOO"), "bar\n").unwrap();
    let (code, out, err) = run(Command::new(bin("chpst"))
        .arg("-v")
        .arg("-e")
        .arg(&e)
        .args(["-o", "40", "/bin/sh", "-c", "echo $FOO; ulimit -n"])
        .env("PATH", path_env()));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "bar\n40\n");
    assert_eq!(
        err,
        format!(
            "s6-alias-chpst: info: executing the following command line: s6-envdir -- {} \
             s6-softlimit -o 40 -- /bin/sh -c echo $FOO; ulimit -n\n",
            e.display()
        )
    );
}

#[test]
fn refused_and_unknown_names() {
    let (code, _, err) = run(Command::new(bin("svlogd")).arg("/var/log/x"));
    assert_eq!(code, 100);
    assert!(err.starts_with("s6-alias: fatal: the s6-log program is similar to svlogd"));
    let (code, _, err) = run(Command::new(bin("s6-alias")).arg("nosuch"));
    assert_eq!(
        (code, err.as_str()),
        (100, "s6-alias: fatal: unknown alias: nosuch\n")
    );
}

#[test]
fn any_symlink_to_a_program_runs_it() {
    // As with one binary per program: a link named foo to s6-alias is s6-alias called foo,
    // a link to s6-svc is s6-svc.
    let t = Scratch::new("alias-link");
    let foo = t.join("foo");
    std::os::unix::fs::symlink(bin("s6-alias"), &foo).unwrap();
    let (code, _, err) = run(&mut Command::new(&foo));
    assert_eq!(
        (code, err.as_str()),
        (100, "s6-alias: fatal: unknown alias: foo\n")
    );
    let mysvc = t.join("mysvc");
    std::os::unix::fs::symlink(bin("s6-svc"), &mysvc).unwrap();
    let (code, _, err) = run(&mut Command::new(&mysvc));
    assert_eq!(code, 100);
    assert!(err.starts_with("s6-svc: usage: "), "{err}");
}
