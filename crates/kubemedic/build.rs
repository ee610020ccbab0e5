//! Records the git commit the binary was built from, for `kubemedic version`, and packs the
//! binary's relative relocations (see [`pack_relative_relocations`]).
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=KUBEMEDIC_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves so the commit stays truthful.
    for path in ["../../.git/HEAD", "../../.git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    pack_relative_relocations();
}

/// Links the binaries with `-z pack-relative-relocs` (DT_RELR). The binary is a PIE with about
/// 60,000 relative relocations: as RELA entries they are 1.4 MiB that the loader reads at every
/// start, and those pages stay in the resident set of the long-running agent (docs/agent.md, "Idle
/// memory"). Packed they take a few KiB. Only where the C library applies DT_RELR: musl 1.2.4 and
/// later (Rust's musl targets ship 1.2.5; the static-pie start code relocates itself) and glibc
/// 2.36 and later, which the linked binary then requires (`GLIBC_ABI_DT_RELR`); elsewhere the
/// binary keeps plain RELA relocations.
fn pack_relative_relocations() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    let supported = match var("CARGO_CFG_TARGET_ENV").as_str() {
        "musl" => true,
        // The glibc linked against is the build host's when host and target are the same.
        "gnu" => var("HOST") == var("TARGET") && host_glibc_at_least(2, 36),
        _ => false,
    };
    if supported {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    // `getconf GNU_LIBC_VERSION` prints e.g. "glibc 2.36".
    let Some(out) = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .filter(|o| o.status.success())
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = text
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    match (version.next().flatten(), version.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
