//! `s6-ftrigrd`, the helper libs6's ftrigr library spawns: driven over its pipes exactly as
//! libs6 does (requests on fd 0, answers on fd 1, events on the fd named by
//! `SKALIBS_CHILD_SPAWN_FDS`, every message a 4-byte big-endian length then its bytes), with
//! our s6-mkfifodir / s6-ftrig-notify on the other side. The same session runs against
//! s6 2.15.1's own helper when it is installed (`S6RS_REAL_FTRIGRD`, else
//! /opt/ref/s6/libexec/s6-ftrigrd) and the transcripts must be equal. Waits poll with bounds.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use tests::{bin, run, wait_until, Scratch, SOON};

const BANNER1: &[u8] = b"ftrigr v2.0 (b)\n";
const BANNER2: &[u8] = b"ftrigr v2.0 (a)\n";

struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    asyncr: std::fs::File,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_exact_by(r: &mut impl Read, fd: i32, n: usize, end: Instant) -> Option<Vec<u8>> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let left = end.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd on the stack.
        let r0 = unsafe { libc::poll(&mut p, 1, left.as_millis().min(60_000) as i32) };
        if r0 <= 0 {
            return None;
        }
        match r.read(&mut out[got..]) {
            Ok(0) | Err(_) => return None,
            Ok(k) => got += k,
        }
    }
    Some(out)
}

fn read_msg(r: &mut impl Read, fd: i32) -> Option<Vec<u8>> {
    let end = Instant::now() + SOON;
    let h = read_exact_by(r, fd, 4, end)?;
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    read_exact_by(r, fd, len, end)
}

impl Helper {
    fn spawn(prog: &Path) -> Helper {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        let wraw = w.as_raw_fd();
        let mut cmd = Command::new(prog);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("SKALIBS_CHILD_SPAWN_FDS", "3");
        let hook = move || {
            // SAFETY: dup2(2) on two descriptor numbers, async-signal-safe.
            if unsafe { libc::dup2(wraw, 3) } == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        };
        // SAFETY: the hook only calls dup2 between fork and exec.
        unsafe { cmd.pre_exec(hook) };
        let mut child = cmd.spawn().expect("spawn s6-ftrigrd");
        drop(w);
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        Helper {
            child,
            stdin,
            stdout,
            asyncr: std::fs::File::from(r),
        }
    }

    fn send(&mut self, m: &[u8]) {
        let mut v = (m.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        let _ = self.stdin.as_mut().expect("stdin").write_all(&v);
    }

    fn sync(&mut self) -> Option<Vec<u8>> {
        let fd = self.stdout.as_raw_fd();
        read_msg(&mut self.stdout, fd)
    }

    fn event(&mut self) -> Option<Vec<u8>> {
        let fd = self.asyncr.as_raw_fd();
        read_msg(&mut self.asyncr, fd)
    }

    /// Send a request and return the errno of its answer.
    fn ask(&mut self, m: &[u8]) -> u32 {
        self.send(m);
        let a = self.sync().expect("answer");
        assert_eq!(a.len(), 4, "answer {a:?}");
        u32::from_be_bytes([a[0], a[1], a[2], a[3]])
    }

    fn handshake(&mut self) {
        self.send(BANNER1);
        assert_eq!(self.event().as_deref(), Some(BANNER2));
        assert_eq!(self.sync().as_deref(), Some(BANNER2));
    }

    fn exit_code(&mut self) -> Option<i32> {
        let end = Instant::now() + SOON;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

fn subscribe(id: u32, flags: u32, timeout: u32, path: &Path, re: &str) -> Vec<u8> {
    let mut payload = path.as_os_str().as_encoded_bytes().to_vec();
    payload.push(0);
    payload.extend_from_slice(re.as_bytes());
    payload.push(0);
    let mut m = vec![b'+'];
    for v in [id, flags, timeout, 0, payload.len() as u32] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m.extend_from_slice(&payload);
    m
}

fn cancel(id: u32) -> Vec<u8> {
    let mut m = vec![b'-'];
    m.extend_from_slice(&id.to_be_bytes());
    m
}

fn subscribers(d: &Path) -> usize {
    std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("ftrig1:@"))
                .count()
        })
        .unwrap_or(0)
}

fn notify(d: &Path, s: &str) {
    let (code, _, err) = run(Command::new(bin("s6-ftrig-notify")).arg(d).arg(s));
    assert_eq!(code, 0, "s6-ftrig-notify: {err}");
}

fn fifodir(t: &Scratch, name: &str) -> PathBuf {
    let d = t.join(name);
    let (code, _, err) = run(Command::new(bin("s6-mkfifodir")).arg(&d));
    assert_eq!(code, 0, "s6-mkfifodir: {err}");
    d
}

/// The session both helpers must agree on; returns its transcript.
///
/// 2.15.1's helper has sass-server bugs this session steps around (ours copies none of
/// them, see `ftrig::ftrigrd`): it looks a query up by the client's id as if it were its
/// own handle (so ids here are the handles it will pick: the lowest free slot), and after a
/// one-shot event it forgets the query but keeps the FIFO, whose record the next
/// subscription then reuses while still linked (a crash): so the one-shot comes last. With
/// `ours`, also checks that a one-shot subscription's FIFO goes with its event.
fn common_session(prog: &Path, ours: bool) -> Vec<String> {
    let t = Scratch::new("ftrigrd");
    let (d0, d1, d3) = (fifodir(&t, "d0"), fifodir(&t, "d1"), fifodir(&t, "d3"));
    let mut log = Vec::new();
    let mut h = Helper::spawn(prog);
    h.handshake();
    // Kept subscription: two events, then a cancel removes it.
    log.push(format!("keep {}", h.ask(&subscribe(0, 1, 0, &d1, "x"))));
    log.push(format!("fifos {}", subscribers(&d1)));
    notify(&d1, "x");
    log.push(format!("event {:?}", h.event()));
    notify(&d1, "x");
    log.push(format!("event {:?}", h.event()));
    log.push(format!("cancel {}", h.ask(&cancel(0))));
    log.push(format!("fifos {}", subscribers(&d1)));
    // Errors are answered, the helper goes on.
    log.push(format!(
        "enoent {}",
        h.ask(&subscribe(0, 0, 0, &t.join("none"), "x"))
    ));
    log.push(format!("badre {}", h.ask(&subscribe(0, 0, 0, &d1, "("))));
    log.push(format!(
        "eproto {}",
        h.ask(b"+\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02/\0")
    ));
    // A pending subscription, then a one-shot one: the bytes accumulated up to the match
    // are reported.
    log.push(format!("pending {}", h.ask(&subscribe(0, 0, 0, &d3, "z"))));
    log.push(format!("oneshot {}", h.ask(&subscribe(1, 0, 0, &d0, "b"))));
    log.push(format!("fifos {} {}", subscribers(&d0), subscribers(&d3)));
    notify(&d0, "a");
    notify(&d0, "b");
    log.push(format!("event {:?}", h.event()));
    if ours {
        assert!(wait_until(SOON, || subscribers(&d0) == 0), "fifo left");
    }
    // EOF from the client: exit 0, FIFOs removed.
    h.stdin = None;
    log.push(format!("exit {:?}", h.exit_code()));
    log.push(format!("fifos {} {}", subscribers(&d0), subscribers(&d3)));
    log
}

#[test]
fn ftrigrd_serves_the_ftrigr_protocol() {
    let log = common_session(&bin("s6-ftrigrd"), true);
    let expected = [
        "keep 0",
        "fifos 1",
        "event Some([0, 0, 0, 0, 0, 0, 0, 0, 120])",
        "event Some([0, 0, 0, 0, 0, 0, 0, 0, 120])",
        "cancel 0",
        "fifos 0",
        "enoent 2",
        "badre 22",
        "eproto 71",
        "pending 0",
        "oneshot 0",
        "fifos 1 1",
        "event Some([0, 0, 0, 1, 0, 0, 0, 0, 97, 98])",
        "exit Some(0)",
        "fifos 0 0",
    ];
    assert_eq!(log, expected);
}

#[test]
fn ftrigrd_matches_real_s6_2_15() {
    let real = std::env::var_os("S6RS_REAL_FTRIGRD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ref/s6/libexec/s6-ftrigrd"));
    if !real.exists() {
        eprintln!("skipped: no s6 2.15 s6-ftrigrd at {}", real.display());
        return;
    }
    assert_eq!(
        common_session(&bin("s6-ftrigrd"), false),
        common_session(&real, false)
    );
}

#[test]
fn ftrigrd_times_out_cancels_and_dies_on_garbage() {
    let t = Scratch::new("ftrigrd");
    let d = fifodir(&t, "fifodir");
    let mut h = Helper::spawn(&bin("s6-ftrigrd"));
    h.handshake();
    assert_eq!(h.ask(&subscribe(5, 0, 20, &d, "never")), 0);
    assert_eq!(
        h.event(),
        Some(vec![0, 0, 0, 5, 0, 0, 0, libc::ETIMEDOUT as u8])
    );
    assert!(wait_until(SOON, || subscribers(&d) == 0));
    assert_eq!(h.ask(&cancel(9)), libc::EINVAL as u32);
    assert_eq!(h.ask(&subscribe(6, 0, 0, &d, "y")), 0);
    h.send(b"?garbage");
    assert_eq!(h.exit_code(), Some(100));
    let mut err = String::new();
    let _ = h
        .child
        .stderr
        .take()
        .map(|mut e| e.read_to_string(&mut err));
    assert_eq!(err, "s6-ftrigrd: fatal: invalid client request\n");
    assert_eq!(subscribers(&d), 0, "FIFO left behind");
}

#[test]
fn ftrigrd_without_its_async_fd_fails() {
    let (code, _, err) = run(Command::new(bin("s6-ftrigrd")).env_remove("SKALIBS_CHILD_SPAWN_FDS"));
    assert_eq!(code, 111);
    assert_eq!(
        err,
        "s6-ftrigrd: fatal: unable to sync with client: Protocol error\n"
    );
    // The banner is read before the async fd is looked at: EOF first.
    let (code, _, err) = run(Command::new(bin("s6-ftrigrd")).env("SKALIBS_CHILD_SPAWN_FDS", "7"));
    assert_eq!(code, 111);
    assert_eq!(
        err,
        "s6-ftrigrd: fatal: unable to sync with client: Broken pipe\n"
    );
}
