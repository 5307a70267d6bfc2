//! `sealscan-agent known-hosts`: the operator's view of the pinned SSH host keys, and the one
//! way to pin a changed key. Changes are audited in the journal.

use super::{CliError, audit, out};
use crate::known_hosts::{self, KnownHosts};
use clap::Subcommand;
use std::path::Path;

#[derive(Debug, Subcommand)]
pub enum KnownHostsCommand {
    /// List pinned host keys, and keys scans refused because another key is pinned.
    List,
    /// Pin the refused key of a target, after checking its fingerprint with the target's
    /// owner. PLACE is `[HOST]:PORT` as the scan's cause prints it.
    Accept {
        #[arg(value_name = "PLACE")]
        place: String,
        /// The refused key's fingerprint, `SHA256:...`.
        #[arg(value_name = "FINGERPRINT")]
        fingerprint: String,
    },
    /// Remove the pinned key of a target; the next scan learns its key again.
    Forget {
        #[arg(value_name = "PLACE")]
        place: String,
    },
}

pub fn run(state_dir: &Path, command: &KnownHostsCommand) -> Result<(), CliError> {
    let store = KnownHosts::open(state_dir).map_err(CliError::Usage)?;
    match command {
        KnownHostsCommand::List => {
            let (pinned, refused) = store.list().map_err(CliError::Usage)?;
            for entry in pinned {
                out!("pinned   {} {}", entry.place, entry.key)?;
            }
            for entry in refused {
                out!("refused  {} {}", entry.place, entry.key)?;
            }
            Ok(())
        }
        KnownHostsCommand::Accept { place, fingerprint } => {
            check_place(place)?;
            let accepted = store.accept(place, fingerprint).map_err(CliError::Usage)?;
            let previous = accepted
                .previous
                .map_or_else(|| "none".to_string(), |k| k.to_string());
            audit::operator_change(
                "host key accepted",
                &format!("{place} now pins {} (was {previous})", accepted.accepted),
            );
            out!("{place}: pinned {} (was {previous})", accepted.accepted)
        }
        KnownHostsCommand::Forget { place } => {
            check_place(place)?;
            match store.forget(place).map_err(CliError::Usage)? {
                Some(previous) => {
                    audit::operator_change(
                        "host key forgotten",
                        &format!("{place} no longer pins {previous}; the next scan learns its key"),
                    );
                    out!("{place}: forgot {previous}; the next scan learns the key again")
                }
                None => Err(CliError::Usage(format!(
                    "no host key is pinned for {place}"
                ))),
            }
        }
    }
}

/// A place is written as the scan writes it, so a typo does not silently match nothing.
fn check_place(place: &str) -> Result<(), CliError> {
    let parsed = place
        .strip_prefix('[')
        .and_then(|p| p.split_once("]:"))
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)));
    match parsed {
        Some((host, port)) if known_hosts::place(host, port) == place && !host.is_empty() => Ok(()),
        _ => Err(CliError::Usage(format!(
            "{place:?} is not a place: write it as the scan's cause does, [HOST]:PORT"
        ))),
    }
}
