//! The s6-sudoc / s6-sudod wire protocol, pure: banners, the request message (arguments and
//! environment as NUL-terminated strings behind four u32 BE counts), the environment merge
//! and the exit code of a wait status.

use thiserror::Error;

/// What s6-sudod writes first (raw bytes on the stream).
pub const BANNER_SERVER: &[u8; 15] = b"s6-sudo b v1.0\n";
/// What starts the client's request message.
pub const BANNER_CLIENT: &[u8; 15] = b"s6-sudo a v1.0\n";
/// Most arguments, or environment strings, a client may send.
pub const MAX_ITEMS: u32 = 131072;
/// Largest request s6-sudod accepts (arguments and environment together).
pub const MAX_REQUEST: u32 = 32 << 20;

/// Why a request was refused; each is an s6-sudod message (exit 100 unless said).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("wrong client message")]
    WrongMessage,
    #[error("wrong client banner")]
    WrongBanner,
    #[error("wrong client argc/envlen")]
    WrongLengths,
    #[error("too many args/envvars from client")]
    TooMany,
    /// The strings do not split as announced (s6: `unable to make child argv`, 111, EINVAL byte).
    #[error("make child argv")]
    BadArgv,
    /// (s6: `unable to make child envp`, 111, EINVAL byte)
    #[error("make child envp")]
    BadEnvp,
    /// An environment string without `=` (EINVAL byte, 100).
    #[error("bad environment from client")]
    BadEnv,
}

/// One environment variable: (name, value).
pub type EnvVar = (Vec<u8>, Vec<u8>);

/// A decoded request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub args: Vec<Vec<u8>>,
    /// `NAME=value` strings, split: (name, value).
    pub env: Vec<EnvVar>,
}

/// The request message's data: banner, argc, envc, arglen, envlen, args, env.
pub fn encode_request<A: AsRef<[u8]>, E: AsRef<[u8]>>(args: &[A], env: &[E]) -> Vec<u8> {
    let arglen: usize = args.iter().map(|a| a.as_ref().len() + 1).sum();
    let envlen: usize = env.iter().map(|e| e.as_ref().len() + 1).sum();
    let mut v = Vec::with_capacity(31 + arglen + envlen);
    v.extend_from_slice(BANNER_CLIENT);
    for n in [args.len(), env.len(), arglen, envlen] {
        v.extend_from_slice(&(n as u32).to_be_bytes());
    }
    for a in args {
        v.extend_from_slice(a.as_ref());
        v.push(0);
    }
    for e in env {
        v.extend_from_slice(e.as_ref());
        v.push(0);
    }
    v
}

/// The big-endian u32 at the start of `b`, and what follows it.
fn take_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*head), rest))
}

/// The four counts after the banner (argc, envc, arglen, envlen), and what follows them.
fn take_counts(b: &[u8]) -> Option<([u32; 4], &[u8])> {
    let (argc, b) = take_u32(b)?;
    let (envc, b) = take_u32(b)?;
    let (arglen, b) = take_u32(b)?;
    let (envlen, b) = take_u32(b)?;
    Some(([argc, envc, arglen, envlen], b))
}

/// `n` NUL-terminated strings from the start of `b` (skalibs' `env_make`).
fn split_strings(b: &[u8], n: u32) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity((n as usize).min(1024));
    let mut rest = b;
    for _ in 0..n {
        let z = rest.iter().position(|&c| c == 0)?;
        let (s, tail) = rest.split_at_checked(z)?;
        out.push(s.to_vec());
        rest = tail.get(1..)?;
    }
    Some(out)
}

/// A request whose framing checked out; its strings are split by [`Header::args`] and
/// [`Header::env`], in that order, as s6-sudod does (after its "both empty" check).
#[derive(Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub argc: u32,
    pub envc: u32,
    args: &'a [u8],
    env: &'a [u8],
}

/// The framing checks of a request, in s6-sudod's order.
pub fn decode_header(data: &[u8]) -> Result<Header<'_>, RequestError> {
    let hl = BANNER_CLIENT.len();
    if data.len() < hl + 16 {
        return Err(RequestError::WrongMessage);
    }
    let Some((banner, counts)) = data.split_at_checked(hl) else {
        return Err(RequestError::WrongMessage);
    };
    if banner != BANNER_CLIENT.as_slice() {
        return Err(RequestError::WrongBanner);
    }
    let Some(([argc, envc, arglen, envlen], strings)) = take_counts(counts) else {
        return Err(RequestError::WrongMessage);
    };
    if hl as u64 + 16 + arglen as u64 + envlen as u64 != data.len() as u64 {
        return Err(RequestError::WrongLengths);
    }
    if argc > MAX_ITEMS || envc > MAX_ITEMS {
        return Err(RequestError::TooMany);
    }
    // The length check above makes `arglen` fit in `strings`.
    let Some((args, env)) = strings.split_at_checked(arglen as usize) else {
        return Err(RequestError::WrongLengths);
    };
    Ok(Header {
        argc,
        envc,
        args,
        env,
    })
}

impl Header<'_> {
    /// The client's arguments.
    pub fn args(&self) -> Result<Vec<Vec<u8>>, RequestError> {
        split_strings(self.args, self.argc).ok_or(RequestError::BadArgv)
    }

    /// The client's environment, split at the first `=` of each string.
    pub fn env(&self) -> Result<Vec<EnvVar>, RequestError> {
        let env = split_strings(self.env, self.envc).ok_or(RequestError::BadEnvp)?;
        env.into_iter()
            .map(|s| {
                let eq = s
                    .iter()
                    .position(|&c| c == b'=')
                    .ok_or(RequestError::BadEnv)?;
                let (name, value) = s.split_at_checked(eq).ok_or(RequestError::BadEnv)?;
                let value = value.get(1..).ok_or(RequestError::BadEnv)?;
                Ok((name.to_vec(), value.to_vec()))
            })
            .collect()
    }
}

/// Decode a whole request, checking it in s6-sudod's order (without the "both empty"
/// check, which needs the server's arguments).
pub fn decode_request(data: &[u8]) -> Result<Request, RequestError> {
    let h = decode_header(data)?;
    Ok(Request {
        args: h.args()?,
        env: h.env()?,
    })
}

/// s6-sudod's environment rule: a server variable that is set but empty takes the value the
/// client sent for it (the first server entry of that name only); nothing else changes.
pub fn merge_env(server: &mut [EnvVar], client: &[EnvVar]) {
    for (name, value) in client {
        if let Some(slot) = server.iter_mut().find(|(n, _)| n == name) {
            if slot.1.is_empty() {
                slot.1 = value.clone();
            }
        }
    }
}

/// s6-sudoc's exit code for the program's raw wait status: 128 + signal if it was killed,
/// 128 for an exit code of 128 or more, else the exit code.
pub fn exit_code_of(wstat: u32) -> i32 {
    let w = wstat as i32;
    if libc::WIFSIGNALED(w) {
        128 + libc::WTERMSIG(w)
    } else {
        let c = libc::WEXITSTATUS(w);
        if c >= 128 {
            128
        } else {
            c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let data = encode_request(&["", "c 2"], &["A=1", "B="]);
        assert_eq!(&data[..15], b"s6-sudo a v1.0\n");
        assert_eq!(
            &data[15..31],
            &[0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 7]
        );
        let r = decode_request(&data).unwrap();
        assert_eq!(r.args, vec![b"".to_vec(), b"c 2".to_vec()]);
        assert_eq!(
            r.env,
            vec![
                (b"A".to_vec(), b"1".to_vec()),
                (b"B".to_vec(), b"".to_vec())
            ]
        );
        let empty = encode_request::<&str, &str>(&[], &[]);
        assert_eq!(decode_request(&empty).unwrap().args.len(), 0);
    }

    #[test]
    fn request_refusals_in_order() {
        assert_eq!(decode_request(b"short"), Err(RequestError::WrongMessage));
        let mut d = encode_request(&["x"], &["A=1"]);
        d[0] = b'S';
        assert_eq!(decode_request(&d), Err(RequestError::WrongBanner));
        let mut d = encode_request(&["x"], &["A=1"]);
        d.push(0);
        assert_eq!(decode_request(&d), Err(RequestError::WrongLengths));
        let mut d = encode_request(&["x"], &["A=1"]);
        d[15..19].copy_from_slice(&(MAX_ITEMS + 1).to_be_bytes());
        assert_eq!(decode_request(&d), Err(RequestError::TooMany));
        let mut d = encode_request(&["x"], &["A=1"]);
        d[15..19].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(decode_request(&d), Err(RequestError::BadArgv));
        let d = encode_request(&["x"], &["NOEQUALS"]);
        assert_eq!(decode_request(&d), Err(RequestError::BadEnv));
    }

    #[test]
    fn env_merge_fills_only_empty_server_vars() {
        let v = |a: &str, b: &str| (a.as_bytes().to_vec(), b.as_bytes().to_vec());
        let mut server = vec![v("EMPTY", ""), v("SET", "server")];
        merge_env(
            &mut server,
            &[v("EMPTY", "client"), v("SET", "client"), v("NEW", "client")],
        );
        assert_eq!(server, vec![v("EMPTY", "client"), v("SET", "server")]);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code_of(3 << 8), 3);
        assert_eq!(exit_code_of(200 << 8), 128);
        assert_eq!(exit_code_of(15), 143);
        assert_eq!(exit_code_of(9), 137);
    }
}
