//! One measured figure beside its baseline, and the summary table `scripts/bench` prints.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Miss,
    /// Printed for context only: the issue sets no target for this line.
    Info,
    /// The figure could not be measured in this tree; the text says why.
    NotMeasured(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => f.write_str("PASS"),
            Verdict::Miss => f.write_str("MISS"),
            Verdict::Info => f.write_str("info"),
            Verdict::NotMeasured(_) => f.write_str("NOT MEASURED"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub figure: String,
    pub ours: String,
    pub baseline: String,
    pub target: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(
        figure: impl Into<String>,
        ours: impl Into<String>,
        baseline: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
    ) -> Self {
        Row {
            figure: figure.into(),
            ours: ours.into(),
            baseline: baseline.into(),
            target: target.into(),
            verdict,
        }
    }

    pub fn verdict_for(pass: bool) -> Verdict {
        if pass { Verdict::Pass } else { Verdict::Miss }
    }

    /// The line printed as soon as the figure is measured.
    pub fn print(&self) {
        println!(
            "{:<14} ours: {:<34} baseline: {:<34} target: {:<26} {}",
            self.figure, self.ours, self.baseline, self.target, self.verdict
        );
        if let Verdict::NotMeasured(why) = &self.verdict {
            println!("{:<14} why: {why}", "");
        }
    }
}

/// The Markdown table docs/performance.md carries, for every row measured in this run.
pub fn print_table(rows: &[Row]) {
    println!();
    println!("| figure | ours | baseline (same run) | target | verdict |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.figure, row.ours, row.baseline, row.target, row.verdict
        );
    }
}

/// `n` events in `seconds`, as a rate with sensible precision.
pub fn rate(n: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        f64::INFINITY
    }
}

/// The median of a few measurements (rounds alternate ours and baseline, so a noisy
/// neighbour on the machine hits both alike).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn rate_never_divides_by_zero() {
        assert_eq!(rate(10, 2.0), 5.0);
        assert!(rate(1, 0.0).is_infinite());
    }
}
