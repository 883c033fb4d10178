//! Persistence: the `Store` trait, an in-memory and a file implementation, and the record byte
//! format every backend shares (the browser's IndexedDB store lives at the JS edge and stores
//! the same bytes).
//!
//! Record layout (little-endian):
//! `"CLST"` | version u16 | kind u8 | 0u8 | payload length u32 | payload | sha256(all before)[..16]
//! The payload is JSON, so a person can read an exported profile.

use std::collections::HashMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::StoreError;

const MAGIC: &[u8; 4] = b"CLST";
/// The newest record version this build writes and reads.
pub const RECORD_VERSION: u16 = 1;
const HEADER: usize = 12;
const CHECKSUM: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// Profile + weights of one user, saved together so they never tear apart.
    State = 1,
}

pub fn encode_record(kind: RecordKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len() + CHECKSUM);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&RECORD_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(0);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest[..CHECKSUM]);
    out
}

/// Checks magic, version, kind, length and checksum; returns the payload and its version.
pub fn decode_record(bytes: &[u8], kind: RecordKind) -> Result<(&[u8], u16), StoreError> {
    if bytes.len() < HEADER + CHECKSUM {
        return Err(StoreError::Corrupt(format!(
            "{} bytes is too short for a record",
            bytes.len()
        )));
    }
    if &bytes[..4] != MAGIC {
        return Err(StoreError::Corrupt(
            "not a Cloister record (bad magic)".into(),
        ));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version == 0 || version > RECORD_VERSION {
        return Err(StoreError::Version {
            found: version,
            supported: RECORD_VERSION,
        });
    }
    if bytes[6] != kind as u8 {
        return Err(StoreError::Corrupt(format!(
            "record kind {} where {} was expected",
            bytes[6], kind as u8
        )));
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if bytes.len() != HEADER + len + CHECKSUM {
        return Err(StoreError::Corrupt(format!(
            "record says {len} payload bytes but holds {}",
            bytes.len().saturating_sub(HEADER + CHECKSUM)
        )));
    }
    let digest = Sha256::digest(&bytes[..HEADER + len]);
    if digest[..CHECKSUM] != bytes[HEADER + len..] {
        return Err(StoreError::Corrupt("checksum mismatch".into()));
    }
    Ok((&bytes[HEADER..HEADER + len], version))
}

/// Key-value storage of records. Implementations must make `put` atomic: a failed write leaves
/// the previous value in place.
pub trait Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&mut self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;
    fn delete(&mut self, key: &str) -> Result<(), StoreError>;
}

/// For tests and for sessions whose persistent storage failed.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    records: HashMap<String, Vec<u8>>,
    /// Total bytes allowed; `None` = unbounded. Lets tests exercise "storage full".
    pub quota: Option<usize>,
}

impl MemoryStore {
    pub fn with_quota(quota: usize) -> Self {
        Self {
            records: HashMap::new(),
            quota: Some(quota),
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.records.get(key).cloned())
    }

    fn put(&mut self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(quota) = self.quota {
            let others: usize = self
                .records
                .iter()
                .filter(|(k, _)| *k != key)
                .map(|(_, v)| v.len())
                .sum();
            if others + bytes.len() > quota {
                return Err(StoreError::Full(format!(
                    "{} bytes do not fit in the {quota}-byte quota",
                    bytes.len()
                )));
            }
        }
        self.records.insert(key.to_string(), bytes.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<(), StoreError> {
        self.records.remove(key);
        Ok(())
    }
}

/// One file per key in a directory; writes go to a temporary file that is renamed into place.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        Ok(Self { dir })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let ok = !key.is_empty()
            && key.len() <= 128
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !key.starts_with('.');
        if !ok {
            return Err(StoreError::Io(format!(
                "invalid key '{key}': use [A-Za-z0-9._-], at most 128"
            )));
        }
        Ok(self.dir.join(format!("{key}.clst")))
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> StoreError {
    // ENOSPC / EDQUOT: the disk is full.
    if matches!(e.raw_os_error(), Some(28) | Some(122)) {
        StoreError::Full(format!("{}: {e}", path.display()))
    } else {
        StoreError::Io(format!("{}: {e}", path.display()))
    }
}

impl Store for FileStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn put(&mut self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let partial = path.with_extension("clst.partial");
        std::fs::write(&partial, bytes).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            io_error(&partial, e)
        })?;
        std::fs::rename(&partial, &path).map_err(|e| io_error(&path, e))
    }

    fn delete(&mut self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_reject_every_single_byte_flip() {
        let bytes = encode_record(RecordKind::State, b"{\"hello\":1}");
        let (payload, version) = decode_record(&bytes, RecordKind::State).unwrap();
        assert_eq!(payload, b"{\"hello\":1}");
        assert_eq!(version, RECORD_VERSION);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(
                decode_record(&bad, RecordKind::State).is_err(),
                "flip at {i} accepted"
            );
        }
        for cut in 0..bytes.len() {
            assert!(decode_record(&bytes[..cut], RecordKind::State).is_err());
        }
    }

    #[test]
    fn newer_versions_are_refused_by_name() {
        let mut bytes = encode_record(RecordKind::State, b"{}");
        bytes[4] = 9;
        assert!(matches!(
            decode_record(&bytes, RecordKind::State),
            Err(StoreError::Version { found: 9, .. })
        ));
    }

    #[test]
    fn memory_store_quota_keeps_the_old_value() {
        let mut store = MemoryStore::with_quota(10);
        store.put("a", b"12345").unwrap();
        assert!(matches!(store.put("a", &[0; 11]), Err(StoreError::Full(_))));
        assert_eq!(store.get("a").unwrap().unwrap(), b"12345");
    }

    #[test]
    fn file_store_round_trips_and_refuses_path_tricks() {
        let dir = std::env::temp_dir().join(format!("cloister-store-{}", std::process::id()));
        let mut store = FileStore::new(&dir).unwrap();
        store.put("user-1", b"abc").unwrap();
        assert_eq!(store.get("user-1").unwrap().unwrap(), b"abc");
        assert!(store.get("missing").unwrap().is_none());
        assert!(store.put("../etc", b"x").is_err());
        store.delete("user-1").unwrap();
        assert!(store.get("user-1").unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
