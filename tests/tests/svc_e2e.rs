//! End-to-end tests of `s6-svc` / `svc`: real supervisors (ours, and Debian's s6-supervise
//! 2.11 when installed), real services, FIFOs and events. Behaviour only, never timings.
//! Every process started here is killed by pid / process group when its guard drops.

use std::path::Path;
use std::process::Command;

use tests::{bin, make_service, real_s6, run, supervisors, Scratch, Sup, SOON};

fn svc(args: &[&str], dirs: &[&Path]) -> (i32, String, String) {
    run(Command::new(bin("s6-svc")).args(args).args(dirs))
}

#[test]
fn commands_and_waits_drive_a_service() {
    for supervise in supervisors() {
        let t = Scratch::new("svc-drive");
        let d = make_service(&t.path, "svc", "exec sleep 1000");
        std::fs::write(d.join("down"), "").unwrap();
        let sup = Sup::start_bin(&supervise, &t, "svc");
        assert!(!sup.status().is_up());

        // -wu -u: returns once up.
        let (code, out, err) = svc(&["-wu", "-T", "20000", "-u"], &[&d]);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "", ""),
            "{supervise:?}"
        );
        let st = sup.status();
        assert!(st.is_up() && st.want_up);

        // -wr -r: a new pid.
        let (code, _, err) = svc(&["-wr", "-T", "20000", "-r"], &[&d]);
        assert_eq!(code, 0, "{err}");
        let st2 = sup.wait(|s| s.is_up());
        assert_ne!(st2.pid, st.pid);

        // -wd -d: down by SIGTERM, not restarted.
        let (code, _, err) = svc(&["-wd", "-T", "20000", "-d"], &[&d]);
        assert_eq!(code, 0, "{err}");
        let st3 = sup.wait(|s| s.pid == 0);
        assert!(!st3.want_up);
        assert_eq!(st3.wstat, libc::SIGTERM as u16);

        // -O on a down service does not start it; -o runs it once.
        assert_eq!(svc(&["-O"], &[&d]).0, 0);
        assert!(!sup.status().is_up());
        assert_eq!(svc(&["-o"], &[&d]).0, 0);
        let st4 = sup.wait(|s| s.is_up());
        assert!(!st4.want_up);

        // -D creates ./down, -U removes it.
        assert_eq!(svc(&["-wD", "-T", "20000", "-D"], &[&d]).0, 0);
        assert!(d.join("down").exists());
        assert_eq!(svc(&["-wu", "-T", "20000", "-U"], &[&d]).0, 0);
        assert!(!d.join("down").exists());

        // -k: killed and restarted (wanted up).
        let pid = sup.status().pid;
        assert_eq!(svc(&["-k"], &[&d]).0, 0);
        let st5 = sup.wait(|s| s.is_up() && s.pid != pid);
        assert_eq!(st5.wstat, libc::SIGKILL as u16);

        // -dx: down, then the supervisor exits 0.
        let mut sup = sup;
        assert_eq!(svc(&["-dx"], &[&d]).0, 0);
        let st = sup.proc.wait_timeout(SOON).expect("supervisor exits");
        assert_eq!(st.code(), Some(0));
    }
}

#[test]
fn several_dirs_and_readiness_wait() {
    let t = Scratch::new("svc-multi");
    let a = make_service(&t.path, "a", "exec sleep 1000");
    let b = make_service(&t.path, "b", "echo >&3; exec sleep 1000");
    std::fs::write(a.join("down"), "").unwrap();
    std::fs::write(b.join("down"), "").unwrap();
    std::fs::write(b.join("notification-fd"), "3\n").unwrap();
    let sa = Sup::start_bin(&bin("s6-supervise"), &t, "a");
    let sb = Sup::start_bin(&bin("s6-supervise"), &t, "b");

    // -wU on b (has notification-fd): waits for readiness.
    let (code, _, err) = svc(&["-wU", "-T", "20000", "-u"], &[&b]);
    assert_eq!((code, err.as_str()), (0, ""));
    let st = sb.status();
    assert!(st.is_up() && st.ready);

    // -wU on a (no notification-fd): downgraded to -wu with a warning.
    let (code, _, err) = svc(&["-wU", "-T", "20000", "-u"], &[&a]);
    assert_eq!(code, 0);
    assert_eq!(
        err,
        format!(
            "s6-svc: warning: {}/notification-fd not present - ignoring request for readiness notification\n",
            a.display()
        )
    );
    assert!(sa.status().is_up());

    // -wd -d on both: every dir is controlled and waited for.
    let (code, _, err) = svc(&["-wd", "-T", "20000", "-d"], &[&a, &b]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(!sa.status().is_up() && !sb.status().is_up());

    // A failing dir in the middle: warning, the others still controlled, last failure's code.
    let nope = t.join("nope");
    let (code, _, err) = svc(&["-u"], &[&a, &nope, &b]);
    assert_eq!(code, 111);
    assert_eq!(
        err,
        format!(
            "s6-svc: warning: unable to control {}: No such file or directory\n",
            nope.display()
        )
    );
    sa.wait(|s| s.is_up());
    sb.wait(|s| s.is_up());
}

#[test]
fn wait_timeouts_and_failures() {
    let t = Scratch::new("svc-timeout");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("down"), "").unwrap();
    std::fs::write(d.join("notification-fd"), "3\n").unwrap();
    let sup = Sup::start_bin(&bin("s6-supervise"), &t, "svc");

    // No command: the message is s6-svwait's.
    let (code, _, err) = svc(&["-wu", "-T", "100"], &[&d]);
    assert_eq!((code, err.as_str()), (99, "s6-svwait: fatal: timed out\n"));
    // With commands: s6-svlisten's; the command is still sent.
    let (code, _, err) = svc(&["-wU", "-T", "100", "-u"], &[&d]);
    assert_eq!(
        (code, err.as_str()),
        (99, "s6-svlisten: fatal: timed out\n")
    );
    sup.wait(|s| s.is_up());
    assert_eq!(svc(&["-wd", "-T", "20000", "-d"], &[&d]).0, 0);

    // The supervisor exits while we wait for up: one failure.
    let (code, _, err) = svc(&["-wu", "-T", "20000", "-x"], &[&d]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "s6-svlisten: fatal: some services reported permanent failure or their supervisor died\n"
    );
}

#[test]
fn raw_bytes_on_the_control_fifo() {
    let t = Scratch::new("svc-raw");
    let d = t.join("svc");
    std::fs::create_dir_all(d.join("supervise")).unwrap();
    let fifo = d.join("supervise/control");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let r = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let (code, _, err) = svc(
        &["-u", "-12", "-Ox", "-s", "sigusr2", "-P", "-lC", "-K", "-Q"],
        &[&d],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    let mut buf = [0u8; 64];
    let n = nix::unistd::read(&r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"u12Ox2PlCKQ");
    // No command: only a liveness probe, nothing written.
    assert_eq!(svc(&[], &[&d]).0, 0);
    assert!(matches!(
        nix::unistd::read(&r, &mut buf),
        Ok(0) | Err(nix::errno::Errno::EAGAIN)
    ));
}

const SVC_USAGE: &str = "s6-svc: usage: s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -s signal | -abqhkti12pcyrlPCK ] [ -oduDUxOQ ] servicedirs...\n";

#[test]
fn usage_errors_exit_100_with_s6s_messages() {
    assert_eq!(svc(&[], &[]), (100, String::new(), SVC_USAGE.to_string()));
    assert_eq!(svc(&["-u"], &[]).0, 100);
    assert_eq!(svc(&["-wz", "x"], &[]).2, SVC_USAGE);
    assert_eq!(svc(&["-T", "abc", "-u", "x"], &[]).2, SVC_USAGE);
    assert_eq!(
        svc(&["-u", ""], &[]),
        (
            100,
            String::new(),
            "s6-svc: fatal: invalid service path\n".into()
        )
    );
    assert_eq!(
        svc(&[&format!("-{}", "u".repeat(63)), "x"], &[]).2,
        "s6-svc: fatal: too many commands\n"
    );
}

#[test]
fn bad_signals_exit_100() {
    assert_eq!(
        svc(&["-s", "FOO", "x"], &[]),
        (
            100,
            String::new(),
            "s6-svc: fatal: invalid signal: FOO\n".into()
        )
    );
    assert_eq!(
        svc(&["-s", "PIPE", "x"], &[]).2,
        "s6-svc: fatal: PIPE is not in the list of user-available signals\n"
    );
}

#[test]
fn no_supervisor_exits_102() {
    let t = Scratch::new("svc-err-plain");
    let plain = make_service(&t.path, "plain", "exec sleep 1000");
    let (code, _, err) = svc(&["-u"], &[&plain]);
    assert_eq!(code, 102);
    assert_eq!(
        err,
        format!(
            "s6-svc: warning: unable to control {}: supervisor not listening\n",
            plain.display()
        )
    );
}

#[test]
fn broken_supervise_dir_exits_1() {
    let t = Scratch::new("svc-err-broken");
    let broken = make_service(&t.path, "broken", "exec sleep 1000");
    std::fs::create_dir(broken.join("supervise")).unwrap();
    let (code, _, err) = svc(&["-u"], &[&broken]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "s6-svc: warning: something is wrong with the {}/supervise directory: No such file or directory\n",
            broken.display()
        )
    );
}

#[test]
fn not_a_directory_exits_111() {
    let t = Scratch::new("svc-err-file");
    let file = t.join("file");
    std::fs::write(&file, "").unwrap();
    let (code, _, err) = svc(&["-u"], &[&file]);
    assert_eq!(code, 111);
    assert_eq!(
        err,
        format!(
            "s6-svc: warning: unable to control {}: Not a directory\n",
            file.display()
        )
    );
}

#[test]
fn the_last_failure_gives_the_exit_code() {
    let t = Scratch::new("svc-err-last");
    let plain = make_service(&t.path, "plain", "exec sleep 1000");
    let broken = make_service(&t.path, "broken", "exec sleep 1000");
    std::fs::create_dir(broken.join("supervise")).unwrap();
    let file = t.join("file");
    std::fs::write(&file, "").unwrap();
    assert_eq!(svc(&["-u"], &[&file, &plain]).0, 102);
    assert_eq!(svc(&["-u"], &[&plain, &broken]).0, 1);
}

#[test]
fn paths_with_spaces_and_too_long_paths_are_reported_whole() {
    let t = Scratch::new("svc-err-paths");
    let spaced = make_service(&t.path, "my service", "exec sleep 1000");
    let (code, _, err) = svc(&["-u"], &[&spaced]);
    assert_eq!(code, 102);
    assert!(
        err.contains("my service: supervisor not listening"),
        "{err}"
    );
    let long = format!("/{}", vec!["x".repeat(200); 25].join("/"));
    let (code, _, err) = svc(&["-u"], &[Path::new(&long)]);
    assert_eq!(code, 111);
    assert_eq!(
        err,
        format!("s6-svc: warning: unable to control {long}: File name too long\n")
    );
}

#[test]
fn wait_without_a_status_file_fails_as_the_listener_would() {
    let t = Scratch::new("svc-err-wait");
    let plain = make_service(&t.path, "plain", "exec sleep 1000");
    let (code, _, err) = svc(&["-wu", "-T", "1000", "-u"], &[&plain]);
    assert_eq!(code, 111);
    assert_eq!(
        err,
        "s6-svlisten: fatal: unable to s6_svstatus_read: No such file or directory\n"
    );
}

#[test]
fn help_and_short_name() {
    let (code, out, err) = run(Command::new(bin("svc")).arg("--help"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("s6-svc [ -wu"), "{out}");
    // The short name behaves like the s6 name.
    let (code, _, err) = run(Command::new(bin("svc")).args(["-u", ""]));
    assert_eq!(
        (code, err.as_str()),
        (100, "s6-svc: fatal: invalid service path\n")
    );
}

/// Our s6-svc and Debian's agree on what they do to a service run by Debian's supervisor.
#[test]
fn same_effect_as_debian_svc() {
    let (Some(real_sup), Some(real_svc), Some(real_svstat)) = (
        real_s6("s6-supervise"),
        real_s6("s6-svc"),
        real_s6("s6-svstat"),
    ) else {
        tests::skip("Debian's s6 is not installed");
        return;
    };
    let fields = "up,wantedup,normallyup,ready,exitcode,signal,signum";
    let t = Scratch::new("svc-same");
    let mut outcomes: Vec<Vec<String>> = Vec::new();
    for (i, svc_bin) in [bin("s6-svc"), real_svc].iter().enumerate() {
        let name = format!("svc{i}");
        let d = make_service(&t.path, &name, "exec sleep 1000");
        std::fs::write(d.join("down"), "").unwrap();
        let sup = Sup::start_bin(&real_sup, &t, &name);
        let mut seen = Vec::new();
        for (args, wait_up) in [
            (&["-u"][..], Some(true)),
            (&["-d"][..], Some(false)),
            (&["-U"][..], Some(true)),
            (&["-O"][..], None),
            (&["-k"][..], Some(false)),
            (&["-D"][..], None),
        ] {
            let (code, _, err) = run(Command::new(svc_bin).args(args).arg(&d));
            assert_eq!(code, 0, "{svc_bin:?} {args:?}: {err}");
            match wait_up {
                Some(true) => {
                    sup.wait(|s| s.is_up());
                }
                Some(false) => {
                    sup.wait(|s| s.pid == 0);
                }
                None => {
                    sup.wait(|s| !s.want_up);
                }
            }
            if args == ["-D"] {
                // Already wanted down after -O: the sign that -D was handled is the file.
                assert!(tests::wait_until(SOON, || d.join("down").exists()));
            }
            let (_, out, _) = run(Command::new(&real_svstat).args(["-o", fields]).arg(&d));
            seen.push(format!("{args:?} {out} down={}", d.join("down").exists()));
        }
        outcomes.push(seen);
        drop(sup);
    }
    assert_eq!(outcomes[0], outcomes[1]);
}
