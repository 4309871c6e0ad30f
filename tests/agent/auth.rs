//! `[api.auth]` through the binary: bearer tokens from the environment, from a named entry
//! and from a tokens file guard every path but `/health` and `/ready`; a reload reads the file
//! again; `sluice status` finds a token as it finds the address.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;

use common::{Agent, Setup};

const ENV_TOKEN: &str = "env-6f1d0c93a2b84e57";
const OPS_TOKEN: &str = "ops-0c7e51b9d2a64f38";
const FILE_TOKEN: &str = "file-3b8a26e4f90d17c5";
const ROTATED_TOKEN: &str = "rotated-a94e0d2c7b15f863";

/// GET `path` with `token` as a bearer token: the status and the whole answer, headers
/// included.
fn get(api: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(api).unwrap();
    let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {api}\r\n{authorization}\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

fn wait_for_log(agent: &Agent, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(agent.path("sluice.log")).unwrap_or_default().contains(text) {
        assert!(Instant::now() < deadline, "the log never said {text:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Without a token, or with a wrong one, every guarded path answers 401 with a `Bearer`
/// challenge; each configured token opens them and is named in the access log; `/health` and
/// `/ready` stay open. A reload reads the tokens file again: the new token works, the old one
/// no longer does.
#[test]
fn every_guarded_path_needs_one_of_the_tokens_and_a_reload_rotates_them() {
    let tokens = tempfile::tempdir().unwrap();
    let file = tokens.path().join("tokens");
    std::fs::write(&file, format!("# the CI's token\nci {FILE_TOKEN}\n")).unwrap();
    let auth = format!(
        "[api.auth]\ntokens = [\"${{SLUICE_API_TOKEN}}\", {{ name = \"ops\", token = \"{OPS_TOKEN}\" }}]\n\
         tokens_file = \"{}\"\n",
        file.display()
    );
    let env = [("SLUICE_API_TOKEN", ENV_TOKEN)];
    let agent = Setup { env: &env, capture_log: true, ..Setup::default() }.start(&auth);

    for path in ["/health", "/ready"] {
        assert_eq!(get(agent.api, path, None).0, 200, "{path} is public");
    }
    for path in ["/status", "/metrics", "/tap"] {
        let (status, answer) = get(agent.api, path, None);
        assert_eq!(status, 401, "{answer}");
        assert!(answer.to_ascii_lowercase().contains("www-authenticate: bearer realm=\"sluice\"\r\n"), "{answer}");
        let (status, answer) = get(agent.api, path, Some("not-a-token-0123456789"));
        assert_eq!(status, 401, "{answer}");
        assert!(answer.contains("error=\"invalid_token\""), "{answer}");
    }
    for token in [ENV_TOKEN, OPS_TOKEN, FILE_TOKEN] {
        let (status, answer) = get(agent.api, "/status", Some(token));
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("\"backends\""), "{answer}");
        assert_eq!(get(agent.api, "/metrics", Some(token)).0, 200);
    }
    for name in ["token=tokens[0]", "token=ops", "token=ci"] {
        wait_for_log(&agent, name);
    }

    std::fs::write(&file, format!("ci {ROTATED_TOKEN}\n")).unwrap();
    agent.hangup();
    wait_for_log(&agent, "Configuration reloaded.");
    assert_eq!(get(agent.api, "/status", Some(ROTATED_TOKEN)).0, 200);
    assert_eq!(get(agent.api, "/status", Some(FILE_TOKEN)).0, 401);
    assert_eq!(get(agent.api, "/status", Some(OPS_TOKEN)).0, 200);
    let (status, _) = agent.stop();
    assert!(status.success());
}

/// `sluice status` sends `$SLUICE_API_TOKEN`, else the first token it can read from the
/// config (here its tokens file); a wrong token exits 2 with a message that says what to set.
#[test]
fn sluice_status_finds_a_token_as_it_finds_the_address() {
    let tokens = tempfile::tempdir().unwrap();
    let file = tokens.path().join("tokens");
    std::fs::write(&file, format!("{FILE_TOKEN}\n")).unwrap();
    let auth = format!("[api.auth]\ntokens = [\"${{SLUICE_API_TOKEN}}\"]\ntokens_file = \"{}\"\n", file.display());
    let env = [("SLUICE_API_TOKEN", ENV_TOKEN)];
    let agent = Setup { env: &env, ..Setup::default() }.start(&auth);
    let status = |token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command.args(["status", "--config"]).arg(agent.path("sluice.toml")).env_remove("SLUICE_API_TOKEN");
        if let Some(token) = token {
            command.env("SLUICE_API_TOKEN", token);
        }
        command.output().unwrap()
    };

    for token in [None, Some(ENV_TOKEN)] {
        let out = status(token);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("sluice"), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let out = status(Some("wrong-0123456789abcdef"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("answered 401") && stderr.contains("SLUICE_API_TOKEN"), "{stderr}");
}

/// With `[api.auth.jwt]` and an ES256 public key, a JWT the matching private key signed for
/// the audience is let through (named by its `sub` in the access log); an expired one and
/// one for another audience answer 401.
#[test]
fn an_es256_jwt_for_the_audience_is_let_through_and_others_are_refused() {
    let keys = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(keys.path()).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem"]);
    openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"]);
    let auth = format!(
        "[api.auth.jwt]\nalgorithm = \"ES256\"\npublic_key_file = \"{}\"\naudience = \"sluice\"\n",
        keys.path().join("public.pem").display()
    );
    let agent = Setup { capture_log: true, ..Setup::default() }.start(&auth);
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&std::fs::read(keys.path().join("key.pem")).unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sign = |claims: serde_json::Value| {
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &key).unwrap()
    };

    let good = sign(serde_json::json!({ "sub": "grafana", "aud": "sluice", "exp": now + 600 }));
    let (status, answer) = get(agent.api, "/status", Some(&good));
    assert_eq!(status, 200, "{answer}");
    wait_for_log(&agent, "token=jwt:grafana");
    let expired = sign(serde_json::json!({ "sub": "grafana", "aud": "sluice", "exp": now - 3600 }));
    let elsewhere = sign(serde_json::json!({ "sub": "grafana", "aud": "billing", "exp": now + 600 }));
    for token in [expired, elsewhere] {
        let (status, answer) = get(agent.api, "/status", Some(&token));
        assert_eq!(status, 401, "{answer}");
        assert!(answer.contains("error=\"invalid_token\""), "{answer}");
    }
    let (status, _) = agent.stop();
    assert!(status.success());
}
