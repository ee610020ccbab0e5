//! Captured logs are stored zstd-compressed; both stores share these helpers.

/// zstd level: logs compress 5-10× at level 3 for little CPU.
const LEVEL: i32 = 3;

/// Compresses logs for storage.
pub fn compress(data: &[u8]) -> Result<Vec<u8>, String> {
    zstd::bulk::compress(data, LEVEL).map_err(|e| format!("compressing logs: {e}"))
}

/// Decompresses stored logs whose original length was `len` (the bound keeps a damaged blob
/// from asking for unbounded memory).
pub fn decompress(blob: &[u8], len: usize) -> Result<Vec<u8>, String> {
    zstd::bulk::decompress(blob, len).map_err(|e| format!("decompressing stored logs: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_invalid_utf8_bytes() {
        let mut data = b"goroutine 1 [running]:\n".repeat(200);
        data.extend_from_slice(&[0xff, 0xfe, 0x00, 0x80]);
        let c = compress(&data).expect("compresses");
        assert!(c.len() < data.len() / 5);
        assert_eq!(decompress(&c, data.len()).expect("decompresses"), data);
        assert!(decompress(&c, 10).is_err(), "bound is enforced");
    }
}
