//! `s6-svstat` (2.15.1): print the status of a supervised service.
//!
//! Extensions (long options, recognised anywhere on the command line before `--`; s6 rejects
//! them as the first argument and ignores them after the servicedir, so no script that works
//! on s6 changes behaviour except one passing such an ignored extra operand):
//! * `--help`: a summary on stdout, exit 0; `--version` as the first argument.
//! * `--json DIR...`: one JSON object per line and per service, with every `-o` field plus
//!   `dir`, `notstarted`, `finishing`, `notified`; `up`... are booleans, `pid`... numbers,
//!   `signal` a string or `null`. `ready` is the probe's readiness
//!   ([`common::health::is_ready`]: up, and notified if the service has a `notification-fd`),
//!   the same as `--ready`; `notified` is s6's own flag (`-o ready`). A dir that cannot be
//!   read gives `{"dir":...,"error":"..."}` and the exit code of the last such failure (1 not
//!   supervised, 111 other errors).
//! * `--ready DIR...`: a health check for Docker/Kubernetes. Exit 0 iff every named service
//!   is supervised, up, and ready (as above). Otherwise exit 1 (111 on a system error) with
//!   one warning per service that is not. Prints nothing on success.
//! * `--up-for SECONDS` (with `--ready`, or alone): also up for at least SECONDS since its
//!   last start, so a crash-looping service that happens to be up fails a liveness probe.
//! * A DIR that is a scan directory (a `.s6-svscan`, or no `run` nor `supervise`) stands for
//!   its services and their `log/`: those down on purpose (wanted down, e.g. a `down` file)
//!   pass `--ready`; a service named by its own directory must be up.

use common::bytes::{push_i64, push_u64, Decimal};
use common::cli::{fatal_bytes, warn_bytes, GetOpt, Opt};
use common::cpath::CPath;
use common::layout;
use common::msg::exit;
use common::status::StatusRecord;
use common::tai::Tai64n;
use common::wait::WaitStatus;
use common::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const PROG: &str = "s6-svstat";
pub const USAGE: &str = "s6-svstat [ -uwNrpgest | -o up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] servicedir";
pub const MAX_FIELDS: usize = 16;

pub const HELP: &str = "\
s6-svstat [ -uwNrpgest | -o up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] servicedir
s6-svstat --json servicedir|scandir...
s6-svstat --ready [ --up-for seconds ] servicedir|scandir...
Print the status of the service supervised in servicedir.
  (no field)  one human-readable line; -n prints signal numbers instead of names
  -o fields   the listed fields, space separated (at most 16 in all)
  -u -w -N -r -p -g -e -s -t  = up wantedup normallyup ready pid pgid exitcode signal updownfor
  --json      one JSON object per servicedir (every field; ready as for --ready,
              notified is s6's ready flag)
  --ready     exit 0 iff every service is up and ready (health check; ready = up, and
              readiness notified if the service has a notification-fd)
  --up-for N  (implies --ready) and up for at least N seconds since its last start
  scandir     its services and their log/; those wanted down pass --ready
  long options are recognised anywhere before --
Exit: 0 ok; 1 s6-supervise not running; 100 usage; 111 system error.
";

/// One `-o` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Up,
    WantedUp,
    NormallyUp,
    Ready,
    Paused,
    Pid,
    Pgid,
    ExitCode,
    Signal,
    Signum,
    UpDownSince,
    ReadySince,
    UpDownFor,
    ReadyFor,
}

const FIELD_NAMES: [(&str, Field); 14] = [
    ("up", Field::Up),
    ("wantedup", Field::WantedUp),
    ("normallyup", Field::NormallyUp),
    ("ready", Field::Ready),
    ("paused", Field::Paused),
    ("pid", Field::Pid),
    ("pgid", Field::Pgid),
    ("exitcode", Field::ExitCode),
    ("signal", Field::Signal),
    ("signum", Field::Signum),
    ("updownsince", Field::UpDownSince),
    ("readysince", Field::ReadySince),
    ("updownfor", Field::UpDownFor),
    ("readyfor", Field::ReadyFor),
];

impl Field {
    /// Exact names only (2.15).
    pub fn from_name(s: &[u8]) -> Option<Field> {
        FIELD_NAMES
            .iter()
            .find(|(n, _)| n.as_bytes() == s)
            .map(|&(_, f)| f)
    }

    pub fn name(self) -> &'static str {
        FIELD_NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map(|&(n, _)| n)
            .unwrap_or("up")
    }
}

/// What to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The legacy line (no field given) or the fields.
    Fields {
        fields: Vec<Field>,
        numeric: bool,
    },
    Json,
    /// `--ready`, with `--up-for` seconds.
    Ready {
        up_for: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub mode: Mode,
    /// The servicedir (s6 mode: only the first operand is used; extra ones are ignored),
    /// borrowed from the command line.
    pub dirs: Vec<&'a OsStr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    Usage,
    TooManyFields,
    /// `invalid option field: NAME`
    InvalidField(OsString),
    Help,
}

fn push(fields: &mut Vec<Field>, f: Field) -> Result<(), UsageError> {
    if fields.len() >= MAX_FIELDS {
        return Err(UsageError::TooManyFields);
    }
    fields.push(f);
    Ok(())
}

/// Parse a `-o` list into `fields` (comma-separated; a trailing comma is accepted, an empty
/// element is an invalid field with an empty name).
pub fn parse_field_list(list: &[u8], fields: &mut Vec<Field>) -> Result<(), UsageError> {
    let mut rest = list;
    while !rest.is_empty() {
        let pos = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
        let (name, after) = rest.split_at(pos);
        let f = Field::from_name(name)
            .ok_or_else(|| UsageError::InvalidField(OsString::from(OsStr::from_bytes(name))))?;
        push(fields, f)?;
        // Skip the comma: a trailing one ends the list.
        rest = after.get(1..).unwrap_or(&[]);
    }
    Ok(())
}

/// Parse the arguments (without the program name). Pure.
pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> Result<Request<'_>, UsageError> {
    if let Some(r) = parse_long(args) {
        return r;
    }
    let mut fields = Vec::new();
    let mut numeric = false;
    let mut g = GetOpt::new(args, "no:uwNrpgest");
    while let Some(o) = g.next_opt() {
        let f = match o.map_err(|_| UsageError::Usage)? {
            Opt::Flag(b'n') => {
                numeric = true;
                continue;
            }
            Opt::Arg(b'o', list) => {
                parse_field_list(list.as_bytes(), &mut fields)?;
                continue;
            }
            Opt::Flag(b'u') => Field::Up,
            Opt::Flag(b'w') => Field::WantedUp,
            Opt::Flag(b'N') => Field::NormallyUp,
            Opt::Flag(b'r') => Field::Ready,
            Opt::Flag(b'p') => Field::Pid,
            Opt::Flag(b'g') => Field::Pgid,
            Opt::Flag(b'e') => Field::ExitCode,
            Opt::Flag(b's') => Field::Signal,
            Opt::Flag(b't') => Field::UpDownFor,
            _ => return Err(UsageError::Usage),
        };
        push(&mut fields, f)?;
    }
    let dirs: Vec<&OsStr> = g.rest().iter().map(AsRef::as_ref).collect();
    if dirs.is_empty() {
        return Err(UsageError::Usage);
    }
    Ok(Request {
        mode: Mode::Fields { fields, numeric },
        dirs,
    })
}

/// Our long options, anywhere before `--`: `None` when there is none (s6's syntax applies).
fn parse_long<A: AsRef<OsStr>>(args: &[A]) -> Option<Result<Request<'_>, UsageError>> {
    let (mut json, mut ready, mut up_for, mut long) = (false, false, None, false);
    let mut dirs = Vec::new();
    let mut short = false;
    let mut operands_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.as_ref();
        let b = a.as_bytes();
        if operands_only || !b.starts_with(b"-") || b == b"-" {
            dirs.push(a);
            continue;
        }
        let secs = |v: Option<&OsStr>| v.and_then(common::cli::uint0_scan).map(u64::from);
        match b {
            b"--" => operands_only = true,
            b"--help" => return Some(Err(UsageError::Help)),
            b"--json" => json = true,
            b"--ready" => ready = true,
            b"--up-for" => match secs(it.next().map(AsRef::as_ref)) {
                Some(n) => up_for = Some(n),
                None => return Some(Err(UsageError::Usage)),
            },
            _ if b.starts_with(b"--up-for=") => {
                let value = b.strip_prefix(b"--up-for=").unwrap_or_default();
                match secs(Some(OsStr::from_bytes(value))) {
                    Some(n) => up_for = Some(n),
                    None => return Some(Err(UsageError::Usage)),
                }
            }
            // s6's short options; a separate -o list is its value, not an option of ours.
            _ => {
                short = true;
                if b.len() > 1 && b.get(1) != Some(&b'-') && b.ends_with(b"o") {
                    it.next();
                }
                continue;
            }
        }
        long = long || b != b"--";
    }
    if !long {
        return None;
    }
    if short || dirs.is_empty() || (json && (ready || up_for.is_some())) {
        return Some(Err(UsageError::Usage));
    }
    let mode = if json {
        Mode::Json
    } else {
        Mode::Ready { up_for }
    };
    Some(Ok(Request { mode, dirs }))
}

/// Everything the formatters need, read at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub status: StatusRecord,
    pub now: Tai64n,
    pub normally_up: bool,
}

impl View {
    /// Build a view, clamping a future up/down stamp to `now` as s6-svstat does (the ready
    /// stamp is not clamped).
    pub fn new(mut status: StatusRecord, now: Tai64n, normally_up: bool) -> View {
        if status.stamp > now {
            status.stamp = now;
        }
        View {
            status,
            now,
            normally_up,
        }
    }

    fn pid(&self) -> i32 {
        self.status.pid_t()
    }
    pub fn is_up(&self) -> bool {
        self.status.is_up()
    }
    pub fn not_started(&self) -> bool {
        self.status.not_started()
    }
    fn signaled(&self) -> Option<u8> {
        match WaitStatus::from_raw(self.status.wstat as i32) {
            WaitStatus::Signaled { signal, .. } => Some(signal),
            _ => None,
        }
    }
    fn exitcode(&self) -> i32 {
        if self.not_started() || self.is_up() {
            return -1;
        }
        match WaitStatus::from_raw(self.status.wstat as i32) {
            WaitStatus::Exited(c) => c as i32,
            _ => -1,
        }
    }
    fn signum(&self) -> i32 {
        if self.not_started() || self.is_up() {
            return -1;
        }
        self.signaled().map(i32::from).unwrap_or(-1)
    }
    fn updown_secs(&self) -> u64 {
        self.status.stamp.secs_until_wrapping(&self.now)
    }
    fn ready_secs(&self) -> u64 {
        self.status.ready_stamp.secs_until_wrapping(&self.now)
    }

    /// One field's text.
    pub fn field(&self, f: Field) -> String {
        let b = |v: bool| if v { "true" } else { "false" }.to_string();
        let st = &self.status;
        match f {
            Field::Up => b(self.is_up()),
            Field::WantedUp => b(st.want_up),
            Field::NormallyUp => b(self.normally_up),
            Field::Ready => b(self.pid() != 0 && st.ready),
            Field::Paused => b(st.paused && self.pid() != 0),
            Field::Pid | Field::Pgid => {
                if self.is_up() {
                    dec(self.pid().into())
                } else {
                    "-1".into()
                }
            }
            Field::ExitCode => dec(self.exitcode().into()),
            Field::Signal => match self.signum() {
                -1 => "NA".into(),
                s => format!("SIG{}", common::signals::name(s)),
            },
            Field::Signum => dec(self.signum().into()),
            Field::UpDownSince => st.stamp.label().to_string(),
            Field::ReadySince => st.ready_stamp.label().to_string(),
            Field::UpDownFor => Decimal::u64(self.updown_secs()).as_str().into(),
            Field::ReadyFor => Decimal::u64(self.ready_secs()).as_str().into(),
        }
    }

    /// The `-o` line (with its newline).
    pub fn fields_line(&self, fields: &[Field]) -> String {
        let mut s = String::with_capacity(16 * fields.len() + 1);
        for (i, &f) in fields.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&self.field(f));
        }
        s.push('\n');
        s
    }

    /// The legacy human-readable line (with its newline).
    pub fn legacy_line(&self, numeric: bool) -> String {
        let st = &self.status;
        let up = self.is_up();
        let ns = self.not_started();
        let mut s = String::with_capacity(96);
        if up {
            s += "up (pid ";
            push_i64(&mut s, self.pid().into());
            s += " pgid ";
            push_i64(&mut s, self.pid().into());
            s += ") ";
        } else {
            s += "down (";
            if ns {
                s += "not started yet";
            } else if let Some(sig) = self.signaled() {
                s += "signal ";
                if numeric {
                    push_u64(&mut s, sig.into());
                } else {
                    s += "SIG";
                    s += common::signals::name(sig as i32);
                }
            } else {
                s += "exitcode ";
                push_i64(&mut s, WaitStatus::exit_code(st.wstat as i32).into());
            }
            s += ") ";
        }
        if !ns {
            push_u64(&mut s, self.updown_secs());
            s += " seconds";
        }
        if up && !self.normally_up {
            s += ", normally down";
        }
        if !up && self.normally_up {
            s += ", normally up";
        }
        if up && st.paused {
            s += ", paused";
        }
        if !up && st.want_up {
            s += ", want up";
        }
        if up && !st.want_up {
            s += ", want down";
        }
        if st.ready && !ns {
            s += ", ready ";
            push_u64(&mut s, self.ready_secs());
            s += " seconds";
        }
        s.push('\n');
        s
    }

    /// The `--json` object (one line, with its newline). `notifies`: the service has a
    /// valid `notification-fd` (see [`common::health::is_ready`]).
    pub fn json_line(&self, dir: &OsStr, notifies: bool) -> String {
        let mut s = format!("{{\"dir\":{}", json_string(dir.as_bytes()));
        for (name, f) in FIELD_NAMES {
            let v = self.field(f);
            let v = match f {
                Field::Ready => common::health::is_ready(&self.status, notifies).to_string(),
                Field::Signal if v == "NA" => "null".to_string(),
                Field::Signal | Field::UpDownSince | Field::ReadySince => json_string(v.as_bytes()),
                _ => v,
            };
            s += &format!(",\"{name}\":{v}");
        }
        s += &format!(
            ",\"notstarted\":{},\"finishing\":{},\"notified\":{}}}\n",
            self.not_started(),
            self.status.finishing,
            self.field(Field::Ready)
        );
        s
    }
}

/// `n` in decimal, as `to_string` gives it.
fn dec(n: i64) -> String {
    let mut s = String::with_capacity(12);
    push_i64(&mut s, n);
    s
}

/// A JSON string literal (one implementation for every JSON output of ours).
pub use common::json::string as json_string;

/// Why a service's status could not be read (message without the program prefix, exit code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadFailure {
    pub code: i32,
    pub message: Vec<u8>,
}

#[cold]
#[inline(never)]
fn failure(code: i32, parts: &[&[u8]]) -> ReadFailure {
    ReadFailure {
        code,
        message: parts.concat(),
    }
}

/// The supervisor check, the status read, the clock and the `down` check, in s6's order.
pub fn read_view(dir: &OsStr) -> Result<View, ReadFailure> {
    let d = dir.as_bytes();
    match common::lock::is_locked_at(&CPath::sub(dir, layout::LOCK)) {
        Err(e) => {
            return Err(failure(
                exit::SYSTEM,
                &[
                    b"unable to check ",
                    d,
                    b": ",
                    common::msg::errno_text(e).as_bytes(),
                ],
            ))
        }
        Ok(false) => {
            return Err(failure(
                exit::NOT_SUPERVISED,
                &[
                    b"unable to read status for ",
                    d,
                    b": s6-supervise not running",
                ],
            ))
        }
        Ok(true) => {}
    }
    let status = StatusRecord::read(Path::new(dir))
        .map_err(|e| e.errno())
        .map_err(|e| {
            failure(
                exit::SYSTEM,
                &[
                    b"unable to read status for ",
                    d,
                    b": ",
                    common::msg::errno_text(e).as_bytes(),
                ],
            )
        })?;
    let now = Tai64n::now();
    let down = CPath::sub(dir, layout::DOWN);
    let normally_up = match down.access(nix::unistd::AccessFlags::F_OK) {
        Ok(()) => false,
        Err(Errno::ENOENT) => true,
        Err(e) => {
            return Err(failure(
                exit::SYSTEM,
                &[
                    b"unable to access ",
                    down.as_bytes(),
                    b": ",
                    common::msg::errno_text(e).as_bytes(),
                ],
            ))
        }
    };
    Ok(View::new(status, now, normally_up))
}

fn write_out(text: &str) {
    if let Err(e) = common::msg::write_stdout(text) {
        fatal_bytes(
            PROG,
            exit::SYSTEM,
            &[
                b"unable to write to stdout: ",
                common::msg::errno_text(e).as_bytes(),
            ],
        );
    }
}

/// Run a parsed request; returns the exit code.
pub fn run(req: Request<'_>) -> i32 {
    match req.mode {
        Mode::Fields { fields, numeric } => {
            // parse_args never gives an empty list; an empty dir fails as s6's would.
            let dir = req.dirs.first().copied().unwrap_or_default();
            let view = read_view(dir).unwrap_or_else(|f| fatal_bytes(PROG, f.code, &[&f.message]));
            let line = if fields.is_empty() {
                view.legacy_line(numeric)
            } else {
                view.fields_line(&fields)
            };
            write_out(&line);
            0
        }
        Mode::Json => run_json(&req.dirs),
        Mode::Ready { up_for } => run_ready(&req.dirs, up_for),
    }
}

/// `--json`. Out of line, as is `--ready`: s6's own mode keeps a small stack frame (a
/// client's second stack page is one more page fault).
#[inline(never)]
fn run_json(dirs: &[&OsStr]) -> i32 {
    let mut code = 0;
    let mut out = String::new();
    for (d, _) in expand(dirs, &mut code) {
        let d = d.as_os_str();
        match read_view(d) {
            Ok(v) => out += &v.json_line(d, notifies(d)),
            Err(f) => {
                code = f.code;
                out += &format!(
                    "{{\"dir\":{},\"error\":{}}}\n",
                    json_string(d.as_bytes()),
                    json_string(&f.message)
                );
            }
        }
    }
    write_out(&out);
    code
}

/// `--ready` (`--up-for`).
#[inline(never)]
fn run_ready(dirs: &[&OsStr], up_for: Option<u64>) -> i32 {
    let mut code = 0;
    for (d, named) in expand(dirs, &mut code) {
        let d = d.as_os_str();
        match read_view(d) {
            Err(f) => {
                warn_bytes(PROG, &[&f.message]);
                code = code.max(f.code);
            }
            Ok(v) if !named && !v.status.want_up => {}
            Ok(v) => {
                if let Some(why) = not_ready_reason(&v, notifies(d), up_for) {
                    warn_bytes(PROG, &[d.as_bytes(), b" is not ready: ", why.as_bytes()]);
                    code = code.max(1);
                }
            }
        }
    }
    code
}

/// The services the extension modes look at, each with whether it was named: a scan
/// directory stands for its services (not named); anything else is a named service dir.
/// A scan directory that cannot be listed is reported and counts as a system error.
fn expand(dirs: &[&OsStr], code: &mut i32) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for d in dirs {
        let p = Path::new(d);
        let scan = p.join(".s6-svscan").exists()
            || (std::fs::metadata(p).is_ok_and(|m| m.is_dir())
                && !common::scandir::is_service_dir(p));
        if !scan {
            out.push((p.to_path_buf(), true));
            continue;
        }
        match common::scandir::services(p) {
            Ok(v) => out.extend(v.into_iter().map(|e| (e.dir, false))),
            Err(e) => {
                let e = common::msg::errno_text(common::msg::errno_of(&e));
                warn_bytes(
                    PROG,
                    &[b"unable to read ", d.as_bytes(), b": ", e.as_bytes()],
                );
                *code = 111;
            }
        }
    }
    out
}

/// Whether the service notifies readiness (a valid `notification-fd`).
fn notifies(dir: &OsStr) -> bool {
    common::ServiceDir::new(dir)
        .notification_fd()
        .value
        .is_some()
}

/// `--ready` (`--up-for`): why a service does not pass the health check, if it does not.
pub fn not_ready_reason(v: &View, notifies: bool, up_for: Option<u64>) -> Option<String> {
    if !v.is_up() {
        return Some("down".into());
    }
    if !common::health::is_ready(&v.status, notifies) {
        return Some("up but readiness not notified yet".into());
    }
    let need = up_for?;
    let have = common::health::up_for(&v.status, &v.now).unwrap_or(0);
    (have < need).then(|| format!("up for {have} seconds only (--up-for {need})"))
}

/// Entry point of `s6-svstat` / `svstat`.
pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let code = match parse_args(&args) {
        Ok(req) => run(req),
        Err(UsageError::Help) => {
            write_out(HELP);
            0
        }
        Err(UsageError::Usage) => common::Prog::new(PROG).usage(USAGE),
        Err(UsageError::TooManyFields) => {
            fatal_bytes(PROG, exit::USAGE, &[b"too many option fields"])
        }
        Err(UsageError::InvalidField(n)) => fatal_bytes(
            PROG,
            exit::USAGE,
            &[b"invalid option field: ", n.as_bytes()],
        ),
    };
    common::rt::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::status::{FLAG_FINISHING, FLAG_PAUSED, FLAG_READY, FLAG_WANTUP};

    const NOW: u64 = 0x4000_0000_6b02_8c00;

    fn view(ago: i64, ready_ago: i64, pid: u64, wstat: u16, flags: u8, normally_up: bool) -> View {
        let st = StatusRecord {
            stamp: Tai64n {
                secs: (NOW as i64 - ago) as u64,
                nanos: 0,
            },
            ready_stamp: Tai64n {
                secs: (NOW as i64 - ready_ago) as u64,
                nanos: 0,
            },
            pid,
            wstat,
            ..StatusRecord::default()
        }
        .with_flags(flags);
        View::new(
            st,
            Tai64n {
                secs: NOW,
                nanos: 500,
            },
            normally_up,
        )
    }

    /// A parsed request, owned (the parser borrows from its arguments).
    #[derive(Debug, PartialEq)]
    struct Owned {
        mode: Mode,
        dirs: Vec<OsString>,
    }

    fn p(v: &[&str]) -> Result<Owned, UsageError> {
        parse_args(v).map(|r| Owned {
            mode: r.mode,
            dirs: r.dirs.iter().map(|d| d.to_os_string()).collect(),
        })
    }

    #[test]
    fn legacy_lines_as_observed() {
        assert_eq!(
            view(100, 50, 4242, 0, FLAG_WANTUP, true).legacy_line(false),
            "up (pid 4242 pgid 4242) 100 seconds\n"
        );
        assert_eq!(
            view(100, 50, 77, 0, FLAG_PAUSED | FLAG_READY, false).legacy_line(false),
            "up (pid 77 pgid 77) 100 seconds, normally down, paused, want down, ready 50 seconds\n"
        );
        assert_eq!(
            view(100, 50, 0, 0x0300, FLAG_WANTUP | FLAG_READY, true).legacy_line(false),
            "down (exitcode 3) 100 seconds, normally up, want up, ready 50 seconds\n"
        );
        assert_eq!(
            view(0, 0, 0, 9, FLAG_WANTUP | FLAG_READY, true).legacy_line(true),
            "down (signal 9) 0 seconds, normally up, want up, ready 0 seconds\n"
        );
        assert_eq!(
            view(1, 0, 0, 15, FLAG_READY, true).legacy_line(false),
            "down (signal SIGTERM) 1 seconds, normally up, ready 0 seconds\n"
        );
        // Finishing: down, no ready.
        assert_eq!(
            view(0, 0, 555, 15, FLAG_FINISHING, true).legacy_line(false),
            "down (signal SIGTERM) 0 seconds, normally up\n"
        );
        // 2.15's "not started yet" marker.
        assert_eq!(
            view(0, 0, 0, 0, FLAG_PAUSED | FLAG_READY, false).legacy_line(false),
            "down (not started yet) \n"
        );
        assert_eq!(
            view(0, 0, 0, 0, FLAG_PAUSED | FLAG_READY | FLAG_WANTUP, true).legacy_line(false),
            "down (not started yet) , normally up, want up\n"
        );
        // Signal names from skalibs 2.15.1; core bit ignored; unnamed -> ???.
        assert_eq!(
            view(100, 50, 0, 0x86, 0, true).legacy_line(false),
            "down (signal SIGIOT) 100 seconds, normally up\n"
        );
        assert_eq!(
            view(100, 50, 0, 40, 0, true).legacy_line(false),
            "down (signal SIG???) 100 seconds, normally up\n"
        );
    }

    #[test]
    fn stamps_future_and_wrapping() {
        // Up/down stamp in the future: clamped to now.
        let v = view(-1000, 0, 0, 0, 0, true);
        assert_eq!(
            v.legacy_line(false),
            "down (exitcode 0) 0 seconds, normally up\n"
        );
        assert_eq!(v.field(Field::UpDownFor), "0");
        // Ready stamp in the future wraps.
        let v = view(5, -10, 0, 0, FLAG_READY, true);
        assert_eq!(v.field(Field::ReadyFor), (u64::MAX - 9).to_string());
    }

    #[test]
    fn fields() {
        let v = view(100, 50, 0, 0x2a00, FLAG_WANTUP | FLAG_READY, true);
        let all: Vec<Field> = FIELD_NAMES.iter().map(|&(_, f)| f).collect();
        let line = v.fields_line(&all);
        assert_eq!(
            line,
            format!(
                "false true true false false -1 -1 42 NA -1 @{:016x}00000000 @{:016x}00000000 100 50\n",
                NOW - 100,
                NOW - 50
            )
        );
        let v = view(100, 50, 321, 0x0500, FLAG_WANTUP | FLAG_READY, false);
        assert_eq!(
            v.fields_line(&[
                Field::Up,
                Field::WantedUp,
                Field::NormallyUp,
                Field::Ready,
                Field::Pid,
                Field::Pgid,
                Field::ExitCode,
                Field::Signal
            ]),
            "true true false true 321 321 -1 NA\n"
        );
        // Ready needs a pid; paused needs a pid; finishing is down.
        assert_eq!(
            view(0, 0, 0, 0, FLAG_READY, true).field(Field::Ready),
            "false"
        );
        assert_eq!(
            view(0, 0, 0, 0x100, FLAG_PAUSED | FLAG_FINISHING, true).field(Field::Paused),
            "false"
        );
        let f = view(
            0,
            0,
            4242,
            0,
            FLAG_FINISHING | FLAG_PAUSED | FLAG_READY,
            true,
        );
        assert_eq!(
            f.fields_line(&[Field::Up, Field::Pid, Field::Paused, Field::Ready]),
            "false -1 true true\n"
        );
        // Not started yet: no exit code, no signal.
        let ns = view(0, 0, 0, 0, FLAG_PAUSED | FLAG_READY, false);
        assert_eq!(
            ns.fields_line(&[
                Field::Up,
                Field::Pid,
                Field::ExitCode,
                Field::Signal,
                Field::Signum,
                Field::Paused,
                Field::Ready,
                Field::WantedUp,
                Field::NormallyUp
            ]),
            "false -1 -1 NA -1 false false false false\n"
        );
        let sig = view(100, 50, 0, 0x86, 0, true);
        assert_eq!(
            sig.fields_line(&[Field::ExitCode, Field::Signal, Field::Signum]),
            "-1 SIGIOT 6\n"
        );
        assert_eq!(view(1, 1, 0, 17, 0, true).field(Field::Signal), "SIGCLD");
        assert_eq!(view(1, 1, 0, 29, 0, true).field(Field::Signal), "SIGIO");
    }

    #[test]
    fn pid_is_32_bit() {
        // Upper bits dropped as a pid_t cast: 0x1_0000_0000 is pid 0 (down).
        assert!(!view(1, 1, 0x1_0000_0000, 0, 0, true).is_up());
        assert_eq!(
            view(1, 1, 0xffff_ffff, 0, FLAG_WANTUP, true).field(Field::Pid),
            "-1"
        );
    }

    #[test]
    fn parsing() {
        let r = p(&["-p", "-o", "exitcode,up", "-w", "-o", "signum", "d"]).unwrap();
        assert_eq!(
            r.mode,
            Mode::Fields {
                fields: vec![
                    Field::Pid,
                    Field::ExitCode,
                    Field::Up,
                    Field::WantedUp,
                    Field::Signum
                ],
                numeric: false
            }
        );
        assert_eq!(
            p(&["-o", "", "d"]).unwrap().mode,
            Mode::Fields {
                fields: vec![],
                numeric: false
            }
        );
        assert_eq!(
            p(&["-o", "up,", "d"]).unwrap().mode,
            Mode::Fields {
                fields: vec![Field::Up],
                numeric: false
            }
        );
        for bad in ["p", "Up", "pid ", "sign"] {
            assert_eq!(
                p(&["-o", &format!("up,{bad}"), "d"]),
                Err(UsageError::InvalidField(bad.into()))
            );
        }
        assert_eq!(
            p(&["-o", ",up", "d"]),
            Err(UsageError::InvalidField("".into()))
        );
        assert_eq!(
            p(&["-o", "up,,up", "d"]),
            Err(UsageError::InvalidField("".into()))
        );
        let sixteen = vec!["up"; 16].join(",");
        assert!(p(&["-o", &sixteen, "d"]).is_ok());
        assert_eq!(
            p(&["-o", &sixteen, "-u", "d"]),
            Err(UsageError::TooManyFields)
        );
        let seventeen = vec!["up"; 17].join(",");
        assert_eq!(p(&["-o", &seventeen, "d"]), Err(UsageError::TooManyFields));
        for bad in [&[][..], &["-Z", "x"], &["-o"], &["-n"]] {
            assert_eq!(p(bad), Err(UsageError::Usage));
        }
        assert_eq!(p(&["d", "extra"]).unwrap().dirs.len(), 2);
        assert_eq!(p(&["--help"]), Err(UsageError::Help));
        assert_eq!(p(&["--json", "a", "b"]).unwrap().mode, Mode::Json);
        assert_eq!(p(&["--ready"]), Err(UsageError::Usage));
        assert_eq!(p(&["-n", "--json", "a"]), Err(UsageError::Usage));
        // Long options anywhere; --up-for implies --ready; -- ends them.
        assert_eq!(p(&["a", "--json", "b"]).unwrap().dirs.len(), 2);
        assert_eq!(p(&["a", "--help"]), Err(UsageError::Help));
        assert_eq!(
            p(&["a", "--ready", "--up-for", "5"]).unwrap().mode,
            Mode::Ready { up_for: Some(5) }
        );
        assert_eq!(
            p(&["--up-for=7", "a"]).unwrap().mode,
            Mode::Ready { up_for: Some(7) }
        );
        assert_eq!(p(&["--up-for", "x", "a"]), Err(UsageError::Usage));
        assert_eq!(p(&["--up-for"]), Err(UsageError::Usage));
        assert_eq!(p(&["--json", "--ready", "a"]), Err(UsageError::Usage));
        assert_eq!(p(&["--ready", "--", "--json"]).unwrap().dirs, ["--json"]);
        // No long option of ours: s6's syntax, an -o list is not an option.
        assert!(matches!(
            p(&["-o", "up", "d"]).unwrap().mode,
            Mode::Fields { .. }
        ));
        assert_eq!(
            p(&["-o", "--json"]),
            Err(UsageError::InvalidField("--json".into()))
        );
    }

    #[test]
    fn json() {
        let v = view(100, 50, 77, 0, FLAG_WANTUP | FLAG_READY, true);
        let j = v.json_line(OsStr::new("/srv/a \"b\""), true);
        assert!(j.starts_with("{\"dir\":\"/srv/a \\\"b\\\"\",\"up\":true,\"wantedup\":true,\"normallyup\":true,\"ready\":true,\"paused\":false,\"pid\":77,\"pgid\":77,\"exitcode\":-1,\"signal\":null,\"signum\":-1,\"updownsince\":\"@"), "{j}");
        assert!(
            j.ends_with(
                ",\"updownfor\":100,\"readyfor\":50,\"notstarted\":false,\"finishing\":false,\"notified\":true}\n"
            ),
            "{j}"
        );
        assert_eq!(json_string(b"a\n\x01\\"), "\"a\\n\\u0001\\\\\"");
        let d = view(1, 1, 0, 15, 0, true).json_line(OsStr::new("x"), false);
        assert!(d.contains("\"signal\":\"SIGTERM\",\"signum\":15"), "{d}");
        // Up without notification-fd: ready for the probe, not notified (s6's flag).
        let u = view(5, 5, 9, 0, FLAG_WANTUP, true).json_line(OsStr::new("x"), false);
        assert!(
            u.contains("\"ready\":true") && u.contains("\"notified\":false"),
            "{u}"
        );
        let n = view(5, 5, 9, 0, FLAG_WANTUP, true).json_line(OsStr::new("x"), true);
        assert!(n.contains("\"ready\":false"), "{n}");
        let v = view(5, 5, 9, 0, FLAG_WANTUP, true);
        assert_eq!(not_ready_reason(&v, false, Some(5)), None);
        assert_eq!(
            not_ready_reason(&v, false, Some(6)).as_deref(),
            Some("up for 5 seconds only (--up-for 6)")
        );
    }
    /// Deterministic pseudo-random command lines never panic the parsers.
    #[test]
    fn parsers_never_panic() {
        for args in common::cli::pseudo_random_argv(5000) {
            let _ = parse_args(&args);
        }
    }
}
