//! The appliance identity key: generation, storage, loading into the arena.
