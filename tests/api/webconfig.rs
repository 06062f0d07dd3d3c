//! `--web.config.file` as exporter-toolkit does it, tested with real TLS clients (rustls through
//! reqwest, and OpenSSL's `s_client`) and the real binary: TLS with and without client
//! certificates, plain HTTP refused on the TLS port, a password change taking effect without a
//! restart, and SIGHUP reading the files again, keeping the old ones when the new are bad.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::free_port;

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (.ci/run installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it.
fn certificates(dir: &Path) {
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=test CA",
            days[0],
            days[1],
        ],
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-extfile",
                &format!("{name}.ext"),
                days[0],
                days[1],
            ],
        );
    }
}

/// The binary, serving on a free port with `--web.config.file` and the other `flags`.
struct Exporter {
    child: Child,
    address: String,
    stderr: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(dir: &Path, flags: &[&str]) -> Self {
        let address = format!("127.0.0.1:{}", free_port());
        let stderr = dir.join("exporter.log");
        let child = Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
            .arg(format!("--web.listen-address={address}"))
            .arg(format!(
                "--web.config.file={}",
                dir.join("web.yml").display()
            ))
            .arg("--storage.in-memory")
            .args(flags)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            address,
            stderr,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn hangup(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tls_client(dir: &Path, identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.crt")).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .pool_max_idle_per_host(0);
    if identity {
        let mut pem = std::fs::read(dir.join("client.crt")).unwrap();
        pem.extend(std::fs::read(dir.join("client.key")).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

async fn status(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    client
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

/// Whether `openssl s_client` completes a handshake with `args`.
fn s_client(dir: &Path, address: &str, args: &[&str]) -> bool {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            address,
            "-CAfile",
            "ca.crt",
            "-verify_return_error",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A refused handshake ends s_client before it reads: the write may then fail.
    let _ = stdin.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    // s_client may end the connection as soon as its input ends: the answer first.
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).contains("HTTP/1.1 200")
}

#[tokio::test]
async fn tls_serves_real_clients_refuses_plain_http_and_verifies_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    certificates(dir);
    std::fs::write(
        dir.join("web.yml"),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
    )
    .unwrap();
    let exporter = Exporter::start(dir, &[]);
    let url = format!("https://{}/metrics", exporter.address);
    let client = tls_client(dir, false);
    wait_for("the exporter to serve TLS", || async {
        status(&client, &url).await == Ok(200)
    })
    .await;
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new();
    let answer = status(&plain, &format!("http://{}/metrics", exporter.address)).await;
    assert!(answer.is_err(), "{answer:?}");
    // OpenSSL as the client: TLS 1.3 is served, 1.2 refused (min_version).
    assert!(s_client(dir, &exporter.address, &["-tls1_3"]));
    assert!(!s_client(dir, &exporter.address, &["-tls1_2"]));
    // The healthcheck subcommand speaks TLS when the web config does.
    let health = Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
        .arg(format!(
            "--web.config.file={}",
            dir.join("web.yml").display()
        ))
        .args(["healthcheck", "--web.listen-address", &exporter.address])
        .output()
        .unwrap();
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
    drop(exporter);

    // Client certificates required: only a client with one signed by the CA gets in.
    std::fs::write(
        dir.join("web.yml"),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    .unwrap();
    let exporter = Exporter::start(dir, &[]);
    let url = format!("https://{}/metrics", exporter.address);
    let with_identity = tls_client(dir, true);
    wait_for("the exporter to serve mutual TLS", || async {
        status(&with_identity, &url).await == Ok(200)
    })
    .await;
    let answer = status(&tls_client(dir, false), &url).await;
    assert!(answer.is_err(), "{answer:?}");
    assert!(s_client(
        dir,
        &exporter.address,
        &["-cert", "client.crt", "-key", "client.key"]
    ));
}

fn web_config(dir: &Path, password: &str) {
    let hash = bcrypt::hash(password, 4).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
}

async fn metrics_as(exporter: &Exporter, password: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{}/metrics", exporter.address))
        .basic_auth("prometheus", Some(password))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn a_password_change_takes_effect_without_a_restart_and_a_bad_file_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    web_config(dir, "first");
    let mut exporter = Exporter::start(dir, &[]);
    wait_for("the exporter", || async {
        metrics_as(&exporter, "first").await == 200
    })
    .await;

    web_config(dir, "second");
    wait_for("the new password", || async {
        metrics_as(&exporter, "second").await == 200
    })
    .await;
    assert_eq!(metrics_as(&exporter, "first").await, 401);

    // A broken file is refused, and the password in use stays.
    std::fs::write(
        dir.join("web.yml"),
        "basic_auth_users:\n  prometheus: plain-text\n",
    )
    .unwrap();
    wait_for("the refusal in the log", || async {
        exporter
            .log()
            .contains("cannot be used; the previous one stays")
    })
    .await;
    assert_eq!(metrics_as(&exporter, "second").await, 200);
    let metrics = reqwest::Client::new()
        .get(format!("http://{}/metrics", exporter.address))
        .basic_auth("prometheus", Some("second"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("platformsh_exporter_config_last_reload_successful 0"),
        "{metrics}"
    );
    assert!(exporter.alive());
}

#[tokio::test]
async fn sighup_reads_the_key_files_again_and_keeps_the_old_key_when_the_new_file_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    web_config(dir, "pw");
    let keys = dir.join("keys");
    std::fs::write(&keys, "old-key\n").unwrap();
    let mut exporter = Exporter::start(
        dir,
        &[&format!("--webhook.shared-key-file={}", keys.display())],
    );
    let address = exporter.address.clone();
    let signed = |key: &'static str| {
        let address = address.clone();
        async move {
            let body =
                String::from_utf8(crate::helpers::fixture("push-success-seed.json")).unwrap();
            let signature = crate::signing::sign(key.as_bytes(), &body);
            reqwest::Client::new()
                .post(format!("http://{address}/webhook"))
                .header("x-jws-signature", signature)
                .body(body)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16())
        }
    };
    wait_for("the exporter", || async { signed("old-key").await != 0 }).await;
    assert_eq!(signed("new-key").await, 401);

    std::fs::write(&keys, "new-key\n").unwrap();
    exporter.hangup();
    wait_for("the reload", || async {
        exporter
            .log()
            .contains("SIGHUP: reloaded the configuration files")
    })
    .await;
    assert!(matches!(signed("new-key").await, 200 | 202));
    assert_eq!(signed("old-key").await, 401);

    // A blank key file: refused, the key in use stays, the process lives on.
    std::fs::write(&keys, "\n").unwrap();
    exporter.hangup();
    wait_for("the refusal", || async {
        exporter
            .log()
            .contains("SIGHUP: some configuration files cannot be used")
    })
    .await;
    assert!(exporter.alive());
    assert!(matches!(signed("new-key").await, 200 | 202));
}
