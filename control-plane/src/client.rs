//! The HTTPS client the `sealscan` CLI uses.
