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
    assert!(
        stdout.contains("unit 2001") && stdout.contains("outbound 0551"),
        "units and outbound routes listed: {stdout}"
    );
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

#[test]
fn broken_units_and_outbound_routes_are_all_named_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = dir.path().join("units.toml");
    let plan_text = r#"[[outbound]]
prefix = "0551"
trunk = "nowhere"
caller_id = "055112345"

[[units]]
id = "2001"
name = "区住建局"
level = 2
contacts = { duty = "0551-6234 5678" }

[[units]]
id = "3001"
name = "街道办"
level = 5
parent = "2999"
contacts = { duty = "seat:1009", head = "sip:head@pbx.example.org" }
calendar = "nope"
working = "head"
"#;
    std::fs::write(&plan, plan_text).expect("write dialplan");
    let text = shipped_config().replace(
        "files = [\"dialplans/hotline.toml\"]",
        &format!("files = [\"{}\"]", plan.display()),
    );
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check passed: {stderr}");
    let plan = plan.display();
    for want in [
        format!("{plan}:3: outbound[0].trunk: no trunk named \"nowhere\""),
        format!(
            "{plan}:10: units[0].contacts.duty: no [[outbound]] route allows number 055162345678"
        ),
        format!("{plan}:15: units[1].level: 5 is not a unit level"),
        format!("{plan}:16: units[1].parent: no unit \"2999\""),
        format!("{plan}:17: units[1].contacts.head: host \"pbx.example.org\" is not an IP address"),
        format!("{plan}:17: units[1].contacts.duty: no seat \"1009\""),
        format!("{plan}:18: units[1].calendar: no calendar named \"nope\""),
    ] {
        assert!(stderr.contains(&want), "missing {want:?} in:\n{stderr}");
    }
}

#[test]
fn a_recording_directory_that_cannot_be_written_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = dir.path().join("plain-file");
    std::fs::write(&plain, b"not a directory").expect("write");
    let wanted = plain.join("recordings");
    let text = shipped_config().replace(
        "directory = \"recordings\"",
        &format!("directory = \"{}\"", wanted.display()),
    );
    assert_ne!(text, shipped_config(), "the shipped config records calls");
    let path = write_config(dir.path(), &text);
    let out = hotline()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("recording.directory") && stderr.contains(&wanted.display().to_string()),
        "stderr: {stderr}"
    );
}
