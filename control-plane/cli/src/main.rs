//! `sealscan`: the operator CLI for the control plane's API.
use clap::Parser;
use sealscan_api::admin::{AuditEntry, OutboxEmail};
use sealscan_api::client::{
    Client, ClientError, Profile, config_dir, delete_token, load_profile, load_token, save_profile,
    save_token,
};
use sealscan_api::dates::rfc3339;
use sealscan_api::password::{
    ChangeRequest, ChangeResponse, CheckRequest, CheckResponse, ForgotRequest, Message,
    ResetRequest,
};
use sealscan_api::security::{
    AgreementRequest, AgreementView, AllowlistRequest, AllowlistView, ExternalIdsView, NdsmRequest,
    NdsmView, PasswordRulesPatch, SecurityPatch, SecuritySettings, SecurityView, ToggleRequest,
};
use sealscan_api::session::{
    ConfirmRequest, Confirmed, Enrollment, ExpiryNotice, LoginRequest, LoginResponse, SessionScope,
    WhoAmI,
};
use sealscan_api::users::{
    CreateUser, PermissionRequest, ResetUserPassword, RoleRequest, UnitRequest, UpdateUser,
    UserPasswordReset, UserUnit, UserView,
};
use sealscan_api::{Code, Role};
use sealscan_cli::args::{
    AllowlistCmd, Cli, Command, PasswordCmd, SecurityCmd, TwoFaCmd, UsersCmd,
};
use sealscan_protocols::secret::Password;
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

mod records;
mod scanning;

struct Ctx {
    json: bool,
    stdin_secrets: bool,
    dir: PathBuf,
}

#[derive(Debug)]
struct Failure(String);

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Api { error, .. } => {
                let mut out = format!("{} [rule {}]", error.message, error.rule);
                if matches!(
                    error.rule,
                    Code::AuthRequired | Code::AuthInvalidToken | Code::SessionInactivityTimeout
                ) {
                    out.push_str("; run `sealscan login` again");
                }
                let violations = error.details.and_then(|d| d.violations);
                for x in violations.iter().flatten() {
                    out.push_str(&format!("\n  - {}", x.message));
                }
                Failure(out)
            }
            other => Failure(other.to_string()),
        }
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure(s)
    }
}

type R<T> = Result<T, Failure>;

impl Ctx {
    fn secret(&self, prompt: &str) -> R<Password> {
        if self.stdin_secrets || !std::io::stdin().is_terminal() {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            let line = Password::new(line);
            let t = line.expose().trim_end_matches(['\r', '\n']);
            if t.is_empty() {
                return Err(Failure(format!(
                    "stdin ended before: {}",
                    prompt.trim_end_matches(": ")
                )));
            }
            return Ok(Password::new(t.to_string()));
        }
        rpassword::prompt_password(prompt)
            .map(Password::new)
            .map_err(|e| Failure(format!("cannot read the password: {e}")))
    }

    fn new_secret(&self, prompt: &str) -> R<Password> {
        let first = self.secret(prompt)?;
        if !self.stdin_secrets && std::io::stdin().is_terminal() {
            let again = self.secret("Repeat it: ")?;
            if first.expose() != again.expose() {
                return Err(Failure("the two entries differ".into()));
            }
        }
        Ok(first)
    }

    /// Asks a yes/no question on the terminal, or reads the answer from stdin; only `y` or
    /// `yes` goes on. `refused` says how to go on without the question (`--yes`).
    fn confirm(&self, question: &str, refused: &str) -> R<()> {
        eprint!("{question} [y/N] ");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Ok(()),
            _ => {
                eprintln!();
                Err(Failure(refused.to_string()))
            }
        }
    }

    fn profile(&self) -> R<Profile> {
        load_profile(&self.dir)?.ok_or_else(|| {
            Failure("not signed in: run `sealscan login --url https://HOST:8443 --ca-file CERT.pem --user NAME` first".into())
        })
    }

    /// The client of the saved session: one method per endpoint.
    fn api(&self) -> R<Client> {
        let profile = self.profile()?;
        let token = load_token(&self.dir)?
            .ok_or_else(|| Failure("not signed in: run `sealscan login` first".into()))?;
        Ok(Client::new(&profile)?.with_token(token))
    }

    /// When `reply` says a password is required (user-defined passwords are on and none was
    /// given), asks for one, to send again with it.
    fn password_if_required<T>(
        &self,
        reply: &Result<T, ClientError>,
        user: &str,
    ) -> R<Option<Password>> {
        match reply {
            Err(e) if e.code() == Some(Code::PasswordRequired) => {
                eprintln!("user-defined passwords are on: choose the password");
                Ok(Some(self.new_secret(&format!("Password for {user}: "))?))
            }
            _ => Ok(None),
        }
    }

    fn out<T: Serialize>(&self, v: &T, table: impl FnOnce(&T)) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            table(v);
        }
    }
}

/// A cell: `-` for nothing.
fn s<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// An enum as the API names it (`unit_manager`, `queued`).
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "-".to_string(),
    }
}

fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for r in rows {
        line(r);
    }
}

/// Prints a typed answer as `field  value` lines, in the order of its fields.
fn print_kv<T: Serialize>(v: &T) {
    let Ok(serde_json::Value::Object(obj)) = serde_json::to_value(v) else {
        return;
    };
    let w = obj.keys().map(|k| k.len()).max().unwrap_or(0);
    for (k, val) in obj {
        let shown = match val {
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        println!("{k:<w$}  {shown}");
    }
}

fn print_users(users: &[UserView]) {
    let rows = users
        .iter()
        .map(|u| {
            let mut flags = Vec::new();
            if u.primary_contact {
                flags.push("primary-contact");
            }
            if u.locked {
                flags.push("LOCKED");
            }
            if u.api_only {
                flags.push("api-only");
            }
            if u.two_factor_enabled {
                flags.push("2fa");
            }
            if u.must_change_password {
                flags.push("must-change-password");
            }
            // Only where it is a per-user grant: Managers always have it.
            if u.role == Role::UnitManager && u.records_permission {
                flags.push("records");
            }
            vec![
                u.id.to_string(),
                u.person.username.clone(),
                format!("{} {}", u.person.first_name, u.person.last_name),
                u.person.email.clone(),
                u.role.to_string(),
                flags.join(","),
            ]
        })
        .collect();
    print_table(&["id", "user", "name", "email", "role", "flags"], rows);
}

fn print_generated(generated: Option<&Password>) {
    if let Some(p) = generated {
        println!(
            "generated password (shown once; it must be changed at first login if required): {}",
            p.expose()
        );
    }
}

fn role_arg(role: &str) -> R<Role> {
    role.parse::<Role>().map_err(Failure)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Piping into `head` must end the CLI quietly, as it does other Unix tools.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let dir = match config_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = Ctx {
        json: cli.json,
        stdin_secrets: cli.password_stdin,
        dir,
    };
    match run(&ctx, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn profile_for(
    ctx: &Ctx,
    url: Option<String>,
    ca_file: Option<PathBuf>,
    user: Option<String>,
) -> R<Profile> {
    let saved = load_profile(&ctx.dir)?;
    let url = url
        .or_else(|| saved.as_ref().map(|p| p.url.clone()))
        .ok_or_else(|| Failure("give --url https://HOST:PORT (no saved profile yet)".into()))?;
    let ca_file = match ca_file {
        Some(p) => {
            Some(std::path::absolute(&p).map_err(|e| Failure(format!("{}: {e}", p.display())))?)
        }
        None => saved.as_ref().and_then(|p| p.ca_file.clone()),
    };
    let username = user.or_else(|| saved.and_then(|p| p.username));
    Ok(Profile {
        url,
        ca_file,
        username,
    })
}

/// The `whoami` table: who, where, and the session's limits.
#[derive(Serialize)]
struct WhoAmIRow<'a> {
    user: &'a str,
    name: String,
    role: Role,
    primary_contact: bool,
    subscription: &'a str,
    edition: sealscan_api::Edition,
    your_ip: &'a str,
    session_scope: SessionScope,
    idle_timeout_minutes: u32,
    password_expires_at: Option<&'a str>,
}

async fn run(ctx: &Ctx, cmd: Command) -> R<()> {
    match cmd {
        Command::Login {
            url,
            ca_file,
            user,
            totp,
        } => login(ctx, url, ca_file, user, totp).await,
        Command::Logout => {
            if let Ok(client) = ctx.api() {
                // Forget the token even if the server already ended the session.
                let _ = client.logout().await;
            }
            delete_token(&ctx.dir)?;
            println!("signed out");
            Ok(())
        }
        Command::Whoami => {
            let v: WhoAmI = ctx.api()?.whoami().await?;
            ctx.out(&v, |v| {
                let u = &v.user;
                print_kv(&WhoAmIRow {
                    user: &u.person.username,
                    name: format!("{} {}", u.person.first_name, u.person.last_name),
                    role: u.role,
                    primary_contact: u.primary_contact,
                    subscription: &v.subscription,
                    edition: v.edition,
                    your_ip: &v.client_ip,
                    session_scope: v.scope,
                    idle_timeout_minutes: v.idle_timeout_minutes,
                    password_expires_at: u.password_expires_at.as_deref(),
                });
                if let Some(n) = &v.password_expiry_notice {
                    println!("notice: {}", n.message);
                }
            });
            Ok(())
        }
        Command::Users { cmd } => users(ctx, cmd).await,
        Command::Security { cmd } => security(ctx, cmd).await,
        Command::TwoFa {
            cmd: TwoFaCmd::Enroll,
        } => {
            let v: Enrollment = ctx.api()?.enroll_2fa().await?;
            println!("Scan this URI with your authenticator app (or type the secret):");
            println!("  {}", v.provisioning_uri);
            println!("  secret: {}", v.secret_base32);
            let code = ctx.secret("Code shown by the app: ")?;
            let r: Confirmed = ctx
                .api()?
                .confirm_2fa(&ConfirmRequest {
                    code: code.expose().to_string(),
                })
                .await?;
            ctx.out(&r, |r| println!("{}", r.message));
            Ok(())
        }
        Command::Password { cmd } => password(ctx, cmd).await,
        Command::Appliances { cmd } => scanning::appliances(ctx, cmd).await,
        Command::Records { cmd } => records::records(ctx, cmd).await,
        Command::Vaults { cmd } => records::vaults(ctx, cmd).await,
        Command::Ncsm { cmd } => records::ncsm(ctx, cmd).await,
        Command::Keys { cmd } => {
            let user = load_profile(&ctx.dir)?
                .and_then(|p| p.username)
                .unwrap_or_default();
            let ask = |prompt: &str| {
                ctx.new_secret(prompt)
                    .map(|p| zeroize::Zeroizing::new(p.expose().to_string()))
                    .map_err(|f| f.0)
            };
            let lines = sealscan_cli::keys::command::run(&ctx.dir, &cmd, &user, &ask)?;
            // The key is made by now: a reader that went away (`| head`) is not a failure.
            let mut out = std::io::stdout().lock();
            for line in lines {
                if std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes()).is_err() {
                    break;
                }
            }
            Ok(())
        }
        Command::Signing { cmd } => signing(ctx, cmd).await,
        Command::Scans { cmd } => scanning::scans(ctx, cmd).await,
        Command::Outbox => {
            let v: Vec<OutboxEmail> = ctx.api()?.outbox().await?;
            ctx.out(&v, |v| {
                let rows = v
                    .iter()
                    .map(|m| {
                        vec![
                            m.id.to_string(),
                            rfc3339(m.at),
                            m.to.clone(),
                            m.kind.clone(),
                            m.subject.clone(),
                        ]
                    })
                    .collect();
                print_table(&["id", "queued", "to", "kind", "subject"], rows);
            });
            Ok(())
        }
        Command::Audit => {
            let v: Vec<AuditEntry> = ctx.api()?.audit().await?;
            ctx.out(&v, |v| {
                let rows = v
                    .iter()
                    .map(|e| {
                        vec![
                            rfc3339(e.at),
                            e.actor.clone(),
                            e.action.clone(),
                            e.target.clone(),
                            s(e.ip.as_deref()),
                            e.detail.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["at", "actor", "action", "target", "ip", "detail"], rows);
            });
            Ok(())
        }
    }
}

/// What `login --json` prints: the sign-in answer without the token.
#[derive(Serialize)]
struct SignedIn<'a> {
    user: &'a UserView,
    scope: SessionScope,
    idle_timeout_minutes: u32,
    password_expiry_notice: &'a Option<ExpiryNotice>,
}

async fn login(
    ctx: &Ctx,
    url: Option<String>,
    ca_file: Option<PathBuf>,
    user: Option<String>,
    totp: Option<String>,
) -> R<()> {
    let profile = profile_for(ctx, url, ca_file, user)?;
    let username = profile
        .username
        .clone()
        .ok_or_else(|| Failure("give --user NAME".into()))?;
    let client = Client::new(&profile)?;
    let password = ctx.secret(&format!("Password for {username}: "))?;
    let mut body = LoginRequest {
        username,
        password,
        totp_code: totp,
        new_password: None,
    };
    let mut reply: Result<LoginResponse, ClientError> = client.login(&body).await;
    // Answer what the server asks for: a TOTP code, or a new password (first login, expiry).
    for _ in 0..2 {
        match &reply {
            Err(ClientError::Api { error, .. }) if error.rule == Code::TwoFaCodeRequired => {
                let code = ctx.secret("Two-factor code: ")?;
                body.totp_code = Some(code.expose().to_string());
            }
            Err(ClientError::Api { error, .. })
                if matches!(
                    error.rule,
                    Code::PasswordChangeRequired | Code::PasswordExpired
                ) =>
            {
                let change_off = error
                    .details
                    .as_ref()
                    .and_then(|d| d.change_at_login)
                    .is_some_and(|allowed| !allowed);
                if change_off {
                    break;
                }
                eprintln!("{}", error.message);
                body.new_password = Some(ctx.new_secret("New password: ")?);
            }
            _ => break,
        }
        reply = client.login(&body).await;
    }
    let v = reply?;
    save_profile(&ctx.dir, &profile)?;
    save_token(&ctx.dir, &v.token)?;
    let shown = SignedIn {
        user: &v.user,
        scope: v.scope,
        idle_timeout_minutes: v.idle_timeout_minutes,
        password_expiry_notice: &v.password_expiry_notice,
    };
    ctx.out(&shown, |_| {
        println!(
            "signed in to {} as {} ({})",
            profile.url, v.user.person.username, v.user.role
        );
        if v.scope == SessionScope::EnrollTwoFactor {
            println!("two-factor login is required: run `sealscan 2fa enroll`, then sign in again");
        }
        if let Some(n) = &v.password_expiry_notice {
            println!("notice: {}", n.message);
        }
    });
    print_generated(v.generated_password.as_ref());
    Ok(())
}

async fn users(ctx: &Ctx, cmd: UsersCmd) -> R<()> {
    match cmd {
        UsersCmd::List => {
            let v: Vec<UserView> = ctx.api()?.users().await?;
            ctx.out(&v, |v| print_users(v));
        }
        UsersCmd::Show { user } => {
            let v: UserView = ctx.api()?.user(&user).await?;
            ctx.out(&v, print_kv);
        }
        UsersCmd::Create {
            person,
            role,
            api_only,
            external_id,
            set_password,
        } => {
            let password = if set_password {
                Some(ctx.new_secret(&format!("Password for {}: ", person.username))?)
            } else {
                None
            };
            let username = person.username.clone();
            let mut body = CreateUser {
                person,
                role: role_arg(&role)?,
                api_only,
                external_id,
                password,
            };
            let api = ctx.api()?;
            let mut reply = api.create_user(&body).await;
            if let Some(pw) = ctx.password_if_required(&reply, &username)? {
                body.password = Some(pw);
                reply = api.create_user(&body).await;
            }
            let v = reply?;
            ctx.out(&v, |v| {
                println!("created user {} ({})", v.user.person.username, v.user.role);
                print_generated(v.generated_password.as_ref());
            });
        }
        UsersCmd::Update { user, fields } => {
            let session_timeout_minutes = match fields.session_timeout {
                None => None,
                Some(v) if v == "none" => Some(None),
                Some(v) => Some(Some(v.parse::<u32>().map_err(|_| {
                    Failure(format!(
                        "--session-timeout {v:?} is not a number of minutes or none"
                    ))
                })?)),
            };
            let body = UpdateUser {
                first_name: fields.first_name,
                last_name: fields.last_name,
                email: fields.email,
                api_only: fields.api_only,
                never_expire: fields.never_expire,
                external_id: fields
                    .external_id
                    .map(|v| if v == "none" { None } else { Some(v) }),
                session_timeout_minutes,
            };
            if body.is_empty() {
                return Err(Failure(
                    "nothing to change: give at least one option (see --help)".into(),
                ));
            }
            let v: UserView = ctx.api()?.update_user(&user, &body).await?;
            ctx.out(&v, print_kv);
        }
        UsersCmd::Lock { user } => {
            let v: UserView = ctx.api()?.lock_user(&user).await?;
            ctx.out(&v, |v| println!("{} is locked", v.person.username));
        }
        UsersCmd::Unlock { user } => {
            let v: UserView = ctx.api()?.unlock_user(&user).await?;
            ctx.out(&v, |v| println!("{} is active again", v.person.username));
        }
        UsersCmd::ResetPassword { user, set_password } => {
            let password = if set_password {
                Some(ctx.new_secret(&format!("New password for {user}: "))?)
            } else {
                None
            };
            let api = ctx.api()?;
            let mut body = ResetUserPassword { password };
            let mut reply = api.reset_user_password(&user, &body).await;
            if let Some(pw) = ctx.password_if_required(&reply, &user)? {
                body.password = Some(pw);
                reply = api.reset_user_password(&user, &body).await;
            }
            let v: UserPasswordReset = reply?;
            ctx.out(&v, |v| {
                println!(
                    "password of {} reset; it must be changed at the next login",
                    v.user.person.username
                );
                print_generated(v.generated_password.as_ref());
            });
        }
        UsersCmd::SetRole { user, role } => {
            let v: UserView = ctx
                .api()?
                .set_role(
                    &user,
                    &RoleRequest {
                        role: role_arg(&role)?,
                    },
                )
                .await?;
            ctx.out(&v, |v| println!("{} is now {}", v.person.username, v.role));
        }
        UsersCmd::ExternalIdPermission { user, state } => {
            let grant = PermissionRequest {
                granted: state == "on",
            };
            let v = ctx.api()?.set_external_id_permission(&user, &grant).await?;
            ctx.out(&v, |v| {
                println!("{}: external-ID permission {state}", v.person.username)
            });
        }
        UsersCmd::Unit { user, unit, none } => {
            let v: UserUnit = if unit.is_none() && !none {
                ctx.api()?.user_unit(&user).await?
            } else {
                ctx.api()?
                    .set_user_unit(&user, &UnitRequest { unit })
                    .await?
            };
            ctx.out(&v, |v| {
                println!(
                    "{}: {}",
                    v.username,
                    v.unit
                        .as_deref()
                        .map_or("no unit".to_string(), |u| format!("unit {u}"))
                )
            });
        }
        UsersCmd::RecordsPermission { user, state } => {
            let grant = PermissionRequest {
                granted: state == "on",
            };
            let v = ctx.api()?.set_records_permission(&user, &grant).await?;
            ctx.out(&v, |v| {
                println!("{}: records permission {state}", v.person.username)
            });
        }
    }
    Ok(())
}

/// The `security show` table: the settings, then what only the operator sets.
#[derive(Serialize)]
struct SecurityRow<'a> {
    #[serde(flatten)]
    security: &'a SecuritySettings,
    edition: sealscan_api::Edition,
    #[serde(rename = "operator: api_never_expire")]
    api_never_expire: bool,
    your_ip: &'a str,
}

async fn security(ctx: &Ctx, cmd: SecurityCmd) -> R<()> {
    match cmd {
        SecurityCmd::Show => {
            let v: SecurityView = ctx.api()?.security().await?;
            ctx.out(&v, |v| {
                print_kv(&SecurityRow {
                    security: &v.security,
                    edition: v.edition,
                    api_never_expire: v.operator_features.api_never_expire,
                    your_ip: &v.your_ip,
                })
            });
        }
        SecurityCmd::Set(a) => {
            let mut body = SecurityPatch {
                password_expiry_months: a.password_expiry_months,
                expiry_notice_days: a.expiry_notice_days,
                expiry_notice_repeat_days: a.expiry_notice_repeat_days,
                change_expired_at_login: a.change_expired_at_login,
                user_defined_passwords: a.user_defined_passwords,
                min_password_length: a.min_password_length,
                force_change_first_login: a.force_change_first_login,
                expiry_notice_ui: a.expiry_notice_ui,
                expiry_notice_email: a.expiry_notice_email,
                lockout_failed_logins: a.lockout_failed_logins,
                two_factor_required: a.two_factor_required,
                session_timeout_minutes: a.session_timeout,
                ..SecurityPatch::default()
            };
            if !a.password_rule.is_empty() {
                let mut rules = PasswordRulesPatch::default();
                for item in &a.password_rule {
                    let on = match item.split_once('=') {
                        Some((rule, "on")) => Some((rule, true)),
                        Some((rule, "off")) => Some((rule, false)),
                        _ => None,
                    };
                    let (rule, on) = on.ok_or_else(|| {
                        Failure(format!(
                            "--password-rule {item:?}: expected RULE=on or RULE=off"
                        ))
                    })?;
                    let slot = match rule {
                        "lowercase" => &mut rules.lowercase,
                        "uppercase" => &mut rules.uppercase,
                        "digit" => &mut rules.digit,
                        "special" => &mut rules.special,
                        "no_three_identical" => &mut rules.no_three_identical,
                        "no_three_sequential" => &mut rules.no_three_sequential,
                        "no_names" => &mut rules.no_names,
                        other => {
                            return Err(Failure(format!(
                                "--password-rule {other:?}: unknown rule; expected one of lowercase, uppercase, digit, special, no_three_identical, no_three_sequential, no_names"
                            )));
                        }
                    };
                    *slot = Some(on);
                }
                body.password_rules = Some(rules);
            }
            if !a.role_session_timeout.is_empty() {
                let mut map = std::collections::BTreeMap::new();
                for item in &a.role_session_timeout {
                    let (role, mins) = item.split_once('=').ok_or_else(|| {
                        Failure(format!(
                            "--role-session-timeout {item:?}: expected ROLE=MINUTES or ROLE=none"
                        ))
                    })?;
                    let val = if mins == "none" {
                        None
                    } else {
                        Some(mins.parse::<u32>().map_err(|_| {
                            Failure(format!(
                                "--role-session-timeout {item:?}: {mins:?} is not a number"
                            ))
                        })?)
                    };
                    map.insert(role_arg(role)?, val);
                }
                body.session_timeout_by_role = Some(map);
            }
            if body.is_empty() {
                return Err(Failure("nothing to change: give at least one option (see sealscan security set --help)".into()));
            }
            let v: SecurityView = ctx.api()?.update_security(&body).await?;
            ctx.out(&v, |v| print_kv(&v.security));
        }
        SecurityCmd::Allowlist {
            cmd: AllowlistCmd::Show,
        } => {
            let v: AllowlistView = ctx.api()?.allowlist().await?;
            ctx.out(&v, print_kv);
        }
        SecurityCmd::Allowlist {
            cmd:
                AllowlistCmd::Set {
                    enable,
                    disable,
                    entries,
                },
        } => {
            if !enable && !disable {
                return Err(Failure("say --enable or --disable".into()));
            }
            // Without addresses the saved list stays: --disable keeps it for later, --enable
            // turns it on again.
            let entries = if entries.is_empty() {
                let current: AllowlistView = ctx.api()?.allowlist().await?;
                current.entries
            } else {
                entries
            };
            let v: AllowlistView = ctx
                .api()?
                .set_allowlist(&AllowlistRequest {
                    enabled: enable,
                    entries,
                })
                .await?;
            ctx.out(&v, print_kv);
        }
        SecurityCmd::ExternalIds { state } => {
            let v: ExternalIdsView = ctx
                .api()?
                .set_external_ids(&ToggleRequest {
                    enabled: state == "on",
                })
                .await?;
            ctx.out(&v, print_kv);
        }
        SecurityCmd::NeverExpireAgreement { answer } => {
            let v: AgreementView = ctx
                .api()?
                .answer_never_expire_agreement(&AgreementRequest {
                    accept: answer == "accept",
                })
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "risk agreement: {} by {}",
                    name(&v.agreement.status),
                    s(v.agreement.by.as_deref())
                );
                if v.cleared_users > 0 {
                    println!("cleared never-expire on {} user(s)", v.cleared_users);
                }
            });
        }
        SecurityCmd::Ndsm { answer: _ } => {
            let v: NdsmView = ctx
                .api()?
                .accept_ndsm(&NdsmRequest { accepted: true })
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "New Data Security Model accepted by {}",
                    v.new_data_security_model.by
                )
            });
        }
    }
    Ok(())
}

async fn password(ctx: &Ctx, cmd: PasswordCmd) -> R<()> {
    match cmd {
        PasswordCmd::Check {
            first_name,
            last_name,
        } => {
            let pw = ctx.secret("Password to check: ")?;
            let v: CheckResponse = ctx
                .api()?
                .check_password(&CheckRequest {
                    password: pw,
                    first_name,
                    last_name,
                })
                .await?;
            ctx.out(&v, |v| {
                if v.acceptable {
                    println!("acceptable");
                } else {
                    println!("not acceptable:");
                    for x in &v.violations {
                        println!("  - {} [{}]", x.message, x.rule);
                    }
                }
            });
            if !v.acceptable {
                return Err(Failure("the password breaks the rules above".into()));
            }
        }
        PasswordCmd::Change { generate } => {
            let current = ctx.secret("Current password: ")?;
            // A password is generated only when asked for (--generate): the command never
            // replaces someone's password with one they did not expect.
            let (new_password, refused, why) = if generate {
                (
                    None,
                    Code::PasswordNewRequired,
                    "user-defined passwords are on: choose your new password with `sealscan password change` (without --generate)",
                )
            } else {
                (
                    Some(ctx.new_secret("New password: ")?),
                    Code::PasswordUserDefinedOff,
                    "user-defined passwords are off for this subscription: the control plane generates new passwords. Nothing changed; run `sealscan password change --generate` to have it generate yours (shown once)",
                )
            };
            let body = ChangeRequest {
                current_password: current,
                new_password,
            };
            let v: ChangeResponse = match ctx.api()?.change_password(&body).await {
                Err(e) if e.code() == Some(refused) => return Err(Failure(why.into())),
                other => other?,
            };
            ctx.out(&v, |v| {
                println!("password changed");
                print_generated(v.generated_password.as_ref());
            });
        }
        PasswordCmd::Forgot { url, ca_file, user } => {
            let profile = profile_for(ctx, url, ca_file, Some(user.clone()))?;
            let v: Message = Client::new(&profile)?
                .forgot_password(&ForgotRequest { username: user })
                .await?;
            ctx.out(&v, |v| println!("{}", v.message));
        }
        PasswordCmd::Reset {
            url,
            ca_file,
            generate,
        } => {
            let profile = profile_for(ctx, url, ca_file, None)?;
            let token = ctx.secret("Reset token from the email: ")?;
            let new_password = if generate {
                None
            } else {
                Some(ctx.new_secret("New password: ")?)
            };
            let body = ResetRequest {
                token,
                new_password,
            };
            let v: ChangeResponse = match Client::new(&profile)?.reset_password(&body).await {
                // A refused password leaves the token usable.
                Err(e) if e.code() == Some(Code::PasswordUserDefinedOff) => {
                    return Err(Failure(
                        "user-defined passwords are off for this subscription: the control plane generates new passwords. Nothing changed and the token still works; run `sealscan password reset --generate` and give the token again".into(),
                    ));
                }
                Err(e) if e.code() == Some(Code::PasswordNewRequired) => {
                    return Err(Failure(
                        "user-defined passwords are on: choose the new password with `sealscan password reset` (without --generate); the token still works".into(),
                    ));
                }
                other => other?,
            };
            ctx.out(&v, |v| {
                println!("password changed; sign in with `sealscan login`");
                print_generated(v.generated_password.as_ref());
            });
        }
    }
    Ok(())
}

/// `sealscan signing`: the root's statements, signed here with the unlocked key (one
/// passphrase prompt) and uploaded; the control plane only stores them.
async fn signing(ctx: &Ctx, cmd: sealscan_cli::args::keys::SigningCmd) -> R<()> {
    use sealscan_api::records::SigningMaterial;
    use sealscan_cli::args::keys::SigningCmd;
    use sealscan_cli::keys::root;
    let show = |m: &SigningMaterial| {
        let line = |what: &str, v: &Option<String>| {
            println!("{what}: {}", if v.is_some() { "stored" } else { "none" });
        };
        line("root declaration", &m.root_declaration);
        line("trust list", &m.trust_list);
        println!("revocations: {}", m.revocations.len());
    };
    let now = u64::try_from(now_secs()).unwrap_or(0);
    let unlock = || -> R<sealscan_protocols::signing::SigningKey> {
        let pass = ctx.secret("Passphrase of your signing key: ")?;
        sealscan_cli::keys::unlock(&ctx.dir, pass.expose().as_bytes())
            .map_err(|e| Failure(e.to_string()))
    };
    let upload = match cmd {
        SigningCmd::Show => {
            let m: SigningMaterial = ctx.api()?.signing().await?;
            ctx.out(&m, show);
            return Ok(());
        }
        SigningCmd::Declare {
            recovery_public_key,
            subscription_id,
        } => {
            let recovery = root::public_key_hex(&recovery_public_key)?;
            if !(1..=64).contains(&subscription_id.chars().count()) {
                return Err(Failure("--subscription-id is 1 to 64 characters".into()));
            }
            let key = unlock()?;
            if recovery == key.public_key() {
                return Err(Failure(
                    "the recovery key must be another key than the root".into(),
                ));
            }
            root::declare(&key, &subscription_id, recovery, now)?
        }
        SigningCmd::Certify {
            user_id,
            role,
            public_key,
            days,
        } => {
            let role = match role.as_str() {
                "manager" => sealscan_protocols::signing::SignerRole::Manager,
                "unit_manager" => sealscan_protocols::signing::SignerRole::UnitManager,
                _ => return Err(Failure("--role is manager or unit_manager".into())),
            };
            let public_key = root::public_key_hex(&public_key)?;
            let stored: SigningMaterial = ctx.api()?.signing().await?;
            let key = unlock()?;
            root::certify(
                &key,
                &stored,
                &root::Certify {
                    user_id: &user_id,
                    role,
                    public_key,
                    now,
                    days,
                },
            )?
        }
    };
    let m: SigningMaterial = ctx.api()?.upload_signing(&upload).await?;
    ctx.out(&m, show);
    Ok(())
}

/// Unix seconds now (statements carry their issue time; certificates their validity).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
