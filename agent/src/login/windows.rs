//! Windows logins over SMB2/3 with NTLMv2.
