//! Unique, self-checking items: what every harness and model puts, so
//! that the values of a history are unique (what [`crate::history::check`]
//! needs) and a torn item is recognised.

/// Appends `n` as unsigned LEB128 (7 bits a byte, low bits first).
fn push_leb128(v: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(byte);
            return;
        }
        v.push(byte | 0x80);
    }
}

/// Reads an unsigned LEB128 number at `*at`, moving `*at` past it.
fn read_leb128(v: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *v.get(*at)?;
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// The unique item with number `id`, at least `len` bytes: `id` in
/// unsigned LEB128 (1 byte below 128, 2 below 16384, ...), then filler
/// derived from `id` and the position, up to `len`. Every harness and model
/// makes its items here, so that the values of a history are unique (what
/// [`crate::history::check`] needs) and a torn item, or one mixed from two puts, fails
/// [`decode_item`].
///
/// The item is longer than `len` when `len` is below the length of the
/// header ([`item_header_len`]); callers with a size limit check the
/// result.
pub fn unique_item(id: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(4));
    push_leb128(&mut v, id);
    let salt = (id as u8).wrapping_mul(31) ^ ((id >> 8) as u8).wrapping_mul(7);
    while v.len() < len {
        v.push(salt.wrapping_add(v.len() as u8) ^ 0x5a);
    }
    v
}

/// Bytes of the header of [`unique_item`]`(id, _)`: its shortest length.
pub fn item_header_len(id: u64) -> usize {
    unique_item(id, 0).len()
}

/// `id` of an intact [`unique_item`]; `None` for a torn, mixed or foreign
/// value.
pub fn decode_item(v: &[u8]) -> Option<u64> {
    let mut at = 0;
    let id = read_leb128(v, &mut at)?;
    (unique_item(id, v.len()) == v).then_some(id)
}

/// The item number of sequence number `seq` of `process`: the two packed
/// into one [`unique_item`] id, `seq * 256 + process`.
pub fn process_item_id(process: u8, seq: u64) -> u64 {
    seq << 8 | u64::from(process)
}

/// `(process, seq)` of an item made with a [`process_item_id`].
pub fn decode_process_item(v: &[u8]) -> Option<(u8, u64)> {
    let id = decode_item(v)?;
    Some((id as u8, id >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_decode_and_damage_is_detected() {
        for (p, s, len) in [(0, 0, 0), (3, 17, 9), (100, 2019, 64), (255, 1 << 40, 12)] {
            let id = process_item_id(p, s);
            let v = unique_item(id, len);
            assert_eq!(v.len(), len.max(item_header_len(id)));
            assert_eq!(decode_item(&v), Some(id));
            assert_eq!(decode_process_item(&v), Some((p, s)));
            let mut torn = v.clone();
            if let Some(last) = torn.last_mut() {
                *last ^= 1;
            }
            if torn.len() > item_header_len(id) {
                assert_eq!(decode_item(&torn), None, "{torn:?}");
            }
        }
        assert_eq!(unique_item(5, 0), vec![5]);
        assert_ne!(unique_item(1, 8), unique_item(2, 8));
        assert_eq!(decode_item(&[]), None);
        assert_eq!(decode_item(&[0x80; 20]), None);
    }
}
