//! A profile's `credential_process`: a command whose standard output is the keys as JSON
//! (`Version` 1, `AccessKeyId`, `SecretAccessKey`, `SessionToken`, `Expiration`). It runs
//! through `sh -c` as the AWS CLI does; its standard error goes to the agent's.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use super::http::{MAX_ANSWER_BYTES, json_keys};
use super::{Credentials, CredentialsError};

/// Longest a `credential_process` may run before it is killed.
pub const PROCESS_TIMEOUT: Duration = Duration::from_mins(1);

/// The command and the profile it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Process {
    /// The profile, for messages.
    pub profile: String,
    /// The command line.
    pub command: String,
}

/// The command line may carry a secret as an argument: it is not shown.
impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").field("profile", &self.profile).finish_non_exhaustive()
    }
}

impl Process {
    /// Runs the command and reads its keys.
    pub async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let fail = |message: String| CredentialsError::Process { profile: self.profile.clone(), message };
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot start sh: {e}")))?;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let run = async {
            let mut output = Vec::new();
            (&mut stdout).take(MAX_ANSWER_BYTES as u64 + 1).read_to_end(&mut output).await?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((status, output))
        };
        let (status, output) = tokio::time::timeout(PROCESS_TIMEOUT, run)
            .await
            .map_err(|_| fail(format!("did not finish within {} seconds; killed", PROCESS_TIMEOUT.as_secs())))?
            .map_err(|e| fail(e.to_string()))?;
        if !status.success() {
            return Err(fail(format!("exited with {status}")));
        }
        if output.len() > MAX_ANSWER_BYTES {
            return Err(fail(format!("printed more than {MAX_ANSWER_BYTES} bytes")));
        }
        let text = String::from_utf8(output).map_err(|_| fail("printed something that is not UTF-8".into()))?;
        let version = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|j| j.get("Version")?.as_u64());
        if version != Some(1) {
            return Err(fail("printed no JSON object with \"Version\": 1".into()));
        }
        json_keys(&text, "SessionToken").map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::Process;
    use crate::cloudwatch::credentials::CredentialsError;

    fn process(command: &str) -> Process {
        Process { profile: "p".into(), command: command.into() }
    }

    /// The keys a command prints are read with their expiry; the command line is not in `Debug`.
    #[tokio::test]
    async fn a_credential_process_prints_the_keys() {
        let json = r#"{"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "procsecret", "SessionToken": "proctoken", "Expiration": "2030-01-01T00:00:00Z"}"#;
        let p = process(&format!("echo '{json}'"));
        let keys = p.fetch().await.unwrap();
        assert_eq!(keys.access_key_id, "AKIDPROC");
        assert_eq!(
            (keys.secret_access_key.expose(), keys.session_token.as_ref().map(crate::Secret::expose)),
            ("procsecret", Some("proctoken"))
        );
        assert_eq!(keys.expires, super::super::time::parse_iso8601("2030-01-01T00:00:00Z"));
        assert!(!format!("{p:?} {keys:?}").contains("proc"), "{p:?} {keys:?}");
    }

    /// A failing command, a wrong version and output that is not JSON are errors that name
    /// the profile and never quote the output.
    #[tokio::test]
    async fn a_failing_credential_process_is_an_error_without_its_output() {
        let message = |command: &str| {
            let p = process(command);
            async move {
                let err = p.fetch().await.unwrap_err();
                assert!(matches!(err, CredentialsError::Process { .. }), "{err}");
                err.to_string()
            }
        };
        assert_eq!(message("exit 3").await, "credential_process of profile \"p\": exited with exit status: 3");
        assert_eq!(
            message(r#"echo '{"Version": 2, "SecretAccessKey": "leak"}'"#).await,
            "credential_process of profile \"p\": printed no JSON object with \"Version\": 1"
        );
        assert!(!message("echo leak; echo leak").await.contains("leak"));
    }
}
