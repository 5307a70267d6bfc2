//! Figures that need pieces this tree does not have yet; each says what is missing.

use crate::report::Row;

pub fn p5(seconds: u64) -> Vec<Row> {
    let row = Row::not_measured(
        "P5 idle",
        "RSS ≤ 16 MiB; wake-ups = long-poll + watchdog",
        format!(
            "needs `sealscan-agent run` long-polling the real control plane for {seconds} s; \
             the agent daemon exists but the control plane serves no appliance \
             enrollment/claim endpoints yet"
        ),
    );
    row.print();
    vec![row]
}

pub fn p7() -> Vec<Row> {
    let row = Row::not_measured(
        "P7 job→login",
        "≤ 100 ms",
        "needs jobs created on the real control plane and claimed by the agent; the \
         control plane has no job or claim endpoints yet",
    );
    row.print();
    vec![row]
}
