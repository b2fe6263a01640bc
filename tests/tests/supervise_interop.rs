//! Interop: Debian's real s6 client tools (2.11.3.2 in `/usr/bin`: `s6-svc`, `s6-svstat`,
//! `s6-svwait`, `s6-svok`, `s6-svdt`) drive and read OUR `s6-supervise`.
//!
//! Skipped (with a note on stderr) when the tools are not installed (`apt-get install -y s6`).
//! Every process is killed by pid / process group at the end.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::{bin, make_service, real_s6, run, wait_until, Scratch, Sup, SOON};

fn tools() -> Option<(PathBuf, PathBuf, PathBuf, PathBuf, PathBuf)> {
    match (
        real_s6("s6-svc"),
        real_s6("s6-svstat"),
        real_s6("s6-svwait"),
        real_s6("s6-svok"),
        real_s6("s6-svdt"),
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e)) => Some((a, b, c, d, e)),
        _ => {
            tests::skip("Debian's s6 tools are not installed");
            None
        }
    }
}

fn tool(p: &Path, args: &[&str], dir: &Path) -> (i32, String, String) {
    run(Command::new(p).args(args).arg(dir))
}

#[test]
fn debian_tools_drive_our_supervise() {
    let Some((svc, svstat, svwait, svok, svdt)) = tools() else {
        return;
    };
    let t = Scratch::new("interop");
    let d = make_service(&t.path, "svc", "exec sleep 1000");
    std::fs::write(d.join("down"), "").expect("down");
    let sup = Sup::start_bin(&bin("s6-supervise"), &t, "svc");

    assert_eq!(tool(&svok, &[], &d).0, 0);
    let (code, out, _) = tool(&svstat, &[], &d);
    assert_eq!(code, 0);
    // Wanted down with a down file: neither "normally up" nor "want up".
    assert!(out.starts_with("down ("), "{out}");
    assert!(
        !out.contains("normally up") && !out.contains("want up"),
        "{out}"
    );

    // s6-svc -u, then s6-svwait -u sees it up.
    assert_eq!(tool(&svc, &["-u"], &d).0, 0);
    let (code, _, err) = tool(&svwait, &["-u", "-t", "10000"], &d);
    assert_eq!(code, 0, "{err}");
    let st = sup.status();
    assert!(st.is_up());
    let (code, out, _) = tool(&svstat, &[], &d);
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("up (pid {}) ", st.pid)), "{out}");
    assert!(out.contains("normally down"), "{out}");
    let (_, out, _) = tool(&svstat, &["-o", "up,pid,wantedup"], &d);
    assert_eq!(out, format!("true {} true\n", st.pid));

    // s6-svc -wd waits (through s6-svlisten1) for our d event.
    let (code, _, err) = tool(&svc, &["-wd", "-T", "10000", "-d"], &d);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tool(&svstat, &[], &d);
    assert!(out.starts_with("down (signal SIGTERM) "), "{out}");
    assert!(out.contains("ready"), "{out}");
    let (_, out, _) = tool(&svdt, &[], &d);
    assert!(out.trim_end().ends_with(" signal SIGTERM"), "{out}");
    assert_eq!(out.lines().count(), 1);

    // s6-svc -x: our supervisor exits; s6-svok then says not running.
    assert_eq!(tool(&svc, &["-x"], &d).0, 0);
    assert!(wait_until(SOON, || tool(&svok, &[], &d).0 == 1));
    drop(sup);
}

#[test]
fn debian_svwait_sees_readiness_and_restart() {
    let Some((svc, svstat, svwait, _, _)) = tools() else {
        return;
    };
    let t = Scratch::new("interop-ready");
    let d = make_service(&t.path, "svc", "echo >&3; exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "3").expect("nfd");
    let sup = Sup::start_bin(&bin("s6-supervise"), &t, "svc");
    let (code, _, err) = tool(&svwait, &["-U", "-t", "10000"], &d);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tool(&svstat, &["-o", "up,ready"], &d);
    assert_eq!(out, "true true\n");
    let pid = sup.status().pid;
    assert_eq!(tool(&svc, &["-k"], &d).0, 0);
    assert!(wait_until(SOON, || {
        let st = sup.status();
        st.is_up() && st.pid != pid && st.ready
    }));
    let (_, out, _) = tool(&svstat, &[], &d);
    assert!(out.starts_with("up (pid "), "{out}");
    assert!(out.contains(", ready "), "{out}");
}
