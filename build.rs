//! Build script: records the git revision `bff_build_info` reports
//! (`BFF_GIT_REVISION` if set, e.g. by a Docker build without `.git`).

fn main() {
    println!("cargo:rerun-if-env-changed=BFF_GIT_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let from_git = || {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| text.trim().to_owned())
    };
    let revision = std::env::var("BFF_GIT_REVISION")
        .ok()
        .or_else(from_git)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BFF_GIT_REVISION={revision}");
}
