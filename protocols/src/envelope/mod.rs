//! The NCSM envelope: see docs/ncsm-envelope.md.
