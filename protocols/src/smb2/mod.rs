//! SMB2/3 negotiate and session-setup messages, sans I/O.
