//! `sealscan`: the operator CLI for the control plane's API.
use clap::Parser;
use sealscan_control::cli::operator::{
    AllowlistCmd, Cli, Command, PasswordCmd, SecurityCmd, TwoFaCmd, UsersCmd,
};
use sealscan_control::client::{
    Client, ClientError, Profile, config_dir, delete_token, load_profile, load_token, save_profile,
    save_token,
};
use sealscan_control::secrets::Password;
use serde_json::{Map, Value, json};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "sealscan/records_cli.rs"]
mod records_cli;
#[path = "sealscan/scanning.rs"]
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
            ClientError::Api {
                rule,
                message,
                details,
                ..
            } => {
                let mut out = format!("{message} [rule {rule}]");
                if let Some(v) = details["violations"].as_array() {
                    for x in v {
                        out.push_str(&format!("\n  - {}", x["message"].as_str().unwrap_or("")));
                    }
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

    fn session(&self) -> R<(Client, String)> {
        let profile = self.profile()?;
        let token = load_token(&self.dir)?
            .ok_or_else(|| Failure("not signed in: run `sealscan login` first".into()))?;
        Ok((Client::new(&profile)?, token.to_string()))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> R<Value> {
        let (client, token) = self.session()?;
        match client.send(method, path, Some(&token), body.as_ref()).await {
            Err(ClientError::Api {
                status: 401,
                rule,
                message,
                ..
            }) => Err(Failure(format!(
                "{message} [rule {rule}]; run `sealscan login` again"
            ))),
            other => Ok(other?),
        }
    }

    /// Sends `body`; when the server says a password is required (user-defined passwords
    /// on) and none was given, asks for one and sends again.
    async fn call_asking_password(
        &self,
        method: &str,
        path: &str,
        mut body: Value,
        field: &str,
        user: &str,
    ) -> R<Value> {
        match self.call(method, path, Some(body.clone())).await {
            Err(Failure(m)) if m.contains("[rule password.required]") && body[field].is_null() => {
                eprintln!("user-defined passwords are on: choose the password");
                let pw = self.new_secret(&format!("Password for {user}: "))?;
                body[field] = json!(pw.expose());
                self.call(method, path, Some(body)).await
            }
            other => other,
        }
    }

    fn out(&self, v: &Value, table: impl FnOnce(&Value)) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            table(v);
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
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

fn print_kv(v: &Value) {
    if let Some(obj) = v.as_object() {
        let w = obj.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, val) in obj {
            println!("{k:<w$}  {}", s(val));
        }
    }
}

fn print_users(v: &Value) {
    let rows = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| {
                    let mut flags = Vec::new();
                    if u["primary_contact"] == true {
                        flags.push("primary-contact");
                    }
                    if u["locked"] == true {
                        flags.push("LOCKED");
                    }
                    if u["api_only"] == true {
                        flags.push("api-only");
                    }
                    if u["two_factor_enabled"] == true {
                        flags.push("2fa");
                    }
                    if u["must_change_password"] == true {
                        flags.push("must-change-password");
                    }
                    // Only where it is a per-user grant: Managers always have it.
                    if u["role"] == "unit_manager" && u["records_permission"] == true {
                        flags.push("records");
                    }
                    vec![
                        s(&u["id"]),
                        s(&u["username"]),
                        format!("{} {}", s(&u["first_name"]), s(&u["last_name"])),
                        s(&u["email"]),
                        s(&u["role"]),
                        flags.join(","),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    print_table(&["id", "user", "name", "email", "role", "flags"], rows);
}

fn print_generated(v: &Value) {
    if let Some(p) = v["generated_password"].as_str() {
        println!(
            "generated password (shown once; it must be changed at first login if required): {p}"
        );
    }
}

fn role_arg(role: &str) -> R<String> {
    role.parse::<sealscan_control::model::Role>()
        .map(|r| r.as_str().to_string())
        .map_err(Failure)
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

async fn run(ctx: &Ctx, cmd: Command) -> R<()> {
    match cmd {
        Command::Login {
            url,
            ca_file,
            user,
            totp,
        } => login(ctx, url, ca_file, user, totp).await,
        Command::Logout => {
            if let Ok((client, token)) = ctx.session() {
                // Forget the token even if the server already ended the session.
                let _ = client.send("DELETE", "/session", Some(&token), None).await;
            }
            delete_token(&ctx.dir)?;
            println!("signed out");
            Ok(())
        }
        Command::Whoami => {
            let v = ctx.call("GET", "/session", None).await?;
            ctx.out(&v, |v| {
                let u = &v["user"];
                print_kv(&json!({
                    "user": u["username"], "name": format!("{} {}", s(&u["first_name"]), s(&u["last_name"])),
                    "role": u["role"], "primary_contact": u["primary_contact"],
                    "subscription": v["subscription"], "edition": v["edition"],
                    "your_ip": v["client_ip"], "session_scope": v["scope"],
                    "idle_timeout_minutes": v["idle_timeout_minutes"],
                    "password_expires_at": u["password_expires_at"],
                }));
                if let Some(m) = v["password_expiry_notice"]["message"].as_str() {
                    println!("notice: {m}");
                }
            });
            Ok(())
        }
        Command::Users { cmd } => users(ctx, cmd).await,
        Command::Security { cmd } => security(ctx, cmd).await,
        Command::TwoFa {
            cmd: TwoFaCmd::Enroll,
        } => {
            let v = ctx.call("POST", "/2fa/enroll", None).await?;
            println!("Scan this URI with your authenticator app (or type the secret):");
            println!("  {}", s(&v["provisioning_uri"]));
            println!("  secret: {}", s(&v["secret_base32"]));
            let code = ctx.secret("Code shown by the app: ")?;
            let r = ctx
                .call("POST", "/2fa/confirm", Some(json!({"code": code.expose()})))
                .await?;
            ctx.out(&r, |r| println!("{}", s(&r["message"])));
            Ok(())
        }
        Command::Password { cmd } => password(ctx, cmd).await,
        Command::Appliances { cmd } => scanning::appliances(ctx, cmd).await,
        Command::Records { cmd } => records_cli::records(ctx, cmd).await,
        Command::Vaults { cmd } => records_cli::vaults(ctx, cmd).await,
        Command::Ncsm { cmd } => records_cli::ncsm(ctx, cmd).await,
        Command::Scans { cmd } => scanning::scans(ctx, cmd).await,
        Command::Outbox => {
            let v = ctx.call("GET", "/outbox", None).await?;
            ctx.out(&v, |v| {
                let rows = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|m| {
                                vec![
                                    s(&m["id"]),
                                    sealscan_control::dates::rfc3339(m["at"].as_i64().unwrap_or(0)),
                                    s(&m["to"]),
                                    s(&m["kind"]),
                                    s(&m["subject"]),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                print_table(&["id", "queued", "to", "kind", "subject"], rows);
            });
            Ok(())
        }
        Command::Audit => {
            let v = ctx.call("GET", "/audit", None).await?;
            ctx.out(&v, |v| {
                let rows = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                vec![
                                    sealscan_control::dates::rfc3339(e["at"].as_i64().unwrap_or(0)),
                                    s(&e["actor"]),
                                    s(&e["action"]),
                                    s(&e["target"]),
                                    s(&e["ip"]),
                                    e["detail"].to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                print_table(&["at", "actor", "action", "target", "ip", "detail"], rows);
            });
            Ok(())
        }
    }
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
    let mut body = json!({"username": username, "password": password.expose()});
    if let Some(t) = &totp {
        body["totp_code"] = json!(t);
    }
    let mut reply = client.send("POST", "/session", None, Some(&body)).await;
    // Answer what the server asks for: a TOTP code, or a new password (first login, expiry).
    for _ in 0..2 {
        match &reply {
            Err(ClientError::Api { rule, .. }) if rule == "2fa.code-required" => {
                let code = ctx.secret("Two-factor code: ")?;
                body["totp_code"] = json!(code.expose());
            }
            Err(ClientError::Api { rule, message, .. })
                if rule == "password.change-required" || rule == "password.expired" =>
            {
                if message.contains("changing it at login is off") {
                    break;
                }
                eprintln!("{message}");
                let np = ctx.new_secret("New password: ")?;
                body["new_password"] = json!(np.expose());
            }
            _ => break,
        }
        reply = client.send("POST", "/session", None, Some(&body)).await;
    }
    let v = reply?;
    let token = v["token"]
        .as_str()
        .ok_or_else(|| Failure("the server sent no token".into()))?;
    save_profile(&ctx.dir, &profile)?;
    save_token(&ctx.dir, token)?;
    ctx.out(&json!({"user": v["user"], "scope": v["scope"], "idle_timeout_minutes": v["idle_timeout_minutes"],
                     "password_expiry_notice": v["password_expiry_notice"]}), |_| {
        println!("signed in to {} as {} ({})", profile.url, s(&v["user"]["username"]), s(&v["user"]["role"]));
        if v["scope"] == "enroll_2fa" {
            println!("two-factor login is required: run `sealscan 2fa enroll`, then sign in again");
        }
        if let Some(m) = v["password_expiry_notice"]["message"].as_str() {
            println!("notice: {m}");
        }
    });
    print_generated(&v);
    Ok(())
}

async fn users(ctx: &Ctx, cmd: UsersCmd) -> R<()> {
    match cmd {
        UsersCmd::List => {
            let v = ctx.call("GET", "/users", None).await?;
            ctx.out(&v, print_users);
        }
        UsersCmd::Show { user } => {
            let v = ctx
                .call("GET", &format!("/users/{}", enc(&user)), None)
                .await?;
            ctx.out(&v, print_kv);
        }
        UsersCmd::Create {
            username,
            first_name,
            last_name,
            email,
            role,
            api_only,
            external_id,
            set_password,
        } => {
            let mut body = json!({"username": username, "first_name": first_name, "last_name": last_name,
                                  "email": email, "role": role_arg(&role)?, "api_only": api_only});
            if let Some(x) = external_id {
                body["external_id"] = json!(x);
            }
            let pw;
            if set_password {
                pw = ctx.new_secret(&format!("Password for {username}: "))?;
                body["password"] = json!(pw.expose());
            }
            let v = ctx
                .call_asking_password("POST", "/users", body, "password", &username)
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "created user {} ({})",
                    s(&v["user"]["username"]),
                    s(&v["user"]["role"])
                );
                print_generated(v);
            });
        }
        UsersCmd::Update { user, fields } => {
            let mut body = Map::new();
            let mut put = |k: &str, v: Value| {
                body.insert(k.to_string(), v);
            };
            if let Some(v) = fields.first_name {
                put("first_name", json!(v));
            }
            if let Some(v) = fields.last_name {
                put("last_name", json!(v));
            }
            if let Some(v) = fields.email {
                put("email", json!(v));
            }
            if let Some(v) = fields.api_only {
                put("api_only", json!(v));
            }
            if let Some(v) = fields.never_expire {
                put("never_expire", json!(v));
            }
            if let Some(v) = fields.external_id {
                put(
                    "external_id",
                    if v == "none" { Value::Null } else { json!(v) },
                );
            }
            if let Some(v) = fields.session_timeout {
                let val = if v == "none" {
                    Value::Null
                } else {
                    json!(v.parse::<u32>().map_err(|_| Failure(format!(
                        "--session-timeout {v:?} is not a number of minutes or none"
                    )))?)
                };
                put("session_timeout_minutes", val);
            }
            if body.is_empty() {
                return Err(Failure(
                    "nothing to change: give at least one option (see --help)".into(),
                ));
            }
            let v = ctx
                .call(
                    "PATCH",
                    &format!("/users/{}", enc(&user)),
                    Some(Value::Object(body)),
                )
                .await?;
            ctx.out(&v, print_kv);
        }
        UsersCmd::Lock { user } => {
            let v = ctx
                .call("POST", &format!("/users/{}/lock", enc(&user)), None)
                .await?;
            ctx.out(&v, |v| println!("{} is locked", s(&v["username"])));
        }
        UsersCmd::Unlock { user } => {
            let v = ctx
                .call("POST", &format!("/users/{}/unlock", enc(&user)), None)
                .await?;
            ctx.out(&v, |v| println!("{} is active again", s(&v["username"])));
        }
        UsersCmd::ResetPassword { user, set_password } => {
            let mut body = json!({});
            let pw;
            if set_password {
                pw = ctx.new_secret(&format!("New password for {user}: "))?;
                body["password"] = json!(pw.expose());
            }
            let v = ctx
                .call_asking_password(
                    "POST",
                    &format!("/users/{}/reset-password", enc(&user)),
                    body,
                    "password",
                    &user,
                )
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "password of {} reset; it must be changed at the next login",
                    s(&v["user"]["username"])
                );
                print_generated(v);
            });
        }
        UsersCmd::SetRole { user, role } => {
            let v = ctx
                .call(
                    "PUT",
                    &format!("/users/{}/role", enc(&user)),
                    Some(json!({"role": role_arg(&role)?})),
                )
                .await?;
            ctx.out(&v, |v| {
                println!("{} is now {}", s(&v["username"]), s(&v["role"]))
            });
        }
        UsersCmd::ExternalIdPermission { user, state } => {
            let v = ctx
                .call(
                    "PUT",
                    &format!("/users/{}/external-id-permission", enc(&user)),
                    Some(json!({"granted": state == "on"})),
                )
                .await?;
            ctx.out(&v, |v| {
                println!("{}: external-ID permission {}", s(&v["username"]), state)
            });
        }
        UsersCmd::Unit { user, unit, none } => {
            let path = format!("/users/{}/unit", enc(&user));
            let v = if unit.is_none() && !none {
                ctx.call("GET", &path, None).await?
            } else {
                ctx.call("PUT", &path, Some(json!({ "unit": unit })))
                    .await?
            };
            ctx.out(&v, |v| {
                println!(
                    "{}: {}",
                    s(&v["username"]),
                    v["unit"]
                        .as_str()
                        .map_or("no unit".to_string(), |u| format!("unit {u}"))
                )
            });
        }
        UsersCmd::RecordsPermission { user, state } => {
            let v = ctx
                .call(
                    "PUT",
                    &format!("/users/{}/records-permission", enc(&user)),
                    Some(json!({"granted": state == "on"})),
                )
                .await?;
            ctx.out(&v, |v| {
                println!("{}: records permission {}", s(&v["username"]), state)
            });
        }
    }
    Ok(())
}

/// User names are [a-z0-9._-]; anything else is refused by the server anyway, so only '/'
/// and '%' need care to keep the path intact.
fn enc(s: &str) -> String {
    s.replace('%', "%25").replace('/', "%2F")
}

async fn security(ctx: &Ctx, cmd: SecurityCmd) -> R<()> {
    match cmd {
        SecurityCmd::Show => {
            let v = ctx.call("GET", "/security", None).await?;
            ctx.out(&v, |v| {
                let mut flat = v["security"].as_object().cloned().unwrap_or_default();
                flat.insert("edition".into(), v["edition"].clone());
                flat.insert(
                    "operator: api_never_expire".into(),
                    v["operator_features"]["api_never_expire"].clone(),
                );
                flat.insert("your_ip".into(), v["your_ip"].clone());
                print_kv(&Value::Object(flat));
            });
        }
        SecurityCmd::Set(a) => {
            let mut body = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    body.insert(k.to_string(), v);
                }
            };
            put(
                "password_expiry_months",
                a.password_expiry_months.map(|v| json!(v)),
            );
            put("expiry_notice_days", a.expiry_notice_days.map(|v| json!(v)));
            put(
                "expiry_notice_repeat_days",
                a.expiry_notice_repeat_days.map(|v| json!(v)),
            );
            put(
                "change_expired_at_login",
                a.change_expired_at_login.map(|v| json!(v)),
            );
            put(
                "user_defined_passwords",
                a.user_defined_passwords.map(|v| json!(v)),
            );
            put(
                "min_password_length",
                a.min_password_length.map(|v| json!(v)),
            );
            put(
                "force_change_first_login",
                a.force_change_first_login.map(|v| json!(v)),
            );
            put("expiry_notice_ui", a.expiry_notice_ui.map(|v| json!(v)));
            put(
                "expiry_notice_email",
                a.expiry_notice_email.map(|v| json!(v)),
            );
            if !a.password_rule.is_empty() {
                let mut rules = Map::new();
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
                    rules.insert(rule.to_string(), json!(on));
                }
                put("password_rules", Some(Value::Object(rules)));
            }
            put(
                "lockout_failed_logins",
                a.lockout_failed_logins.map(|v| json!(v)),
            );
            put(
                "two_factor_required",
                a.two_factor_required.map(|v| json!(v)),
            );
            put(
                "session_timeout_minutes",
                a.session_timeout.map(|v| json!(v)),
            );
            if !a.role_session_timeout.is_empty() {
                let mut map = Map::new();
                for item in &a.role_session_timeout {
                    let (role, mins) = item.split_once('=').ok_or_else(|| {
                        Failure(format!(
                            "--role-session-timeout {item:?}: expected ROLE=MINUTES or ROLE=none"
                        ))
                    })?;
                    let val = if mins == "none" {
                        Value::Null
                    } else {
                        json!(mins.parse::<u32>().map_err(|_| Failure(format!(
                            "--role-session-timeout {item:?}: {mins:?} is not a number"
                        )))?)
                    };
                    map.insert(role_arg(role)?, val);
                }
                put("session_timeout_by_role", Some(Value::Object(map)));
            }
            if body.is_empty() {
                return Err(Failure("nothing to change: give at least one option (see sealscan security set --help)".into()));
            }
            let v = ctx
                .call("PUT", "/security", Some(Value::Object(body)))
                .await?;
            ctx.out(&v, |v| print_kv(&v["security"]));
        }
        SecurityCmd::Allowlist {
            cmd: AllowlistCmd::Show,
        } => {
            let v = ctx.call("GET", "/security/allowlist", None).await?;
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
                let current = ctx.call("GET", "/security/allowlist", None).await?;
                current["entries"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|e| e.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                entries
            };
            let v = ctx
                .call(
                    "PUT",
                    "/security/allowlist",
                    Some(json!({"enabled": enable, "entries": entries})),
                )
                .await?;
            ctx.out(&v, print_kv);
        }
        SecurityCmd::ExternalIds { state } => {
            let v = ctx
                .call(
                    "PUT",
                    "/security/external-ids",
                    Some(json!({"enabled": state == "on"})),
                )
                .await?;
            ctx.out(&v, print_kv);
        }
        SecurityCmd::NeverExpireAgreement { answer } => {
            let v = ctx
                .call(
                    "POST",
                    "/security/never-expire-agreement",
                    Some(json!({"accept": answer == "accept"})),
                )
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "risk agreement: {} by {}",
                    s(&v["agreement"]["status"]),
                    s(&v["agreement"]["by"])
                );
                if v["cleared_users"].as_u64().unwrap_or(0) > 0 {
                    println!("cleared never-expire on {} user(s)", s(&v["cleared_users"]));
                }
            });
        }
        SecurityCmd::Ndsm { answer: _ } => {
            let v = ctx
                .call(
                    "PUT",
                    "/security/new-data-security-model",
                    Some(json!({"accepted": true})),
                )
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "New Data Security Model accepted by {}",
                    s(&v["new_data_security_model"]["by"])
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
            let v = ctx.call("POST", "/password/check",
                Some(json!({"password": pw.expose(), "first_name": first_name, "last_name": last_name}))).await?;
            ctx.out(&v, |v| {
                if v["acceptable"] == true {
                    println!("acceptable");
                } else {
                    println!("not acceptable:");
                    for x in v["violations"].as_array().into_iter().flatten() {
                        println!("  - {} [{}]", s(&x["message"]), s(&x["rule"]));
                    }
                }
            });
            if v["acceptable"] != true {
                return Err(Failure("the password breaks the rules above".into()));
            }
        }
        PasswordCmd::Change { generate } => {
            let current = ctx.secret("Current password: ")?;
            // A password is generated only when asked for (--generate): the command never
            // replaces someone's password with one they did not expect.
            let v = if generate {
                match ctx
                    .call(
                        "POST",
                        "/password/change",
                        Some(json!({"current_password": current.expose()})),
                    )
                    .await
                {
                    Err(Failure(m)) if m.contains("[rule password.new-required]") => {
                        return Err(Failure(
                            "user-defined passwords are on: choose your new password with `sealscan password change` (without --generate)".into(),
                        ));
                    }
                    other => other?,
                }
            } else {
                let new = ctx.new_secret("New password: ")?;
                match ctx
                    .call(
                        "POST",
                        "/password/change",
                        Some(json!({"current_password": current.expose(), "new_password": new.expose()})),
                    )
                    .await
                {
                    Err(Failure(m)) if m.contains("[rule password.user-defined-off]") => {
                        return Err(Failure(
                            "user-defined passwords are off for this subscription: the control plane generates new passwords. Nothing changed; run `sealscan password change --generate` to have it generate yours (shown once)".into(),
                        ));
                    }
                    other => other?,
                }
            };
            ctx.out(&v, |v| {
                println!("password changed");
                print_generated(v);
            });
        }
        PasswordCmd::Forgot { url, ca_file, user } => {
            let profile = profile_for(ctx, url, ca_file, Some(user.clone()))?;
            let v = Client::new(&profile)?
                .send(
                    "POST",
                    "/password/forgot",
                    None,
                    Some(&json!({"username": user})),
                )
                .await?;
            ctx.out(&v, |v| println!("{}", s(&v["message"])));
        }
        PasswordCmd::Reset {
            url,
            ca_file,
            generate,
        } => {
            let profile = profile_for(ctx, url, ca_file, None)?;
            let token = ctx.secret("Reset token from the email: ")?;
            let body = if generate {
                json!({"token": token.expose()})
            } else {
                let new = ctx.new_secret("New password: ")?;
                json!({"token": token.expose(), "new_password": new.expose()})
            };
            let v = match Client::new(&profile)?
                .send("POST", "/password/reset", None, Some(&body))
                .await
            {
                // A refused password leaves the token usable.
                Err(ClientError::Api { rule, .. }) if rule == "password.user-defined-off" => {
                    return Err(Failure(
                        "user-defined passwords are off for this subscription: the control plane generates new passwords. Nothing changed and the token still works; run `sealscan password reset --generate` and give the token again".into(),
                    ));
                }
                Err(ClientError::Api { rule, .. }) if rule == "password.new-required" => {
                    return Err(Failure(
                        "user-defined passwords are on: choose the new password with `sealscan password reset` (without --generate); the token still works".into(),
                    ));
                }
                other => other?,
            };
            ctx.out(&v, |v| {
                println!("password changed; sign in with `sealscan login`");
                print_generated(v);
            });
        }
    }
    Ok(())
}
