//! The scan model of `s6-svscan`, without any I/O: the service table keyed by the directory's
//! (dev, ino), active/inactive marks, producer/logger pairing, respawn times, kill selections
//! and the shutdown flags. The driver feeds it the results of `readdir`/`stat`, child deaths,
//! control bytes and signals, with the current time in milliseconds, and carries out what it
//! answers (spawns, kills, warnings).
//!
//! The pipe ends held for a logged pair are of a generic type `P` owned by the table: dropping
//! one closes it (`OwnedFd` in the driver, a tracking type in the tests).

use common::msg::errno_text;
use common::Errno;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::ffi::OsStrExt;

/// Monotonic time in milliseconds.
pub type Millis = u64;
/// Index of a service in the table.
pub type Key = usize;

/// A supervise that died is restarted no earlier than 1 s after its previous spawn (2.15).
pub const RESPAWN_DELAY: Millis = 1000;
/// Retry delay after a failed spawn of s6-supervise (2.15: 10 s).
pub const SPAWN_RETRY: Millis = 10_000;
/// Rescan delay after an entry could not be stat'ed (2.15: 4 s).
pub const STAT_RETRY: Millis = 4000;
/// Rescan delay when the table is full (2.15: 60 s).
pub const FULL_RETRY: Millis = 60_000;
/// Rescan delay when a logger directory still belongs to another producer (2.15: 10 s).
pub const BUSY_RETRY: Millis = 10_000;
/// Rescan delay after a pipe creation failure (2.15: 3 s).
pub const PIPE_RETRY: Millis = 3000;
/// Rescan delay after `opendir`/`readdir` failure (2.15: 5 s).
pub const DIR_RETRY: Millis = 5000;

/// The name of the catch-all logger service.
pub const SPECIAL_LOGGER: &str = "s6-svscan-log";

/// The tables' hash: a multiply-and-rotate over the key's words (FxHash's), where std's
/// SipHash cost a tenth of a rescan. The keys are (dev, ino) pairs and pids, which nobody
/// outside chooses freely, so a keyed hash buys nothing here.
type KeyHash = BuildHasherDefault<WordHasher>;

#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, w: u64) {
        self.add(w);
    }

    fn write_u32(&mut self, w: u32) {
        self.add(u64::from(w));
    }

    fn write_i32(&mut self, w: i32) {
        self.add(u64::from(w as u32));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevIno {
    pub dev: u64,
    pub ino: u64,
}

/// What `stat()` (following symlinks) said about a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Dir(DevIno),
    NotDir,
    Error(Errno),
}

/// One scandir entry (name not starting with `.`), with the stat of `name` and of `name/log`
/// (the latter only meaningful when `name` is a directory).
#[derive(Clone, Debug)]
pub struct ScanEntry {
    pub name: OsString,
    pub stat: Stat,
    pub log: Stat,
}

#[derive(Debug)]
pub struct Service<P> {
    pub devino: DevIno,
    /// `X`, or `X/log` for a logger: the argument given to s6-supervise.
    pub name: OsString,
    pub pid: Option<i32>,
    /// Earliest time of the next spawn.
    pub start_at: Millis,
    pub peer: Option<Key>,
    /// Our end of the logger pipe: write end for a producer, read end for a logger.
    pub pipe: Option<P>,
    pub logger: bool,
    pub active: bool,
    mark: bool,
}

/// Which supervisors the next kill pass signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KillSel {
    /// Every supervisor (`t`, `i`, `q`).
    pub all: bool,
    /// Supervisors of inactive services (`n`, `N`, `h`).
    pub inactive: bool,
    /// SIGTERM to loggers too, instead of SIGHUP (`q`, `N`).
    pub hard: bool,
}

impl KillSel {
    fn any(&self) -> bool {
        self.all || self.inactive
    }
}

/// A control command or signal translated to what the core does (built-in actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Reap,
    Rescan,
    Abort,
    RescanPrune,
    Terminate,
    Quit,
    Prune,
    PruneHard,
}

impl From<common::SvscanCommand> for Trigger {
    fn from(c: common::SvscanCommand) -> Trigger {
        use common::SvscanCommand as C;
        match c {
            C::Reap => Trigger::Reap,
            C::Rescan => Trigger::Rescan,
            C::Abort => Trigger::Abort,
            C::RescanPrune => Trigger::RescanPrune,
            C::Interrupt | C::Terminate => Trigger::Terminate,
            C::Quit => Trigger::Quit,
            C::Prune => Trigger::Prune,
            C::PruneHard => Trigger::PruneHard,
        }
    }
}

/// The built-in action of a signal when no `.s6-svscan/SIG*` script handles it.
pub fn builtin_for_signal(sig: i32) -> Option<Trigger> {
    match sig {
        libc::SIGCHLD => Some(Trigger::Reap),
        libc::SIGALRM => Some(Trigger::Rescan),
        libc::SIGABRT => Some(Trigger::Abort),
        libc::SIGHUP => Some(Trigger::RescanPrune),
        libc::SIGINT | libc::SIGTERM => Some(Trigger::Terminate),
        libc::SIGQUIT => Some(Trigger::Quit),
        _ => None,
    }
}

/// A problem met during a scan, with the raw entry name (`X` or `X/log`, never mangled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanWarning {
    NameTooLong(OsString),
    Stat(OsString, Errno),
    TooManyServices(OsString),
    /// The logger directory still belongs to another service.
    OldServiceExists(OsString),
    Pipe(OsString, Errno),
    LoggerMoved(OsString),
}

impl ScanWarning {
    /// The warning text as s6-svscan prints it (without `s6-svscan: warning: `).
    pub fn message(&self) -> Vec<u8> {
        let parts: [&[u8]; 3] = match self {
            ScanWarning::NameTooLong(n) => {
                [b"name too long - not spawning service: ", n.as_bytes(), b""]
            }
            ScanWarning::Stat(n, _) => [b"unable to stat ", n.as_bytes(), b": "],
            ScanWarning::TooManyServices(n) => [
                b"unable to start supervisor for ",
                n.as_bytes(),
                b": too many services",
            ],
            ScanWarning::OldServiceExists(n) => {
                [b"old service ", n.as_bytes(), b" still exists, waiting"]
            }
            ScanWarning::Pipe(n, _) => [b"unable to create pipe for ", n.as_bytes(), b": "],
            ScanWarning::LoggerMoved(n) => {
                [b"logger for service ", n.as_bytes(), b" has been moved"]
            }
        };
        let mut v = parts.concat();
        if let ScanWarning::Stat(_, e) | ScanWarning::Pipe(_, e) = self {
            v.extend_from_slice(errno_text(*e).as_bytes());
        }
        v
    }
}

/// A scan under way ([`Core::begin_scan`]).
pub struct Scan {
    report: ScanReport,
    now: Millis,
}

/// One scandir entry, its name borrowed (from the driver's listing buffer).
#[derive(Clone, Copy, Debug)]
pub struct ScanItem<'a> {
    pub name: &'a OsStr,
    pub stat: Stat,
    pub log: Stat,
}

/// What a scan has to say: its warnings, and the earliest retry any problem asks for.
#[derive(Default)]
struct ScanReport {
    warnings: Vec<ScanWarning>,
    retry: Option<Millis>,
}

impl ScanReport {
    fn warn(&mut self, w: ScanWarning, retry_after: Option<Millis>) {
        self.warnings.push(w);
        if let Some(r) = retry_after {
            self.retry = earliest(self.retry, r);
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub max: usize,
    pub namemax: usize,
    /// Periodic rescan (`-t`).
    pub period: Option<Millis>,
}

pub struct Core<P> {
    cfg: Config,
    slots: Vec<Option<Service<P>>>,
    free: Vec<Key>,
    len: usize,
    by_devino: HashMap<DevIno, Key, KeyHash>,
    by_pid: HashMap<i32, Key, KeyHash>,
    special: Option<Key>,
    scan_deadline: Option<Millis>,
    start_deadline: Option<Millis>,
    kill: KillSel,
    cont: bool,
    waitall: bool,
}

fn earliest(a: Option<Millis>, b: Millis) -> Option<Millis> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn log_name(name: &OsStr) -> OsString {
    let mut s = name.to_os_string();
    s.push("/log");
    s
}

impl<P> Core<P> {
    /// A fresh table; the first scan is due at `now`.
    pub fn new(cfg: Config, now: Millis) -> Core<P> {
        Core {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            by_devino: HashMap::default(),
            by_pid: HashMap::default(),
            special: None,
            scan_deadline: Some(now),
            start_deadline: None,
            kill: KillSel::default(),
            cont: true,
            waitall: false,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Number of services in the table (active or not).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn service(&self, k: Key) -> Option<&Service<P>> {
        self.slots.get(k).and_then(Option::as_ref)
    }

    fn sv(&mut self, k: Key) -> Option<&mut Service<P>> {
        self.slots.get_mut(k).and_then(Option::as_mut)
    }

    pub fn services(&self) -> impl Iterator<Item = (Key, &Service<P>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(k, s)| s.as_ref().map(|s| (k, s)))
    }

    pub fn key_of_pid(&self, pid: i32) -> Option<Key> {
        self.by_pid.get(&pid).copied()
    }

    /// Whether `k` is the `s6-svscan-log` catch-all logger.
    pub fn is_special(&self, k: Key) -> bool {
        self.special == Some(k)
    }

    pub fn has_special(&self) -> bool {
        self.special.is_some()
    }

    /// Whether the main loop goes on.
    pub fn cont(&self) -> bool {
        self.cont
    }

    /// Whether the shutdown waits for every supervisor.
    pub fn waitall(&self) -> bool {
        self.waitall
    }

    /// Number of live supervise processes.
    pub fn live(&self) -> usize {
        self.by_pid.len()
    }

    pub fn pending_kills(&self) -> KillSel {
        self.kill
    }

    /// The next time something is due (scan or start), if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        match (self.scan_deadline, self.start_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn scan_due(&self, now: Millis) -> bool {
        self.scan_deadline.is_some_and(|d| d <= now)
    }

    pub fn start_due(&self, now: Millis) -> bool {
        self.start_deadline.is_some_and(|d| d <= now)
    }

    /// Apply a control command or a signal's built-in action.
    pub fn trigger(&mut self, t: Trigger, now: Millis) {
        match t {
            Trigger::Reap => {}
            Trigger::Rescan => self.scan_deadline = Some(now),
            Trigger::Abort => {
                self.cont = false;
                self.waitall = false;
            }
            Trigger::RescanPrune => {
                self.scan_deadline = Some(now);
                self.kill.inactive = true;
            }
            Trigger::Terminate => {
                self.cont = false;
                self.waitall = true;
                self.kill.all = true;
                self.kill.inactive = true;
            }
            Trigger::Quit => {
                self.cont = false;
                self.waitall = true;
                self.kill.all = true;
                self.kill.inactive = true;
                self.kill.hard = true;
            }
            Trigger::Prune => self.kill.inactive = true,
            Trigger::PruneHard => {
                self.kill.inactive = true;
                self.kill.hard = true;
            }
        }
    }

    /// The kills selected since the last call, as (pid, signal). Services get SIGTERM; loggers
    /// and the catch-all logger get SIGHUP unless the selection is hard.
    pub fn take_kills(&mut self) -> Vec<(i32, i32)> {
        let sel = std::mem::take(&mut self.kill);
        if !sel.any() {
            return Vec::new();
        }
        let special = self.special;
        self.services()
            .filter(|(_, s)| sel.all || !s.active)
            .filter_map(|(k, s)| {
                let pid = s.pid?;
                let soft = (s.logger || special == Some(k)) && !sel.hard;
                Some((pid, if soft { libc::SIGHUP } else { libc::SIGTERM }))
            })
            .collect()
    }

    fn alloc(&mut self, sv: Service<P>) -> Key {
        self.len += 1;
        let devino = sv.devino;
        let k = match self.free.pop() {
            Some(k) if k < self.slots.len() => {
                if let Some(slot) = self.slots.get_mut(k) {
                    *slot = Some(sv);
                }
                k
            }
            _ => {
                self.slots.push(Some(sv));
                self.slots.len() - 1
            }
        };
        self.by_devino.insert(devino, k);
        k
    }

    /// Forget a service: its pipe end and its peer's are closed (dropped).
    fn remove(&mut self, k: Key) {
        let Some(sv) = self.slots.get_mut(k).and_then(Option::take) else {
            return;
        };
        self.len -= 1;
        self.free.push(k);
        if self.by_devino.get(&sv.devino) == Some(&k) {
            self.by_devino.remove(&sv.devino);
        }
        if let Some(pid) = sv.pid {
            self.by_pid.remove(&pid);
        }
        if let Some(p) = sv.peer {
            if let Some(peer) = self.sv(p) {
                peer.pipe = None;
                peer.peer = None;
            }
        }
        if self.special == Some(k) {
            self.special = None;
        }
        drop(sv);
    }

    fn new_service(&mut self, devino: DevIno, name: OsString, logger: bool, now: Millis) -> Key {
        self.start_deadline = earliest(self.start_deadline, now);
        self.alloc(Service {
            devino,
            name,
            pid: None,
            start_at: now,
            peer: None,
            pipe: None,
            logger,
            active: false,
            mark: true,
        })
    }

    /// Mark the known non-logger service called `name` (and its logger) as still present:
    /// used when its entry could not be examined, so that a transient error never makes a
    /// running service inactive.
    fn keep_by_name(&mut self, name: &OsStr) {
        let keys: Vec<Key> = self
            .services()
            .filter(|(_, s)| !s.logger && s.name == name)
            .map(|(k, _)| k)
            .collect();
        for k in keys {
            let peer = self.sv(k).and_then(|s| {
                s.mark = true;
                s.peer
            });
            if let Some(p) = peer {
                if let Some(l) = self.sv(p) {
                    l.mark = true;
                }
            }
        }
    }

    /// `opendir`/`readdir` of the scandir failed: retry later, keep everything as it is.
    pub fn scan_failed(&mut self, now: Millis) {
        self.scan_deadline = self.cfg.period.map(|p| now + p);
        self.scan_deadline = earliest(self.scan_deadline, now + DIR_RETRY);
    }

    /// Commit a complete directory listing. `mk_pipe` creates a logger pipe as
    /// (read end, write end). Returns the warnings to print.
    ///
    /// Unlike s6 2.15.1, a problem with one entry (stat failure, table full, pipe failure)
    /// never aborts the whole scan: that entry is skipped (a known service keeps its state),
    /// everything else is committed, and a rescan is scheduled.
    pub fn apply_scan(
        &mut self,
        entries: &[ScanEntry],
        now: Millis,
        mk_pipe: &mut dyn FnMut() -> Result<(P, P), Errno>,
    ) -> Vec<ScanWarning> {
        let mut scan = self.begin_scan(now);
        for e in entries {
            let item = ScanItem {
                name: &e.name,
                stat: e.stat,
                log: e.log,
            };
            self.scan_entry(&mut scan, &item, mk_pipe);
        }
        self.end_scan(scan)
    }

    /// [`Core::apply_scan`] one entry at a time, as the driver reads the listing (nothing
    /// of it is kept between scans): `begin_scan`, `scan_entry` for each entry in order,
    /// `end_scan`, which returns the warnings.
    pub fn begin_scan(&mut self, now: Millis) -> Scan {
        self.scan_deadline = self.cfg.period.map(|p| now + p);
        for s in self.slots.iter_mut().flatten() {
            s.mark = false;
        }
        Scan {
            report: ScanReport::default(),
            now,
        }
    }

    pub fn scan_entry(
        &mut self,
        scan: &mut Scan,
        e: &ScanItem<'_>,
        mk_pipe: &mut dyn FnMut() -> Result<(P, P), Errno>,
    ) {
        let now = scan.now;
        if let Some((k, fresh)) = self.admit(e, now, &mut scan.report) {
            self.attach_logger(e, k, fresh, now, mk_pipe, &mut scan.report);
        }
    }

    /// The listing failed half-way: nothing is swept (what was admitted stays), the scan is
    /// retried as after any failed one; the warnings so far.
    pub fn fail_scan(&mut self, scan: Scan) -> Vec<ScanWarning> {
        self.scan_failed(scan.now);
        scan.report.warnings
    }

    pub fn end_scan(&mut self, scan: Scan) -> Vec<ScanWarning> {
        self.sweep();
        if let Some(r) = scan.report.retry {
            self.scan_deadline = earliest(self.scan_deadline, scan.now + r);
        }
        scan.report.warnings
    }

    /// Admit one entry as a (producer) service: its key, and whether it is new this scan.
    /// `None` when the entry is skipped (hidden, not a directory, a problem reported).
    fn admit(
        &mut self,
        e: &ScanItem<'_>,
        now: Millis,
        report: &mut ScanReport,
    ) -> Option<(Key, bool)> {
        if e.name.as_encoded_bytes().first() == Some(&b'.') {
            return None;
        }
        if e.name.len() > self.cfg.namemax {
            report.warn(ScanWarning::NameTooLong(e.name.to_os_string()), None);
            return None;
        }
        let di = match e.stat {
            Stat::NotDir => return None,
            Stat::Error(err) => {
                report.warn(
                    ScanWarning::Stat(e.name.to_os_string(), err),
                    Some(STAT_RETRY),
                );
                self.keep_by_name(e.name);
                return None;
            }
            Stat::Dir(di) => di,
        };
        let (k, fresh) = match self.by_devino.get(&di).copied() {
            // A logger directory also linked at the top level: it stays a logger.
            Some(k) if self.service(k).is_some_and(|s| s.logger) => return None,
            Some(k) => (k, false),
            None => {
                let log_known = match e.log {
                    Stat::Dir(ldi) => self.by_devino.contains_key(&ldi),
                    _ => true,
                };
                let need = if log_known { 1 } else { 2 };
                if self.len + need > self.cfg.max {
                    report.warn(
                        ScanWarning::TooManyServices(e.name.to_os_string()),
                        Some(FULL_RETRY),
                    );
                    return None;
                }
                let k = self.new_service(di, e.name.to_os_string(), false, now);
                if self.special.is_none() && e.name == SPECIAL_LOGGER {
                    self.special = Some(k);
                }
                (k, true)
            }
        };
        if let Some(sv) = self.sv(k) {
            sv.mark = true;
            if sv.name != e.name {
                sv.name.clear();
                sv.name.push(e.name);
            }
        }
        Some((k, fresh))
    }

    /// Pair service `k` with the logger in `<name>/log`, if any: keep the pair, adopt an
    /// orphan logger, or create the logger and its pipe.
    fn attach_logger(
        &mut self,
        e: &ScanItem<'_>,
        k: Key,
        fresh: bool,
        now: Millis,
        mk_pipe: &mut dyn FnMut() -> Result<(P, P), Errno>,
        report: &mut ScanReport,
    ) {
        let cur_peer = self.service(k).and_then(|s| s.peer);
        let ldi = match e.log {
            Stat::Dir(ldi) => ldi,
            Stat::NotDir => return,
            Stat::Error(Errno::ENOENT) => {
                if cur_peer.is_some() {
                    report.warn(ScanWarning::LoggerMoved(e.name.to_os_string()), None);
                }
                return;
            }
            Stat::Error(err) => {
                report.warn(ScanWarning::Stat(log_name(e.name), err), Some(STAT_RETRY));
                if let Some(l) = cur_peer.and_then(|p| self.sv(p)) {
                    l.mark = true;
                }
                return;
            }
        };
        match self.by_devino.get(&ldi).copied() {
            Some(l) if cur_peer == Some(l) => self.keep_logger(l, e.name),
            Some(l) => {
                let owned = self.service(l).and_then(|s| s.peer).is_some();
                if owned || !self.service(l).is_some_and(|s| s.logger) {
                    report.warn(
                        ScanWarning::OldServiceExists(log_name(e.name)),
                        Some(BUSY_RETRY),
                    );
                    if fresh {
                        self.remove(k);
                    }
                } else {
                    // A logger left without a producer: it keeps running, unpaired.
                    self.keep_logger(l, e.name);
                }
            }
            None => {
                if self.len + 1 > self.cfg.max {
                    report.warn(
                        ScanWarning::TooManyServices(log_name(e.name)),
                        Some(FULL_RETRY),
                    );
                    return;
                }
                match mk_pipe() {
                    Ok((r, w)) => self.pair_new_logger(k, cur_peer, ldi, e.name, (r, w), now),
                    Err(err) => {
                        report.warn(ScanWarning::Pipe(log_name(e.name), err), Some(PIPE_RETRY));
                        if fresh {
                            self.remove(k);
                        }
                    }
                }
            }
        }
    }

    fn keep_logger(&mut self, l: Key, producer: &OsStr) {
        if let Some(lsv) = self.sv(l) {
            lsv.mark = true;
            // Renamed only when the producer's name changed: a rescan allocates nothing.
            let same = lsv
                .name
                .as_bytes()
                .strip_prefix(producer.as_bytes())
                .is_some_and(|rest| rest == b"/log");
            if !same {
                lsv.name = log_name(producer);
            }
        }
    }

    fn pair_new_logger(
        &mut self,
        k: Key,
        old_peer: Option<Key>,
        ldi: DevIno,
        producer: &OsStr,
        (r, w): (P, P),
        now: Millis,
    ) {
        if let Some(o) = old_peer.and_then(|p| self.sv(p)) {
            o.peer = None;
        }
        let l = self.new_service(ldi, log_name(producer), true, now);
        if let Some(lsv) = self.sv(l) {
            lsv.peer = Some(k);
            lsv.pipe = Some(r);
        }
        if let Some(sv) = self.sv(k) {
            sv.peer = Some(l);
            sv.pipe = Some(w);
        }
    }

    /// After a scan: what was seen is active; what was not, and has no supervise left, goes.
    fn sweep(&mut self) {
        let mut dead = Vec::new();
        for (k, s) in self.slots.iter_mut().enumerate() {
            if let Some(s) = s {
                s.active = s.mark;
                if !s.active && s.pid.is_none() {
                    dead.push(k);
                }
            }
        }
        for k in dead {
            self.remove(k);
        }
    }

    /// The services to spawn now (active, no supervise, respawn time reached), at most
    /// `limit` of them: when more are due, the start stays due at `now`, so that the driver
    /// goes back to its poll (signals, control bytes) between batches of a big start.
    pub fn take_starts(&mut self, now: Millis, limit: usize) -> Vec<Key> {
        if !self.start_due(now) {
            return Vec::new();
        }
        self.start_deadline = None;
        let mut due = Vec::new();
        let mut next = None;
        for (k, s) in self.slots.iter().enumerate() {
            let Some(s) = s else { continue };
            if !s.active || s.pid.is_some() {
                continue;
            }
            if s.start_at > now {
                next = earliest(next, s.start_at);
            } else if due.len() < limit {
                due.push(k);
            } else {
                next = Some(now);
                break;
            }
        }
        self.start_deadline = next;
        due
    }

    /// A supervise was spawned for `k`.
    pub fn spawned(&mut self, k: Key, pid: i32, now: Millis) {
        if let Some(s) = self.sv(k) {
            s.pid = Some(pid);
            s.start_at = now + RESPAWN_DELAY;
            self.by_pid.insert(pid, k);
        }
    }

    /// The spawn for `k` failed: retry later.
    pub fn spawn_failed(&mut self, k: Key, now: Millis) {
        if let Some(s) = self.sv(k) {
            s.start_at = now + SPAWN_RETRY;
            self.start_deadline = earliest(self.start_deadline, now + SPAWN_RETRY);
        }
    }

    /// A child was reaped. Returns whether it was one of our supervise processes.
    pub fn child_exited(&mut self, pid: i32, now: Millis) -> bool {
        let Some(k) = self.by_pid.remove(&pid) else {
            return false;
        };
        let Some(s) = self.sv(k) else {
            return true;
        };
        s.pid = None;
        if s.active {
            let at = s.start_at.max(now);
            self.start_deadline = earliest(self.start_deadline, at);
        } else {
            self.remove(k);
        }
        true
    }

    /// Close every logger pipe end held (shutdown).
    pub fn close_pipes(&mut self) {
        for s in self.slots.iter_mut().flatten() {
            s.pipe = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(w: &[ScanWarning]) -> Vec<String> {
        w.iter()
            .map(|w| String::from_utf8(w.message()).unwrap())
            .collect()
    }
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A pipe end that records its closing.
    #[derive(Debug)]
    struct End {
        id: u32,
        closed: Rc<RefCell<Vec<u32>>>,
    }
    impl Drop for End {
        fn drop(&mut self) {
            self.closed.borrow_mut().push(self.id);
        }
    }

    struct Pipes {
        next: u32,
        closed: Rc<RefCell<Vec<u32>>>,
        fail: bool,
    }
    impl Pipes {
        fn new() -> Pipes {
            Pipes {
                next: 0,
                closed: Rc::default(),
                fail: false,
            }
        }
        fn maker(&mut self) -> impl FnMut() -> Result<(End, End), Errno> + '_ {
            move || {
                if self.fail {
                    return Err(Errno::EMFILE);
                }
                self.next += 2;
                Ok((
                    End {
                        id: self.next - 2,
                        closed: self.closed.clone(),
                    },
                    End {
                        id: self.next - 1,
                        closed: self.closed.clone(),
                    },
                ))
            }
        }
        fn closed(&self) -> Vec<u32> {
            let mut v = self.closed.borrow().clone();
            v.sort();
            v
        }
    }

    fn di(ino: u64) -> DevIno {
        DevIno { dev: 1, ino }
    }
    fn dir(name: &str, ino: u64) -> ScanEntry {
        ScanEntry {
            name: name.into(),
            stat: Stat::Dir(di(ino)),
            log: Stat::Error(Errno::ENOENT),
        }
    }
    fn logged(name: &str, ino: u64, log: u64) -> ScanEntry {
        ScanEntry {
            name: name.into(),
            stat: Stat::Dir(di(ino)),
            log: Stat::Dir(di(log)),
        }
    }
    fn cfg(max: usize) -> Config {
        Config {
            max,
            namemax: 251,
            period: None,
        }
    }
    fn names(c: &Core<End>, keys: &[Key]) -> Vec<String> {
        let mut v: Vec<String> = keys
            .iter()
            .map(|&k| c.service(k).unwrap().name.to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
    /// Start everything due, giving pids from `pid` upwards; returns the names started.
    fn start(c: &mut Core<End>, now: Millis, pid: &mut i32) -> Vec<String> {
        let ks = c.take_starts(now, usize::MAX);
        let n = names(c, &ks);
        for k in ks {
            *pid += 1;
            c.spawned(k, *pid, now);
        }
        n
    }
    fn pid_of(c: &Core<End>, name: &str) -> i32 {
        c.services()
            .find(|(_, s)| s.name == name)
            .and_then(|(_, s)| s.pid)
            .unwrap()
    }

    #[test]
    fn first_scan_starts_every_directory_once() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        assert!(c.scan_due(0));
        let entries = vec![
            dir("a", 1),
            ScanEntry {
                name: "file".into(),
                stat: Stat::NotDir,
                log: Stat::NotDir,
            },
            ScanEntry {
                name: ".hidden".into(),
                stat: Stat::Dir(di(9)),
                log: Stat::NotDir,
            },
            logged("b", 2, 3),
        ];
        let w = c.apply_scan(&entries, 0, &mut p.maker());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.len(), 3);
        assert!(!c.scan_due(0));
        assert_eq!(c.next_deadline(), Some(0));
        let mut pid = 100;
        assert_eq!(start(&mut c, 0, &mut pid), ["a", "b", "b/log"]);
        assert_eq!(c.next_deadline(), None, "idle: no wake-up");
        assert_eq!(c.live(), 3);
        // A second scan of the same entries starts nothing new.
        c.trigger(Trigger::Rescan, 5);
        c.apply_scan(&entries, 5, &mut p.maker());
        assert!(c.take_starts(5, usize::MAX).is_empty());
        assert!(p.closed().is_empty());
        // The pair shares one pipe: producer holds the write end, logger the read end.
        let b = c.services().find(|(_, s)| s.name == "b").unwrap().1;
        let l = c.services().find(|(_, s)| s.name == "b/log").unwrap().1;
        assert_eq!(b.pipe.as_ref().unwrap().id, 1);
        assert_eq!(l.pipe.as_ref().unwrap().id, 0);
        assert!(l.logger && !b.logger);
    }

    #[test]
    fn same_directory_twice_is_one_service() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("a", 1), dir("link-to-a", 1)], 0, &mut p.maker());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn respawn_one_second_after_spawn() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("a", 1)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        // Dies early: respawned at spawn + 1 s.
        assert!(c.child_exited(1, 300));
        assert!(c.take_starts(300, usize::MAX).is_empty());
        assert_eq!(c.next_deadline(), Some(1000));
        assert_eq!(start(&mut c, 1000, &mut pid), ["a"]);
        // Dies after running more than 1 s: at once.
        assert!(c.child_exited(2, 5000));
        assert_eq!(c.next_deadline(), Some(5000));
        assert_eq!(start(&mut c, 5000, &mut pid), ["a"]);
        // Unknown children (orphans) are not ours.
        assert!(!c.child_exited(4242, 6000));
    }

    #[test]
    fn spawn_failure_retries_later_without_delaying_others() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("a", 1), dir("b", 2)], 0, &mut p.maker());
        let ks = c.take_starts(0, usize::MAX);
        let a = ks
            .iter()
            .copied()
            .find(|&k| c.service(k).unwrap().name == "a")
            .unwrap();
        let b = ks.iter().copied().find(|&k| k != a).unwrap();
        c.spawn_failed(a, 0);
        c.spawned(b, 7, 0);
        assert_eq!(c.next_deadline(), Some(SPAWN_RETRY));
        assert!(c.take_starts(SPAWN_RETRY - 1, usize::MAX).is_empty());
        let mut pid = 10;
        assert_eq!(start(&mut c, SPAWN_RETRY, &mut pid), ["a"]);
    }

    #[test]
    fn removed_service_kept_until_prune_then_forgotten() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("keep", 1), logged("gone", 2, 3)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        let gone = pid_of(&c, "gone");
        let gone_log = pid_of(&c, "gone/log");
        c.trigger(Trigger::Rescan, 10);
        c.apply_scan(&[dir("keep", 1)], 10, &mut p.maker());
        assert!(c.take_kills().is_empty(), "a rescan alone kills nothing");
        assert_eq!(c.len(), 3);
        c.trigger(Trigger::Prune, 20);
        let mut k = c.take_kills();
        k.sort();
        assert_eq!(k, vec![(gone, libc::SIGTERM), (gone_log, libc::SIGHUP)]);
        assert!(c.take_kills().is_empty(), "kills are sent once");
        // The producer's supervise dies: both pipe ends are closed so the logger sees EOF.
        c.child_exited(gone, 30);
        assert_eq!(p.closed(), vec![0, 1]);
        assert!(c.take_starts(2000, usize::MAX).is_empty(), "not respawned");
        c.child_exited(gone_log, 40);
        assert_eq!(c.len(), 1);
        assert_eq!(c.live(), 1);
    }

    #[test]
    fn hard_prune_terms_loggers() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[logged("a", 1, 2)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        c.apply_scan(&[], 10, &mut p.maker());
        c.trigger(Trigger::PruneHard, 10);
        let k = c.take_kills();
        assert!(k.iter().all(|&(_, s)| s == libc::SIGTERM) && k.len() == 2);
    }

    #[test]
    fn terminate_and_quit_select_everything() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(
            &[logged("a", 1, 2), dir(SPECIAL_LOGGER, 5)],
            0,
            &mut p.maker(),
        );
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        c.trigger(Trigger::Terminate, 1);
        assert!(!c.cont() && c.waitall());
        let mut k = c.take_kills();
        k.sort();
        let a = pid_of(&c, "a");
        let l = pid_of(&c, "a/log");
        let s = pid_of(&c, SPECIAL_LOGGER);
        let mut want = vec![(a, libc::SIGTERM), (l, libc::SIGHUP), (s, libc::SIGHUP)];
        want.sort();
        assert_eq!(k, want);
        c.trigger(Trigger::Quit, 2);
        assert!(c.take_kills().iter().all(|&(_, s)| s == libc::SIGTERM));
        assert!(c.has_special());
        c.close_pipes();
        assert_eq!(p.closed(), vec![0, 1]);
    }

    #[test]
    fn builtin_signal_actions() {
        assert_eq!(builtin_for_signal(libc::SIGHUP), Some(Trigger::RescanPrune));
        assert_eq!(builtin_for_signal(libc::SIGINT), Some(Trigger::Terminate));
        assert_eq!(builtin_for_signal(libc::SIGTERM), Some(Trigger::Terminate));
        assert_eq!(builtin_for_signal(libc::SIGQUIT), Some(Trigger::Quit));
        assert_eq!(builtin_for_signal(libc::SIGALRM), Some(Trigger::Rescan));
        assert_eq!(builtin_for_signal(libc::SIGABRT), Some(Trigger::Abort));
        for sig in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGPWR, libc::SIGWINCH] {
            assert_eq!(builtin_for_signal(sig), None);
        }
        assert_eq!(
            Trigger::from(common::SvscanCommand::Interrupt),
            Trigger::Terminate
        );
    }

    #[test]
    fn abort_while_waiting_stops_the_wait() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("a", 1)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        c.trigger(Trigger::Terminate, 1);
        assert_eq!(c.take_kills().len(), 1);
        assert!(c.waitall() && c.live() == 1);
        c.trigger(Trigger::Abort, 2);
        assert!(!c.waitall());
        // Deaths during the wait are recorded (the driver starts nothing once leaving).
        assert!(c.child_exited(1, 3));
        assert_eq!(c.live(), 0);
    }

    #[test]
    fn abort_does_not_wait_or_kill() {
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.trigger(Trigger::Abort, 0);
        assert!(!c.cont() && !c.waitall());
        assert!(c.take_kills().is_empty());
    }

    #[test]
    fn rescan_and_terminate_in_one_batch_still_kills() {
        // 2.15.1 defers the kills of `-at` behind the scan and never sends them (hang).
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("a", 1)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        c.trigger(Trigger::Rescan, 5);
        c.trigger(Trigger::Terminate, 5);
        assert!(c.scan_due(5));
        c.apply_scan(&[dir("a", 1), dir("b", 2)], 5, &mut p.maker());
        assert_eq!(c.take_kills(), vec![(1, libc::SIGTERM)]);
    }

    #[test]
    fn table_full_starts_what_fits() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(4), 0);
        let w = c.apply_scan(
            &[
                logged("a", 1, 2),
                logged("b", 3, 4),
                logged("c", 5, 6),
                dir("d", 7),
            ],
            0,
            &mut p.maker(),
        );
        assert_eq!(c.len(), 4);
        assert_eq!(
            texts(&w),
            vec![
                "unable to start supervisor for c: too many services",
                "unable to start supervisor for d: too many services"
            ]
        );
        assert_eq!(c.next_deadline(), Some(0));
        let mut pid = 0;
        assert_eq!(start(&mut c, 0, &mut pid), ["a", "a/log", "b", "b/log"]);
        assert_eq!(c.next_deadline(), Some(FULL_RETRY));
    }

    #[test]
    fn long_names_and_stat_errors_warn_and_retry() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(
            Config {
                max: 100,
                namemax: 11,
                period: None,
            },
            0,
        );
        let w = c.apply_scan(
            &[
                dir("aaaaaaaaaaa", 1),
                dir("bbbbbbbbbbbb", 2),
                ScanEntry {
                    name: "dangling".into(),
                    stat: Stat::Error(Errno::ENOENT),
                    log: Stat::NotDir,
                },
            ],
            0,
            &mut p.maker(),
        );
        assert_eq!(
            texts(&w),
            vec![
                "name too long - not spawning service: bbbbbbbbbbbb",
                "unable to stat dangling: No such file or directory"
            ]
        );
        assert_eq!(c.len(), 1);
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        assert_eq!(c.next_deadline(), Some(STAT_RETRY));
        // A known service whose entry cannot be stat'ed for a while stays active.
        let w = c.apply_scan(
            &[ScanEntry {
                name: "aaaaaaaaaaa".into(),
                stat: Stat::Error(Errno::EACCES),
                log: Stat::NotDir,
            }],
            10,
            &mut p.maker(),
        );
        assert_eq!(w.len(), 1);
        c.trigger(Trigger::Prune, 10);
        assert!(c.take_kills().is_empty());
    }

    #[test]
    fn periodic_rescan() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(
            Config {
                max: 100,
                namemax: 251,
                period: Some(400),
            },
            0,
        );
        c.apply_scan(&[], 0, &mut p.maker());
        assert_eq!(c.next_deadline(), Some(400));
        assert!(c.scan_due(400));
    }

    #[test]
    fn logger_supervise_respawns_with_the_same_pipe() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[logged("a", 1, 2)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        let l = pid_of(&c, "a/log");
        c.child_exited(l, 3000);
        assert_eq!(start(&mut c, 3000, &mut pid), ["a/log"]);
        assert!(p.closed().is_empty());
        let lk = c.services().find(|(_, s)| s.logger).unwrap().1;
        assert_eq!(lk.pipe.as_ref().unwrap().id, 0);
    }

    #[test]
    fn log_added_later_and_moved_logger() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir("a", 1)], 0, &mut p.maker());
        let mut pid = 0;
        start(&mut c, 0, &mut pid);
        c.apply_scan(&[logged("a", 1, 2)], 10, &mut p.maker());
        assert_eq!(start(&mut c, 10, &mut pid), ["a/log"]);
        let w = c.apply_scan(&[dir("a", 1)], 20, &mut p.maker());
        assert_eq!(texts(&w), vec!["logger for service a has been moved"]);
        // The logger directory shows up under another producer while still paired.
        let w = c.apply_scan(&[dir("a", 1), logged("b", 3, 2)], 30, &mut p.maker());
        assert_eq!(
            texts(&w),
            vec![
                "logger for service a has been moved",
                "old service b/log still exists, waiting"
            ]
        );
        assert!(!c.scan_due(30 + BUSY_RETRY - 1) && c.scan_due(30 + BUSY_RETRY));
    }

    #[test]
    fn pipe_failure_skips_new_pair() {
        let mut p = Pipes::new();
        p.fail = true;
        let mut c: Core<End> = Core::new(cfg(100), 0);
        let w = c.apply_scan(&[logged("a", 1, 2), dir("b", 3)], 0, &mut p.maker());
        assert_eq!(
            texts(&w),
            vec!["unable to create pipe for a/log: Too many open files"]
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c.next_deadline(), Some(0));
        let mut pid = 0;
        assert_eq!(start(&mut c, 0, &mut pid), ["b"]);
        p.fail = false;
        c.apply_scan(
            &[logged("a", 1, 2), dir("b", 3)],
            PIPE_RETRY,
            &mut p.maker(),
        );
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn slots_are_reused_and_special_forgotten() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(100), 0);
        c.apply_scan(&[dir(SPECIAL_LOGGER, 1)], 0, &mut p.maker());
        assert!(c.has_special());
        c.apply_scan(&[dir("x", 2)], 1, &mut p.maker());
        assert!(!c.has_special());
        assert_eq!(c.len(), 1);
        c.apply_scan(&[dir("x", 2), dir("y", 3)], 2, &mut p.maker());
        assert_eq!(c.len(), 2);
        assert_eq!(c.services().map(|(k, _)| k).max(), Some(1), "slot reused");
    }

    #[test]
    fn scale_ten_thousand() {
        let mut p = Pipes::new();
        let mut c: Core<End> = Core::new(cfg(20_000), 0);
        let entries: Vec<ScanEntry> = (0..10_000u64)
            .map(|i| logged(&format!("s{i}"), 2 * i + 10, 2 * i + 11))
            .collect();
        assert!(c.apply_scan(&entries, 0, &mut p.maker()).is_empty());
        let mut n = 0;
        loop {
            let ks = c.take_starts(0, 512);
            if ks.is_empty() {
                break;
            }
            assert!(ks.len() <= 512);
            for k in ks {
                n += 1;
                c.spawned(k, n, 0);
            }
            assert!(c.next_deadline().is_some() || n == 20_000);
        }
        assert_eq!(n, 20_000);
        assert_eq!(c.next_deadline(), None);
    }
}
