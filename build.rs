//! Embeds `knowledge/*.yaml` in the binary so `imdsbot` works from any directory.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("knowledge");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from("&[\n");
    for n in &names {
        let path = dir.join(n);
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(out, "    ({n:?}, include_str!({:?})),", path.display().to_string()).expect("write");
    }
    out.push_str("]\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("out dir")).join("embedded_kb.rs");
    fs::write(dest, out).expect("write embedded_kb.rs");
}
