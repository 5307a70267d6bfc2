//! Process hardening, applied in-process the way the agent does before loading a key.
//! Kept in its own test binary because it changes the whole process.

use sealscan_agent::hardening::{current_state, harden_process};

#[test]
fn process_is_non_dumpable_with_no_core_files() {
    harden_process().expect("hardening");
    let state = current_state().expect("read back");
    assert!(!state.dumpable, "PR_GET_DUMPABLE still reports 1");
    assert_eq!((state.core_soft, state.core_hard), (0, 0));
    // The kernel's own view, independent of our prctl wrapper.
    let limits = std::fs::read_to_string("/proc/self/limits").expect("read /proc/self/limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core line");
    let numbers: Vec<&str> = core.split_whitespace().skip(4).take(2).collect();
    assert_eq!(numbers, ["0", "0"], "{core}");
}
