//! Throwaway X.509 material for TLS tests, made with the `openssl` CLI in
//! a temporary directory: a private CA, a Redis server certificate for
//! `localhost` only, a client certificate (mutual TLS), and an unrelated
//! second CA (the "wrong CA" case). P-256 keys, valid for one day.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of one test PKI; the directory is removed on drop.
pub struct TestPki {
    dir: PathBuf,
}

impl TestPki {
    /// Generates everything (a few hundred milliseconds).
    pub fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!("bff-pki-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let pki = Self { dir };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf(
            "server",
            "ca",
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth",
        );
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth");
        pki
    }

    /// `<name>.pem` or `<name>.key` in the PKI directory, as a string.
    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run openssl (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn key(&self, name: &str) {
        // PKCS#8, the form every TLS stack reads.
        let key = format!("{name}.key");
        let curve = "ec_paramgen_curve:P-256";
        self.openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            curve,
            "-out",
            &key,
        ]);
    }

    fn ca(&self, name: &str) {
        self.key(name);
        let subject = format!("/CN=bff test {name}");
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        self.openssl(&[
            "req", "-x509", "-new", "-key", &key, "-out", &pem, "-days", "1", "-subj", &subject,
        ]);
    }

    fn leaf(&self, name: &str, ca: &str, extensions: &str) {
        self.key(name);
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(&ext, extensions).expect("extensions file");
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subject = format!("/CN={name}");
        self.openssl(&["req", "-new", "-key", &key, "-out", &csr, "-subj", &subject]);
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "1",
            "-extfile",
            &path_str(&ext),
        ]);
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _gone = std::fs::remove_dir_all(&self.dir);
    }
}
