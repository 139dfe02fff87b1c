//! Launchers for the interop matrix (`tests/interop.rs`); see `tests/interop/install.sh`.
