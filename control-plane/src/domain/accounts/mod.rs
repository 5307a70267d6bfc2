//! Accounts: signing in, passwords (set, change, reset) and two-factor login. Every failed
//! factor goes through `crate::lockout`, so a wrong code locks like a wrong password.
pub mod login;
pub mod management;
pub mod password;
pub mod twofa;
pub mod users;
