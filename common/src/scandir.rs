//! What a scan directory holds, as s6-svscan sees it: every entry not starting with `.` that
//! is a directory (symlinks followed) is a service, and its `log/` subdirectory, when there
//! is one, is a second service (the logger). Read only; used by our probes and the overview.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One service of a scan directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `NAME`, or `NAME/log` for a logger.
    pub name: String,
    pub dir: PathBuf,
    pub is_log: bool,
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn is_dir(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_dir())
}

/// Whether `dir` is a service directory (a `run` or a `supervise`) rather than a scan
/// directory (a `.s6-svscan`, or neither).
pub fn is_service_dir(dir: &Path) -> bool {
    !exists(&dir.join(".s6-svscan")) && (exists(&dir.join("run")) || exists(&dir.join("supervise")))
}

/// A service and, after it, its logger when it has a `log/` directory.
pub fn with_logger(name: String, dir: PathBuf) -> Vec<Entry> {
    let log = dir.join("log");
    let mut v = vec![Entry {
        name: name.clone(),
        dir,
        is_log: false,
    }];
    if is_dir(&log) {
        v.push(Entry {
            name: format!("{name}/log"),
            dir: log,
            is_log: true,
        });
    }
    v
}

/// The services of a scan directory, sorted by name, each followed by its logger.
pub fn services(scandir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut names: Vec<OsString> = std::fs::read_dir(scandir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| !n.as_bytes().starts_with(b"."))
        .filter(|n| is_dir(&scandir.join(n)))
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .flat_map(|n| with_logger(n.to_string_lossy().into_owned(), scandir.join(&n)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_services_and_loggers() {
        let d = std::env::temp_dir().join(format!("s6rs-scandir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for p in [".s6-svscan", "b/log", "a", ".hidden"] {
            std::fs::create_dir_all(d.join(p)).unwrap();
        }
        std::fs::write(d.join("a/run"), "").unwrap();
        std::fs::write(d.join("file"), "").unwrap();
        let names: Vec<String> = services(&d).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b", "b/log"]);
        assert!(is_service_dir(&d.join("a")));
        assert!(!is_service_dir(&d));
        let _ = std::fs::remove_dir_all(&d);
    }
}
