//! Reading and asserting the results a job produced.

use sealscan_protocols::appliance::ResultPost;
use sealscan_protocols::results::{LoginOutcome, Status, Step};

/// The result for `target_id`.
pub fn result<'a>(posts: &'a [ResultPost], target_id: &str) -> &'a LoginOutcome {
    &posts
        .iter()
        .find(|p| p.target_id == target_id)
        .unwrap_or_else(|| panic!("no result for {target_id}"))
        .outcome
}

pub fn cause_text(o: &LoginOutcome) -> String {
    o.cause
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Asserts status, QID, step and words of the cause; prints the cause an operator reads.
pub fn assert_outcome(o: &LoginOutcome, status: Status, qid: u32, step: Step, words: &[&str]) {
    eprintln!("{:?} {} {}", o.status, o.qid, cause_text(o));
    assert_eq!(o.status, status, "{o:#?}");
    assert_eq!(o.qid, qid, "{o:#?}");
    let cause = o
        .cause
        .as_ref()
        .expect("a result that did not pass has a cause");
    assert_eq!(cause.step, step, "{o:#?}");
    for w in words {
        assert!(cause.detail.contains(w), "{w:?} not in {o:#?}");
    }
}
