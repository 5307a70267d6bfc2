//! NT STATUS codes an SMB2 server answers with, named as Windows names them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

impl NtStatus {
    pub const SUCCESS: NtStatus = NtStatus(0);
    pub const MORE_PROCESSING_REQUIRED: NtStatus = NtStatus(0xC000_0016);
    pub const LOGON_FAILURE: NtStatus = NtStatus(0xC000_006D);
    pub const ACCOUNT_DISABLED: NtStatus = NtStatus(0xC000_0072);
    pub const NOT_SUPPORTED: NtStatus = NtStatus(0xC000_00BB);
}

/// The symbolic name, when the code is one a login can meet.
pub fn status_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0000_0000 => "STATUS_SUCCESS",
        0xC000_0016 => "STATUS_MORE_PROCESSING_REQUIRED",
        0xC000_000D => "STATUS_INVALID_PARAMETER",
        0xC000_0022 => "STATUS_ACCESS_DENIED",
        0xC000_0064 => "STATUS_NO_SUCH_USER",
        0xC000_006A => "STATUS_WRONG_PASSWORD",
        0xC000_006D => "STATUS_LOGON_FAILURE",
        0xC000_006E => "STATUS_ACCOUNT_RESTRICTION",
        0xC000_006F => "STATUS_INVALID_LOGON_HOURS",
        0xC000_0070 => "STATUS_INVALID_WORKSTATION",
        0xC000_0071 => "STATUS_PASSWORD_EXPIRED",
        0xC000_0072 => "STATUS_ACCOUNT_DISABLED",
        0xC000_009A => "STATUS_INSUFFICIENT_RESOURCES",
        0xC000_00BB => "STATUS_NOT_SUPPORTED",
        0xC000_00CC => "STATUS_BAD_NETWORK_NAME",
        0xC000_015B => "STATUS_LOGON_TYPE_NOT_GRANTED",
        0xC000_0193 => "STATUS_ACCOUNT_EXPIRED",
        0xC000_0203 => "STATUS_USER_SESSION_DELETED",
        0xC000_0224 => "STATUS_PASSWORD_MUST_CHANGE",
        0xC000_0234 => "STATUS_ACCOUNT_LOCKED_OUT",
        0xC000_035C => "STATUS_NETWORK_SESSION_EXPIRED",
        0xC000_0388 => "STATUS_DOWNGRADE_DETECTED",
        0xC000_0413 => "STATUS_AUTHENTICATION_FIREWALL_FAILED",
        0xC000_0418 => "STATUS_NTLM_BLOCKED",
        0xC000_A000 => "STATUS_INVALID_SIGNATURE",
        _ => return None,
    })
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match status_name(self.0) {
            Some(name) => write!(f, "{name} ({:#010x})", self.0),
            None => write!(f, "NT status {:#010x}", self.0),
        }
    }
}
