//! `sealscan-agent enroll`.

use super::{CliError, EnrollArgs, out, print_key};
use crate::client::ApiClient;
use crate::config::Config;
use crate::daemon::secure_arena;
use crate::daemon::{self, DaemonError};
use crate::enrollment::Enrollment;
use crate::identity::{self, Keygen};
use base64::Engine as _;
use sealscan_protocols::appliance::EnrollRequest;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub fn enroll(config_path: &Path, args: &EnrollArgs) -> Result<(), CliError> {
    // The configuration only fills in what the command line leaves out.
    let config = Config::load(config_path);
    let pick = |given: &Option<PathBuf>, key: &str, from: fn(&Config) -> PathBuf| match given {
        Some(p) => Ok(p.clone()),
        None => match &config {
            Ok(c) => Ok(from(c)),
            Err(e) => Err(CliError::Usage(format!(
                "{e}; or pass --{key} to enroll without a configuration"
            ))),
        },
    };
    let state_dir = pick(&args.state_dir, "state-dir", |c| c.state_dir.clone())?;
    let ca_file = pick(&args.ca_file, "ca-file", |c| c.ca_file.clone())?;
    let ca_file = std::path::absolute(&ca_file).unwrap_or(ca_file);
    if !args.url.starts_with("https://") {
        return Err(CliError::Usage(format!(
            "--url {} must be an https:// URL",
            args.url
        )));
    }
    let token = crate::enrollment::parse_token(&args.token).map_err(CliError::Usage)?;
    // A root already pinned here is never replaced by a token (docs/signed-records.md).
    if let (Some(root), Ok(Some(pinned))) = (token.root, crate::trust::store::load_root(&state_dir))
        && pinned.fingerprint_bytes() != Some(root)
    {
        return Err(CliError::Usage(format!(
            "the token names the root {} but this appliance has {} pinned; a root moves only \
             with `sealscan-agent root pin --change`",
            sealscan_protocols::signing::fingerprint_text(&root),
            pinned.fingerprint
        )));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&state_dir)
        .map_err(|e| {
            CliError::Usage(format!(
                "cannot create the state directory {}: {e}",
                state_dir.display()
            ))
        })?;

    let arena = secure_arena()?;
    let key = match identity::load_or_generate(&arena, &state_dir)? {
        Keygen::Created(key) => {
            let _ = out!(
                "created a new identity key in {}",
                identity::key_path(&state_dir).display()
            );
            key
        }
        Keygen::Existing(key) => key,
    };
    let name = args.name.clone().unwrap_or_else(host_name);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(async {
        let client = ApiClient::new(&args.url, &ca_file).map_err(DaemonError::from)?;
        let answer = client
            .enroll(&EnrollRequest {
                token: token.token.clone(),
                name: name.clone(),
                public_key: base64::engine::general_purpose::STANDARD.encode(key.public_key()),
            })
            .await
            .map_err(DaemonError::from)?;
        if answer.fingerprint != key.fingerprint() {
            return Err(DaemonError::FingerprintMismatch {
                ours: key.fingerprint(),
                theirs: answer.fingerprint,
            }
            .into());
        }
        let enrollment = Enrollment {
            url: args.url.clone(),
            ca_file: ca_file.clone(),
            appliance_id: answer.appliance_id.clone(),
            name: name.clone(),
            fingerprint: answer.fingerprint.clone(),
            poll_secret: answer.poll_secret,
        };
        enrollment.save(&state_dir).map_err(DaemonError::from)?;
        if let Some(root) = token.root {
            let fp = sealscan_protocols::signing::fingerprint_text(&root);
            crate::trust::pin(&state_dir, &fp, None).map_err(|e| CliError::Usage(e.to_string()))?;
            let _ = out!("pinned the subscription root {fp} from the token");
        }
        // The enrollment is saved and the wait must still happen when nobody reads the
        // messages any more (`| head`), so they are written best effort.
        let _ = out!("enrolled as {name} (appliance id {})", answer.appliance_id);
        let _ = print_key(&key);
        let _ = out!(
            "Ask a Manager to approve this appliance after comparing the fingerprint above \
             with the one the control plane shows."
        );
        if args.wait {
            let _ = out!("waiting for approval...");
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    let _ = stop_tx.send(true);
                }
            });
            daemon::wait_for_approval(&client, &enrollment, &state_dir, &stop_rx).await?;
            let _ = out!("approved; `sealscan-agent run` can start");
        } else {
            let _ = out!("`sealscan-agent run` waits for the approval and then starts working");
        }
        Ok::<(), CliError>(())
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sealscan-agent".to_string())
}
