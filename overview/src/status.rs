//! `s6-rs status [ --json ] [ --color=auto|always|never ] [ SCANDIR | SERVICEDIR ]...`: every
//! service at a glance, one aligned line per service and per `log/` service.
//!
//! Layers: [`parse_args`] (pure), [`discover`] and [`snapshot`] (the file system, read only:
//! unlike `s6-svdt` we never create or truncate a death tally), then [`Row`]'s pure
//! judgements ([`Row::state`], [`Row::as_wanted`]) and the two pure formatters
//! ([`table`], [`json`]).

use common::dtally::{self, DeathRecord};
use common::health;
use common::json::string as jstr;
use common::scandir;
use common::signals;
use common::status::{StatusError, StatusRecord};
use common::tai::Tai64n;
use common::wait::WaitStatus;
use common::ServiceDir;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const PROG: &str = "s6-rs status";
pub const USAGE: &str = "s6-rs status [ --json ] [ --up-for seconds ] [ --color=auto|always|never ] [ scandir | servicedir ... ]";
pub const HELP: &str = "\
s6-rs status [ --json ] [ --up-for seconds ] [ --color=auto|always|never ] [ scandir | servicedir ... ]
  (no dir)    the scan directory of every running s6-svscan (its working directory),
              else the first of /run/service, /etc/s6, /etc/service that exists
  scandir     every service in it (entries not starting with '.'), and their log/
  servicedir  that service (a dir with ./run or ./supervise), and its log/
  --json      one JSON array, one object per service (stable field names)
  --up-for N  a service wanted up is as wanted once up for N seconds since its last start
              (a crash loop never is): the exit code makes a liveness probe
  --color=W   colour the state: auto (default: only on a terminal, unless NO_COLOR is set),
              always, never
Exit code: 0 every service is as wanted (wanted up: up and ready; wanted down: down),
1 some service is not (down, not ready yet, unsupervised), 100 usage, 111 system error.
Ready: up, and readiness notified if the service has a notification-fd (as s6-svstat --ready).
";

/// Directories tried, in order, when no svscan is running and no dir is given.
pub const DEFAULT_SCANDIRS: [&str; 3] = ["/run/service", "/etc/s6", "/etc/service"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub json: bool,
    pub color: Color,
    /// `--up-for SECONDS`.
    pub up_for: Option<u64>,
    pub dirs: Vec<OsString>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseOutcome {
    Run(Request),
    Help,
    Version,
    Usage,
}

/// Parse the arguments (without the program name). Long options anywhere; `--` ends them.
pub fn parse_args(args: &[OsString]) -> ParseOutcome {
    let mut req = Request {
        json: false,
        color: Color::Auto,
        up_for: None,
        dirs: Vec::new(),
    };
    let mut options = true;
    let secs = |v: Option<&[u8]>| {
        v.and_then(|v| common::cli::uint0_scan(std::ffi::OsStr::from_bytes(v)))
            .map(u64::from)
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let b = a.as_bytes();
        if options && b.starts_with(b"-") && b.len() > 1 {
            match b {
                b"--up-for" => match secs(it.next().map(|v| v.as_bytes())) {
                    Some(n) => req.up_for = Some(n),
                    None => return ParseOutcome::Usage,
                },
                _ if b.starts_with(b"--up-for=") => match secs(b.strip_prefix(b"--up-for=")) {
                    Some(n) => req.up_for = Some(n),
                    None => return ParseOutcome::Usage,
                },
                b"--" => options = false,
                b"--help" => return ParseOutcome::Help,
                b"--version" => return ParseOutcome::Version,
                b"--json" => req.json = true,
                b"--color" | b"--color=always" => req.color = Color::Always,
                b"--color=auto" => req.color = Color::Auto,
                b"--color=never" | b"--no-color" => req.color = Color::Never,
                _ => return ParseOutcome::Usage,
            }
        } else {
            req.dirs.push(a.clone());
        }
    }
    ParseOutcome::Run(req)
}

/// One service (or logger) to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub dir: PathBuf,
    pub is_log: bool,
}

/// What was read of one service directory at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// A supervisor holds `supervise/lock`.
    pub supervised: bool,
    /// `None`: no status file yet (never supervised).
    pub status: Option<StatusRecord>,
    /// A valid `notification-fd`: readiness is notified, not implied.
    pub notifies: bool,
    /// No `down` file.
    pub normally_up: bool,
    /// Records in `supervise/death_tally`, and the newest.
    pub deaths: usize,
    pub last_death: Option<DeathRecord>,
    /// Seconds up since the last start when read ([`common::health::up_for`]).
    pub up_secs: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub target: Target,
    pub snap: Result<Snapshot, String>,
    /// `--up-for`: a service wanted up is as wanted only once up for this many seconds.
    pub min_up: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Up,
    /// `./finish` is running.
    Finishing,
    Down,
    /// s6 2.15's marker: supervised, never started yet (down file, or before the first start).
    NotStarted,
    /// No supervisor runs on it (what the status file says is stale).
    Unsupervised,
    Error,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Finishing => "finishing",
            State::Down => "down",
            State::NotStarted => "not started",
            State::Unsupervised => "unsupervised",
            State::Error => "error",
        }
    }
}

/// A death, an exit code or a signal, as one word pair: `exit 3`, `signal SIGTERM`.
fn describe_wstat(w: WaitStatus) -> Option<(Option<u8>, Option<u8>)> {
    match w {
        WaitStatus::Exited(c) => Some((Some(c), None)),
        WaitStatus::Signaled { signal, .. } => Some((None, Some(signal))),
        _ => None,
    }
}

fn sig_name(sig: u8) -> String {
    format!("SIG{}", signals::name(sig as i32))
}

impl Row {
    pub fn state(&self) -> State {
        let snap = match &self.snap {
            Err(_) => return State::Error,
            Ok(s) => s,
        };
        if !snap.supervised {
            return State::Unsupervised;
        }
        match &snap.status {
            None => State::NotStarted,
            Some(st) if st.finishing => State::Finishing,
            Some(st) if st.is_up() => State::Up,
            Some(st) if st.not_started() => State::NotStarted,
            Some(_) => State::Down,
        }
    }

    fn status(&self) -> Option<&StatusRecord> {
        self.snap.as_ref().ok().and_then(|s| s.status.as_ref())
    }

    /// Ready as every probe of ours defines it ([`common::health::is_ready`]).
    pub fn ready(&self) -> bool {
        match (&self.snap, self.state()) {
            (Ok(s), State::Up) => s
                .status
                .as_ref()
                .is_some_and(|st| health::is_ready(st, s.notifies)),
            _ => false,
        }
    }

    pub fn want_up(&self) -> Option<bool> {
        self.status().map(|st| st.want_up)
    }

    /// Is the service as it is wanted: wanted up and ready, or wanted down and down?
    pub fn as_wanted(&self) -> bool {
        match self.state() {
            State::Error | State::Unsupervised => false,
            State::Up => {
                let long_enough = match (self.min_up, &self.snap) {
                    (Some(n), Ok(s)) => s.up_secs.unwrap_or(0) >= n,
                    _ => true,
                };
                self.want_up() == Some(true) && self.ready() && long_enough
            }
            State::Finishing => false,
            State::Down | State::NotStarted => self.want_up() != Some(true),
        }
    }

    /// The last exit of `./run`: its status while down, else the newest death-tally record.
    pub fn last_exit(&self) -> Option<(Option<u8>, Option<u8>)> {
        let snap = self.snap.as_ref().ok()?;
        let st = snap.status.as_ref()?;
        if !st.is_up() && !st.not_started() {
            return describe_wstat(st.wait_status());
        }
        snap.last_death.map(|d| {
            if d.sig != 0 {
                (None, Some(d.sig))
            } else {
                (Some(d.exitcode), None)
            }
        })
    }

    fn pid(&self) -> Option<i32> {
        let st = self.status()?;
        (self.state() == State::Up || self.state() == State::Finishing).then(|| st.pid_t())
    }
}

/// Seconds as a short duration: `42s`, `5m03s`, `2h04m`, `3d04h`.
pub fn human_duration(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a unix time (UTC; days to civil date after H. Hinnant).
pub fn iso8601(unix: u64) -> String {
    let days = (unix / 86400) as i64;
    let rem = unix % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The columns of one line of the table (pure).
fn cells(row: &Row, now: &Tai64n) -> [String; 8] {
    let state = row.state();
    let dash = || "-".to_string();
    let st = row.status();
    let since = match (state, st) {
        (State::Error | State::Unsupervised, _) | (_, None) => dash(),
        (_, Some(st)) => human_duration(st.stamp.secs_until(now)),
    };
    let ready = match state {
        State::Up => if row.ready() { "yes" } else { "no" }.to_string(),
        _ => dash(),
    };
    let want = match row.want_up() {
        Some(true) => "up".to_string(),
        Some(false) => "down".to_string(),
        None => dash(),
    };
    let last = match row.last_exit() {
        Some((Some(c), _)) => format!("exit {c}"),
        Some((None, Some(s))) => format!("signal {}", sig_name(s)),
        _ => dash(),
    };
    let deaths = match &row.snap {
        Ok(s) => s.deaths.to_string(),
        Err(_) => dash(),
    };
    let state_text = match &row.snap {
        Err(e) => format!("error: {e}"),
        Ok(_) => state.name().to_string(),
    };
    [
        row.target.name.clone(),
        state_text,
        row.pid().map_or_else(dash, |p| p.to_string()),
        since,
        ready,
        want,
        last,
        deaths,
    ]
}

const HEADER: [&str; 8] = [
    "SERVICE", "STATE", "PID", "FOR", "READY", "WANT", "LAST", "RESTARTS",
];

/// ANSI colour of a row's state: green as wanted, yellow on its way, red wrong.
fn colour_of(row: &Row) -> &'static str {
    match row.state() {
        _ if row.as_wanted() => {
            if row.state() == State::Up {
                "\x1b[32m"
            } else {
                "\x1b[2m"
            }
        }
        State::Up | State::Finishing => "\x1b[33m",
        _ => "\x1b[31m",
    }
}

/// The aligned table, with a header line (pure).
pub fn table(rows: &[Row], now: &Tai64n, colour: bool) -> String {
    let lines: Vec<[String; 8]> = rows.iter().map(|r| cells(r, now)).collect();
    let mut width = HEADER.map(str::len);
    for l in &lines {
        for (w, c) in width.iter_mut().zip(l.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut put = |cols: &[&str], state_colour: Option<&str>| {
        let mut line = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            let last = i + 1 == cols.len();
            let pad = if last { 0 } else { w - c.chars().count() + 2 };
            match state_colour {
                Some(sc) if i == 1 => {
                    let _ = write!(line, "{sc}{c}\x1b[0m");
                }
                _ => line.push_str(c),
            }
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    put(&HEADER, None);
    for (r, l) in rows.iter().zip(&lines) {
        let cols: Vec<&str> = l.iter().map(String::as_str).collect();
        put(&cols, colour.then(|| colour_of(r)));
    }
    out
}

fn json_time(out: &mut String, key: &str, t: &Tai64n, now: &Tai64n) {
    let unix = t.unix_secs();
    let _ = write!(
        out,
        ",\"{key}_seconds\":{},\"{key}_unix\":{unix},\"{key}_iso8601\":\"{}\",\"{key}_tai64n\":\"{}\"",
        t.secs_until(now),
        iso8601(unix),
        t.label()
    );
}

fn json_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// One JSON object (pure).
pub fn json_object(row: &Row, now: &Tai64n) -> String {
    let mut o = String::with_capacity(512);
    let state = row.state();
    let _ = write!(
        o,
        "{{\"name\":{},\"dir\":{},\"log\":{},\"state\":\"{}\",\"ok\":{}",
        jstr(row.target.name.as_bytes()),
        jstr(row.target.dir.as_os_str().as_bytes()),
        row.target.is_log,
        state.name(),
        row.as_wanted()
    );
    match &row.snap {
        Err(e) => {
            let _ = write!(o, ",\"error\":{}}}", jstr(e.as_bytes()));
            return o;
        }
        Ok(snap) => {
            let st = snap.status.unwrap_or_default();
            let have = snap.status.is_some();
            let (code, sig) = row.last_exit().unwrap_or((None, None));
            let _ = write!(
                o,
                ",\"supervised\":{},\"up\":{},\"ready\":{},\"pid\":{},\"wantup\":{},\"normallyup\":{},\"paused\":{},\"finishing\":{},\"notifies\":{},\"notified\":{}",
                snap.supervised,
                state == State::Up,
                row.ready(),
                json_opt(row.pid()),
                json_opt(have.then_some(st.want_up)),
                snap.normally_up,
                have && st.paused,
                have && st.finishing,
                snap.notifies,
                have && st.ready
            );
            if have && snap.supervised {
                json_time(&mut o, "since", &st.stamp, now);
                json_time(&mut o, "readysince", &st.ready_stamp, now);
            }
            let _ = write!(
                o,
                ",\"exitcode\":{},\"signal\":{},\"signum\":{},\"restarts\":{}",
                json_opt(code),
                sig.map_or_else(|| "null".to_string(), |s| jstr(sig_name(s).as_bytes())),
                json_opt(sig),
                snap.deaths
            );
            match &snap.last_death {
                None => o.push_str(",\"lastdeath\":null"),
                Some(d) => {
                    let _ = write!(o, ",\"lastdeath\":{{\"exitcode\":{}", d.exitcode);
                    let _ = write!(
                        o,
                        ",\"signal\":{}",
                        if d.sig != 0 {
                            jstr(sig_name(d.sig).as_bytes())
                        } else {
                            "null".into()
                        }
                    );
                    let unix = d.stamp.unix_secs();
                    let _ = write!(
                        o,
                        ",\"at_unix\":{unix},\"at_iso8601\":\"{}\",\"at_tai64n\":\"{}\"}}",
                        iso8601(unix),
                        d.stamp.label()
                    );
                }
            }
            o.push('}');
        }
    }
    o
}

/// The `--json` array, one object a line (pure).
pub fn json(rows: &[Row], now: &Tai64n) -> String {
    let mut out = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&json_object(r, now));
    }
    out.push_str("\n]\n");
    out
}

/// The exit code summarising the rows (pure): 111 if one could not be read, 1 if one is not
/// as wanted, else 0.
pub fn exit_code(rows: &[Row]) -> i32 {
    if rows.iter().any(|r| r.snap.is_err()) {
        common::msg::exit::SYSTEM
    } else if rows.iter().all(Row::as_wanted) {
        0
    } else {
        1
    }
}

// ---- the file system (read only) ----

fn is_dir(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_dir())
}

/// The scan directories of the running s6-svscan processes: their working directory (s6-svscan
/// chdirs into its scan directory), found through /proc. Ours and s6's alike.
pub fn running_scandirs() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return found;
    };
    let mut pids: Vec<u32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !is_svscan_cmdline(&cmdline) {
            continue;
        }
        if let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) {
            if !found.contains(&cwd) {
                found.push(cwd);
            }
        }
    }
    found
}

/// `s6-svscan ...`, `svscan ...` or `s6-rs svscan ...` (any directory), from /proc's NUL-split
/// command line (pure).
pub fn is_svscan_cmdline(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&c| c == 0);
    let base = |a: &[u8]| a.rsplit(|&c| c == b'/').next().unwrap_or(a).to_vec();
    let is_name = |n: &[u8]| n == b"s6-svscan" || n == b"svscan";
    match args.next().map(base) {
        Some(a0) if is_name(&a0) => true,
        Some(a0) if a0 == b"s6-rs" => args.next().is_some_and(is_name),
        _ => false,
    }
}

fn name_of(p: &Path) -> String {
    p.as_os_str().to_string_lossy().into_owned()
}

/// The targets of one directory argument: a service and its logger, or every service of a scan
/// directory. `prefix` names the rows (`None`: entry names alone).
pub fn discover(dir: &Path, prefix: Option<&str>) -> Result<Vec<Target>, String> {
    let entries = if scandir::is_service_dir(dir) {
        scandir::with_logger(name_of(dir), dir.to_path_buf())
    } else {
        let mut v = scandir::services(dir).map_err(|e| {
            format!(
                "unable to read {}: {}",
                dir.display(),
                common::msg::StrError(common::msg::errno_of(&e))
            )
        })?;
        if let Some(p) = prefix {
            for e in &mut v {
                e.name = format!("{}/{}", p.trim_end_matches('/'), e.name);
            }
        }
        v
    };
    Ok(entries
        .into_iter()
        .map(|e| Target {
            name: e.name,
            dir: e.dir,
            is_log: e.is_log,
        })
        .collect())
}

/// Read one service directory (no side effect).
pub fn snapshot(dir: &Path) -> Result<Snapshot, String> {
    let err = |what: &str, e: common::Errno| {
        format!(
            "unable to {what} {}: {}",
            dir.display(),
            common::msg::StrError(e)
        )
    };
    let supervised = common::lock::is_supervised(dir).map_err(|e| err("check", e))?;
    let status = match StatusRecord::read(dir) {
        Ok(st) => Some(st),
        Err(StatusError::Io(common::Errno::ENOENT)) => None,
        Err(e) => return Err(err("read status of", e.errno())),
    };
    let sd = ServiceDir::new(dir);
    let notifies = sd.notification_fd().value.is_some();
    let normally_up = !sd.down().map_err(|e| err("check down file of", e))?;
    let up_secs = status
        .as_ref()
        .and_then(|st| health::up_for(st, &Tai64n::now()));
    let tally = match std::fs::read(dir.join(dtally::DTALLY_FILE)) {
        Ok(b) => dtally::unpack_all(&b),
        Err(_) => Vec::new(),
    };
    Ok(Snapshot {
        supervised,
        status,
        notifies,
        normally_up,
        deaths: tally.len(),
        last_death: tally.last().copied(),
        up_secs,
    })
}

/// The rows for a request's directories (or the default ones).
pub fn collect(dirs: &[OsString], min_up: Option<u64>) -> Result<Vec<Row>, String> {
    let (dirs, single): (Vec<PathBuf>, bool) = if dirs.is_empty() {
        let mut found = running_scandirs();
        if found.is_empty() {
            if let Some(d) = DEFAULT_SCANDIRS.iter().map(Path::new).find(|d| is_dir(d)) {
                found.push(d.to_path_buf());
            }
        }
        if found.is_empty() {
            return Err(format!(
                "no scan directory given, no s6-svscan running, and none of {} exists",
                DEFAULT_SCANDIRS.join(", ")
            ));
        }
        let single = found.len() == 1;
        (found, single)
    } else {
        (dirs.iter().map(PathBuf::from).collect(), dirs.len() == 1)
    };
    let mut rows = Vec::new();
    for d in &dirs {
        let prefix = (!single).then(|| name_of(d));
        match discover(d, prefix.as_deref()) {
            Ok(targets) => rows.extend(targets.into_iter().map(|t| {
                let snap = snapshot(&t.dir);
                Row {
                    target: t,
                    snap,
                    min_up,
                }
            })),
            Err(e) => rows.push(Row {
                target: Target {
                    name: name_of(d),
                    dir: d.clone(),
                    is_log: false,
                },
                snap: Err(e),
                min_up,
            }),
        }
    }
    Ok(rows)
}

fn use_colour(c: Color) -> bool {
    match c {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && nix::unistd::isatty(std::io::stdout()).unwrap_or(false)
        }
    }
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    let prog = common::Prog::new(PROG);
    let req = match parse_args(&args) {
        ParseOutcome::Run(r) => r,
        // help_or_version prints and exits; the exit after it is never reached.
        ParseOutcome::Help => {
            common::cli::help_or_version(&[OsString::from("--help")], HELP);
            common::rt::exit(0)
        }
        ParseOutcome::Version => {
            common::cli::help_or_version(&[OsString::from("--version")], HELP);
            common::rt::exit(0)
        }
        ParseOutcome::Usage => prog.usage(USAGE),
    };
    let rows =
        collect(&req.dirs, req.up_for).unwrap_or_else(|e| prog.fatal(common::msg::exit::SYSTEM, e));
    let now = Tai64n::now();
    let text = if req.json {
        json(&rows, &now)
    } else {
        table(&rows, &now, use_colour(req.color))
    };
    if let Err(e) = common::msg::write_stdout(&text) {
        prog.fatal(
            common::msg::exit::SYSTEM,
            format_args!("unable to write to stdout: {}", common::msg::StrError(e)),
        );
    }
    common::rt::exit(exit_code(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Tai64n = Tai64n {
        secs: 0x4000_0000_6b0f_1000,
        nanos: 0,
    };

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn row(name: &str, snap: Result<Snapshot, String>) -> Row {
        Row {
            target: Target {
                name: name.into(),
                dir: PathBuf::from(format!("/s/{name}")),
                is_log: false,
            },
            snap,
            min_up: None,
        }
    }

    fn snap(st: Option<StatusRecord>, notifies: bool, deaths: &[DeathRecord]) -> Snapshot {
        Snapshot {
            supervised: true,
            status: st,
            notifies,
            normally_up: true,
            deaths: deaths.len(),
            last_death: deaths.last().copied(),
            up_secs: st
                .filter(StatusRecord::is_up)
                .map(|st| st.stamp.secs_until(&NOW)),
        }
    }

    fn st(pid: u64, ago: u64, want_up: bool, ready: bool, wstat: u16) -> StatusRecord {
        StatusRecord {
            stamp: Tai64n {
                secs: NOW.secs - ago,
                nanos: 0,
            },
            ready_stamp: Tai64n {
                secs: NOW.secs - ago,
                nanos: 0,
            },
            pid,
            wstat,
            want_up,
            ready,
            ..StatusRecord::default()
        }
    }

    #[test]
    fn parsing() {
        let Some(ParseOutcome::Run(r)) = Some(parse_args(&os(&["a", "--json", "b"]))) else {
            panic!("not a run")
        };
        assert!(r.json);
        assert_eq!(r.dirs, os(&["a", "b"]));
        assert_eq!(parse_args(&os(&["x", "--help"])), ParseOutcome::Help);
        assert_eq!(parse_args(&os(&["--version"])), ParseOutcome::Version);
        assert_eq!(parse_args(&os(&["-x"])), ParseOutcome::Usage);
        assert_eq!(
            parse_args(&os(&["--", "--json"])),
            ParseOutcome::Run(Request {
                json: false,
                color: Color::Auto,
                up_for: None,
                dirs: os(&["--json"])
            })
        );
        assert!(matches!(
            parse_args(&os(&["d", "--up-for", "5"])),
            ParseOutcome::Run(Request {
                up_for: Some(5),
                ..
            })
        ));
        assert_eq!(parse_args(&os(&["--up-for=x"])), ParseOutcome::Usage);
        assert_eq!(parse_args(&os(&["--up-for"])), ParseOutcome::Usage);
        assert!(matches!(
            parse_args(&os(&["--color=never"])),
            ParseOutcome::Run(Request {
                color: Color::Never,
                ..
            })
        ));
    }

    #[test]
    fn judgements() {
        let up_ready = row("a", Ok(snap(Some(st(7, 10, true, false, 0)), false, &[])));
        assert_eq!(up_ready.state(), State::Up);
        assert!(up_ready.ready() && up_ready.as_wanted());
        let up_waiting = row("b", Ok(snap(Some(st(7, 10, true, false, 0)), true, &[])));
        assert!(!up_waiting.ready() && !up_waiting.as_wanted());
        let crashed = row(
            "c",
            Ok(snap(Some(st(0, 1, true, true, 3 << 8)), false, &[])),
        );
        assert_eq!(crashed.state(), State::Down);
        assert_eq!(crashed.last_exit(), Some((Some(3), None)));
        assert!(!crashed.as_wanted());
        let stopped = row("d", Ok(snap(Some(st(0, 1, false, true, 15)), false, &[])));
        assert!(stopped.as_wanted());
        assert_eq!(stopped.last_exit(), Some((None, Some(15))));
        let mut uns = snap(Some(st(7, 1, true, true, 0)), false, &[]);
        uns.supervised = false;
        assert_eq!(row("e", Ok(uns)).state(), State::Unsupervised);
        assert_eq!(exit_code(&[up_ready.clone(), stopped.clone()]), 0);
        // --up-for: up 10 s is not up for 11.
        let mut young = up_ready.clone();
        young.min_up = Some(11);
        assert!(!young.as_wanted());
        young.min_up = Some(10);
        assert!(young.as_wanted());
        let mut stopped_young = stopped.clone();
        stopped_young.min_up = Some(3600);
        assert!(
            stopped_young.as_wanted(),
            "down on purpose is as wanted whatever --up-for"
        );
        assert_eq!(exit_code(&[up_ready.clone(), crashed]), 1);
        assert_eq!(exit_code(&[up_ready, row("f", Err("x".into()))]), 111);
    }

    #[test]
    fn table_is_aligned() {
        let death = DeathRecord {
            stamp: NOW,
            exitcode: 137,
            sig: 9,
        };
        let rows = [
            row(
                "app",
                Ok(snap(
                    Some(st(1234, 303, true, false, 0)),
                    false,
                    &[death, death],
                )),
            ),
            row(
                "sshd/log",
                Ok(snap(Some(st(0, 7200, false, true, 0)), false, &[])),
            ),
        ];
        assert_eq!(
            table(&rows, &NOW, false),
            "SERVICE   STATE  PID   FOR    READY  WANT  LAST            RESTARTS\n\
             app       up     1234  5m03s  yes    up    signal SIGKILL  2\n\
             sshd/log  down   -     2h00m  -      down  exit 0          0\n"
        );
        let coloured = table(&rows, &NOW, true);
        assert!(coloured.contains("\x1b[32mup\x1b[0m"), "{coloured:?}");
    }

    #[test]
    fn json_shape() {
        let rows = [row(
            "a",
            Ok(snap(Some(st(7, 10, true, false, 0)), false, &[])),
        )];
        let j = json(&rows, &NOW);
        assert!(j.starts_with("[\n{\"name\":\"a\",\"dir\":\"/s/a\",\"log\":false,\"state\":\"up\",\"ok\":true,\"supervised\":true,\"up\":true,\"ready\":true,\"pid\":7,"), "{j}");
        assert!(j.contains("\"since_seconds\":10,"), "{j}");
        assert!(
            j.ends_with(",\"restarts\":0,\"lastdeath\":null}\n]\n"),
            "{j}"
        );
        assert_eq!(json(&[], &NOW), "[\n]\n");
        let e = json_object(
            &row("x", Err("unable to read /x: Permission denied".into())),
            &NOW,
        );
        assert_eq!(e, "{\"name\":\"x\",\"dir\":\"/s/x\",\"log\":false,\"state\":\"error\",\"ok\":false,\"error\":\"unable to read /x: Permission denied\"}");
    }

    #[test]
    fn times() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_149_904), "2026-12-01T18:31:44Z");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(3600), "1h00m");
        assert_eq!(human_duration(90000), "1d01h");
    }

    /// Deterministic pseudo-random command lines never panic the parser.
    #[test]
    fn parser_never_panics() {
        for args in common::testing::pseudo_random_argv(5000) {
            let _ = parse_args(&args);
        }
    }

    #[test]
    fn svscan_cmdlines() {
        assert!(is_svscan_cmdline(b"s6-svscan\0/etc/s6\0"));
        assert!(is_svscan_cmdline(b"/usr/bin/svscan\0"));
        assert!(is_svscan_cmdline(b"/bin/s6-rs\0svscan\0/x\0"));
        assert!(!is_svscan_cmdline(b"s6-svscanctl\0-t\0/x\0"));
        assert!(!is_svscan_cmdline(b""));
    }
}
