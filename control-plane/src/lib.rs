//! The sealscan control plane.
