//! Interop of the `common` byte formats with the REAL s6 (Debian's s6 2.11.3.2 in `/usr/bin`).
//!
//! Two directions:
//! * Debian's `s6-supervise` writes `supervise/status` and `supervise/death_tally` for a live
//!   scratch service (`down` file, then `s6-svc -u`, `-d`, and a run doing `exit 3`); `common`
//!   decodes them (pid of the real process, flags and wait status as spec status-format.md §2.1
//!   says, stamps within seconds of now with the +37 s TAI offset) and re-encodes them byte for
//!   byte.
//! * `common` writes a status record and a death tally into a crafted service directory whose
//!   `supervise/lock` a child process holds with `common::lock::acquire`; Debian's `s6-svstat`,
//!   `s6-svok` and `s6-svdt` must print what the spec says for those bytes.
//!
//! The captured vectors in `common`'s unit tests (spec status-format.md §4) were taken the same
//! way as the first test does it live: start `s6-supervise svc` with cwd = the parent, drive it
//! with `s6-svc`, and copy the files' bytes after each step (`xxd supervise/status`).
//!
//! Every test is skipped, with a note on stderr, when `/usr/bin/s6-supervise` is missing
//! (`apt-get install -y s6`; CI installs it). Processes are killed by pid / process group only.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::dtally::{self, DeathRecord};
use common::status::StatusRecord;
use common::tai::{Tai64n, TAI64_BASE};
use common::wait::WaitStatus;
use tests::{
    kill_group, make_service, real_s6, run, wait_until, write_script, Proc, Scratch, SOON,
};

/// The real s6 programs, or `None` (with a note) when s6 is not installed.
fn real_s6_or_skip(test: &str) -> Option<RealS6> {
    let found = (|| {
        Some(RealS6 {
            supervise: real_s6("s6-supervise")?,
            svc: real_s6("s6-svc")?,
            svstat: real_s6("s6-svstat")?,
            svok: real_s6("s6-svok")?,
            svdt: real_s6("s6-svdt")?,
        })
    })();
    if found.is_none() {
        tests::skip(format!(
            "{test}: the real s6 is not installed in /usr/bin (apt-get install -y s6)"
        ));
    }
    found
}

struct RealS6 {
    supervise: PathBuf,
    svc: PathBuf,
    svstat: PathBuf,
    svok: PathBuf,
    svdt: PathBuf,
}

/// Whether the installed s6 is a 2.11 release (Debian bookworm and trixie ship 2.11.3.2).
/// The exact texts checked below are 2.11's; 2.15 differs in a few (spec cli.md).
fn is_211() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "s6"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).starts_with("2.11."))
        .unwrap_or(false)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A stamp s6 wrote "just now": `2^62 + unix + 37` (skalibs counts the 27 leap seconds), so
/// within a few seconds of our own reading of the clock.
fn assert_recent(t: Tai64n, what: &str) {
    let expected = TAI64_BASE + unix_now() + 37;
    assert!(
        t.secs <= expected + 1 && t.secs + 30 >= expected,
        "{what}: label {:#x} is not 2^62 + now + 37 = {expected:#x} (within seconds)",
        t.secs
    );
    assert!(t.nanos < 1_000_000_000, "{what}: nanoseconds {}", t.nanos);
}

fn read_status_bytes(svc: &Path) -> Option<Vec<u8>> {
    std::fs::read(svc.join("supervise/status"))
        .ok()
        .filter(|b| b.len() == 35)
}

fn status(svc: &Path) -> StatusRecord {
    let bytes = read_status_bytes(svc).expect("35-byte supervise/status");
    let r = StatusRecord::unpack(&bytes).expect("decode status");
    assert_eq!(
        r.pack().as_slice(),
        bytes.as_slice(),
        "status re-encodes byte for byte"
    );
    r
}

fn tally_bytes(svc: &Path) -> Vec<u8> {
    std::fs::read(svc.join("supervise/death_tally")).unwrap_or_default()
}

/// Fields of `/proc/<pid>/stat` after the command name: (state, ppid, pgrp, session).
fn proc_stat(pid: i32) -> Option<(String, i32, i32, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        f.first()?.to_string(),
        f.get(1)?.parse().ok()?,
        f.get(2)?.parse().ok()?,
        f.get(3)?.parse().ok()?,
    ))
}

fn proc_comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// At drop, SIGKILL the process group of every service process the test saw, and of whatever
/// the status file names now (services run in their own session, so their group is their pid).
/// Declare it before the supervisor's [`Proc`] so the supervisor dies first and cannot respawn.
struct ServiceReaper {
    svc: PathBuf,
    seen: Vec<i32>,
}

impl Drop for ServiceReaper {
    fn drop(&mut self) {
        if let Some(r) = read_status_bytes(&self.svc).and_then(|b| StatusRecord::unpack(&b).ok()) {
            if r.pid != 0 {
                self.seen.push(r.pid_t());
            }
        }
        for &pid in &self.seen {
            kill_group(pid);
        }
    }
}

/// A child process that holds `supervise/lock` of `svc` (fcntl write lock, through
/// `common::lock::acquire`) until dropped, so real s6 tools see "a supervisor is running".
struct LockHolder {
    pid: libc::pid_t,
}

impl LockHolder {
    fn new(svc: &Path) -> LockHolder {
        use std::os::unix::ffi::OsStrExt;
        let lock = svc.join("supervise/lock");
        assert!(
            lock.as_os_str().as_bytes().len() < 900,
            "short path (no allocation after fork)"
        );
        let mut fds = [0; 2];
        // SAFETY: pipe(2) into a local array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
        // SAFETY: the child only makes system calls (open and fcntl through nix with an on-stack
        // path, write, pause) and never returns: no allocation, no lock taken after the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: setpgid(2) on ourselves.
            unsafe { libc::setpgid(0, 0) };
            // SAFETY: closing the read end, ours.
            unsafe { libc::close(fds[0]) };
            let ok: u8 = match common::lock::acquire(&lock, 0o644) {
                Ok(fd) => {
                    std::mem::forget(fd);
                    1
                }
                Err(_) => 0,
            };
            // SAFETY: a 1-byte write from a local.
            unsafe { libc::write(fds[1], (&ok as *const u8).cast(), 1) };
            loop {
                // SAFETY: pause(2) has no memory effects.
                unsafe { libc::pause() };
            }
        }
        let holder = LockHolder { pid };
        let mut ok = 0u8;
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(fds[1]) };
        // SAFETY: a 1-byte read into a local.
        let n = unsafe { libc::read(fds[0], (&mut ok as *mut u8).cast(), 1) };
        // SAFETY: closing the read end, ours.
        unsafe { libc::close(fds[0]) };
        assert!(n == 1 && ok == 1, "child could not lock {}", lock.display());
        holder
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

#[test]
fn real_supervise_writes_what_common_decodes() {
    let Some(s6) = real_s6_or_skip("real_supervise_writes_what_common_decodes") else {
        return;
    };
    let scratch = Scratch::new("real-s6-status");
    let svc = make_service(&scratch.path, "svc", "exec sleep 1000");
    std::fs::write(svc.join("down"), "").unwrap();

    let mut reaper = ServiceReaper {
        svc: svc.clone(),
        seen: Vec::new(),
    };
    // Started the way s6-svscan does it: cwd = the parent, argument = the service's name.
    let supervise = Proc::spawn_logged(
        Command::new(&s6.supervise)
            .arg("svc")
            .current_dir(&scratch.path),
        &scratch.path,
        "supervise",
    );
    assert!(
        wait_until(SOON, || read_status_bytes(&svc).is_some()),
        "real s6-supervise wrote no status file"
    );
    assert_eq!(
        common::lock::is_supervised(&svc),
        Ok(true),
        "common sees s6's lock"
    );

    // (1) Fresh start with ./down: nothing runs, ready, not wanted up (2.15 adds `paused`).
    let fresh = status(&svc);
    assert_eq!((fresh.pid, fresh.wstat), (0, 0));
    assert!(
        fresh.ready && !fresh.want_up && !fresh.finishing,
        "{fresh:?}"
    );
    if is_211() {
        assert!(!fresh.paused, "2.11 writes flags 0x08 at start: {fresh:?}");
    }
    assert_eq!(fresh.ready_stamp, fresh.stamp);
    assert_recent(fresh.stamp, "start stamp");
    assert!(tally_bytes(&svc).is_empty(), "tally truncated at start");

    // (2) s6-svc -u: the pid is the real ./run (a session leader, child of s6-supervise).
    assert_eq!(run(Command::new(&s6.svc).arg("-u").arg(&svc)).0, 0);
    assert!(
        wait_until(SOON, || read_status_bytes(&svc)
            .and_then(|b| StatusRecord::unpack(&b).ok())
            .is_some_and(|r| r.is_up())),
        "service never came up"
    );
    let up = status(&svc);
    reaper.seen.push(up.pid_t());
    // The child calls setsid() right after the fork that the status file already reports.
    assert!(
        wait_until(SOON, || proc_stat(up.pid_t()).is_some_and(
            |(_, _, pgrp, sid)| (pgrp, sid) == (up.pid_t(), up.pid_t())
        )),
        "./run (pid {}) is not a live session leader",
        up.pid
    );
    let (_, ppid, _, _) = proc_stat(up.pid_t()).expect("the status pid is a live process");
    assert_eq!(
        ppid,
        supervise.pid(),
        "status pid is a child of s6-supervise"
    );
    assert!(
        wait_until(SOON, || proc_comm(up.pid_t()) == "sleep"),
        "./run did not exec sleep"
    );
    assert!(
        up.want_up && !up.ready && !up.finishing && !up.paused,
        "{up:?}"
    );
    assert_eq!(up.wstat, 0, "wstat keeps the previous (none) while up");
    assert!(up.stamp >= fresh.stamp);
    assert_eq!(
        up.ready_stamp, fresh.ready_stamp,
        "readystamp unchanged at spawn"
    );
    assert_recent(up.stamp, "spawn stamp");
    // The real s6-svstat agrees with our decoding (pid and both labels).
    let (code, out, _) = run(Command::new(&s6.svstat)
        .args(["-o", "up,pid,updownsince,readysince"])
        .arg(&svc));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "true {} {} {}\n",
            up.pid,
            up.stamp.label(),
            up.ready_stamp.label()
        )
    );

    // (3) s6-svc -d: killed by SIGTERM; down and ready, not wanted up; one tally record.
    assert_eq!(run(Command::new(&s6.svc).arg("-d").arg(&svc)).0, 0);
    let down_and_ready = |svc: &Path| {
        read_status_bytes(svc)
            .and_then(|b| StatusRecord::unpack(&b).ok())
            .is_some_and(|r| r.pid == 0 && !r.finishing && r.ready)
    };
    assert!(
        wait_until(SOON, || down_and_ready(&svc)),
        "service never went down"
    );
    let down = status(&svc);
    assert_eq!(down.wstat, 0x000f, "raw wait status of a SIGTERM death");
    assert_eq!(
        down.wait_status(),
        WaitStatus::Signaled {
            signal: 15,
            core: false
        }
    );
    assert!(!down.want_up && !down.paused, "{down:?}");
    assert!(down.stamp >= up.stamp && down.ready_stamp >= down.stamp);
    assert_recent(down.stamp, "death stamp");
    assert!(
        wait_until(SOON, || tally_bytes(&svc).len() == 14),
        "one death record"
    );
    let t1 = tally_bytes(&svc);
    let recs = dtally::unpack_all(&t1);
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].exitcode, recs[0].sig), (143, 15));
    assert_eq!(
        recs[0].stamp, down.stamp,
        "tally stamp = status stamp of that death"
    );
    assert_eq!(
        recs[0],
        DeathRecord::from_wstat(down.stamp, down.wstat as i32)
    );
    assert_eq!(
        dtally::pack_all(&recs),
        t1,
        "tally re-encodes byte for byte"
    );

    // (4) A run that does `exit 3`, started once (-o): wstat 0x0300, record "exitcode 3".
    write_script(&svc.join("run"), "exit 3");
    assert_eq!(run(Command::new(&s6.svc).arg("-o").arg(&svc)).0, 0);
    assert!(
        wait_until(SOON, || tally_bytes(&svc).len() == 28
            && down_and_ready(&svc)),
        "the exit-3 run was not recorded"
    );
    let exited = status(&svc);
    assert_eq!(exited.wstat, 0x0300);
    assert_eq!(exited.wait_status(), WaitStatus::Exited(3));
    assert!(!exited.want_up, "-o leaves the service wanted down");
    assert_recent(exited.stamp, "exit stamp");
    let t2 = tally_bytes(&svc);
    let recs = dtally::unpack_all(&t2);
    assert_eq!(recs.len(), 2);
    assert_eq!(&t2[..14], t1.as_slice(), "oldest record first, unchanged");
    assert_eq!((recs[1].exitcode, recs[1].sig), (3, 0));
    assert_eq!(recs[1].stamp, exited.stamp);
    assert_eq!(dtally::pack_all(&recs), t2);

    // The real s6-svdt prints what DeathRecord::describe says for these bytes.
    let (code, out, _) = run(Command::new(&s6.svdt).arg(&svc));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!("{}\n{}\n", recs[0].describe(false), recs[1].describe(false))
    );
    let (code, out, _) = run(Command::new(&s6.svdt).arg("-s").arg(&svc));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!("{}\n{}\n", recs[0].describe(true), recs[1].describe(true))
    );

    // Let s6-supervise exit by itself (`-x` while down), releasing the lock.
    assert_eq!(run(Command::new(&s6.svc).arg("-x").arg(&svc)).0, 0);
    let mut supervise = supervise;
    assert!(
        supervise.wait_timeout(SOON).is_some(),
        "s6-supervise did not exit on -x"
    );
    assert_eq!(common::lock::is_supervised(&svc), Ok(false));
    drop(reaper);
}

/// Replace every `<digits> seconds` by `N seconds` (the ages depend on the clock).
fn ages_masked(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next_is_seconds = words
            .get(i + 1)
            .is_some_and(|n| n.trim_end_matches([',', '\n']) == "seconds");
        if next_is_seconds && !w.is_empty() && w.bytes().all(|c| c.is_ascii_digit()) {
            out.push("N");
        } else {
            out.push(w);
        }
    }
    out.join(" ")
}

struct Crafted {
    record: StatusRecord,
    down_file: bool,
    legacy: &'static str,
    legacy_numeric: &'static str,
    /// `-o up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum`
    fields: &'static str,
}

#[test]
fn real_svstat_and_svdt_read_what_common_writes() {
    let Some(s6) = real_s6_or_skip("real_svstat_and_svdt_read_what_common_writes") else {
        return;
    };
    let scratch = Scratch::new("real-s6-crafted");
    let svc = make_service(&scratch.path, "svc", "exec sleep 1000");
    std::fs::create_dir_all(svc.join("supervise")).unwrap();

    // Without a lock holder the real tools say "not running".
    assert_eq!(run(Command::new(&s6.svok).arg(&svc)).0, 1);
    let (code, _, err) = run(Command::new(&s6.svstat).arg(&svc));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("s6-supervise not running"), "{err}");

    let _lock = LockHolder::new(&svc);
    assert_eq!(
        run(Command::new(&s6.svok).arg(&svc)).0,
        0,
        "s6-svok sees common::lock::acquire's lock"
    );

    let now = Tai64n::now();
    let ago = |s: u64| Tai64n {
        secs: now.secs - s,
        nanos: now.nanos,
    };
    let cases = [
        Crafted {
            record: StatusRecord {
                stamp: ago(100),
                ready_stamp: ago(50),
                pid: 12345,
                wstat: 0x0300,
                want_up: true,
                ready: true,
                ..Default::default()
            },
            down_file: false,
            legacy: "up (pid 12345) N seconds, ready N seconds\n",
            legacy_numeric: "up (pid 12345) N seconds, ready N seconds\n",
            fields: "true true true true false 12345 -1 NA -1\n",
        },
        Crafted {
            record: StatusRecord {
                stamp: ago(100),
                ready_stamp: ago(100),
                pid: 777,
                paused: true,
                ..Default::default()
            },
            down_file: true,
            legacy: "up (pid 777) N seconds, normally down, paused, want down\n",
            legacy_numeric: "up (pid 777) N seconds, normally down, paused, want down\n",
            fields: "true false false false true 777 -1 NA -1\n",
        },
        Crafted {
            record: StatusRecord {
                stamp: ago(100),
                ready_stamp: ago(90),
                pid: 0,
                wstat: 0x000f,
                want_up: true,
                ready: true,
                ..Default::default()
            },
            down_file: false,
            legacy: "down (signal SIGTERM) N seconds, normally up, want up, ready N seconds\n",
            legacy_numeric: "down (signal 15) N seconds, normally up, want up, ready N seconds\n",
            // `ready` is only true with a pid.
            fields: "false true true false false -1 -1 SIGTERM 15\n",
        },
        Crafted {
            // Finishing counts as down, even with a pid (the finish script's).
            record: StatusRecord {
                stamp: ago(100),
                ready_stamp: ago(100),
                pid: 4242,
                wstat: 0x0300,
                finishing: true,
                ..Default::default()
            },
            down_file: false,
            legacy: "down (exitcode 3) N seconds, normally up\n",
            legacy_numeric: "down (exitcode 3) N seconds, normally up\n",
            fields: "false false true false false -1 3 NA -1\n",
        },
        Crafted {
            // SIGKILL with the core bit set: the bit does not change the signal.
            record: StatusRecord {
                stamp: ago(100),
                ready_stamp: ago(100),
                pid: 0,
                wstat: 0x0089,
                ..Default::default()
            },
            down_file: true,
            legacy: "down (signal SIGKILL) N seconds\n",
            legacy_numeric: "down (signal 9) N seconds\n",
            fields: "false false false false false -1 -1 SIGKILL 9\n",
        },
    ];
    let exact = is_211();
    if !exact {
        eprintln!(
            "note: the installed s6 is not 2.11: only version-independent fields are checked"
        );
    }
    for (i, c) in cases.iter().enumerate() {
        c.record.write(&svc).expect("write status with common");
        let down = svc.join("down");
        if c.down_file {
            std::fs::write(&down, "").unwrap();
        } else {
            let _ = std::fs::remove_file(&down);
        }
        let ctx = format!("case {i}: {:?}", c.record);

        let (code, out, err) = run(Command::new(&s6.svstat).arg(&svc));
        assert_eq!(code, 0, "{ctx}: {err}");
        if exact {
            assert_eq!(ages_masked(&out), c.legacy, "{ctx}");
            let (_, out, _) = run(Command::new(&s6.svstat).arg("-n").arg(&svc));
            assert_eq!(ages_masked(&out), c.legacy_numeric, "{ctx}");
            let (_, out, _) = run(Command::new(&s6.svstat)
                .args([
                    "-o",
                    "up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum",
                ])
                .arg(&svc));
            assert_eq!(out, c.fields, "{ctx}");
        }
        // The stamps as s6 reads them: our labels, and ages of 100 s (+37 offset agreed on).
        let (code, out, _) = run(Command::new(&s6.svstat)
            .args(["-o", "updownsince,readysince,updownfor,readyfor"])
            .arg(&svc));
        assert_eq!(code, 0, "{ctx}");
        let f: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(f.len(), 4, "{ctx}: {out}");
        assert_eq!(f[0], c.record.stamp.label().to_string(), "{ctx}");
        assert_eq!(f[1], c.record.ready_stamp.label().to_string(), "{ctx}");
        let updownfor: u64 = f[2].parse().unwrap();
        let readyfor: u64 = f[3].parse().unwrap();
        let expect_up = now.secs - c.record.stamp.secs;
        let expect_ready = now.secs - c.record.ready_stamp.secs;
        assert!(
            (expect_up..expect_up + 30).contains(&updownfor),
            "{ctx}: updownfor {updownfor}, expected about {expect_up}"
        );
        assert!(
            (expect_ready..expect_ready + 30).contains(&readyfor),
            "{ctx}: readyfor {readyfor}, expected about {expect_ready}"
        );
    }

    // A status file shorter than 35 bytes: "Broken pipe", exit 111 (StatusError::Short).
    std::fs::write(svc.join("supervise/status"), [0u8; 20]).unwrap();
    let (code, _, err) = run(Command::new(&s6.svstat).arg(&svc));
    assert_eq!(code, 111, "{err}");
    assert!(
        err.contains(&common::status::StatusError::Short(20).to_string()),
        "{err}"
    );

    // Death tally written with common: s6-svdt prints DeathRecord::describe's lines.
    let records = [
        DeathRecord::from_wstat(ago(30), WaitStatus::signaled(15)),
        DeathRecord::from_wstat(ago(20), WaitStatus::exited(3)),
        DeathRecord::from_wstat(ago(10), 0x0089),
        DeathRecord::from_wstat(ago(5), WaitStatus::exited(0)),
    ];
    for r in records {
        dtally::append(&svc, r, 3).expect("append with common");
    }
    let kept = &records[1..];
    let bytes = tally_bytes(&svc);
    assert_eq!(bytes, dtally::pack_all(kept), "append keeps the newest 3");
    let lines = |numeric: bool, rs: &[DeathRecord]| {
        rs.iter()
            .map(|r| r.describe(numeric) + "\n")
            .collect::<String>()
    };
    let (code, out, err) = run(Command::new(&s6.svdt).arg(&svc));
    assert_eq!(
        (code, out.as_str()),
        (0, lines(false, kept).as_str()),
        "{err}"
    );
    let (code, out, _) = run(Command::new(&s6.svdt).arg("-s").arg(&svc));
    assert_eq!((code, out.as_str()), (0, lines(true, kept).as_str()));
    let (code, out, _) = run(Command::new(&s6.svdt).args(["-n", "2"]).arg(&svc));
    assert_eq!((code, out.as_str()), (0, lines(false, &kept[1..]).as_str()));
    assert_eq!(
        dtally::read(&svc, 100).unwrap(),
        kept.to_vec(),
        "common reads it back"
    );

    // A tally of a bad size: both readers treat it as empty and truncate it.
    std::fs::write(svc.join("supervise/death_tally"), [7u8; 20]).unwrap();
    let (code, out, _) = run(Command::new(&s6.svdt).arg(&svc));
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(tally_bytes(&svc).is_empty(), "s6-svdt truncated it");
    assert!(dtally::read(&svc, 100).unwrap().is_empty());
}
