//! Security, in s6's model: who may control a service is decided by file modes and owners
//! that s6-supervise and s6-svscan set as s6 does; nothing they write follows a symlink
//! planted next to their files; names from the scan directory never reach a shell.
//!
//! Needs root (modes, owners, an unprivileged uid through setpriv); without it the tests
//! pass with a note.

mod faults_support;

use faults_support::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use tests::{bin, make_service, run, wait_until, write_script, Scratch, SOON};

const NOBODY: &str = "65534";

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
}

fn as_nobody(prog: &str, args: &[&str], dir: &Path) -> (i32, String, String) {
    run(Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
        ])
        .arg(bin(prog))
        .args(args)
        .arg(dir))
}

fn setpriv_works() -> bool {
    is_root()
        && Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Scratch dirs are 0755 so that uid 65534 can reach the service directories.
fn open_up(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn modes_and_owners_are_s6s() {
    if !is_root() {
        tests::skip("needs root");
        return;
    }
    let mut scan = Scan::new("sec-modes");
    let d = make_service(&scan.dir, "svc", LONG);
    scan.start(&[]);
    wait_up(&d);
    // SAFETY: getegid has no preconditions.
    let egid = unsafe { libc::getegid() };
    let sup = d.join("supervise");
    assert_eq!(mode(&sup) & 0o7777, 0o700, "supervise/");
    let control = sup.join("control");
    assert!(std::fs::metadata(&control).unwrap().file_type().is_fifo());
    assert_eq!(mode(&control) & 0o7777, 0o600, "supervise/control");
    assert_eq!(mode(&sup.join("lock")) & 0o7777, 0o644, "supervise/lock");
    let ev = d.join("event");
    assert_eq!(mode(&ev) & 0o7777, 0o3730, "event/");
    let m = std::fs::metadata(&ev).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, egid), "event/ owner and group");
    for p in [&sup, &control] {
        assert_eq!(std::fs::metadata(p).unwrap().uid(), 0, "{}", p.display());
    }
    let s6 = scan.dir.join(".s6-svscan");
    assert_eq!(mode(&s6) & 0o7777, 0o700, ".s6-svscan/");
    let c = s6.join("control");
    assert!(std::fs::metadata(&c).unwrap().file_type().is_fifo());
    assert_eq!(mode(&c) & 0o7777, 0o600, ".s6-svscan/control");
    assert_eq!(mode(&s6.join("lock")) & 0o7777, 0o600, ".s6-svscan/lock");
}

#[test]
fn an_unprivileged_user_cannot_control_a_root_service() {
    if !setpriv_works() {
        tests::skip("needs root and setpriv");
        return;
    }
    let mut scan = Scan::new("sec-nobody");
    open_up(&scan.scratch.path);
    open_up(&scan.dir);
    let d = make_service(&scan.dir, "svc", LONG);
    open_up(&d);
    let svscan = scan.start(&[]);
    let run1 = wait_up(&d);
    scan.reaper.add(run1);
    let before = status(&d).unwrap();

    let ds = d.display().to_string();
    for cmd in ["-d", "-k", "-x", "-O", "-p"] {
        assert_eq!(
            as_nobody("s6-svc", &[cmd], &d),
            (
                111,
                String::new(),
                format!("s6-svc: warning: unable to control {ds}: Permission denied\n")
            ),
            "s6-svc {cmd} as uid 65534"
        );
    }
    let (rc, _, err) = as_nobody("s6-svscanctl", &["-t"], &scan.dir);
    assert_eq!(rc, 111, "svscanctl -t as uid 65534: {err}");
    assert!(err.contains("Permission denied"), "{err}");
    // Nothing happened: same pid, same flags, same stamp, supervisors alive.
    assert!(tests::stays_true(
        std::time::Duration::from_millis(500),
        || alive(run1) && alive(svscan) && status(&d) == Some(before)
    ));
    assert!(alive(run1) && alive(svscan));
    assert_eq!(status(&d).unwrap(), before, "status untouched");
    assert_eq!(state(run1), Some('S'), "not stopped");
    assert!(scan.supervise_pid("svc").is_some());
    // Root still can.
    assert_eq!(svc(&["-d"], &d), (0, String::new()));
    wait_down(&d);
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let q = e.path();
            out.push(q.clone());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&q, out);
            }
        }
    }
}

#[test]
fn planted_temporary_symlinks_in_supervise_are_not_followed() {
    let scratch = Scratch::new("sec-symlink");
    let d = make_service(&scratch.path, "svc", LONG);
    let sup_dir = d.join("supervise");
    std::fs::create_dir_all(&sup_dir).unwrap();
    let outside = scratch.join("outside-status");
    let outside_dt = scratch.join("outside-tally");
    std::fs::write(&outside, b"precious").unwrap();
    std::fs::write(&outside_dt, b"precious").unwrap();
    std::os::unix::fs::symlink(&outside, sup_dir.join("status.new")).unwrap();
    std::os::unix::fs::symlink(&outside_dt, sup_dir.join("death_tally.new")).unwrap();

    let sup = Sup::start_cmd(Command::new(bin("s6-supervise")).arg(&d), &d, &scratch.path);
    let run1 = wait_up(&d);
    sup.note();
    // A death (death tally write) and a few status writes.
    kill(run1, libc::SIGKILL);
    let run2 = wait_up_other(&d, run1);
    sup.note();
    assert_eq!(svc(&["-d"], &d), (0, String::new()));
    wait_down(&d);
    assert!(!alive(run2));

    assert_eq!(std::fs::read(&outside).unwrap(), b"precious", "status.new");
    assert_eq!(
        std::fs::read(&outside_dt).unwrap(),
        b"precious",
        "death_tally.new"
    );
    for f in ["status", "death_tally"] {
        let m = std::fs::symlink_metadata(sup_dir.join(f)).unwrap();
        assert!(m.file_type().is_file(), "supervise/{f} is a regular file");
    }
    let tally = std::fs::metadata(sup_dir.join("death_tally"))
        .unwrap()
        .len();
    assert!(
        tally >= 14 && tally / 14 * 14 == tally,
        "the deaths were recorded in the real tally ({tally} bytes)"
    );
}

/// FINDING (open): s6-supervise notifies `event/` subscribers by opening every
/// `ftrig1:@...` entry for writing without O_NOFOLLOW (as s6 does), so a member of the
/// event directory's group (it is group-writable, 03730) can plant a symlink there and have
/// the root supervisor write event bytes over the first bytes of any file. Enable once
/// `common::fifodir::notify` opens with O_NOFOLLOW (and checks for a FIFO).
#[test]
fn planted_symlink_in_event_is_not_followed() {
    let scratch = Scratch::new("sec-event-link");
    let d = make_service(&scratch.path, "svc", LONG);
    let outside = scratch.join("outside");
    std::fs::write(&outside, b"precious").unwrap();
    let sup = Sup::start_cmd(Command::new(bin("s6-supervise")).arg(&d), &d, &scratch.path);
    wait_up(&d);
    sup.note();
    std::os::unix::fs::symlink(
        &outside,
        d.join("event/ftrig1:@400000006921234512345678:abcdef"),
    )
    .unwrap();
    assert_eq!(svc(&["-d"], &d), (0, String::new()));
    wait_down(&d);
    assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
}

#[test]
fn hostile_service_names_never_reach_a_shell() {
    let mut scan = Scan::new("sec-names");
    let names = [
        "$(touch pwned1)",
        ";touch pwned2",
        "`touch pwned3`",
        "a b|touch pwned4",
        "x&&touch pwned5",
        "q'\"touch pwned6",
    ];
    let probe = scan.scratch.join("args");
    std::fs::create_dir_all(&probe).unwrap();
    let mut dirs = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let d = make_service(&scan.dir, n, LONG);
        // ./finish receives the name as an argument: it records it, quoted.
        write_script(
            &d.join("finish"),
            &format!("printf '%s' \"$3\" > {}/{i}", probe.display()),
        );
        dirs.push(d);
    }
    // A logged one: s6-svscan also runs `s6-supervise NAME/log` and pipes the pair.
    let logged = dirs[0].clone();
    let logdir = make_service(&logged, "log", "exec cat > /dev/null");
    scan.start(&[]);
    let logger = wait_up(&logdir);
    scan.reaper.add(logger);
    assert!(scan.supervise_pid(&format!("{}/log", names[0])).is_some());
    let mut pids = Vec::new();
    for d in &dirs {
        let p = wait_up(d);
        scan.reaper.add(p);
        pids.push(p);
        assert!(
            wait_until(SOON, || cmdline(p) == ["sleep", "3600"]),
            "the service itself runs normally: {:?}",
            cmdline(p)
        );
    }
    // Every tool handles the names.
    for (i, d) in dirs.iter().enumerate() {
        let (rc, out, err) = run(Command::new(bin("s6-svstat")).arg(d));
        assert_eq!(rc, 0, "svstat {}: {err}", names[i]);
        assert!(out.starts_with("up "), "{out}");
        assert_eq!(svc(&["-d"], d), (0, String::new()));
        wait_down(d);
        assert!(wait_until(SOON, || probe.join(i.to_string()).exists()));
    }
    // ./finish got each name verbatim as its third argument.
    for (i, n) in names.iter().enumerate() {
        let got = std::fs::read_to_string(probe.join(i.to_string())).unwrap_or_default();
        assert_eq!(got, *n);
    }
    let mut all = Vec::new();
    walk(&scan.scratch.path, &mut all);
    let pwned: Vec<_> = all
        .iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("pwned"))
        })
        .collect();
    assert!(pwned.is_empty(), "a shell ran a name: {pwned:?}");
    for p in [
        "/pwned1", "/pwned2", "/pwned3", "/pwned4", "/pwned5", "/pwned6",
    ] {
        assert!(!Path::new(p).exists(), "{p}");
    }
}
