//! Soak: random `s6-svc` commands, killed services and killed supervisors under one
//! s6-svscan, for `SOAK_SECONDS` (default 60). After every step, once things settle (a
//! generous bound covers the documented transient states: a death not reaped yet, a
//! supervisor being respawned), every service's `supervise/status` must agree with the
//! process table:
//!
//! * up (pid set, not finishing): the pid is alive and is a child of the service's current
//!   s6-supervise; paused iff the process is stopped;
//! * finishing: the pid is alive (./finish) and a child of the supervisor;
//! * down: the supervisor has no live child;
//! * wanted up/down as the last command said.
//!
//! At start (after warm-up) and at the end it reports descriptors (/proc/PID/fd) and RSS of
//! s6-svscan and of the supervisors, and fails if they grew. `scripts/soak [seconds]` runs
//! it; `SOAK_SEED` replays a run.

mod faults_support;

use faults_support::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use tests::{bin, make_service, run, wait_until, write_script, SOON};

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Svc {
    name: String,
    dir: PathBuf,
    want_up: bool,
}

/// (fds, rss kB) of svscan; (max fds, max rss kB, count) over the supervisors.
fn sample(scan: &Scan, svcs: &[Svc]) -> ((usize, u64), (usize, u64, usize)) {
    let s = scan.pid();
    let sups: Vec<i32> = svcs
        .iter()
        .filter_map(|v| scan.supervise_pid(&v.name))
        .collect();
    (
        (fd_count(s), rss_kb(s)),
        (
            sups.iter().map(|&p| fd_count(p)).max().unwrap_or(0),
            sups.iter().map(|&p| rss_kb(p)).max().unwrap_or(0),
            sups.len(),
        ),
    )
}

/// A sample once the numbers have settled: the same twice in a row, 100 ms apart (a wait on
/// an observable condition, not a sleep before an assertion).
fn settled_sample(scan: &Scan, svcs: &[Svc]) -> ((usize, u64), (usize, u64, usize)) {
    let mut prev = sample(scan, svcs);
    let settled = wait_until(SOON, || {
        std::thread::sleep(Duration::from_millis(100));
        let now = sample(scan, svcs);
        let same = now == prev;
        prev = now;
        same
    });
    assert!(settled, "fd and memory counts never settled: last {prev:?}");
    prev
}

/// Whether the service's status agrees with the process table right now.
fn consistent(scan: &Scan, v: &Svc) -> Result<(), String> {
    let Some(sup) = scan.supervise_pid(&v.name) else {
        return Err("no supervisor".into());
    };
    let Some(st) = status(&v.dir) else {
        return Err("no status".into());
    };
    if st.not_started() {
        return Err("not started yet".into());
    }
    let kids = children(sup);
    if st.want_up != v.want_up {
        return Err(format!("want_up {} expected {}", st.want_up, v.want_up));
    }
    if st.pid == 0 {
        if !kids.is_empty() {
            return Err(format!("down but supervise has children {kids:?}"));
        }
        return Ok(());
    }
    let pid = st.pid_t();
    if !alive(pid) {
        return Err(format!("pid {pid} in status is dead"));
    }
    if !kids.contains(&pid) {
        return Err(format!("pid {pid} is not a child of supervise {sup}"));
    }
    if kids.len() != 1 {
        return Err(format!("supervise {sup} has children {kids:?}"));
    }
    let stopped = state(pid) == Some('T');
    if !st.finishing && st.paused != stopped {
        return Err(format!("paused {} but stopped {stopped}", st.paused));
    }
    Ok(())
}

#[test]
#[ignore = "soak: run with scripts/soak [seconds] (SOAK_SECONDS, default 60)"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("soak: {secs} s, SOAK_SEED={seed}");
    let mut rng = Rng(seed);

    let mut scan = Scan::new("soak");
    let mut svcs = Vec::new();
    for i in 0..8 {
        let name = format!("s{i}");
        let d = match i % 4 {
            // Plain long-running service.
            0 => make_service(&scan.dir, &name, LONG),
            // With a ./finish that takes a little time.
            1 => {
                let d = make_service(&scan.dir, &name, LONG);
                write_script(&d.join("finish"), "sleep 0.2");
                d
            }
            // Readiness through notification-fd 3.
            2 => {
                let d = make_service(&scan.dir, &name, "echo >&3; exec sleep 3600");
                std::fs::write(d.join("notification-fd"), "3\n").unwrap();
                d
            }
            // A shell that traps TERM (down goes through the trap).
            _ => make_service(
                &scan.dir,
                &name,
                "trap 'exit 0' TERM; while :; do sleep 1; done",
            ),
        };
        svcs.push(Svc {
            name,
            dir: d,
            want_up: true,
        });
    }
    scan.start(&[]);
    for v in &svcs {
        scan.wait_supervise(&v.name, 0);
        wait_up(&v.dir);
    }
    let (svscan0, sup0) = settled_sample(&scan, &svcs);

    let cmds = [
        "-u", "-d", "-r", "-k", "-t", "-o", "-p", "-c", "-a", "-h", "-O",
    ];
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let (mut n_cmd, mut n_kill_svc, mut n_kill_sup, mut n_checks) = (0u64, 0u64, 0u64, 0u64);
    let mut n_svstat = 0u64;
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        let i = rng.next(svcs.len() as u64) as usize;
        let v = &mut svcs[i];
        match rng.next(20) {
            0..=15 => {
                let c = cmds[rng.next(cmds.len() as u64) as usize];
                assert_eq!(svc(&[c], &v.dir), (0, String::new()), "svc {c} {}", v.name);
                match c {
                    "-u" => v.want_up = true,
                    "-d" | "-o" | "-O" => v.want_up = false,
                    _ => {}
                }
                // A paused service stays paused only until the next step.
                if c == "-p" {
                    assert_eq!(svc(&["-c"], &v.dir), (0, String::new()));
                }
                *counts.entry(c).or_default() += 1;
                n_cmd += 1;
            }
            16..=18 => {
                if let Some(p) = up_pid(&v.dir) {
                    scan.reaper.add(p);
                    kill(p, libc::SIGKILL);
                    n_kill_svc += 1;
                }
            }
            _ => {
                if let Some(sup) = scan.supervise_pid(&v.name) {
                    let orphan = status(&v.dir).map_or(0, |s| s.pid_t());
                    kill(sup, libc::SIGKILL);
                    // s6 leaves the service running; the administrator's job: kill it.
                    if orphan > 0 {
                        scan.reaper.add(orphan);
                        kill_pid_and_group(orphan);
                    }
                    // The new supervisor starts from ./down (absent unless -O made it).
                    v.want_up = !v.dir.join("down").exists();
                    scan.wait_supervise(&v.name, sup);
                    n_kill_sup += 1;
                }
            }
        }
        // Every service settles into a state its status describes truthfully.
        for v in &svcs {
            let mut why = String::new();
            let ok = wait_until(SOON * 2, || match consistent(&scan, v) {
                Ok(()) => true,
                Err(e) => {
                    why = e;
                    false
                }
            });
            assert!(ok, "service {}: {why} (SOAK_SEED={seed})", v.name);
            n_checks += 1;
        }
        // s6-svstat says the same as the status file and the process table.
        let v = &svcs[i];
        let mut line = String::new();
        let agrees = wait_until(SOON, || {
            let (rc, out, _) = run(Command::new(bin("s6-svstat"))
                .args(["-o", "up,pid"])
                .arg(&v.dir));
            line = out.trim().to_string();
            let want = match up_pid(&v.dir) {
                Some(p) if alive(p) => format!("true {p}"),
                Some(_) => return false,
                None => "false -1".to_string(),
            };
            rc == 0 && line == want && consistent(&scan, v).is_ok()
        });
        assert!(agrees, "s6-svstat {}: {line} (SOAK_SEED={seed})", v.name);
        n_svstat += 1;
        let mut dirs: Vec<PathBuf> = svcs.iter().map(|v| v.dir.clone()).collect();
        scan.reaper.collect(&dirs);
        dirs.clear();
    }
    // Everything back up, then the final sample.
    for v in &mut svcs {
        let _ = std::fs::remove_file(v.dir.join("down"));
        assert_eq!(svc(&["-u"], &v.dir), (0, String::new()));
        v.want_up = true;
    }
    for v in &svcs {
        assert!(wait_until(SOON, || consistent(&scan, v).is_ok()));
        assert!(wait_until(SOON, || up_pid(&v.dir).is_some()));
    }
    let (svscan1, sup1) = settled_sample(&scan, &svcs);
    let mut by: Vec<_> = counts.into_iter().collect();
    by.sort();
    eprintln!(
        "soak: {secs} s: {n_cmd} svc commands {by:?}, {n_kill_svc} services killed, \
         {n_kill_sup} supervisors killed, {n_checks} consistency checks, {n_svstat} s6-svstat checks"
    );
    eprintln!(
        "soak: svscan fds {} -> {}, rss {} -> {} kB; supervise (max of {} -> {}) fds {} -> {}, rss {} -> {} kB",
        svscan0.0, svscan1.0, svscan0.1, svscan1.1, sup0.2, sup1.2, sup0.0, sup1.0, sup0.1, sup1.1
    );
    if let Ok(path) = std::env::var("SOAK_REPORT") {
        let _ = std::fs::write(
            path,
            format!(
                "seconds={secs} seed={seed} commands={n_cmd} service_kills={n_kill_svc} \
                 supervisor_kills={n_kill_sup} checks={n_checks} svstat_checks={n_svstat}\n\
                 svscan_fds={}->{} svscan_rss_kb={}->{}\n\
                 supervise_max_fds={}->{} supervise_max_rss_kb={}->{}\n",
                svscan0.0, svscan1.0, svscan0.1, svscan1.1, sup0.0, sup1.0, sup0.1, sup1.1
            ),
        );
    }
    assert!(svscan1.0 <= svscan0.0, "svscan fds grew");
    assert!(svscan1.1 <= svscan0.1 + 2048, "svscan RSS grew");
    assert!(sup1.0 <= sup0.0 + 1, "supervise fds grew");
    assert!(sup1.1 <= sup0.1 + 512, "supervise RSS grew");
}
