//! Logging to the journal with structured fields, or to stderr.
