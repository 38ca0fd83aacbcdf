//! The `wasm32-wasip2` target, installed through rustup when it is missing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The target every route compiles to.
pub const TARGET: &str = "wasm32-wasip2";

/// Makes sure the standard library for [`TARGET`] is installed, installing it if not.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc: is Rust installed? (https://rustup.rs)")?;
    if !output.status.success() {
        bail!(
            "rustc --print sysroot failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    eprintln!(
        "routelet: the {TARGET} target is missing; installing it with `rustup target add {TARGET}`"
    );
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .with_context(|| format!("running rustup to install {TARGET}: install it yourself with `rustup target add {TARGET}`"))?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed ({status})");
    }
    Ok(())
}
