//! Real authentication peers for tests.
