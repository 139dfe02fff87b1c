//! Benchmarks live in `benches/`; this crate keeps rumqttc out of the product crates.
