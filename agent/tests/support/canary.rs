//! A secret for memory scans, shared by the Unix login tests.

/// A password no other code in this process has seen: random letters, held only in a
/// zeroizing buffer whose own address the memory scan skips.
pub struct Canary(zeroize::Zeroizing<Box<[u8]>>);

impl Canary {
    pub fn new() -> Self {
        use rand_core::RngCore;
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; 28].into_boxed_slice());
        rand_core::OsRng.fill_bytes(&mut bytes);
        for b in bytes.iter_mut() {
            *b = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[usize::from(*b) % 52];
        }
        Canary(bytes)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("letters")
    }

    /// Where the canary sits in this process's writable memory, its own buffer left out.
    /// Only its last 12 letters are sought: malloc writes its free-list pointers over the
    /// first 16 bytes of a freed block, and a freed copy is exactly what this must find.
    pub fn copies_in_memory(&self) -> Vec<String> {
        use std::os::unix::fs::FileExt;
        // Two scans at once would each find the other's image of its own canary.
        static ONE_SCAN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _scan = ONE_SCAN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        const TAIL: usize = 12;
        let needle = &self.0[self.0.len() - TAIL..];
        let own = needle.as_ptr() as u64;
        let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
        let mem = std::fs::File::open("/proc/self/mem").expect("open /proc/self/mem");
        let mut found = Vec::new();
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            if !perms.starts_with("rw") {
                continue;
            }
            let Some((start, end)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
            else {
                continue;
            };
            let mut region = vec![0u8; usize::try_from(end - start).expect("region size")];
            if mem.read_exact_at(&mut region, start).is_err() {
                continue;
            }
            // The scan buffer may lie inside the region it copies, and then holds an image of
            // memory it already read: hits there are echoes, not copies.
            let scratch = region.as_ptr() as u64..region.as_ptr() as u64 + region.len() as u64;
            for (offset, window) in region.windows(needle.len()).enumerate() {
                let at = start + offset as u64;
                if window == needle && at != own && !scratch.contains(&at) {
                    found.push(format!("{at:#x} in {line}"));
                }
            }
            // The scan buffer itself must not become the next region's false positive.
            zeroize::Zeroize::zeroize(&mut region);
        }
        found
    }
}
