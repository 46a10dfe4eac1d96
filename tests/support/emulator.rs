//! The local AWS emulator for integration tests: moto server behind the CBOR↔JSON translator
//! (`tests/emulator/serve.py`), run from the project's `.venv` (created by `make venv` on first use),
//! on free loopback ports, stopped when the test process ends (the server exits when its stdin closes).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// A running emulator.
pub struct Emulator {
    _child: Child,
    /// The translator's URL: point the SDK here (`AWS_ENDPOINT_URL`).
    pub endpoint: String,
    /// moto's own URL, for `/moto-api`.
    pub moto: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, creating the venv (pinned tools) if it is missing.
pub fn venv_python() -> PathBuf {
    let python = root().join(".venv/bin/python");
    let ready = root().join(".venv/.installed");
    if !ready.exists() {
        let status = Command::new("make").args(["-s", "venv"]).current_dir(root()).status().expect("run make venv");
        assert!(status.success(), "make venv failed");
    }
    python
}

impl Emulator {
    /// Starts moto and the translator.
    pub fn start() -> Emulator {
        let mut child = Command::new(venv_python())
            .arg(root().join("tests/emulator/serve.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/emulator/serve.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("emulator ready line");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("emulator said {line:?}: {e}"));
        Emulator {
            _child: child,
            endpoint: v["endpoint"].as_str().unwrap().into(),
            moto: v["moto"].as_str().unwrap().into(),
        }
    }

    /// One emulator per test binary, shared by its tests (each test uses its own namespace and topic).
    pub fn shared() -> &'static Emulator {
        static E: OnceLock<Emulator> = OnceLock::new();
        E.get_or_init(Emulator::start)
    }

    /// SDK configuration pointing at the emulator, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_sns::config::Credentials::new("testing", "testing", None, None, "emulator"))
            .load()
            .await
    }

    /// Messages SNS accepted for `topic_arn`: `(subject, message, attributes)`.
    pub fn sns_messages(&self, topic_arn: &str) -> Vec<SentMessage> {
        let body = http_get(&self.moto, "/moto-api/data.json");
        let v: serde_json::Value = serde_json::from_str(&body).expect("data.json");
        v["sns"]["Topic"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["arn"] == topic_arn)
            .flat_map(|t| t["sent_notifications"].as_array().cloned().unwrap_or_default())
            .map(|n| SentMessage {
                message: n[1].as_str().unwrap_or_default().to_string(),
                subject: n[2].as_str().unwrap_or_default().to_string(),
                attributes: n[3].clone(),
            })
            .collect()
    }
}

/// One message SNS accepted.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// Subject line.
    pub subject: String,
    /// Body.
    pub message: String,
    /// Message attributes, as moto stores them (`{"severity":{"Type":"String","Value":"HIGH"}}`).
    pub attributes: serde_json::Value,
}

impl SentMessage {
    /// A string attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes[name]["Value"].as_str()
    }
}

fn http_get(base: &str, path: &str) -> String {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).expect("connect to moto");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// True when `path` exists relative to the crate root.
pub fn exists(path: &str) -> bool {
    Path::new(&root().join(path)).exists()
}
