//! Build identity for `--version` and `platformsh_exporter_build_info`: the git revision, the
//! build date, the compiler and the target, as Prometheus tools report theirs.

use std::process::Command;

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Days since 1970-01-01 as a civil date (Howard Hinnant's algorithm), so that no build
/// dependency is needed for one date.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn main() {
    // A build without `.git` (a container build: `.dockerignore` leaves it out) is told its
    // revision by SOURCE_REVISION (the Dockerfile's build argument).
    let revision = std::env::var("SOURCE_REVISION")
        .ok()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rust_version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    // Reproducible builds set SOURCE_DATE_EPOCH; else the build's own day.
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
    let (year, month, day) = civil(seconds.div_euclid(86_400));
    println!("cargo:rustc-env=PLATFORMSH_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=PLATFORMSH_EXPORTER_RUST_VERSION={rust_version}");
    println!("cargo:rustc-env=PLATFORMSH_EXPORTER_BUILD_DATE={year:04}-{month:02}-{day:02}");
    println!(
        "cargo:rustc-env=PLATFORMSH_EXPORTER_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=SOURCE_REVISION");
}
