//! End-to-end tests of `s6-svstat` / `svstat`: exact output on crafted status files (the
//! test process holds `supervise/lock`, so the tool sees a "running supervisor"), live
//! services under our supervisor and Debian's, errors, and the `--json` / `--ready`
//! extensions. Behaviour only, never timings.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::status::{StatusRecord, FLAG_FINISHING, FLAG_PAUSED, FLAG_READY, FLAG_WANTUP};
use common::tai::Tai64n;
use tests::{bin, make_service, real_s6, run, Scratch, Sup};

/// A service dir whose lock is held by this test process.
struct Fake {
    dir: PathBuf,
    _lock: std::os::fd::OwnedFd,
}

impl Fake {
    fn new(t: &Scratch, name: &str) -> Fake {
        let dir = t.join(name);
        std::fs::create_dir_all(dir.join("supervise")).unwrap();
        let lock = common::lock::acquire(&dir.join("supervise/lock"), 0o644).expect("lock");
        Fake { dir, _lock: lock }
    }

    /// Write a status `ago` seconds old (ready stamp `ready_ago`), return the raw bytes.
    fn write(&self, ago: i64, ready_ago: i64, pid: u64, wstat: u16, flags: u8) -> [u8; 35] {
        let now = Tai64n::now().secs as i64;
        let st = StatusRecord {
            stamp: Tai64n {
                secs: (now - ago) as u64,
                nanos: 0,
            },
            ready_stamp: Tai64n {
                secs: (now - ready_ago) as u64,
                nanos: 0,
            },
            pid,
            wstat,
            ..StatusRecord::default()
        }
        .with_flags(flags);
        let raw = st.pack();
        std::fs::write(self.dir.join("supervise/status"), raw).unwrap();
        raw
    }
}

fn svstat(args: &[&str], dir: &Path) -> (i32, String, String) {
    run(Command::new(bin("s6-svstat")).args(args).arg(dir))
}

/// Output with the seconds (which may tick between writing and reading) replaced by `N`.
fn fuzzy(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if !w.is_empty() && w.bytes().all(|c| c.is_ascii_digit()) {
                "N"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn legacy_lines_of_crafted_statuses() {
    let t = Scratch::new("svstat-fake");
    let f = Fake::new(&t, "fake");
    let cases: &[(u64, u16, u8, bool, &str)] = &[
        (
            4242,
            0,
            FLAG_WANTUP,
            false,
            "up (pid 4242 pgid 4242) N seconds\n",
        ),
        (
            77,
            0,
            FLAG_PAUSED | FLAG_READY,
            true,
            "up (pid 77 pgid 77) N seconds, normally down, paused, want down, ready N seconds\n",
        ),
        (
            0,
            0x0300,
            FLAG_WANTUP | FLAG_READY,
            false,
            "down (exitcode 3) N seconds, normally up, want up, ready N seconds\n",
        ),
        (
            0,
            0x0086,
            0,
            false,
            "down (signal SIGIOT) N seconds, normally up\n",
        ),
        (
            0,
            40,
            0,
            false,
            "down (signal SIG???) N seconds, normally up\n",
        ),
        (
            4242,
            0,
            FLAG_FINISHING | FLAG_WANTUP | FLAG_READY,
            false,
            "down (exitcode 0) N seconds, normally up, want up, ready N seconds\n",
        ),
        (
            0,
            0,
            FLAG_PAUSED | FLAG_READY,
            true,
            "down (not started yet) \n",
        ),
        (
            0,
            0,
            FLAG_PAUSED | FLAG_READY | FLAG_WANTUP,
            false,
            "down (not started yet) , normally up, want up\n",
        ),
    ];
    for &(pid, wstat, flags, down_file, want) in cases {
        if down_file {
            std::fs::write(f.dir.join("down"), "").unwrap();
        } else {
            let _ = std::fs::remove_file(f.dir.join("down"));
        }
        f.write(100, 50, pid, wstat, flags);
        let (code, out, err) = svstat(&[], &f.dir);
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(
            fuzzy(&out),
            fuzzy(want),
            "pid {pid} wstat {wstat:#x} flags {flags:#x}"
        );
    }
}

#[test]
fn n_prints_signal_numbers() {
    let t = Scratch::new("svstat-n");
    let f = Fake::new(&t, "fake");
    f.write(100, 50, 0, 15, FLAG_READY);
    assert_eq!(
        fuzzy(&svstat(&["-n"], &f.dir).1),
        "down (signal 15) N seconds, normally up, ready N seconds\n"
    );
}

#[test]
fn o_prints_every_field() {
    let t = Scratch::new("svstat-o");
    let f = Fake::new(&t, "fake");
    let raw = f.write(100, 50, 0, 0x2a00, FLAG_WANTUP | FLAG_READY);
    let (_, out, _) = svstat(
        &["-o", "up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince"],
        &f.dir,
    );
    let stamp = format!(
        "@{}",
        raw[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let ready = format!(
        "@{}",
        raw[12..24]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    assert_eq!(
        out,
        format!("false true true false false -1 -1 42 NA -1 {stamp} {ready}\n")
    );
}

#[test]
fn shortcut_options_and_o_lists_accumulate() {
    let t = Scratch::new("svstat-acc");
    let f = Fake::new(&t, "fake");
    f.write(100, 50, 321, 0x0500, FLAG_WANTUP | FLAG_READY);
    assert_eq!(svstat(&["-uwNrpgest"], &f.dir).1.split(' ').count(), 9);
    assert_eq!(
        fuzzy(&svstat(&["-uwNrpges"], &f.dir).1),
        "true true true true N N -1 NA\n"
    );
    assert_eq!(
        svstat(&["-p", "-o", "exitcode,up", "-w", "-o", "signum"], &f.dir).1,
        "321 -1 true true -1\n"
    );
}

#[test]
fn a_stamp_in_the_future_is_clamped_to_now() {
    let t = Scratch::new("svstat-future");
    let f = Fake::new(&t, "fake");
    f.write(-1000, 0, 0, 0, 0);
    assert_eq!(
        svstat(&[], &f.dir).1,
        "down (exitcode 0) 0 seconds, normally up\n"
    );
}

#[test]
fn bytes_after_the_35th_are_ignored() {
    let t = Scratch::new("svstat-long");
    let f = Fake::new(&t, "fake");
    let mut long = f.write(100, 50, 99, 0, FLAG_WANTUP).to_vec();
    long.extend_from_slice(b"garbage");
    std::fs::write(f.dir.join("supervise/status"), long).unwrap();
    assert_eq!(
        fuzzy(&svstat(&[], &f.dir).1),
        "up (pid N pgid 99) N seconds\n"
    );
}

#[test]
fn usage_errors_exit_100() {
    let usage = "s6-svstat: usage: s6-svstat [ -uwNrpgest | -o up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] servicedir\n";
    for args in [&[][..], &["-Z", "x"], &["-o"]] {
        assert_eq!(
            run(Command::new(bin("s6-svstat")).args(args)),
            (100, String::new(), usage.to_string())
        );
    }
}

#[test]
fn bad_field_lists_exit_100() {
    let t = Scratch::new("svstat-err-o");
    let f = Fake::new(&t, "fake");
    f.write(1, 1, 3, 0, FLAG_WANTUP);
    assert_eq!(
        svstat(&["-o", "up,sign"], &f.dir),
        (
            100,
            String::new(),
            "s6-svstat: fatal: invalid option field: sign\n".into()
        )
    );
    assert_eq!(
        svstat(&["-o", "up,,up"], &f.dir).2,
        "s6-svstat: fatal: invalid option field: \n"
    );
    let seventeen = vec!["up"; 17].join(",");
    assert_eq!(
        svstat(&["-o", &seventeen], &f.dir).2,
        "s6-svstat: fatal: too many option fields\n"
    );
}

#[test]
fn a_short_or_missing_status_file_exits_111() {
    let t = Scratch::new("svstat-err-short");
    let f = Fake::new(&t, "fake");
    std::fs::write(f.dir.join("supervise/status"), [0u8; 34]).unwrap();
    assert_eq!(
        svstat(&[], &f.dir),
        (
            111,
            String::new(),
            format!(
                "s6-svstat: fatal: unable to read status for {}: Broken pipe\n",
                f.dir.display()
            )
        )
    );
    // Missing status with a supervisor.
    std::fs::remove_file(f.dir.join("supervise/status")).unwrap();
    assert_eq!(svstat(&[], &f.dir).0, 111);
}

#[test]
fn garbage_of_the_right_size_is_decoded() {
    let t = Scratch::new("svstat-err-garbage");
    let f = Fake::new(&t, "fake");
    std::fs::write(f.dir.join("supervise/status"), [b'A'; 35]).unwrap();
    let (code, out, _) = svstat(&[], &f.dir);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("up (pid 1094795585 pgid 1094795585) "),
        "{out}"
    );
}

#[test]
fn unsupervised_dirs_exit_1_and_files_111() {
    let t = Scratch::new("svstat-err-unsup");
    // Not supervised, nonexistent, a file, a path with spaces.
    for name in ["plain", "my service"] {
        let d = make_service(&t.path, name, "exec sleep 1000");
        assert_eq!(
            svstat(&[], &d),
            (
                1,
                String::new(),
                format!(
                    "s6-svstat: fatal: unable to read status for {}: s6-supervise not running\n",
                    d.display()
                )
            )
        );
    }
    assert_eq!(svstat(&[], &t.join("nope")).0, 1);
    let file = t.join("afile");
    std::fs::write(&file, "").unwrap();
    assert_eq!(
        svstat(&[], &file),
        (
            111,
            String::new(),
            format!(
                "s6-svstat: fatal: unable to check {}: Not a directory\n",
                file.display()
            )
        )
    );
}

#[test]
fn json_and_ready_extensions() {
    let t = Scratch::new("svstat-json");
    let up = Fake::new(&t, "up");
    up.write(10, 5, 1234, 0, FLAG_WANTUP | FLAG_READY);
    std::fs::write(up.dir.join("notification-fd"), "3\n").unwrap();
    let plain_up = Fake::new(&t, "plainup");
    plain_up.write(10, 5, 1235, 0, FLAG_WANTUP);
    let notready = Fake::new(&t, "notready");
    notready.write(10, 5, 1236, 0, FLAG_WANTUP);
    std::fs::write(notready.dir.join("notification-fd"), "3\n").unwrap();
    let down = Fake::new(&t, "down");
    down.write(10, 5, 0, 15, FLAG_READY);
    let nosup = make_service(&t.path, "nosup", "exec sleep 1000");

    let (code, out, err) = run(Command::new(bin("svstat"))
        .arg("--json")
        .args([&up.dir, &down.dir, &nosup]));
    assert_eq!((code, err.as_str()), (1, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with(&format!(
        "{{\"dir\":\"{}\",\"up\":true,\"wantedup\":true,\"normallyup\":true,\"ready\":true,\"paused\":false,\"pid\":1234,\"pgid\":1234,\"exitcode\":-1,\"signal\":null,\"signum\":-1,\"updownsince\":\"@",
        up.dir.display()
    )), "{}", lines[0]);
    assert!(
        lines[1].contains("\"up\":false,")
            && lines[1].contains("\"signal\":\"SIGTERM\",\"signum\":15,"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        format!(
            "{{\"dir\":\"{0}\",\"error\":\"unable to read status for {0}: s6-supervise not running\"}}",
            nosup.display()
        )
    );

    let ready = |dirs: &[&Path]| run(Command::new(bin("s6-svstat")).arg("--ready").args(dirs));
    assert_eq!(
        ready(&[&up.dir, &plain_up.dir]),
        (0, String::new(), String::new())
    );
    let (code, out, err) = ready(&[&up.dir, &notready.dir]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("readiness not notified"), "{err}");
    assert_eq!(ready(&[&down.dir]).0, 1);
    assert_eq!(ready(&[&nosup]).0, 1);
    assert_eq!(ready(&[&t.join("afile-missing")]).0, 1);

    let (code, out, _) = run(Command::new(bin("svstat")).arg("--help"));
    assert_eq!(code, 0);
    assert!(out.contains("--ready"));
}

#[test]
fn live_service_under_our_supervisor() {
    let t = Scratch::new("svstat-live");
    let d = make_service(&t.path, "svc", "echo >&3; exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "3\n").unwrap();
    std::fs::write(d.join("down"), "").unwrap();
    let sup = Sup::start_bin(&bin("s6-supervise"), &t, "svc");
    sup.wait(|s| s.pid == 0);
    assert_eq!(
        svstat(&["-o", "up,pid,ready,normallyup"], &d).1,
        "false -1 false false\n"
    );
    common::control::send(&d, "supervise", b"u").unwrap();
    let st = sup.wait(|s| s.is_up() && s.ready);
    let (code, out, _) = svstat(&[], &d);
    assert_eq!(code, 0);
    assert_eq!(
        fuzzy(&out),
        fuzzy(&format!(
            "up (pid {0} pgid {0}) 0 seconds, normally down, ready 0 seconds\n",
            st.pid
        ))
    );
    assert_eq!(
        svstat(&["-o", "pid,pgid"], &d).1,
        format!("{0} {0}\n", st.pid)
    );
    common::control::send(&d, "supervise", b"d").unwrap();
    sup.wait(|s| s.pid == 0);
    assert_eq!(
        fuzzy(&svstat(&[], &d).1),
        "down (signal SIGTERM) N seconds, ready N seconds\n"
    );
}

/// Our s6-svstat and Debian's print the same fields for a service run by Debian's
/// s6-supervise (fields whose format did not change between 2.11 and 2.15).
#[test]
fn same_fields_as_debian_svstat() {
    let (Some(real_sup), Some(real_svstat)) = (real_s6("s6-supervise"), real_s6("s6-svstat"))
    else {
        tests::skip("Debian's s6 is not installed");
        return;
    };
    let fields = "up,wantedup,normallyup,ready,pid,exitcode,signal,signum,updownsince,readysince";
    let t = Scratch::new("svstat-same");
    let d = make_service(&t.path, "svc", "echo >&3; exec sleep 1000");
    std::fs::write(d.join("notification-fd"), "3\n").unwrap();
    let sup = Sup::start_bin(&real_sup, &t, "svc");
    let compare = |what: &str| {
        let ours = svstat(&["-o", fields], &d);
        let theirs = run(Command::new(&real_svstat).args(["-o", fields]).arg(&d));
        assert_eq!(ours, theirs, "{what}");
        // The legacy line differs only by 2.15's " pgid P".
        let ours = svstat(&[], &d).1;
        let theirs = run(Command::new(&real_svstat).arg(&d)).1;
        let st = StatusRecord::read(&d).unwrap();
        let ours = ours.replace(&format!(" pgid {}", st.pid), "");
        assert_eq!(fuzzy(&ours), fuzzy(&theirs), "{what}");
    };
    sup.wait(|s| s.is_up() && s.ready);
    compare("up and ready");
    common::control::send(&d, "supervise", b"d").unwrap();
    sup.wait(|s| s.pid == 0);
    compare("down by SIGTERM");
    common::control::send(&d, "supervise", b"u").unwrap();
    sup.wait(|s| s.is_up());
    common::control::send(&d, "supervise", b"O").unwrap();
    sup.wait(|s| !s.want_up);
    compare("up, wanted down");
    common::control::send(&d, "supervise", b"k").unwrap();
    sup.wait(|s| s.pid == 0);
    compare("killed");
    // Not running: both exit 1.
    drop(sup);
    let ours = svstat(&[], &t.join("nope"));
    let theirs = run(Command::new(&real_svstat).arg(t.join("nope")));
    assert_eq!((ours.0, ours.1), (theirs.0, theirs.1));
}
