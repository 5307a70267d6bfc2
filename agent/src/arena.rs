//! The locked memory arena that holds the appliance identity key.
