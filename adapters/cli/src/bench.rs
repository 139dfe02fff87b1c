//! `mqttc bench`.
use crate::Fail;
use clap::Args;
/// `mqttc bench` flags.
#[derive(Args, Debug)]
pub struct BenchArgs {}
/// Runs the benchmark.
pub async fn run(_a: BenchArgs) -> Result<u8, Fail> {
    Ok(0)
}
