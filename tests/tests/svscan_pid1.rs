//! s6-svscan as process 1 of a new PID namespace (`unshare --pid --fork --mount-proc`, needs
//! root): orphans are reaped, SIGTERM brings every service down through its `finish` and
//! s6-svscan exits (what `docker stop` relies on).
//!
//! Everything runs inside the namespace, so tearing the namespace down (killing its process
//! 1, which the `Proc` guard does through unshare's process group) kills every process the
//! test started. Tests are skipped (pass with a note) where unshare is not permitted.

use std::path::Path;
use tests::{cmdline, make_service, proc_table, wait_until, write_script, Scratch, SOON};

fn lines(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn pid1_reaps_orphans() {
    if !tests::unshare_works() {
        tests::skip("unshare --pid not permitted here");
        return;
    }
    let scratch = Scratch::new("svscan-pid1-orphans");
    let scan = scratch.join("scan");
    std::fs::create_dir(&scan).unwrap();
    // Each subshell exits at once, leaving its child to be adopted by process 1; some die
    // immediately, one lives until the test lets it go (a recognisable argv).
    let flag = scratch.join("flag");
    // The marker names this test's scratch dir: two runs at once must not see each other's.
    let marker = format!("orphan-marker-{}", scratch.path.display());
    make_service(
        &scan,
        "orphans",
        &format!(
            "for i in 1 2 3 4 5; do ( sh -c 'exit 0' & ); done\n\
             ( exec sh -c 'while [ ! -e {} ]; do sleep 0.05; done' '{marker}' & )\n\
             exec sleep 1000",
            flag.display()
        ),
    );
    let (_p, svscan) = tests::start_pid1(&scratch, &scan);
    // The long-lived orphan is adopted by s6-svscan...
    let mut orphan = 0;
    assert!(wait_until(SOON, || {
        orphan = proc_table()
            .iter()
            .find(|&&(pid, _, _)| cmdline(pid).last().is_some_and(|a| *a == marker))
            .map_or(0, |t| t.0);
        orphan != 0
    }));
    assert!(wait_until(SOON, || proc_table()
        .iter()
        .any(|&(pid, pp, _)| pid == orphan && pp == svscan)));
    std::fs::write(&flag, "").unwrap();
    // ...and once it is dead, nothing is left as a zombie under process 1.
    assert!(wait_until(SOON, || !proc_table()
        .iter()
        .any(|&(pid, _, st)| pid == orphan && st != 'Z')));
    assert!(
        wait_until(SOON, || tests::zombies_of(svscan).is_empty()),
        "zombies left: {:?}",
        tests::zombies_of(svscan)
    );
}

#[test]
fn pid1_sigterm_brings_services_down_through_finish_and_exits() {
    if !tests::unshare_works() {
        tests::skip("unshare --pid not permitted here");
        return;
    }
    let scratch = Scratch::new("svscan-pid1-term");
    let scan = scratch.join("scan");
    std::fs::create_dir(&scan).unwrap();
    let m = scratch.join("m");
    for n in ["web", "worker"] {
        let d = make_service(
            &scan,
            n,
            &format!(
                "trap 'echo {n}-TERM >> {m}; exit 0' TERM; sleep 1000 & wait",
                m = m.display()
            ),
        );
        write_script(
            &d.join("finish"),
            &format!("echo {n}-finish >> {}", m.display()),
        );
    }
    // A logged service: its logger is stopped too (SIGHUP, then EOF on its pipe).
    let d = make_service(&scan, "app", "echo hello; exec sleep 1000");
    std::fs::create_dir(d.join("log")).unwrap();
    write_script(
        &d.join("log/run"),
        &format!(
            "while IFS= read -r l; do echo \"log:$l\" >> {m}; done; echo log-eof >> {m}",
            m = m.display()
        ),
    );
    let (mut p, svscan) = tests::start_pid1(&scratch, &scan);
    for n in ["web", "worker", "app", "app/log"] {
        let sv = scan.join(n);
        assert!(
            wait_until(SOON, || tests::common::status::StatusRecord::read(&sv)
                .is_ok_and(|s| s.is_up())),
            "{n} up"
        );
    }
    assert!(wait_until(SOON, || lines(&m).contains(&"log:hello".to_string())));
    // SAFETY: kill(2) on the host pid of the namespace's process 1, which we started.
    unsafe { libc::kill(svscan, libc::SIGTERM) };
    let st = p.wait_timeout(SOON).expect("s6-svscan (pid 1) exits");
    assert_eq!(st.code(), Some(0));
    assert_eq!(
        lines(&m),
        [
            "log-eof",
            "log:hello",
            "web-TERM",
            "web-finish",
            "worker-TERM",
            "worker-finish"
        ]
    );
}
