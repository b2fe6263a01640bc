//! Small byte-string helpers the parsers share, so that they need no index arithmetic.

/// `s` split at the first `sep`: what is before it and what is after it (the separator
/// itself in neither); `None` when `s` holds no `sep`.
pub fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    let (head, tail) = s.split_at_checked(i)?;
    Some((head, tail.get(1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_once_at_the_first_separator() {
        assert_eq!(split_once(b"a=b=c", b'='), Some((&b"a"[..], &b"b=c"[..])));
        assert_eq!(split_once(b"=", b'='), Some((&b""[..], &b""[..])));
        assert_eq!(split_once(b"abc", b'='), None);
        assert_eq!(split_once(b"", b'='), None);
    }
}
