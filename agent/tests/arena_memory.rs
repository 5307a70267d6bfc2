//! The key arena as the kernel sees it: locked, excluded from core dumps, wiped on fork, and
//! wiped when a slot is released.
#![allow(unsafe_code)]

use sealscan_agent::arena::{Arena, DEFAULT_ARENA_SIZE};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// VmLck is per process and tests run on parallel threads; every test that maps an arena
/// holds this lock so the VmLck delta is ours alone.
static ARENAS: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ARENAS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The VmFlags of the mapping that contains `range`.
fn vm_flags(range: &std::ops::Range<usize>) -> Vec<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        let bounds = first.split_once('-').and_then(|(start, end)| {
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        });
        if let Some((start, end)) = bounds {
            inside = start <= range.start && range.end <= end;
        } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
            return flags.split_whitespace().map(str::to_owned).collect();
        }
    }
    panic!("no mapping for {range:x?} in /proc/self/smaps");
}

fn vm_lck_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmLck line in /proc/self/status")
}

fn read_through_proc_mem(address: usize, len: usize) -> Vec<u8> {
    let mem = File::open("/proc/self/mem").expect("open /proc/self/mem");
    let mut buf = vec![0u8; len];
    mem.read_exact_at(&mut buf, address as u64)
        .expect("read the arena through /proc/self/mem");
    buf
}

#[test]
fn arena_mapping_has_lo_dd_wf_vm_flags() {
    let _serial = serial();
    let arena = Arena::new().expect("arena");
    let flags = vm_flags(&arena.address_range());
    for wanted in ["lo", "dd", "wf"] {
        assert!(
            flags.iter().any(|f| f == wanted),
            "VmFlags {flags:?} lack {wanted}"
        );
    }
}

#[test]
fn locked_memory_grows_by_exactly_the_arena_size() {
    let _serial = serial();
    let before = vm_lck_kib();
    let arena = Arena::new().expect("arena");
    assert_eq!(arena.capacity(), DEFAULT_ARENA_SIZE);
    assert_eq!(vm_lck_kib(), before + DEFAULT_ARENA_SIZE / 1024);
    drop(arena);
    assert_eq!(vm_lck_kib(), before, "the arena is unlocked when dropped");
}

#[test]
fn released_slot_is_zero_in_memory() {
    let _serial = serial();
    let arena = Arena::new().expect("arena");
    let canary = b"sealscan-canary-0123456789abcdef";
    let mut slot = arena.alloc(canary.len()).expect("slot");
    slot.expose_mut().copy_from_slice(canary);
    let address = slot.address();
    assert_eq!(
        read_through_proc_mem(address, canary.len()),
        canary,
        "the canary is visible while the slot is held"
    );
    drop(slot);
    // The arena is still mapped, so the bytes that held the canary can be read back.
    assert_eq!(
        read_through_proc_mem(address, canary.len()),
        vec![0u8; canary.len()]
    );
    // And they are handed out zeroed again.
    let again = arena.alloc(canary.len()).expect("slot again");
    assert_eq!(again.address(), address);
    assert!(again.expose().iter().all(|b| *b == 0));
}

#[test]
fn forked_child_sees_zeros_where_the_parent_holds_a_secret() {
    let _serial = serial();
    let arena = Arena::new().expect("arena");
    let mut slot = arena.alloc(32).expect("slot");
    slot.expose_mut().fill(0x5a);
    let address = slot.address() as *const u8;
    // SAFETY: the child only reads memory and calls _exit, both async-signal-safe.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let mut all_zero = true;
        for i in 0..32 {
            // SAFETY: the mapping exists in the child too (wiped, not removed).
            if unsafe { std::ptr::read_volatile(address.add(i)) } != 0 {
                all_zero = false;
            }
        }
        // SAFETY: _exit is async-signal-safe and skips the parent's atexit handlers.
        unsafe { libc::_exit(i32::from(!all_zero)) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child did not exit normally");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the child saw the parent's secret after fork"
    );
    assert!(slot.expose().iter().all(|b| *b == 0x5a), "parent keeps it");
}
