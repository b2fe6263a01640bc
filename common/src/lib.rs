//! The s6 supervision protocol, shared by every program of the suite.
//!
//! Everything here knows the bytes and files of the protocol and nothing about any one
//! program. Pure functions (pack, unpack, parse, format) are separated from the few
//! functions that touch the file system, which are kept at the edges of each module.
//! Facts come from `shared/spec/` (s6 2.15.1, checked against 2.11.3.2).
//!
//! Each fact lives once: paths in [`layout`], event letters in [`event`], control bytes and
//! the control FIFO in [`control`], the status record in [`status`], wait statuses in
//! [`wait`], exit codes in [`msg::exit`]. Test-only helpers are in `testing`
//! (`cfg(test)` or the `testing` feature), never in a program.

pub mod accessrules;
pub mod alloc;
pub mod bytes;
pub mod cdb;
pub mod cli;
pub mod control;
pub mod cpath;
pub mod deadline;
pub mod dtally;
pub mod event;
pub mod exec;
pub mod fifodir;
pub mod fsio;
pub mod gol;
pub mod health;
pub mod json;
pub mod layout;
pub mod lock;
pub mod msg;
pub mod regex;
pub mod rt;
pub mod scandir;
pub mod servicedir;
pub mod signals;
pub mod sigwake;
pub mod status;
pub mod strerror;
pub mod tai;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod unixmsg;
pub mod users;
pub mod wait;

pub use control::{ControlError, SuperviseCommand, SvscanCommand};
pub use dtally::DeathRecord;
pub use msg::Prog;
pub use servicedir::ServiceDir;
pub use status::{StatusError, StatusRecord};
pub use tai::Tai64n;
pub use wait::WaitStatus;

/// The raw OS error code carried by our error types (an `errno` value).
pub use nix::errno::Errno;
