//! `sealscan-agent root`: the subscription root this appliance trusts for signed records
//! (docs/signed-records.md). Pinned once, out of band (the enrollment token's fingerprint, or
//! this command on an appliance enrolled before signing); moved only by a root change signed
//! by the pinned root or its recovery key. Changes are audited in the journal.

use super::{CliError, audit, out};
use crate::trust::{self, check::describe, store};
use clap::Subcommand;
use std::path::Path;

#[derive(Debug, Subcommand)]
pub enum RootCommand {
    /// Show the pinned root, its recovery key and subscription, and what was accepted.
    Show,
    /// Pin the subscription root FINGERPRINT (as the Primary Contact's CLI prints it). On an
    /// appliance that already has a root, only with --change.
    Pin {
        #[arg(value_name = "FINGERPRINT")]
        fingerprint: String,
        /// A root change (`sgn1:...`) signed by the pinned root or its recovery key, naming
        /// FINGERPRINT as the new root.
        #[arg(long, value_name = "STATEMENT")]
        change: Option<String>,
    },
}

pub fn run(state_dir: &Path, command: &RootCommand) -> Result<(), CliError> {
    let usage = |e: &dyn std::fmt::Display| CliError::Usage(e.to_string());
    match command {
        RootCommand::Show => match store::load_root(state_dir).map_err(|e| usage(&e))? {
            None => out!(
                "no root is pinned: this appliance accepts unsigned records (pin one with \
                 `sealscan-agent root pin FINGERPRINT`)"
            ),
            Some(root) => {
                out!("{}", describe(&root))?;
                let seen = store::load_seen(state_dir).map_err(|e| usage(&e))?;
                out!(
                    "trust list {}, policy {}, {} record(s) seen",
                    seen.trust_list,
                    seen.policy,
                    seen.records.len()
                )
            }
        },
        RootCommand::Pin {
            fingerprint,
            change,
        } => {
            let before = store::load_root(state_dir).map_err(|e| usage(&e))?;
            let pinned =
                trust::pin(state_dir, fingerprint, change.as_deref()).map_err(|e| usage(&e))?;
            let was = before.map_or_else(|| "none".to_string(), |r| r.fingerprint);
            if was == pinned.fingerprint {
                return out!("root {} is already pinned", pinned.fingerprint);
            }
            audit::operator_change(
                "signing root pinned",
                &format!("{} (was {was})", pinned.fingerprint),
            );
            out!(
                "pinned root {}; from now on this appliance refuses records not signed under it",
                pinned.fingerprint
            )
        }
    }
}
