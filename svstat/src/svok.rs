//! `s6-svok`: exit 0 if a supervisor runs on the servicedir, 1 if not, 111 on error.
//! No option parsing (`s6-svok -x` checks a dir named `-x`), except `--help` as the first
//! argument (an extension: summary on stdout, exit 0).

use common::cli::fatal_bytes;
use common::cpath::CPath;
use common::msg::exit;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-svok";
pub const USAGE: &str = "s6-svok servicedir";
pub const HELP: &str = "\
s6-svok servicedir
Exit 0 if an s6-supervise process is running on servicedir (it holds supervise/lock),
1 if not (also for a missing directory), 111 if it cannot be checked, 100 usage.
";

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Check(&'a OsStr),
    Help,
    Usage,
}

/// Parse the arguments (without the program name). Pure.
pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> Request<'_> {
    match args.first().map(AsRef::as_ref) {
        None => Request::Usage,
        Some(a) if a.as_bytes() == b"--help" => Request::Help,
        Some(a) => Request::Check(a),
    }
}

/// The exit code for `dir`, printing s6's message on error.
pub fn check(dir: &std::ffi::OsStr) -> i32 {
    match common::lock::is_locked_at(&CPath::sub(dir, common::layout::LOCK)) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => fatal_bytes(
            PROG,
            exit::SYSTEM,
            &[
                b"unable to check ",
                dir.as_bytes(),
                b": ",
                common::msg::errno_text(e).as_bytes(),
            ],
        ),
    }
}

/// Entry point of `s6-svok` / `svok`.
pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let code = match parse_args(&args) {
        Request::Usage => common::Prog::new(PROG).usage(USAGE),
        Request::Help => {
            let _ = common::msg::write_stdout(HELP);
            0
        }
        Request::Check(d) => check(d),
    };
    common::rt::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        let a = |v: &'static [&'static str]| parse_args(v);
        assert_eq!(a(&[]), Request::Usage);
        assert_eq!(a(&["-x"]), Request::Check(OsStr::new("-x")));
        assert_eq!(a(&["d", "extra"]), Request::Check(OsStr::new("d")));
        assert_eq!(a(&["--help"]), Request::Help);
    }
}
