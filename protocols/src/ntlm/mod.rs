//! NTLMv2 (NTLMSSP) messages and computations, sans I/O.
