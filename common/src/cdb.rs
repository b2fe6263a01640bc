//! D. J. Bernstein's constant database format, as skalibs reads and writes it.
//!
//! Layout: a 2048-byte header of 256 `(position, slot count)` pairs (u32 LE), then the
//! records `u32 LE keylen, u32 LE datalen, key, data` in insertion order, then 256 hash
//! tables of `(hash, record position)` slot pairs (u32 LE). The hash is
//! `h = 5381; h = (h * 33) ^ byte` on 32 bits; a key lives in table `h & 255`, probed
//! linearly from slot `(h >> 8) % slots`; each table has twice as many slots as entries.
//!
//! [`Cdb`] reads a whole database into memory (rules files are small) and never trusts it:
//! every offset is bounds-checked, a corrupt file gives [`CdbError::Invalid`]. [`Writer`]
//! builds the same bytes as skalibs' `cdbmake`, so either side reads the other's files.

use std::path::Path;

use nix::errno::Errno;

/// Size of the header: 256 tables × (position, slot count).
pub const HEADER_LEN: usize = 2048;

/// Why a database could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CdbError {
    /// An offset or a length points outside the file.
    #[error("invalid cdb")]
    Invalid,
    /// The database would exceed the 4 GiB the format can address.
    #[error("cdb too big")]
    TooBig,
}

impl CdbError {
    /// The errno skalibs reports for this condition (EINVAL for a corrupt file, ENOMEM when
    /// a database would overflow 32-bit offsets).
    pub fn errno(self) -> Errno {
        match self {
            CdbError::Invalid => Errno::EINVAL,
            CdbError::TooBig => Errno::ENOMEM,
        }
    }
}

/// The cdb hash function.
pub fn hash(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &b| {
        (h.wrapping_shl(5).wrapping_add(h)) ^ b as u32
    })
}

fn u32_at(map: &[u8], pos: u32) -> Result<u32, CdbError> {
    let b = map
        .get(pos as usize..)
        .and_then(<[u8]>::first_chunk::<4>)
        .ok_or(CdbError::Invalid)?;
    Ok(u32::from_le_bytes(*b))
}

fn slice_at(map: &[u8], pos: u32, len: u32) -> Result<&[u8], CdbError> {
    let p = pos as usize;
    let end = p.checked_add(len as usize).ok_or(CdbError::Invalid)?;
    map.get(p..end).ok_or(CdbError::Invalid)
}

/// A database in memory.
#[derive(Debug, Clone)]
pub struct Cdb {
    map: Vec<u8>,
}

impl Cdb {
    /// Read the file at `path`, as skalibs' `cdb_init` maps it: an empty file is EINVAL (what
    /// `mmap` answers for a zero length), a file over 4 GiB EOVERFLOW.
    pub fn open(path: &Path) -> Result<Cdb, Errno> {
        let map = std::fs::read(path).map_err(|e| crate::msg::errno_of(&e))?;
        if map.is_empty() {
            return Err(Errno::EINVAL);
        }
        if u32::try_from(map.len()).is_err() {
            return Err(Errno::EOVERFLOW);
        }
        Ok(Cdb { map })
    }

    /// A database from bytes already in memory (no check is made here: lookups check).
    pub fn from_bytes(map: Vec<u8>) -> Cdb {
        Cdb { map }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }

    /// The data of the first record whose key is `key`, `None` when there is none.
    pub fn find(&self, key: &[u8]) -> Result<Option<&[u8]>, CdbError> {
        // Only the first 4 GiB are addressable (all of a file `open` accepted).
        let map = self.map.get(..u32::MAX as usize).unwrap_or(&self.map);
        let Ok(keylen) = u32::try_from(key.len()) else {
            return Ok(None);
        };
        let h = hash(key);
        let head = (h << 3) & 2047;
        let hpos = u32_at(map, head)?;
        let hslots = u32_at(map, head + 4)?;
        if hslots == 0 {
            return Ok(None);
        }
        let table_end = (hslots as u64) * 8 + hpos as u64;
        let mut kpos = hpos as u64 + (((h >> 8) % hslots) as u64) * 8;
        for _ in 0..hslots {
            let slot = u32::try_from(kpos).map_err(|_| CdbError::Invalid)?;
            let slot_hash = u32_at(map, slot)?;
            let rpos = u32_at(map, slot.checked_add(4).ok_or(CdbError::Invalid)?)?;
            if rpos == 0 {
                return Ok(None);
            }
            kpos += 8;
            if kpos == table_end {
                kpos = hpos as u64;
            }
            if slot_hash == h && u32_at(map, rpos)? == keylen {
                let kstart = rpos.checked_add(8).ok_or(CdbError::Invalid)?;
                if slice_at(map, kstart, keylen)? == key {
                    let dlen = u32_at(map, rpos + 4)?;
                    let dstart = kstart.checked_add(keylen).ok_or(CdbError::Invalid)?;
                    return slice_at(map, dstart, dlen).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// The records in file order (skalibs' `cdb_traverse_next`): records run from the end
    /// of the header to the position of the first hash table.
    pub fn records(&self) -> Records<'_> {
        Records {
            map: &self.map,
            pos: HEADER_LEN as u32,
            done: false,
        }
    }
}

/// One record: (key, data).
pub type Record<'a> = (&'a [u8], &'a [u8]);

/// Iterator over the records of a [`Cdb`], in file order; stops after the first error.
pub struct Records<'a> {
    map: &'a [u8],
    pos: u32,
    done: bool,
}

impl<'a> Records<'a> {
    fn step(&mut self) -> Result<Option<Record<'a>>, CdbError> {
        let eod = u32_at(self.map, 0)?;
        if eod < 8 || eod - 8 < self.pos {
            return Ok(None);
        }
        let klen = u32_at(self.map, self.pos)?;
        let dlen = u32_at(self.map, self.pos + 4)?;
        let kstart = self.pos + 8;
        let key = slice_at(self.map, kstart, klen)?;
        let dstart = kstart.checked_add(klen).ok_or(CdbError::Invalid)?;
        let data = slice_at(self.map, dstart, dlen)?;
        self.pos = dstart.checked_add(dlen).ok_or(CdbError::Invalid)?;
        Ok(Some((key, data)))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, CdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// Builds a database in memory, byte for byte as skalibs' `cdbmake` does.
#[derive(Debug, Default)]
pub struct Writer {
    records: Vec<u8>,
    /// (hash, record position) in insertion order.
    entries: Vec<(u32, u32)>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    fn pos(&self) -> u64 {
        HEADER_LEN as u64 + self.records.len() as u64
    }

    /// Append one record (duplicate keys are kept; [`Cdb::find`] returns the first).
    pub fn add(&mut self, key: &[u8], data: &[u8]) -> Result<(), CdbError> {
        let pos = self.pos();
        let end = pos + 8 + key.len() as u64 + data.len() as u64;
        if end > u32::MAX as u64 {
            return Err(CdbError::TooBig);
        }
        self.entries.push((hash(key), pos as u32));
        self.records
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.records
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.records.extend_from_slice(key);
        self.records.extend_from_slice(data);
        Ok(())
    }

    /// The complete file.
    pub fn finish(self) -> Result<Vec<u8>, CdbError> {
        let tables_len = self.entries.len() as u64 * 16;
        if self.pos() + tables_len > u32::MAX as u64 {
            return Err(CdbError::TooBig);
        }
        let mut header = Vec::with_capacity(HEADER_LEN);
        let mut tables = Vec::with_capacity(tables_len as usize);
        let mut table: Vec<(u32, u32)> = Vec::new();
        let mut slots: Vec<(u32, u32)> = Vec::new();
        for t in 0..=255u32 {
            table.clear();
            table.extend(self.entries.iter().filter(|&&(h, _)| h & 255 == t));
            // Fits: the whole file was checked to stay under 4 GiB.
            let len = table.len() as u32 * 2;
            let tpos = (self.pos() + tables.len() as u64) as u32;
            header.extend_from_slice(&tpos.to_le_bytes());
            header.extend_from_slice(&len.to_le_bytes());
            slots.clear();
            slots.resize(len as usize, (0, 0));
            for &(h, p) in &table {
                // Linear probing from slot (h >> 8) % len; half the slots stay empty, so a
                // free one is always found. A record position is never 0 (the header is
                // before every record): 0 marks an empty slot.
                let start = ((h >> 8) % len) as usize;
                let Some((before, after)) = slots.split_at_mut_checked(start) else {
                    continue;
                };
                if let Some(slot) = after.iter_mut().chain(before).find(|s| s.1 == 0) {
                    *slot = (h, p);
                }
            }
            for &(h, p) in &slots {
                tables.extend_from_slice(&h.to_le_bytes());
                tables.extend_from_slice(&p.to_le_bytes());
            }
        }
        let mut out = header;
        out.extend_from_slice(&self.records);
        out.extend_from_slice(&tables);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pairs: &[(&[u8], &[u8])]) -> Cdb {
        let mut w = Writer::new();
        for (k, v) in pairs {
            w.add(k, v).unwrap();
        }
        Cdb::from_bytes(w.finish().unwrap())
    }

    #[test]
    fn hash_is_djb() {
        assert_eq!(hash(b""), 5381);
        // 5381*33 ^ 'a'
        assert_eq!(hash(b"a"), (5381u32 * 33) ^ 97);
    }

    #[test]
    fn empty_database_is_2048_bytes_and_finds_nothing() {
        let c = build(&[]);
        assert_eq!(c.as_bytes().len(), 2048);
        assert_eq!(c.find(b"uid/0").unwrap(), None);
        assert_eq!(c.records().count(), 0);
    }

    #[test]
    fn round_trip_and_order() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..500)
            .map(|i| {
                (
                    format!("uid/{i}").into_bytes(),
                    format!("D{i}").into_bytes(),
                )
            })
            .collect();
        let mut w = Writer::new();
        for (k, v) in &pairs {
            w.add(k, v).unwrap();
        }
        let c = Cdb::from_bytes(w.finish().unwrap());
        for (k, v) in &pairs {
            assert_eq!(c.find(k).unwrap(), Some(&v[..]));
        }
        assert_eq!(c.find(b"uid/500").unwrap(), None);
        let got: Vec<_> = c.records().map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 500);
        for (g, (k, v)) in got.iter().zip(&pairs) {
            assert_eq!(g.0, &k[..]);
            assert_eq!(g.1, &v[..]);
        }
    }

    #[test]
    fn first_duplicate_wins() {
        let c = build(&[(b"k", b"1"), (b"k", b"2")]);
        assert_eq!(c.find(b"k").unwrap(), Some(&b"1"[..]));
    }

    #[test]
    fn known_bytes_one_record() {
        // One record "a" -> "b": header, record at 2048, table for hash&255 with 2 slots.
        let c = build(&[(b"a", b"b")]);
        let m = c.as_bytes();
        assert_eq!(m.len(), 2048 + 10 + 16);
        assert_eq!(&m[2048..2058], b"\x01\0\0\0\x01\0\0\0ab");
        let h = hash(b"a");
        let t = (h & 255) as usize;
        assert_eq!(
            u32::from_le_bytes(m[t * 8 + 4..t * 8 + 8].try_into().unwrap()),
            2
        );
        // every table starts at or after the end of the records
        assert_eq!(u32::from_le_bytes(m[0..4].try_into().unwrap()), 2058);
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        let good = build(&[(b"uid/0", b"A\0\0\0\0"), (b"gid/0", b"D")]);
        let bytes = good.as_bytes().to_vec();
        for cut in 0..bytes.len() {
            let c = Cdb::from_bytes(bytes[..cut].to_vec());
            let _ = c.find(b"uid/0");
            let _ = c.find(b"gid/0");
            let _ = c.records().count();
        }
        let mut evil = bytes.clone();
        for b in evil[2048..2060].iter_mut() {
            *b = 0xff;
        }
        let c = Cdb::from_bytes(evil);
        let _ = c.find(b"uid/0");
        assert!(c.records().any(|r| r.is_err()));
    }

    #[test]
    fn full_table_does_not_loop() {
        // A hand-made table whose every slot is taken by another hash.
        let mut m = vec![0u8; 2048 + 16];
        let h = hash(b"x");
        let t = (h & 255) as usize;
        m[t * 8..t * 8 + 4].copy_from_slice(&2048u32.to_le_bytes());
        m[t * 8 + 4..t * 8 + 8].copy_from_slice(&2u32.to_le_bytes());
        for s in 0..2 {
            let o = 2048 + s * 8;
            m[o..o + 4].copy_from_slice(&(h ^ 1).to_le_bytes());
            m[o + 4..o + 8].copy_from_slice(&5u32.to_le_bytes());
        }
        assert_eq!(Cdb::from_bytes(m).find(b"x").unwrap(), None);
    }
}
