//! Document ids in Convex's format, so clients can hold them and `v.id(...)` can check them.
//!
//! An id is `base32(VInt(table number) ‖ 16-byte internal id ‖ 2-byte footer)`, where the
//! footer is the Fletcher-16 checksum of the preceding bytes (little-endian, XOR version 0) and
//! base32 is Crockford's lowercase alphabet with big-endian bit order and no padding. For table
//! numbers 10001 and 10002 that is 20 bytes, 32 characters. The decoder rejects everything the
//! backend rejects: wrong length, unknown characters, bad checksum, leftover bytes, and strings
//! that do not re-encode to themselves.

use rand::RngCore;
use thiserror::Error;

/// Table number of `taskExecutions`, the first user table of a deployment.
pub const TASK_EXECUTIONS_TABLE_NUMBER: u32 = 10001;
/// Table number of `locks`, the second user table of the component. The emulator keeps its
/// locks in memory, but an id of this table must still be refused by `v.id("taskExecutions")`
/// with the message a deployment gives.
pub const LOCKS_TABLE_NUMBER: u32 = 10002;

/// Shortest id string the backend accepts (1-byte table number).
const ID_CHARS_MIN: usize = 31;
/// Longest id string the backend accepts (5-byte table number).
const ID_CHARS_MAX: usize = 37;
/// Bytes of the internal id: 14 random bytes and 2 bytes of "days since the epoch".
const INTERNAL_ID_BYTES: usize = 16;
/// Longest VInt: 5 bytes of 7 bits hold any u32.
const VINT_BYTES_MAX: usize = 5;
/// Milliseconds per day, for the timestamp part of the internal id.
const MS_PER_DAY: u64 = 86_400_000;
/// The id format version XORed into the footer.
const ID_VERSION: u16 = 0;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Why a string is not a valid id.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdError {
    #[error("Invalid ID length {0}")]
    Length(usize),
    #[error("Invalid character in ID")]
    Character,
    #[error("Invalid table number in ID")]
    TableNumber,
    #[error("Invalid ID checksum")]
    Checksum,
    #[error("ID is not in canonical form")]
    NotCanonical,
}

/// A decoded id: which table it points into and its 16 internal bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentId {
    pub table_number: u32,
    pub internal_id: [u8; INTERNAL_ID_BYTES],
}

impl DocumentId {
    /// A new id for `table_number`: 14 random bytes plus the day number, as the backend does.
    pub fn generate(table_number: u32, now_ms: u64, rng: &mut impl RngCore) -> Self {
        let mut internal_id = [0u8; INTERNAL_ID_BYTES];
        rng.fill_bytes(&mut internal_id[..INTERNAL_ID_BYTES - 2]);
        let days = (now_ms / MS_PER_DAY).min(u16::MAX as u64) as u16;
        internal_id[INTERNAL_ID_BYTES - 2..].copy_from_slice(&days.to_be_bytes());
        Self {
            table_number,
            internal_id,
        }
    }

    /// The id string.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(VINT_BYTES_MAX + INTERNAL_ID_BYTES + 2);
        write_vint(&mut bytes, self.table_number);
        bytes.extend_from_slice(&self.internal_id);
        let footer = fletcher16(&bytes) ^ ID_VERSION;
        bytes.extend_from_slice(&footer.to_le_bytes());
        base32_encode(&bytes)
    }

    /// Parses and fully validates an id string.
    pub fn decode(s: &str) -> Result<Self, IdError> {
        if !(ID_CHARS_MIN..=ID_CHARS_MAX).contains(&s.len()) {
            return Err(IdError::Length(s.len()));
        }
        let bytes = base32_decode(s)?;
        let (table_number, vint_len) = read_vint(&bytes)?;
        if table_number == 0 {
            return Err(IdError::TableNumber);
        }
        if bytes.len() != vint_len + INTERNAL_ID_BYTES + 2 {
            return Err(IdError::Length(s.len()));
        }
        let body = &bytes[..vint_len + INTERNAL_ID_BYTES];
        let footer = u16::from_le_bytes([bytes[body.len()], bytes[body.len() + 1]]);
        if footer != fletcher16(body) ^ ID_VERSION {
            return Err(IdError::Checksum);
        }
        let mut internal_id = [0u8; INTERNAL_ID_BYTES];
        internal_id.copy_from_slice(&bytes[vint_len..vint_len + INTERNAL_ID_BYTES]);
        let id = Self {
            table_number,
            internal_id,
        };
        if id.encode() != s {
            return Err(IdError::NotCanonical);
        }
        Ok(id)
    }
}

fn write_vint(out: &mut Vec<u8>, n: u32) {
    crate::varint::write(out, u64::from(n));
}

fn read_vint(bytes: &[u8]) -> Result<(u32, usize), IdError> {
    let (n, len) = crate::varint::read(bytes, VINT_BYTES_MAX).ok_or(IdError::TableNumber)?;
    u32::try_from(n)
        .map(|n| (n, len))
        .map_err(|_| IdError::TableNumber)
}

/// Fletcher-16 with both sums modulo 256, as the backend computes it.
fn fletcher16(bytes: &[u8]) -> u16 {
    let (mut c0, mut c1) = (0u8, 0u8);
    for &b in bytes {
        c0 = c0.wrapping_add(b);
        c1 = c1.wrapping_add(c0);
    }
    ((c1 as u16) << 8) | c0 as u16
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(s: &str) -> Result<Vec<u8>, IdError> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(IdError::Character)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN_ID: &str = "j57004926d25askqh2ctneycvn77kce2";
    const KNOWN_INTERNAL: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0x4e,
        0x79,
    ];

    #[test]
    fn encodes_the_known_vector() {
        let id = DocumentId {
            table_number: 10001,
            internal_id: KNOWN_INTERNAL,
        };
        assert_eq!(id.encode(), KNOWN_ID);
    }

    #[test]
    fn decodes_the_known_vector() {
        let id = DocumentId::decode(KNOWN_ID).unwrap();
        assert_eq!(id.table_number, 10001);
        assert_eq!(id.internal_id, KNOWN_INTERNAL);
    }

    #[test]
    fn accepts_real_ids_from_other_tables() {
        assert_eq!(
            DocumentId::decode("kg2dsa1sfhkmydncfvvtd2jgbx85rw9z")
                .unwrap()
                .table_number,
            540
        );
        assert_eq!(
            DocumentId::decode("m57068j1c1zsxfewzcd3jp3qjttx99vg")
                .unwrap()
                .table_number,
            10017
        );
    }

    #[test]
    fn rejects_bad_ids() {
        // A made-up id from the docs: plausible characters, wrong checksum.
        assert_eq!(
            DocumentId::decode("jd72k9x8nmgz5h3qawc4btep0n6y1fvr"),
            Err(IdError::Checksum)
        );
        assert!(matches!(
            DocumentId::decode("short"),
            Err(IdError::Length(5))
        ));
        assert_eq!(
            DocumentId::decode("j57004926d25askqh2ctneycvn77kceu"),
            Err(IdError::Character)
        );
        // Changing one character breaks the checksum.
        assert!(DocumentId::decode("j57004926d25askqh2ctneycvn77kce3").is_err());
    }

    #[test]
    fn generated_ids_round_trip() {
        let mut rng = rand::thread_rng();
        for table in [
            TASK_EXECUTIONS_TABLE_NUMBER,
            LOCKS_TABLE_NUMBER,
            1,
            600,
            u32::MAX,
        ] {
            let id = DocumentId::generate(table, 1_732_646_400_123, &mut rng);
            let s = id.encode();
            assert_eq!(DocumentId::decode(&s), Ok(id), "{s}");
        }
        let s = DocumentId::generate(10001, 0, &mut rng).encode();
        assert_eq!(s.len(), 32);
    }
}
