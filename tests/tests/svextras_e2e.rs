//! End-to-end tests of the svextras programs under real supervisors: `s6-svperms` giving a
//! group control of a root service (checked from unprivileged uids), `s6-svlink` /
//! `s6-svunlink` against a running s6-svscan (ours, and Debian's when installed), and an
//! instanced service made, instances created, controlled, listed and deleted. Every wait is
//! on an observable condition; every process is killed by pid / process group at the end.

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::common::status::StatusRecord;
use tests::{
    bin, bindir, kill_group, make_service, real_s6, run, wait_until, Proc, Scratch, Sup, SOON,
};

/// PATH with `first` before the usual directories, for programs that exec others.
fn path_with(first: &Path) -> OsString {
    let mut p = first.as_os_str().to_os_string();
    p.push(":");
    p.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
    p
}

fn ours(name: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    let mut c = Command::new(bin(name));
    for a in args {
        c.arg(a);
    }
    c.env("PATH", path_with(&bindir()));
    run(&mut c)
}

fn status(dir: &Path) -> Option<StatusRecord> {
    StatusRecord::read(dir).ok()
}

/// Kills the process groups of the services in `dirs` at drop (services run in sessions of
/// their own, so killing the supervisors' group does not reach them).
struct Services(Vec<PathBuf>);

impl Drop for Services {
    fn drop(&mut self) {
        for d in &self.0 {
            if let Some(st) = status(d) {
                kill_group(st.pid_t());
            }
        }
    }
}

fn unused_id(taken: impl Fn(u32) -> bool, skip: &[u32]) -> u32 {
    (61357..64000)
        .find(|&n| !taken(n) && !skip.contains(&n))
        .expect("a free id")
}

/// Run `argv` as `uid`/`gid` with supplementary `groups` (set in the child before exec);
/// (exit code, stderr).
fn as_user(
    uid: u32,
    gid: u32,
    groups: &[u32],
    argv: &[&dyn AsRef<std::ffi::OsStr>],
) -> (i32, String) {
    let mut c = Command::new(argv[0]);
    for a in &argv[1..] {
        c.arg(a);
    }
    let groups: Vec<libc::gid_t> = groups.to_vec();
    c.current_dir("/");
    // Built before the fork: nothing in the child allocates.
    let gids: Vec<nix::unistd::Gid> = groups
        .iter()
        .map(|&g| nix::unistd::Gid::from_raw(g))
        .collect();
    let hook = move || {
        nix::unistd::setgroups(&gids)?;
        nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))?;
        nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))?;
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec and only makes the three
    // identity system calls, on values built before the fork.
    unsafe { c.pre_exec(hook) };
    let (code, _, err) = run(&mut c);
    (code, err)
}

fn reachable_by_others(p: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(p) else {
        return false;
    };
    real.ancestors()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

#[test]
fn svperms_gives_a_group_control_and_nobody_else() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (to run commands as other uids)");
        return;
    }
    if !["s6-svc", "s6-svstat"]
        .iter()
        .all(|p| reachable_by_others(&bin(p)))
    {
        eprintln!("skipped: the built programs are not executable by other uids");
        return;
    }
    // Under our supervisor and Debian's: the modes are the protocol, whoever made them.
    for supervise in tests::supervisors() {
        let t = Scratch::new("svperms");
        std::fs::set_permissions(&t.path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = make_service(&t.path, "svc", "exec sleep 1000");
        let sup = Sup::start_bin(&supervise, &t, "svc");
        let up = sup.wait(|s| s.is_up());
        let has_user = |n| {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(n))
                .ok()
                .flatten()
                .is_some()
        };
        let has_group = |n| {
            nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(n))
                .ok()
                .flatten()
                .is_some()
        };
        let uid = unused_id(has_user, &[]);
        let prim = unused_id(has_group, &[]);
        let grp = unused_id(has_group, &[prim]);
        let svc = bin("s6-svc");
        let svstat = bin("s6-svstat");

        // Before: not even a member of the (future) group may control or read it.
        let (code, err) = as_user(uid, prim, &[grp], &[&svc, &"-d", &d]);
        assert_eq!(code, 111, "{err}");
        assert!(err.contains("Permission denied"), "{err}");

        let (code, out, err) = ours("s6-svperms", &[&"-G", &format!(":{grp}"), &d]);
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
        let m = std::fs::metadata(d.join("supervise")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.gid()), (0o710, grp));
        let m = std::fs::metadata(d.join("supervise/control")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.gid()), (0o620, grp));
        let (code, out, _) = ours("s6-svperms", &[&d]);
        assert_eq!(code, 0);
        assert!(
            out.contains(&format!("{} control: group {grp}\n", d.display())),
            "{out}"
        );

        // Outside the group: still refused, and the service is untouched.
        let (code, err) = as_user(uid, prim, &[], &[&svc, &"-d", &d]);
        assert_eq!(code, 111, "{err}");
        assert!(err.contains("Permission denied"), "{err}");
        assert_ne!(as_user(uid, prim, &[], &[&svstat, &d]).0, 0);
        assert_eq!(sup.status().pid, up.pid);

        // A member: may read the status and stop the service.
        assert_eq!(
            as_user(uid, prim, &[grp], &[&svstat, &d]),
            (0, String::new())
        );
        assert_eq!(
            as_user(uid, prim, &[grp], &[&svc, &"-d", &d]),
            (0, String::new())
        );
        let st = sup.wait(|s| s.pid == 0);
        assert!(!st.want_up);
    }
}

fn start_svscan(svscan: &Path, t: &Scratch, scan: &Path, path_first: &Path) -> Proc {
    let mut c = Command::new(svscan);
    c.arg(scan).env("PATH", path_with(path_first));
    let p = Proc::spawn_logged(&mut c, &t.path, "svscan");
    assert!(
        wait_until(SOON, || tests::common::control::send(
            scan,
            ".s6-svscan",
            b""
        )
        .is_ok()),
        "s6-svscan did not start on {}",
        scan.display()
    );
    p
}

#[test]
fn svlink_and_svunlink_against_a_running_svscan() {
    let mut scanners = vec![(bin("s6-svscan"), bindir())];
    match real_s6("s6-svscan") {
        Some(p) => scanners.push((p, PathBuf::from("/usr/bin"))),
        None => eprintln!("note: Debian's s6-svscan is not installed; interop part skipped"),
    }
    for (svscan, first) in scanners {
        let t = Scratch::new("svlink");
        let scan = t.join("scan");
        std::fs::create_dir(&scan).unwrap();
        let svcs = t.join("svcs");
        std::fs::create_dir(&svcs).unwrap();
        let web = make_service(&svcs, "web", "exec sleep 1000");
        let log = make_service(&web, "log", "exec cat > /dev/null");
        let _services = Services(vec![web.clone(), log.clone()]);
        let _scanner = start_svscan(&svscan, &t, &scan, &first);

        let (code, out, err) = ours("s6-svlink", &[&scan, &web, &"www"]);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "", ""),
            "{svscan:?}"
        );
        // It returns once both supervisors run.
        assert_eq!(std::fs::read_link(scan.join("www")).unwrap(), web);
        assert_eq!(tests::common::lock::is_supervised(&web), Ok(true));
        assert_eq!(tests::common::lock::is_supervised(&log), Ok(true));
        let m = std::fs::metadata(web.join("event")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o3730);
        assert!(wait_until(SOON, || status(&web).is_some_and(|s| s.is_up())));
        let pid = status(&web).map(|s| s.pid_t()).unwrap_or(0);

        // Linking again: a warning, nothing waited for.
        let (code, _, err) = ours("s6-svlink", &[&scan, &web, &"www"]);
        assert_eq!(code, 0);
        assert_eq!(
            err,
            format!(
                "s6-svlink: warning: supervisor already running on {}\ns6-svlink: warning: supervisor already running on {}/log\n",
                web.display(),
                web.display()
            )
        );

        // s6-svunlink returns once both supervisors have exited.
        let (code, out, err) = ours("s6-svunlink", &[&scan, &"www"]);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "", ""),
            "{svscan:?}"
        );
        assert!(std::fs::symlink_metadata(scan.join("www")).is_err());
        // Both have said `x` (exiting); their locks go with their processes, just after.
        assert!(wait_until(SOON, || tests::common::lock::is_supervised(
            &web
        ) == Ok(false)
            && tests::common::lock::is_supervised(&log) == Ok(false)));
        // SAFETY: kill with signal 0 only probes the pid.
        assert!(wait_until(SOON, || unsafe { libc::kill(pid, 0) } != 0));
    }
}

#[test]
fn svlink_refuses_without_svscan_and_leaves_nothing() {
    let t = Scratch::new("svlink-err");
    let scan = t.join("scan");
    std::fs::create_dir_all(scan.join(".s6-svscan")).unwrap();
    std::fs::write(scan.join(".s6-svscan/lock"), "").unwrap();
    let web = make_service(&t.path, "web", "exec sleep 1000");
    let (code, _, err) = ours("s6-svlink", &[&scan, &web]);
    assert_eq!(
        (code, err),
        (
            1,
            format!(
                "s6-svlink: fatal: s6-svscan not running on {}\n",
                scan.display()
            )
        )
    );
    assert_eq!(std::fs::read_dir(&scan).unwrap().count(), 1);
}

#[test]
fn an_instance_is_created_controlled_listed_and_deleted() {
    if !Path::new("/usr/bin/execlineb").exists() && !Path::new("/bin/execlineb").exists() {
        eprintln!("skipped: execline is not installed (the generated run script needs it)");
        return;
    }
    let t = Scratch::new("instance");
    let tpl = t.join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    tests::write_script(
        &tpl.join("run"),
        &format!("echo \"$1\" >> {}/names\nexec sleep 1000", t.path.display()),
    );
    let scan = t.join("scan");
    std::fs::create_dir(&scan).unwrap();
    let isvc = scan.join("isvc");
    let (code, out, err) = ours("s6-instance-maker", &[&"-c", &"5", &tpl, &isvc]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let one = isvc.join("instances/one");
    let _services = Services(vec![one.clone(), isvc.clone()]);
    let _scanner = start_svscan(&bin("s6-svscan"), &t, &scan, &bindir());
    assert!(
        wait_until(SOON, || tests::common::lock::is_scanned(
            &isvc.join("instance")
        ) == Ok(true)),
        "the instanced service's s6-svscan did not start"
    );

    let (code, out, err) = ours("s6-instance-create", &[&isvc, &"one"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert_eq!(
        std::fs::read_link(isvc.join("instance/one")).unwrap(),
        Path::new("../instances/one")
    );
    assert_eq!(tests::common::lock::is_supervised(&one), Ok(true));
    assert!(wait_until(SOON, || std::fs::read_to_string(
        t.join("names")
    )
    .is_ok_and(|s| s == "one\n")));

    assert_eq!(
        ours("s6-instance-list", &[&isvc]),
        (0, "one\n".into(), String::new())
    );

    let (code, out, err) = ours(
        "s6-instance-control",
        &[&"-wd", &"-T", &"10000", &"-d", &isvc, &"one"],
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert_eq!(status(&one).map(|s| s.pid), Some(0));
    let (code, out, _) = ours(
        "s6-instance-status",
        &[&"-o", &"up,wantedup", &isvc, &"one"],
    );
    assert_eq!((code, out.as_str()), (0, "false false\n"));
    assert_eq!(ours("s6-instance-control", &[&"-u", &isvc, &"one"]).0, 0);
    assert!(wait_until(SOON, || status(&one).is_some_and(|s| s.is_up())));
    let pid = status(&one).map(|s| s.pid_t()).unwrap_or(0);

    let (code, out, err) = ours("s6-instance-delete", &[&isvc, &"one"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert!(std::fs::symlink_metadata(&one).is_err());
    assert!(std::fs::symlink_metadata(isvc.join("instance/one")).is_err());
    // SAFETY: kill with signal 0 only probes the pid.
    assert!(wait_until(SOON, || unsafe { libc::kill(pid, 0) } != 0));
    assert_eq!(
        ours("s6-instance-list", &[&isvc]),
        (0, String::new(), String::new())
    );
}

#[test]
fn background_watch_adopts_the_daemon_and_forwards_signals() {
    let t = Scratch::new("bgwatch");
    let pidfile = t.join("pidfile");
    let notif = t.join("notif");
    let script = format!(
        "exec 3>{}; exec {} -d 3 {} /bin/sh -c 'sleep 1000 & echo $! > {}'",
        notif.display(),
        bin("s6-background-watch").display(),
        pidfile.display(),
        pidfile.display()
    );
    let mut p = Proc::spawn_logged(
        Command::new("/bin/sh").arg("-c").arg(&script),
        &t.path,
        "bg",
    );
    assert!(wait_until(SOON, || std::fs::read(&notif).is_ok_and(|b| b == b"\n")));
    let daemon: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The daemon's parent exited: it is ours now (we are its subreaper).
    let ppid = tests::proc_table()
        .into_iter()
        .find(|e| e.0 == daemon)
        .map(|e| e.1);
    assert_eq!(ppid, Some(p.pid()));
    p.signal(libc::SIGTERM);
    let st = p
        .wait_timeout(SOON)
        .expect("s6-background-watch exits with the daemon");
    assert_eq!(st.code(), Some(128 + libc::SIGTERM));
    // SAFETY: kill with signal 0 only probes the pid.
    assert!(wait_until(SOON, || unsafe { libc::kill(daemon, 0) } != 0));
}
