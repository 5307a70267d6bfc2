//! The message exchange of one Windows login, step by step, over one connection.

use super::kerberos::{self, ApAnswer, Ticketed};
use super::transport::{CLOSED, receive, send};
use super::{NtlmWrapping, ServerInfo, WindowsCredential};
use crate::login::Target;
use rand_core::{OsRng, RngCore};
use sealscan_protocols::ntlm::{self, Challenge, Direction};
use sealscan_protocols::results::{Status, Step};
use sealscan_protocols::smb2::{
    self, Dialect, NegotiateRequest, NtStatus, PreauthHash, SigningKey, session_flags,
};
use sealscan_protocols::spnego;
use std::fmt;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Names this client in the NTLM AUTHENTICATE message.
const WORKSTATION: &str = "SEALSCAN";

/// Why an attempt stopped: the status, step and detail of the result's cause, and what was
/// learned about the server by then.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: Status,
    pub step: Step,
    pub detail: String,
    pub info: Option<ServerInfo>,
}

impl Failure {
    pub(super) fn failed(step: Step, detail: impl Into<String>) -> Self {
        Self {
            status: Status::Failed,
            step,
            detail: detail.into(),
            info: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.detail)
    }
}

impl std::error::Error for Failure {}

pub(super) struct Session<'p> {
    stream: TcpStream,
    /// The address connected to (the one a host name resolved to).
    peer: SocketAddr,
    progress: &'p Mutex<Step>,
    pub info: ServerInfo,
    dialect: Dialect,
    sign: bool,
    signing_by_record: bool,
    preauth: PreauthHash,
    session_id: u64,
    negotiate_token: Vec<u8>,
    challenge_bytes: Vec<u8>,
    challenge: Option<Challenge>,
    key: Option<SigningKey>,
    /// Wrap NTLM in SPNEGO: done when the server's NEGOTIATE hint offers NTLMSSP, as every
    /// Windows client does; raw NTLMSSP otherwise.
    spnego: bool,
    /// The server's mechListMIC was present and verified.
    mic_verified: bool,
    /// `cifs/HOST`, the service the client means to reach, bound into the NTLMv2 response.
    spn: String,
    /// The Kerberos session key's enctype, once a Kerberos session is set up.
    kerberos: Option<&'static str>,
    /// The TREE_CONNECT's message id: after NEGOTIATE and the one (Kerberos) or two (NTLM)
    /// SESSION_SETUPs; servers close the connection on an id out of sequence.
    tree_message_id: u64,
    /// The 3.1.1 cipher the server chose (0: none).
    cipher: u16,
    /// Set when the server marks the session ENCRYPT_DATA: the TREE_CONNECT travels encrypted.
    encryption: Option<smb2::CipherKeys>,
}

fn offered_list(d: &[Dialect]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long the second connection waits for a server that closes without being asked.
/// Connection limits and TCP wrappers close within milliseconds; an SMB server waits far
/// longer than this for the client's NEGOTIATE.
const UNPROMPTED_CLOSE_WAIT: Duration = Duration::from_millis(750);

/// Connects to `peer`, sends nothing, and reports whether the server closes the connection
/// within [`UNPROMPTED_CLOSE_WAIT`].
async fn closes_unprompted(peer: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(peer).await?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(UNPROMPTED_CLOSE_WAIT, stream.read(&mut byte)).await {
        // Still open and silent: a server waiting for a request.
        Err(_) => Ok(false),
        Ok(Ok(0)) => Ok(true),
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionReset => Ok(true),
        // It spoke first: not what an SMB server does, but not an unprompted close either.
        Ok(Ok(_)) => Ok(false),
        Ok(Err(e)) => Err(e),
    }
}

fn filetime_now() -> u64 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (unix + 11_644_473_600) * 10_000_000
}

impl<'p> Session<'p> {
    /// Connects; a refused or unreachable port means the login was not attempted.
    pub(super) async fn connect(
        target: &Target,
        progress: &'p Mutex<Step>,
    ) -> Result<Self, Failure> {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| {
                let why = match e.kind() {
                    ErrorKind::ConnectionRefused => "connection refused".to_string(),
                    _ => e.to_string(),
                };
                Failure {
                    status: Status::NotAttempted,
                    step: Step::Connect,
                    detail: format!("cannot connect to {}:{}: {why}", target.host, target.port),
                    info: None,
                }
            })?;
        let peer = stream.peer_addr().map_err(|e| Failure {
            status: Status::NotAttempted,
            step: Step::Connect,
            detail: format!("cannot connect to {}:{}: {e}", target.host, target.port),
            info: None,
        })?;
        Ok(Self {
            stream,
            peer,
            progress,
            info: ServerInfo::default(),
            dialect: Dialect::Smb202,
            sign: false,
            signing_by_record: false,
            preauth: PreauthHash::default(),
            session_id: 0,
            negotiate_token: Vec::new(),
            challenge_bytes: Vec::new(),
            challenge: None,
            key: None,
            spnego: false,
            mic_verified: false,
            spn: format!("cifs/{}", target.host),
            kerberos: None,
            tree_message_id: 3,
            cipher: 0,
            encryption: None,
        })
    }

    fn at(&self, step: Step) {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }

    fn fail(&self, step: Step, detail: impl Into<String>) -> Failure {
        Failure {
            status: Status::Failed,
            step,
            detail: detail.into(),
            info: Some(self.info.clone()),
        }
    }

    async fn round_trip(&mut self, msg: &[u8], step: Step) -> Result<Vec<u8>, Failure> {
        send(&mut self.stream, msg, step).await?;
        receive(&mut self.stream, step).await
    }

    pub(super) async fn negotiate(
        &mut self,
        min: Dialect,
        require_signing: bool,
        wrapping: NtlmWrapping,
    ) -> Result<(), Failure> {
        self.at(Step::Negotiate);
        let offered = Dialect::from_min(min);
        let mut client_guid = [0u8; 16];
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut client_guid);
        OsRng.fill_bytes(&mut salt);
        let req = smb2::negotiate_request(&NegotiateRequest {
            dialects: offered.clone(),
            signing_required: require_signing,
            client_guid,
            salt,
        });
        let resp = match self.round_trip(&req, Step::Negotiate).await {
            Ok(resp) => resp,
            Err(f) if f.detail == CLOSED => return Err(self.why_closed(f, &offered, min).await),
            Err(f) => return Err(f),
        };
        let parsed = smb2::parse_negotiate(&resp, &offered)
            .map_err(|e| Failure::failed(Step::Negotiate, format!("not an SMB2 server: {e}")))?;
        let Some(dialect) = parsed.dialect else {
            let hint = if parsed.header.status == NtStatus::NOT_SUPPORTED {
                ": no dialect in common, the server's maximum is below the record's minimum"
            } else {
                ""
            };
            return Err(Failure::failed(
                Step::Negotiate,
                format!(
                    "{} in answer to NEGOTIATE offering SMB {} (the record's minimum is \
                     {min}){hint}",
                    parsed.header.status,
                    offered_list(&offered)
                ),
            ));
        };
        if dialect == Dialect::Smb311 {
            self.preauth.update(&req);
            self.preauth.update(&resp);
        }
        self.spnego = wrapping == NtlmWrapping::Auto
            && spnego::hinted_mechs(&parsed.security_buffer)
                .is_ok_and(|mechs| mechs.iter().any(|m| m == spnego::NTLMSSP_OID));
        self.dialect = dialect;
        self.cipher = parsed.cipher;
        self.signing_by_record = require_signing;
        self.sign = require_signing || parsed.signing_required();
        self.info.dialect = Some(dialect);
        self.info.signing_required = parsed.signing_required();
        Ok(())
    }

    /// A server that closes in answer to NEGOTIATE either read it and speaks none of the
    /// dialects offered, or closes every connection at once whatever is sent (a connection
    /// limit, a TCP wrapper such as hosts.deny). A second connection that sends nothing tells
    /// them apart: the first kind waits for a request, the second closes it too.
    async fn why_closed(&self, mut f: Failure, offered: &[Dialect], min: Dialect) -> Failure {
        let offered = offered_list(offered);
        match closes_unprompted(self.peer).await {
            Ok(true) => Failure {
                status: Status::NotAttempted,
                step: Step::Connect,
                detail: format!(
                    "the server at {} accepts connections and closes them at once, before \
                     reading a request (a connection limit or a TCP wrapper such as hosts.deny \
                     does this): no SMB dialect was negotiated",
                    self.peer
                ),
                info: None,
            },
            Ok(false) => {
                f.detail = format!(
                    "the server closed the connection in answer to NEGOTIATE offering SMB \
                     {offered} (the record's minimum is {min}): it speaks none of them"
                );
                f
            }
            Err(e) => {
                f.detail = format!(
                    "the server closed the connection in answer to NEGOTIATE offering SMB \
                     {offered} (the record's minimum is {min}); a second connection to tell a \
                     dialect mismatch from a server closing every connection failed: {e}"
                );
                f
            }
        }
    }

    /// Sends a SESSION_SETUP request and parses its reply; on 3.1.1 the request joins the
    /// preauth hash (an intermediate reply joins it too, by the caller; the final one never).
    async fn session_setup(
        &mut self,
        req: &[u8],
    ) -> Result<(Vec<u8>, smb2::SessionSetupResponse), Failure> {
        if self.dialect == Dialect::Smb311 {
            self.preauth.update(req);
        }
        let resp = self.round_trip(req, Step::Authentication).await?;
        let parsed = smb2::parse_session_setup(&resp).map_err(|e| {
            self.fail(
                Step::Authentication,
                format!("bad SESSION_SETUP reply: {e}"),
            )
        })?;
        Ok((resp, parsed))
    }

    /// SESSION_SETUP with NTLM NEGOTIATE; reads the server's CHALLENGE.
    pub(super) async fn challenge(&mut self) -> Result<(), Failure> {
        self.at(Step::Authentication);
        self.negotiate_token = ntlm::negotiate_message();
        let token = if self.spnego {
            spnego::neg_token_init(&self.negotiate_token)
        } else {
            self.negotiate_token.clone()
        };
        let req = smb2::session_setup_request(1, 0, self.sign, &token)
            .map_err(|e| self.fail(Step::Authentication, e.to_string()))?;
        let (resp, parsed) = self.session_setup(&req).await?;
        if parsed.header.status != NtStatus::MORE_PROCESSING_REQUIRED {
            return Err(self.fail(
                Step::Authentication,
                format!("{} in answer to NTLM NEGOTIATE", parsed.header.status),
            ));
        }
        if self.dialect == Dialect::Smb311 {
            self.preauth.update(&resp);
        }
        self.session_id = parsed.header.session_id;
        let token = if self.spnego {
            spnego::parse_neg_token_resp(&parsed.token)
                .map_err(|e| self.fail(Step::Authentication, e.to_string()))?
                .response_token
                .unwrap_or_default()
        } else {
            parsed.token
        };
        let ch = ntlm::parse_challenge(&token)
            .map_err(|e| self.fail(Step::Authentication, format!("bad NTLM CHALLENGE: {e}")))?;
        let ti = &ch.target_info;
        self.info.netbios_name = ti.nb_computer_name();
        self.info.netbios_domain = ti.nb_domain_name();
        self.info.dns_name = ti.dns_computer_name();
        self.info.dns_domain = ti.dns_domain_name();
        self.info.dns_tree = ti.dns_tree_name();
        self.info.os_version = ch.version.map(|v| v.to_string());
        self.challenge_bytes = token;
        self.challenge = Some(ch);
        Ok(())
    }

    /// SESSION_SETUP with NTLM AUTHENTICATE; derives the signing key and checks the server's
    /// signature on the final reply when it sent one (3.1.1 servers always do).
    pub(super) async fn authenticate(&mut self, cred: &WindowsCredential) -> Result<(), Failure> {
        self.at(Step::Authentication);
        let Some(challenge) = self.challenge.as_ref() else {
            return Err(self.fail(Step::Authentication, "no NTLM CHALLENGE received"));
        };
        let mut client_challenge = [0u8; 8];
        OsRng.fill_bytes(&mut client_challenge);
        let auth = ntlm::authenticate(&ntlm::AuthenticateInput {
            user: &cred.user,
            domain: cred.domain.as_deref().unwrap_or(""),
            password: cred.password.expose(),
            workstation: WORKSTATION,
            negotiate: &self.negotiate_token,
            challenge_bytes: &self.challenge_bytes,
            challenge,
            client_challenge,
            now: filetime_now(),
            target_spn: Some(&self.spn),
        })
        .map_err(|e| self.fail(Step::Authentication, e.to_string()))?;
        let mech_list = spnego::mech_type_list();
        let token = if self.spnego {
            let mic = ntlm::message_signature(
                &auth.session_key,
                Direction::ClientToServer,
                0,
                &mech_list,
            );
            spnego::neg_token_resp(&auth.message, Some(&mic))
        } else {
            auth.message.clone()
        };
        let req = smb2::session_setup_request(2, self.session_id, self.sign, &token)
            .map_err(|e| self.fail(Step::Authentication, e.to_string()))?;
        let (resp, parsed) = self.session_setup(&req).await?;
        if parsed.header.status != NtStatus::SUCCESS {
            return Err(self.fail(Step::Authentication, parsed.header.status.to_string()));
        }
        if parsed.session_flags & (session_flags::IS_GUEST | session_flags::IS_NULL) != 0 {
            return Err(self.fail(
                Step::Authentication,
                "the server accepted the session only as guest or anonymous, not as the user",
            ));
        }
        if self.spnego {
            // The server's mechListMIC proves it derived the same NTLM session key and saw
            // the same mechanism list.
            let resp_token = spnego::parse_neg_token_resp(&parsed.token)
                .map_err(|e| self.fail(Step::Authentication, e.to_string()))?;
            if let Some(theirs) = resp_token.mech_list_mic {
                let ours = ntlm::message_signature(
                    &auth.session_key,
                    Direction::ServerToClient,
                    0,
                    &mech_list,
                );
                if theirs != ours {
                    return Err(self.fail(
                        Step::Authentication,
                        "the server's SPNEGO mechListMIC does not verify",
                    ));
                }
                self.mic_verified = true;
            }
        }
        self.encrypt_if_required(parsed.session_flags, &auth.session_key)
            .map_err(|e| self.fail(Step::Authentication, e))?;
        let key = smb2::signing_key(self.dialect, &auth.session_key, Some(&self.preauth));
        if parsed.header.is_signed() {
            if !smb2::verify(&resp, &key) {
                return Err(self.fail(
                    Step::Authentication,
                    "the server's signature on the SESSION_SETUP reply does not verify",
                ));
            }
        } else if self.dialect == Dialect::Smb311 {
            return Err(self.fail(
                Step::Authentication,
                "the server did not sign the final SESSION_SETUP reply, as SMB 3.1.1 requires",
            ));
        }
        self.key = Some(key);
        Ok(())
    }

    /// SESSION_SETUP with the Kerberos AP-REQ in SPNEGO (offering Kerberos only, so the server
    /// cannot ask for NTLM); checks the AP-REP (mutual authentication) and derives the signing
    /// key from the GSS session key. Signing is always on for Kerberos.
    pub(super) async fn kerberos_setup(&mut self, ticket: &Ticketed) -> Result<(), Failure> {
        self.at(Step::Authentication);
        self.sign = true;
        let ap = kerberos::ap_req(ticket).map_err(|e| self.fail(Step::Authentication, e))?;
        let token = spnego::neg_token_init_of(&[spnego::MS_KRB5_OID, spnego::KRB5_OID], &ap.token);
        let req = smb2::session_setup_request(1, 0, true, &token)
            .map_err(|e| self.fail(Step::Authentication, e.to_string()))?;
        let (resp, parsed) = self.session_setup(&req).await?;
        self.session_id = parsed.header.session_id;
        let answer = spnego::parse_neg_token_resp(&parsed.token)
            .ok()
            .and_then(|t| t.response_token)
            .map(|t| kerberos::read_ap_rep(&t, ticket, &ap));
        if parsed.header.status != NtStatus::SUCCESS {
            let why = match answer {
                Some(Ok(ApAnswer::Error(e))) => {
                    format!(": the server's Kerberos error {}", e.code)
                }
                _ => String::new(),
            };
            return Err(self.fail(
                Step::Authentication,
                format!(
                    "{} in answer to the Kerberos AP-REQ{why}",
                    parsed.header.status
                ),
            ));
        }
        if parsed.session_flags & (session_flags::IS_GUEST | session_flags::IS_NULL) != 0 {
            return Err(self.fail(
                Step::Authentication,
                "the server accepted the session only as guest or anonymous, not as the user",
            ));
        }
        let session_key = match answer {
            Some(Ok(ApAnswer::Verified(k))) => k,
            Some(Ok(ApAnswer::Error(e))) => {
                return Err(self.fail(
                    Step::Authentication,
                    format!(
                        "the server accepted the session but sent Kerberos error {}",
                        e.code
                    ),
                ));
            }
            Some(Err(e)) => {
                return Err(self.fail(
                    Step::Authentication,
                    format!("mutual authentication failed: {e}"),
                ));
            }
            None => {
                return Err(self.fail(
                    Step::Authentication,
                    "mutual authentication failed: the server sent no AP-REP",
                ));
            }
        };
        self.encrypt_if_required(parsed.session_flags, &session_key)
            .map_err(|e| self.fail(Step::Authentication, e))?;
        let key = smb2::signing_key(self.dialect, &session_key, Some(&self.preauth));
        if !parsed.header.is_signed() || !smb2::verify(&resp, &key) {
            return Err(self.fail(
                Step::Authentication,
                "the server's signature on the final SESSION_SETUP reply is missing or does not \
                 verify with the Kerberos session key",
            ));
        }
        self.key = Some(key);
        self.kerberos = Some(ticket.enctype_name());
        self.tree_message_id = 2;
        Ok(())
    }

    /// Derives the cipher keys when the server marks the session ENCRYPT_DATA; only 3.1.1 with
    /// AES-128-GCM is spoken, so anything else the server demands is named as such.
    fn encrypt_if_required(&mut self, flags: u16, session_key: &[u8; 16]) -> Result<(), String> {
        if flags & session_flags::ENCRYPT_DATA == 0 {
            return Ok(());
        }
        if self.dialect != Dialect::Smb311 || self.cipher != smb2::AES128_GCM {
            return Err(format!(
                "the server requires encryption, which this client speaks only on SMB 3.1.1 \
                 with AES-128-GCM (negotiated: SMB {}, cipher {:#06x})",
                self.dialect, self.cipher
            ));
        }
        self.encryption = Some(smb2::CipherKeys::derive(session_key, &self.preauth));
        Ok(())
    }

    /// A request and its reply, encrypted when the session is.
    async fn sealed_round_trip(&mut self, msg: &[u8], step: Step) -> Result<Vec<u8>, Failure> {
        let Some(keys) = self.encryption.take() else {
            return self.round_trip(msg, step).await;
        };
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let sealed = smb2::encrypt(&keys, self.session_id, nonce, msg);
        let resp = self.round_trip(&sealed, step).await;
        let opened = match resp {
            Ok(r) if smb2::is_encrypted(&r) => {
                smb2::decrypt(&keys, &r).map_err(|e| self.fail(step, e.to_string()))
            }
            Ok(_) => Err(self.fail(
                step,
                "the server answered an encrypted request in the clear",
            )),
            Err(f) => Err(f),
        };
        self.encryption = Some(keys);
        opened
    }

    /// TREE_CONNECT to IPC$: the session's harmless proof, signed when signing is on, and
    /// always on 3.1.1, where Samba refuses an unsigned one with STATUS_ACCESS_DENIED
    /// whatever its signing setting.
    pub(super) async fn tree_connect(&mut self, host: &str) -> Result<(), Failure> {
        self.at(Step::Session);
        let sign = self.sign || self.dialect == Dialect::Smb311;
        let path = format!("\\\\{host}\\IPC$");
        let mut req = smb2::tree_connect_request(self.tree_message_id, self.session_id, &path)
            .map_err(|e| self.fail(Step::Session, e.to_string()))?;
        // An encrypted message is authenticated by its cipher and carries no signature.
        let sign = sign && self.encryption.is_none();
        if sign && let Some(key) = &self.key {
            smb2::sign(&mut req, key);
        }
        let resp = self.sealed_round_trip(&req, Step::Session).await?;
        let parsed = smb2::parse_tree_connect(&resp)
            .map_err(|e| self.fail(Step::Session, format!("bad TREE_CONNECT reply: {e}")))?;
        if parsed.header.status != NtStatus::SUCCESS {
            return Err(self.fail(
                Step::Session,
                format!("{} in answer to TREE_CONNECT {path}", parsed.header.status),
            ));
        }
        if sign {
            let ok = parsed.header.is_signed()
                && self.key.as_ref().is_some_and(|k| smb2::verify(&resp, k));
            if !ok {
                return Err(self.fail(
                    Step::Session,
                    "the server's TREE_CONNECT reply is not validly signed",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn method(&self) -> String {
        let signed = match (self.encryption.is_some(), self.sign) {
            (true, _) => "encrypted",
            (false, true) => "signed",
            (false, false) => "unsigned",
        };
        match self.kerberos {
            Some(enctype) => format!("Kerberos ({enctype}, SMB {}, {signed})", self.dialect),
            None => format!("NTLMv2 (SMB {}, {signed})", self.dialect),
        }
    }

    pub(super) fn token_fact(&self) -> &'static str {
        if self.kerberos.is_some() {
            return "SPNEGO (Kerberos AP-REQ, AP-REP mutual authentication verified)";
        }
        match (self.spnego, self.mic_verified) {
            (true, true) => "SPNEGO (server mechListMIC verified)",
            (true, false) => "SPNEGO",
            (false, _) => "raw NTLMSSP",
        }
    }

    pub(super) fn signing_fact(&self) -> &'static str {
        if self.kerberos.is_some() {
            return "on (always for Kerberos)";
        }
        match (self.signing_by_record, self.info.signing_required) {
            (true, true) => "on (required by the record and the server)",
            (true, false) => "on (required by the record)",
            (false, true) => "on (required by the server)",
            (false, false) => "off (required by neither)",
        }
    }
}
