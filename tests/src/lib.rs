//! Test support shared by the cross-crate tests: the broker model and the seeded link.
