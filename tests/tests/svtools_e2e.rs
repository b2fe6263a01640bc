//! End-to-end tests of `s6-svok`, `s6-svwait`, `s6-svlisten1`, `s6-svlisten`, `s6-svdt`
//! and `s6-svdt-clear` (and their short names): real supervisors (ours, and Debian's
//! s6-supervise 2.11 when installed), real events. Behaviour only, never timings; every
//! process is killed by pid / process group at the end.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tests::{bin, make_service, real_s6, run, supervisors, wait_until, Proc, Scratch, Sup, SOON};

fn tool(name: &str, args: &[&str], dirs: &[&Path]) -> (i32, String, String) {
    run(Command::new(bin(name)).args(args).args(dirs))
}

/// Start a tool in the background (its own process group, killed at drop).
fn background(t: &Scratch, name: &str, args: &[&str], dirs: &[&Path], tag: &str) -> Proc {
    let mut cmd = Command::new(bin(name));
    cmd.args(args).args(dirs);
    Proc::spawn_logged(&mut cmd, &t.path, tag)
}

/// The subscriber FIFOs currently in `dir/event`.
fn subscribers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("event"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("ftrig1:"))
                .collect()
        })
        .unwrap_or_default()
}

fn exit_of(p: &mut Proc) -> i32 {
    p.wait_timeout(SOON)
        .expect("tool exits")
        .code()
        .unwrap_or(-1)
}

#[test]
fn svok_exit_codes() {
    let t = Scratch::new("svok");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    assert_eq!(
        tool("s6-svok", &[], &[&d]),
        (1, String::new(), String::new())
    );
    assert_eq!(tool("s6-svok", &[], &[&t.join("nope")]).0, 1);
    assert_eq!(tool("svok", &["-x"], &[]).0, 1);
    assert_eq!(
        tool("s6-svok", &[], &[]),
        (
            100,
            String::new(),
            "s6-svok: usage: s6-svok servicedir\n".into()
        )
    );
    let file = t.join("afile");
    std::fs::write(&file, "").unwrap();
    assert_eq!(
        tool("s6-svok", &[], &[&file]).2,
        format!(
            "s6-svok: fatal: unable to check {}: Not a directory\n",
            file.display()
        )
    );
    for supervise in supervisors() {
        let sup = Sup::start_bin(&supervise, &t, "svc");
        assert_eq!(
            tool("s6-svok", &[], &[&d]),
            (0, String::new(), String::new())
        );
        sup.ctl(b"dx");
        let mut sup = sup;
        sup.proc.wait_timeout(SOON).expect("supervisor exits");
        assert_eq!(tool("s6-svok", &[], &[&d]).0, 1);
    }
}

#[test]
fn svwait_states_against_both_supervisors() {
    for supervise in supervisors() {
        let t = Scratch::new("svwait");
        let a = make_service(&t.path, "a", "exec sleep 1000");
        let b = make_service(&t.path, "b", "echo >&3; exec sleep 1000");
        std::fs::write(b.join("notification-fd"), "3\n").unwrap();
        let sa = Sup::start_bin(&supervise, &t, "a");
        let sb = Sup::start_bin(&supervise, &t, "b");
        sa.wait(|s| s.is_up());
        sb.wait(|s| s.is_up() && s.ready);

        // Already there: immediate success; no option means -u.
        assert_eq!(
            tool("s6-svwait", &["-u"], &[&a, &b]),
            (0, String::new(), String::new())
        );
        assert_eq!(tool("s6-svwait", &[], &[&a]).0, 0);
        assert_eq!(tool("s6-svwait", &["-U"], &[&b]).0, 0);

        // -o -d returns when one goes down; -a -d waits for both.
        let mut w_or = background(
            &t,
            "s6-svwait",
            &["-o", "-d", "-t", "20000"],
            &[&a, &b],
            "or",
        );
        let mut w_and = background(&t, "svwait", &["-a", "-d", "-t", "20000"], &[&a, &b], "and");
        assert!(wait_until(SOON, || subscribers(&a).len() == 2
            && subscribers(&b).len() == 2));
        sa.ctl(b"d");
        assert_eq!(exit_of(&mut w_or), 0);
        assert!(w_and.wait_timeout(Duration::from_millis(300)).is_none());
        sb.ctl(b"d");
        assert_eq!(exit_of(&mut w_and), 0);

        // -D: down and finish done; -r: restarted.
        sa.wait(|s| s.pid == 0);
        assert_eq!(tool("s6-svwait", &["-D", "-t", "20000"], &[&a]).0, 0);
        sa.ctl(b"u");
        let st = sa.wait(|s| s.is_up());
        let mut w = background(&t, "s6-svwait", &["-r", "-t", "20000"], &[&a], "r");
        assert!(wait_until(SOON, || subscribers(&a).len() == 1));
        sa.ctl(b"r");
        assert_eq!(exit_of(&mut w), 0);
        assert!(sa.wait(|s| s.is_up()).pid != st.pid);

        // Two supervisors exit while waited for up: exit code 2.
        sa.ctl(b"d");
        sa.wait(|s| s.pid == 0);
        let mut w = background(&t, "s6-svwait", &["-u", "-t", "20000"], &[&a, &b], "fail");
        assert!(wait_until(SOON, || subscribers(&b).len() == 1));
        sa.ctl(b"x");
        sb.ctl(b"x");
        assert_eq!(exit_of(&mut w), 2);
        let err = std::fs::read_to_string(t.join("fail.err")).unwrap();
        assert_eq!(
            err,
            "s6-svwait: fatal: some services reported permanent failure or their supervisor died\n"
        );
        // Our FIFOs are gone once we exit.
        assert!(wait_until(SOON, || subscribers(&a).is_empty()
            && subscribers(&b).is_empty()));
    }
}

#[test]
fn svwait_fifo_timeout_and_errors() {
    let t = Scratch::new("svwait-err");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("down"), "").unwrap();
    let sup = Sup::start_bin(&bin("s6-supervise"), &t, "svc");

    // The subscriber FIFO: name and 2.15's mode 0622.
    let mut w = background(&t, "s6-svwait", &["-u"], &[&d], "fifo");
    assert!(wait_until(SOON, || subscribers(&d).len() == 1));
    let name = subscribers(&d).remove(0);
    assert_eq!(name.len(), 39);
    assert!(name.starts_with("ftrig1:@"));
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let md = std::fs::symlink_metadata(d.join("event").join(&name)).unwrap();
    assert!(md.file_type().is_fifo());
    assert_eq!(md.permissions().mode() & 0o7777, 0o622);
    sup.ctl(b"u");
    assert_eq!(exit_of(&mut w), 0);

    assert_eq!(
        tool("s6-svwait", &["-d", "-t", "100"], &[&d]),
        (99, String::new(), "s6-svwait: fatal: timed out\n".into())
    );
    // No servicedir: nothing to wait for.
    assert_eq!(
        tool("s6-svwait", &["-d", "-o", "-t", "100"], &[]),
        (0, String::new(), String::new())
    );
    let usage = "s6-svwait: usage: s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir...\n";
    assert_eq!(tool("s6-svwait", &["-x"], &[&d]).2, usage);
    assert_eq!(tool("s6-svwait", &["-t", "x"], &[&d]).0, 100);
    let nope = t.join("nope");
    assert_eq!(
        tool("s6-svwait", &["-u"], &[&nope]),
        (
            111,
            String::new(),
            format!(
                "s6-svwait: fatal: unable to subscribe to events for {}: No such file or directory\n",
                nope.display()
            )
        )
    );
    let plain = make_service(&t.path, "plain", "exec sleep 1000");
    assert_eq!(
        tool("s6-svwait", &["-u"], &[&plain]).2,
        "s6-svwait: fatal: unable to s6_svstatus_read: No such file or directory\n"
    );
    assert!(plain.join("event").is_dir());
    // A short status file.
    std::fs::create_dir(plain.join("supervise")).unwrap();
    std::fs::write(plain.join("supervise/status"), b"short").unwrap();
    assert_eq!(
        tool("s6-svwait", &["-u"], &[&plain]).2,
        "s6-svwait: fatal: unable to s6_svstatus_read: Broken pipe\n"
    );
    // A huge timeout is fine.
    assert_eq!(tool("s6-svwait", &["-u", "-t", "4294967295"], &[&d]).0, 0);
    let (code, out, _) = tool("svwait", &["--help"], &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("s6-svwait [ -U"));
}

#[test]
fn svlisten1_and_svlisten() {
    for supervise in supervisors() {
        let t = Scratch::new("svlisten");
        let a = make_service(&t.path, "a", "exec sleep 1000");
        let b = make_service(&t.path, "b", "exec sleep 1000");
        std::fs::write(a.join("down"), "").unwrap();
        std::fs::write(b.join("down"), "").unwrap();
        let sa = Sup::start_bin(&supervise, &t, "a");
        let sb = Sup::start_bin(&supervise, &t, "b");
        let svc = bin("s6-svc");
        let svc = svc.to_str().unwrap();
        let (ad, bd) = (a.to_str().unwrap(), b.to_str().unwrap());

        // svlisten1 -u: prog's exit code is ignored, its output goes to our stdout.
        let script = format!("echo hi; {svc} -u {ad}; exit 7");
        let (code, out, err) = tool(
            "s6-svlisten1",
            &["-u", "-t", "20000", ad, "sh", "-c", &script],
            &[],
        );
        assert_eq!((code, out.as_str(), err.as_str()), (0, "hi\n", ""));
        assert!(sa.status().is_up());

        // svlisten1 -r: restarted.
        let pid = sa.status().pid;
        let (code, _, err) = tool("svlisten1", &["-r", "-t", "20000", ad, svc, "-r", ad], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(sa.wait(|s| s.is_up()).pid != pid);

        // svlisten -u on both dirs.
        let (code, _, err) = tool(
            "s6-svlisten",
            &["-u", "-t", "20000", ad, bd, "", svc, "-u", ad, bd],
            &[],
        );
        assert_eq!((code, err.as_str()), (0, ""));
        assert!(sb.status().is_up());
        // -o with -r: warning, -a used.
        let (code, _, err) = tool(
            "s6-svlisten",
            &["-o", "-r", "-t", "20000", ad, bd, "", svc, "-r", ad, bd],
            &[],
        );
        assert_eq!(code, 0);
        assert_eq!(
            err,
            "s6-svlisten: warning: -o is unsupported when combined with -r- using -a instead\n"
        );
        // svlisten -D -d: both down and finished.
        let (code, _, _) = tool(
            "svlisten",
            &["-D", "-t", "20000", ad, bd, "", svc, "-d", ad, bd],
            &[],
        );
        assert_eq!(code, 0);
        assert_eq!((sa.status().pid, sb.status().pid), (0, 0));

        // Sup exits while waited for up.
        let (code, _, err) = tool(
            "s6-svlisten1",
            &["-u", "-t", "20000", ad, svc, "-x", ad],
            &[],
        );
        assert_eq!(code, 1);
        assert_eq!(
            err,
            format!("s6-svlisten1: fatal: {ad} failed permanently or its supervisor died\n")
        );
        drop(sa);
        drop(sb);
    }
}

#[test]
fn svlisten_errors() {
    let t = Scratch::new("svlisten-err");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("down"), "").unwrap();
    let _sup = Sup::start_bin(&bin("s6-supervise"), &t, "svc");
    let dd = d.to_str().unwrap();
    assert_eq!(
        tool("s6-svlisten1", &["-u", dd], &[]),
        (
            100,
            String::new(),
            "s6-svlisten1: usage: s6-svlisten1 [ -U | -u | -d | -D | -r | -R ] [ -t timeout ] servicedir prog...\n".into()
        )
    );
    assert_eq!(
        tool("s6-svlisten1", &["-u", dd, "/nonexistent/prog"], &[]),
        (
            111,
            String::new(),
            "s6-svlisten1: fatal: unable to spawn /nonexistent/prog: No such file or directory\n"
                .into()
        )
    );
    assert_eq!(
        tool("s6-svlisten1", &["-u", "-t", "100", dd, "true"], &[]),
        (99, String::new(), "s6-svlisten1: fatal: timed out\n".into())
    );
    assert_eq!(
        tool("s6-svlisten", &["-u", dd, "true", "x"], &[]),
        (
            100,
            String::new(),
            "s6-svlisten: fatal: unterminated servicedir block\n".into()
        )
    );
    assert_eq!(tool("s6-svlisten", &["-u", dd, "x", ""], &[]).0, 100);
    // Failures and timeouts leave no subscriber FIFO behind.
    assert!(subscribers(&d).is_empty());
    // An empty block just runs prog.
    let (code, out, _) = tool("s6-svlisten", &["", "echo", "ran"], &[]);
    assert_eq!((code, out.as_str()), (0, "ran\n"));
}

#[test]
fn svdt_and_svdt_clear() {
    let t = Scratch::new("svdt");
    let d = t.join("svc");
    std::fs::create_dir_all(d.join("supervise")).unwrap();
    let tally = d.join("supervise/death_tally");
    let mut raw = Vec::new();
    raw.extend_from_slice(&[0x40, 0, 0, 0, 0x65, 0, 0, 0, 0, 0, 0, 1, 42, 0]);
    raw.extend_from_slice(&[0x40, 0, 0, 0, 0x65, 0, 0, 0x0a, 0, 0, 0, 2, 143, 15]);
    std::fs::write(&tally, &raw).unwrap();
    let all = "@400000006500000000000001 exitcode 42\n@400000006500000a00000002 signal SIGTERM\n";
    assert_eq!(tool("s6-svdt", &[], &[&d]), (0, all.into(), String::new()));
    assert_eq!(
        tool("svdt", &["-s"], &[&d]).1,
        "@400000006500000000000001 exitcode 42\n@400000006500000a00000002 signal 15\n"
    );
    assert_eq!(tool("s6-svdt", &["-s", "-S"], &[&d]).1, all);
    assert_eq!(
        tool("s6-svdt", &["-n", "1"], &[&d]).1,
        "@400000006500000a00000002 signal SIGTERM\n"
    );
    assert_eq!(
        tool("s6-svdt", &["-n", "0"], &[&d]),
        (0, String::new(), String::new())
    );
    if let Some(real) = real_s6("s6-svdt") {
        for args in [&[][..], &["-s"], &["-n", "1"]] {
            assert_eq!(
                tool("s6-svdt", args, &[&d]),
                run(Command::new(&real).args(args).arg(&d)),
                "{args:?}"
            );
        }
    }

    // Side effects: a bad size is truncated, a missing tally is created.
    std::fs::write(&tally, b"abc").unwrap();
    assert_eq!(
        tool("s6-svdt", &[], &[&d]),
        (0, String::new(), String::new())
    );
    assert_eq!(std::fs::read(&tally).unwrap(), b"");
    std::fs::remove_file(&tally).unwrap();
    assert_eq!(tool("s6-svdt", &[], &[&d]).0, 0);
    assert!(tally.exists());

    // Clear.
    std::fs::write(&tally, &raw).unwrap();
    assert_eq!(
        tool("s6-svdt-clear", &[], &[&d]),
        (0, String::new(), String::new())
    );
    assert_eq!(std::fs::read(&tally).unwrap(), b"");
    assert_eq!(
        tool("svdt-clear", &[], &[]),
        (
            100,
            String::new(),
            "s6-svdt-clear: usage: s6-svdt-clear servicedir\n".into()
        )
    );
    let nope = t.join("nope");
    assert_eq!(
        tool("s6-svdt-clear", &[], &[&nope]).2,
        format!(
            "s6-svdt-clear: fatal: unable to clear death tally for service {}: No such file or directory\n",
            nope.display()
        )
    );

    // Errors.
    let usage = "s6-svdt: usage: s6-svdt [ -S | -s ] [ -n maxentries ] servicedir\n";
    for args in [&[][..], &["-Z", "x"], &["-n", "x", "y"]] {
        assert_eq!(
            tool("s6-svdt", args, &[]),
            (100, String::new(), usage.into())
        );
    }
    let plain = make_service(&t.path, "plain", "exec sleep 1000");
    assert_eq!(
        tool("s6-svdt", &[], &[&plain]).2,
        format!(
            "s6-svdt: fatal: unable to read death tally for service {}: No such file or directory\n",
            plain.display()
        )
    );
}

#[test]
fn svdt_reads_live_tally() {
    for supervise in supervisors() {
        let t = Scratch::new("svdt-live");
        let d = make_service(&t.path, "svc", "exec sleep 1000");
        let sup = Sup::start_bin(&supervise, &t, "svc");
        let first = sup.wait(|s| s.is_up()).pid;
        sup.ctl(b"k");
        sup.wait(|s| s.is_up() && s.pid != first);
        sup.ctl(b"d");
        sup.wait(|s| s.pid == 0 && !s.want_up);
        let (code, out, _) = tool("s6-svdt", &[], &[&d]);
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].ends_with(" signal SIGKILL") && lines[1].ends_with(" signal SIGTERM"),
            "{out}"
        );
        assert_eq!(tool("s6-svdt-clear", &[], &[&d]).0, 0);
        assert_eq!(tool("s6-svdt", &[], &[&d]).1, "");
    }
}

/// As an unprivileged user on root's 0700 `supervise/` and 03730 `event/`: every tool
/// reports "Permission denied" with s6's message and exit code 111 (needs root and setpriv).
#[test]
fn permission_denied_as_nobody() {
    let setpriv = Path::new("/usr/bin/setpriv");
    if !tests::is_root() || !setpriv.exists() {
        tests::skip("needs root and setpriv");
        return;
    }
    let t = Scratch::new("perm");
    let d = t.join("svc");
    std::fs::create_dir_all(d.join("supervise")).unwrap();
    std::fs::write(d.join("supervise/lock"), "").unwrap();
    std::fs::create_dir(d.join("event")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (p, mode) in [(&t.path, 0o755), (&d, 0o755)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(d.join("supervise"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(d.join("event"), std::fs::Permissions::from_mode(0o3730)).unwrap();
    let ds = d.display().to_string();
    let as_nobody = |prog: &str, args: &[&str]| {
        run(Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin(prog))
            .args(args)
            .arg(&d))
    };
    for (prog, args, want) in [
        (
            "s6-svok",
            &[][..],
            format!("s6-svok: fatal: unable to check {ds}: Permission denied\n"),
        ),
        (
            "s6-svstat",
            &[],
            format!("s6-svstat: fatal: unable to check {ds}: Permission denied\n"),
        ),
        (
            "s6-svc",
            &["-u"],
            format!("s6-svc: warning: unable to control {ds}: Permission denied\n"),
        ),
        (
            "s6-svdt",
            &[],
            format!(
                "s6-svdt: fatal: unable to read death tally for service {ds}: Permission denied\n"
            ),
        ),
        (
            "s6-svwait",
            &["-u"],
            format!(
                "s6-svwait: fatal: unable to subscribe to events for {ds}: Permission denied\n"
            ),
        ),
    ] {
        assert_eq!(as_nobody(prog, args), (111, String::new(), want), "{prog}");
    }
}
