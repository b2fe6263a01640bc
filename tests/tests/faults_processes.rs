//! Fault injection with real processes: supervisors killed with SIGKILL.
//!
//! * SIGKILL to an s6-supervise under s6-svscan: svscan respawns it, the new one takes the
//!   lock over, and (as s6 does, spec supervise.md §9) starts a second copy of the service
//!   while the orphaned first copy keeps running untouched; status and events are those of
//!   the new copy.
//! * SIGKILL to s6-svscan (not process 1): every s6-supervise keeps its service up and keeps
//!   obeying s6-svc.
//!
//! Behaviour only, never timings (generous waits). Everything started is killed by pid /
//! process group at the end.

mod faults_support;

use faults_support::*;
use std::process::Command;
use tests::{bin, make_service, wait_until, Proc, SOON};

#[test]
fn sigkill_supervise_under_svscan_is_respawned_and_takes_over() {
    let mut scan = Scan::new("faults-killsup");
    let a = make_service(&scan.dir, "a", LONG);
    let svscan = scan.start(&[]);
    let sup1 = scan.wait_supervise("a", 0);
    let run1 = wait_up(&a);
    scan.reaper.add(run1);

    kill(sup1, libc::SIGKILL);
    // svscan notices the death and starts a new supervisor (s6: about a second later).
    let sup2 = scan.wait_supervise("a", sup1);
    assert!(alive(svscan), "svscan survives a supervisor's death");
    // The new supervisor holds the lock, listens, and (as s6) starts a second copy.
    let run2 = wait_up_other(&a, run1);
    scan.reaper.add(run2);
    assert!(
        alive(run1),
        "the orphaned first copy is left running, as s6 does"
    );
    assert!(alive(run2));
    let (rc, _, _) = tests::run(Command::new(bin("s6-svok")).arg(&a));
    assert_eq!(rc, 0, "s6-svok sees the new supervisor");
    let st = status(&a).expect("status");
    assert!(st.want_up && !st.finishing && st.pid_t() == run2);

    // Events come from the new supervisor: a listener subscribed before `svc -d` sees the
    // service go down, then up again on `svc -u`.
    let mut w = Proc::spawn(
        Command::new(bin("s6-svwait"))
            .args(["-D", "-t", "30000"])
            .arg(&a),
    );
    // Act only once the listener is subscribed (its FIFO is in event/), so that under load
    // the test never depends on which of the two programs runs first.
    assert!(wait_until(SOON, || std::fs::read_dir(a.join("event"))
        .map(|rd| rd.flatten().any(|e| e
            .file_name()
            .as_encoded_bytes()
            .starts_with(tests::common::fifodir::FIFO_PREFIX)))
        .unwrap_or(false)));
    assert_eq!(svc(&["-d"], &a), (0, String::new()));
    let st = w.wait_timeout(SOON * 3).expect("s6-svwait -D returns");
    assert!(st.success(), "svwait -D: {st:?}");
    wait_down(&a);
    assert!(!alive(run2), "the new copy was taken down");
    assert!(
        alive(run1),
        "the orphan is not the new supervisor's business"
    );
    let st = status(&a).expect("status");
    assert!(!st.want_up && st.pid == 0);

    let mut w = Proc::spawn(
        Command::new(bin("s6-svwait"))
            .args(["-u", "-t", "30000"])
            .arg(&a),
    );
    assert_eq!(svc(&["-u"], &a), (0, String::new()));
    assert!(w
        .wait_timeout(SOON * 3)
        .expect("svwait -u returns")
        .success());
    let run3 = wait_up_other(&a, run2);
    scan.reaper.add(run3);
    assert_eq!(
        scan.supervise_pid("a"),
        Some(sup2),
        "still the same supervisor"
    );
    assert_eq!(scan.ctl("a"), (0, String::new()), "svscanctl still works");
}

#[test]
fn sigkill_svscan_leaves_every_supervise_serving() {
    let mut scan = Scan::new("faults-killscan");
    let names = ["a", "b", "c"];
    let dirs: Vec<_> = names
        .iter()
        .map(|n| make_service(&scan.dir, n, LONG))
        .collect();
    let svscan = scan.start(&[]);
    let sups: Vec<i32> = names.iter().map(|n| scan.wait_supervise(n, 0)).collect();
    scan.extra.extend(&sups);
    let runs: Vec<i32> = dirs.iter().map(|d| wait_up(d)).collect();
    for &r in &runs {
        scan.reaper.add(r);
    }

    kill(svscan, libc::SIGKILL);
    let p = scan.proc.as_mut().expect("svscan");
    assert!(p.wait_timeout(SOON).is_some(), "svscan died");

    // Nothing happens to the supervisors nor to the services.
    assert!(tests::stays_true(
        std::time::Duration::from_millis(1500),
        || dirs
            .iter()
            .enumerate()
            .all(|(i, d)| alive(sups[i]) && up_pid(d) == Some(runs[i]))
    ));
    for (i, d) in dirs.iter().enumerate() {
        assert!(alive(sups[i]), "supervise {} survives svscan", names[i]);
        assert!(alive(runs[i]), "service {} still up", names[i]);
        assert_eq!(up_pid(d), Some(runs[i]));
        let (rc, _, _) = tests::run(Command::new(bin("s6-svok")).arg(d));
        assert_eq!(rc, 0);
    }
    // And they still supervise: a killed service is restarted, a down command obeyed.
    kill(runs[0], libc::SIGKILL);
    let r = wait_up_other(&dirs[0], runs[0]);
    scan.reaper.add(r);
    assert_eq!(svc(&["-d"], &dirs[1]), (0, String::new()));
    wait_down(&dirs[1]);
    assert!(wait_until(SOON, || !alive(runs[1])));
    assert!(alive(runs[2]));
    for &s in &sups {
        assert!(alive(s));
    }
}
