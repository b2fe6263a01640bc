//! s6-svscan with many services: every service gets its supervise, every logged pair its
//! own pipe (two descriptors held by s6-svscan per pair), and `-t` brings them all down.
//!
//! The default run uses a few hundred services; `S6RS_SCALE_PAIRS=5000 cargo test --test
//! svscan_scale -- --ignored` runs the 10,000-service case (5,000 logged pairs), which needs
//! about 10,000 processes and a hard RLIMIT_NOFILE of at least ~10,100.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tests::{bin, make_service, wait_until, write_script, Proc, Scratch};

fn children(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| s.split_whitespace().count())
        .unwrap_or(0)
}

fn pipe_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("pipe:"))
                })
                .count()
        })
        .unwrap_or(0)
}

fn scale(pairs: usize, limit: Duration) {
    let scratch = Scratch::new("svscan-scale");
    let scan = scratch.join("scan");
    std::fs::create_dir(&scan).unwrap();
    // Down by default: only the supervisors run, which is what s6-svscan deals with.
    for i in 0..pairs {
        let d = make_service(&scan, &format!("s{i}"), "exec sleep 1000");
        std::fs::write(d.join("down"), "").unwrap();
        std::fs::create_dir(d.join("log")).unwrap();
        write_script(&d.join("log/run"), "exec cat > /dev/null");
        std::fs::write(d.join("log/down"), "").unwrap();
    }
    let max = (2 * pairs + 10).to_string();
    let mut cmd = Command::new(bin("s6-svscan"));
    cmd.args(["-C", &max]).arg(&scan).current_dir(&scan);
    let mut p = Proc::spawn_logged(&mut cmd, &scratch.path, "svscan");
    let pid = p.pid();
    assert!(
        wait_until(limit, || children(pid) >= 2 * pairs),
        "{} of {} supervisors started",
        children(pid),
        2 * pairs
    );
    let last = scan.join(format!("s{}", pairs - 1));
    assert!(wait_until(limit, || status_exists(&last)
        && status_exists(&last.join("log"))));
    // Two pipe ends per pair (plus the signal self-pipe of the loop).
    let fds = pipe_fds(pid);
    assert!(
        (2 * pairs..=2 * pairs + 4).contains(&fds),
        "{fds} pipe fds for {pairs} pairs"
    );
    let err = std::fs::read_to_string(scratch.join("svscan.err")).unwrap_or_default();
    assert_eq!(err, "", "no warnings");
    let (rc, _, _) = tests::run(Command::new(bin("s6-svscanctl")).arg("-t").arg(&scan));
    assert_eq!(rc, 0);
    let st = p.wait_timeout(limit).expect("s6-svscan exits");
    assert_eq!(st.code(), Some(0));
}

fn status_exists(d: &Path) -> bool {
    d.join("supervise/status").exists()
}

#[test]
fn a_few_hundred_logged_services() {
    scale(300, Duration::from_secs(120));
}

#[test]
#[ignore = "heavy: 10,000 supervisors; run with --ignored"]
fn ten_thousand_services() {
    let pairs = std::env::var("S6RS_SCALE_PAIRS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    scale(pairs, Duration::from_secs(600));
}
