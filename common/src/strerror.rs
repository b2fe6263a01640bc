//! Error texts for `strerror`-style messages, as glibc words them: the same bytes whatever
//! libc a binary is linked with (the dynamic build uses glibc, the static one musl, whose
//! wording differs: "No file descriptors available" for EMFILE, "Symbolic link loop" for
//! ELOOP...). Debian's s6, the conformance oracle, prints these.
//!
//! Generated from glibc 2.36 (`python3 -c 'import os; print(os.strerror(n))'` for n in
//! 0..=133); `tests::same_as_glibc` checks the table against the libc of a glibc build.

/// glibc's text for `errno`; `Unknown error N` outside the table, as glibc says.
pub fn text(errno: i32) -> std::borrow::Cow<'static, str> {
    match usize::try_from(errno).ok().and_then(|i| TEXTS.get(i)) {
        Some(t) if !t.is_empty() => std::borrow::Cow::Borrowed(t),
        _ => std::borrow::Cow::Owned(format!("Unknown error {errno}")),
    }
}

const TEXTS: [&str; 134] = [
    "Success",
    "Operation not permitted",
    "No such file or directory",
    "No such process",
    "Interrupted system call",
    "Input/output error",
    "No such device or address",
    "Argument list too long",
    "Exec format error",
    "Bad file descriptor",
    "No child processes",
    "Resource temporarily unavailable",
    "Cannot allocate memory",
    "Permission denied",
    "Bad address",
    "Block device required",
    "Device or resource busy",
    "File exists",
    "Invalid cross-device link",
    "No such device",
    "Not a directory",
    "Is a directory",
    "Invalid argument",
    "Too many open files in system",
    "Too many open files",
    "Inappropriate ioctl for device",
    "Text file busy",
    "File too large",
    "No space left on device",
    "Illegal seek",
    "Read-only file system",
    "Too many links",
    "Broken pipe",
    "Numerical argument out of domain",
    "Numerical result out of range",
    "Resource deadlock avoided",
    "File name too long",
    "No locks available",
    "Function not implemented",
    "Directory not empty",
    "Too many levels of symbolic links",
    "Unknown error 41",
    "No message of desired type",
    "Identifier removed",
    "Channel number out of range",
    "Level 2 not synchronized",
    "Level 3 halted",
    "Level 3 reset",
    "Link number out of range",
    "Protocol driver not attached",
    "No CSI structure available",
    "Level 2 halted",
    "Invalid exchange",
    "Invalid request descriptor",
    "Exchange full",
    "No anode",
    "Invalid request code",
    "Invalid slot",
    "Unknown error 58",
    "Bad font file format",
    "Device not a stream",
    "No data available",
    "Timer expired",
    "Out of streams resources",
    "Machine is not on the network",
    "Package not installed",
    "Object is remote",
    "Link has been severed",
    "Advertise error",
    "Srmount error",
    "Communication error on send",
    "Protocol error",
    "Multihop attempted",
    "RFS specific error",
    "Bad message",
    "Value too large for defined data type",
    "Name not unique on network",
    "File descriptor in bad state",
    "Remote address changed",
    "Can not access a needed shared library",
    "Accessing a corrupted shared library",
    ".lib section in a.out corrupted",
    "Attempting to link in too many shared libraries",
    "Cannot exec a shared library directly",
    "Invalid or incomplete multibyte or wide character",
    "Interrupted system call should be restarted",
    "Streams pipe error",
    "Too many users",
    "Socket operation on non-socket",
    "Destination address required",
    "Message too long",
    "Protocol wrong type for socket",
    "Protocol not available",
    "Protocol not supported",
    "Socket type not supported",
    "Operation not supported",
    "Protocol family not supported",
    "Address family not supported by protocol",
    "Address already in use",
    "Cannot assign requested address",
    "Network is down",
    "Network is unreachable",
    "Network dropped connection on reset",
    "Software caused connection abort",
    "Connection reset by peer",
    "No buffer space available",
    "Transport endpoint is already connected",
    "Transport endpoint is not connected",
    "Cannot send after transport endpoint shutdown",
    "Too many references: cannot splice",
    "Connection timed out",
    "Connection refused",
    "Host is down",
    "No route to host",
    "Operation already in progress",
    "Operation now in progress",
    "Stale file handle",
    "Structure needs cleaning",
    "Not a XENIX named type file",
    "No XENIX semaphores available",
    "Is a named type file",
    "Remote I/O error",
    "Disk quota exceeded",
    "No medium found",
    "Wrong medium type",
    "Operation canceled",
    "Required key not available",
    "Key has expired",
    "Key has been revoked",
    "Key was rejected by service",
    "Owner died",
    "State not recoverable",
    "Operation not possible due to RF-kill",
    "Memory page has hardware error",
];

#[cfg(test)]
mod tests {
    #[test]
    fn known_texts() {
        assert_eq!(super::text(2), "No such file or directory");
        assert_eq!(super::text(24), "Too many open files");
        assert_eq!(super::text(40), "Too many levels of symbolic links");
        assert_eq!(super::text(0), "Success");
        assert_eq!(super::text(4242), "Unknown error 4242");
        assert_eq!(super::text(-1), "Unknown error -1");
    }

    #[cfg(target_env = "gnu")]
    #[test]
    fn same_as_glibc() {
        for n in -2..200 {
            let mut buf = [0 as libc::c_char; 256];
            // SAFETY: XSI strerror_r into a valid buffer.
            let r = unsafe { libc::strerror_r(n, buf.as_mut_ptr(), buf.len()) };
            // SAFETY: NUL-terminated by strerror_r (on error too, with glibc).
            let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
            let libc_text = s.to_string_lossy();
            if r == 0 || libc_text.starts_with("Unknown error") {
                assert_eq!(super::text(n), libc_text, "errno {n}");
            }
        }
    }
}
