//! Build script: links the `rsearch` binary as a position-dependent executable on Linux with
//! the GNU toolchain.
//!
//! A query is a whole process, and a position-independent binary of this size makes the
//! dynamic loader apply some 52,000 relocations and copy about a megabyte of pointer tables
//! before `main` (a fifth of a query's instructions, 230 page faults). Linked at a fixed
//! address, those pointers are final in the file. Only the binary is linked so: the library,
//! tests and benchmarks keep the default.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
