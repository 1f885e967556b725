//! `hotline check` as an operator runs it: the shipped files pass, broken copies are refused
//! with the file, the line and the key path, and every problem is reported at once.

use std::path::Path;
use std::process::Command;

fn hotline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn shipped_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml"))
        .expect("shipped config")
}

/// Writes a config into a temp dir, keeping the shipped dialplan and putting the database there.
fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let dialplan = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/hotline.toml");
    let text = text
        .replace(
            "files = [\"dialplans/hotline.toml\"]",
            &format!("files = [\"{}\"]", dialplan.display()),
        )
        .replace(
            "path = \"hotline.db\"",
            &format!("path = \"{}\"", dir.join("check.db").display()),
        );
    let path = dir.join("hotline.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn shipped_config_and_dialplan_pass_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(dir.path(), &shipped_config());
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("12345"), "routes listed: {stdout}");
}

#[test]
fn unknown_key_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = shipped_config().replace(
        "realm = \"hotline.local\"",
        "realm = \"hotline.local\"\nrelam = \"typo\"",
    );
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let line = text
        .lines()
        .position(|l| l.starts_with("relam"))
        .expect("typo line")
        + 1;
    assert!(
        stderr.contains(&format!("hotline.toml:{line}:")) && stderr.contains("sip.relam"),
        "stderr: {stderr}"
    );
}

#[test]
fn bad_values_are_all_reported_with_their_key_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = shipped_config()
        .replace("port_min = 20000", "port_min = 30001")
        .replace("min_expires_secs = 60", "min_expires_secs = 7200");
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("rtp.port_min"), "stderr: {stderr}");
    assert!(stderr.contains("sip.min_expires_secs"), "stderr: {stderr}");
}

#[test]
fn the_daemon_refuses_to_start_on_the_same_problems() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = shipped_config().replace("[metrics]", "[metrics]\nlisten_typo = 1");
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics.listen_typo"));
}

#[test]
fn a_missing_or_unplayable_prompt_stops_check_with_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prompts = dir.path().join("prompts");
    std::fs::create_dir(&prompts).expect("prompt dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/zh");
    for entry in std::fs::read_dir(&shipped).expect("shipped prompts") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, prompts.join(path.file_name().expect("name"))).expect("copy");
    }
    std::fs::remove_file(prompts.join("welcome.wav")).expect("remove welcome");
    std::fs::write(prompts.join("goodbye.wav"), b"RIFF junk").expect("break goodbye");
    let text = shipped_config().replace(
        "dir = \"prompts/zh\"",
        &format!("dir = \"{}\"", prompts.display()),
    );
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("welcome"), "missing prompt named: {stderr}");
    assert!(
        stderr.contains("goodbye.wav"),
        "broken prompt named: {stderr}"
    );
}

#[test]
fn ambiguous_feature_codes_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = shipped_config().replace("logout = \"*72\"", "logout = \"*7\"");
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("features."), "stderr: {stderr}");
}
