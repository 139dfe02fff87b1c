//! Writes the seed corpus of `mqtt_fuzz::seeds` into a folder (default: `fuzz/seeds/`),
//! replacing the `.bin` files there. Run through `fuzz/gen-seeds.sh`, which then checks
//! every seed with the dissector.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds [-- OUT_DIR]
//! ```
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    for dir in ["v4", "v5", "roundtrip", "session"] {
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "bin") {
                std::fs::remove_file(path)?;
            }
        }
    }
    let files = mqtt_fuzz::seeds::files();
    for (name, bytes) in &files {
        std::fs::write(out.join(name), bytes)?;
    }
    println!("wrote {} seed files to {}", files.len(), out.display());
    Ok(())
}
