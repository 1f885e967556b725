//! Reading `hotline.toml`, applying `HOTLINE__*` environment overrides, validating everything and
//! compiling the dialplans, so that the daemon starts only with a configuration known to be whole.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, Environment, File, FileFormat};

use super::error::{ConfigErrors, ConfigProblem, Origin};
use super::settings::Settings;
use crate::dialplan::{Dialplan, DialplanProblem};
use crate::media::prompts::{PromptSet, REQUIRED};
use crate::toml_spans::TomlMap;

/// `HOTLINE__SIP__UDP` overrides `sip.udp`.
const ENV_PREFIX: &str = "HOTLINE";
const ENV_SEPARATOR: &str = "__";

/// A configuration that passed every check, with its dialplans compiled.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub settings: Settings,
    pub dialplan: Dialplan,
    /// Every prompt the daemon plays, decoded.
    pub prompts: PromptSet,
    /// The settings file it came from, for reloads and messages.
    pub path: PathBuf,
}

/// What `load` takes from the process, made explicit so tests need neither `chdir` nor `setenv`.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Relative dialplan paths are joined to this; `None` leaves them relative to the working
    /// directory.
    pub base_dir: Option<PathBuf>,
    /// The environment to take `HOTLINE__*` overrides from; `None` reads the process environment.
    pub env: Option<HashMap<String, String>>,
}

/// Loads `path` with overrides from the process environment; dialplan paths are relative to the
/// working directory.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigErrors> {
    load_with(path, &LoadOptions::default())
}

pub fn load_with(path: &Path, options: &LoadOptions) -> Result<LoadedConfig, ConfigErrors> {
    let file = Origin::File(path.to_path_buf());
    let text = std::fs::read_to_string(path).map_err(|e| {
        single(ConfigProblem {
            file: file.clone(),
            line: None,
            column: None,
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })
    })?;
    let overrides = match &options.env {
        Some(env) => Overrides::new(env.clone()),
        None => Overrides::from_process()?,
    };
    let (settings, mut problems) = settings_from_text(path, &text, &overrides)?;

    let files: Vec<PathBuf> = settings
        .dialplan
        .files
        .iter()
        .map(|f| match &options.base_dir {
            Some(base) => base.join(f),
            None => f.clone(),
        })
        .collect();
    let dialplan = match Dialplan::load(&files, &settings.dialplan_known()) {
        Ok(dialplan) => Some(dialplan),
        Err(e) => {
            problems.extend(e.problems.into_iter().map(from_dialplan));
            None
        }
    };

    let prompt_dir = match &options.base_dir {
        Some(base) => base.join(&settings.prompts.dir),
        None => settings.prompts.dir.clone(),
    };
    let prompts = match PromptSet::load(&prompt_dir, REQUIRED) {
        Ok(prompts) => Some(prompts),
        Err(errors) => {
            problems.extend(errors.0.into_iter().map(|e| ConfigProblem {
                file: Origin::File(prompt_dir.clone()),
                line: None,
                column: None,
                key: "prompts.dir".to_string(),
                reason: e.to_string(),
            }));
            None
        }
    };

    match (dialplan, prompts) {
        (Some(dialplan), Some(prompts)) if problems.is_empty() => Ok(LoadedConfig {
            settings,
            dialplan,
            prompts,
            path: path.to_path_buf(),
        }),
        _ => Err(ConfigErrors { problems }),
    }
}

/// The settings `text` (read from `path`) holds, with every problem `validate` finds located:
/// no file is read here.
fn settings_from_text(
    path: &Path,
    text: &str,
    overrides: &Overrides,
) -> Result<(Settings, Vec<ConfigProblem>), ConfigErrors> {
    let map = TomlMap::new(text);
    let locate = Locate {
        file: path,
        map: &map,
        overrides,
    };
    let settings = deserialize(text, &locate)?;
    let problems = settings
        .validate()
        .into_iter()
        .map(|issue| locate.problem(issue.key, issue.reason))
        .collect();
    Ok((settings, problems))
}

/// [`settings_from_text`] without any `HOTLINE__*` variable, for the fuzz targets.
pub(crate) fn settings_from_text_alone(
    path: &Path,
    text: &str,
) -> Result<(Settings, Vec<ConfigProblem>), ConfigErrors> {
    settings_from_text(path, text, &Overrides::new(HashMap::new()))
}

/// Deserializes the file alone first, for errors with exact lines, then the file merged with the
/// environment, which is what the daemon uses. A file-only error at a key that a variable sets
/// (say a missing `store.path` given as `HOTLINE__STORE__PATH`) is left to the merged value.
fn deserialize(text: &str, locate: &Locate<'_>) -> Result<Settings, ConfigErrors> {
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(single(locate.toml_error(&e)));
    }
    let file_problem = toml::from_str::<Settings>(text)
        .err()
        .map(|e| locate.toml_error(&e))
        // The `config` crate would coerce `realm = 12345` to a string; the file check does not.
        .filter(|p| !locate.overrides.touches(&missing_field_path(p)));
    let merged = Config::builder()
        .add_source(File::from_str(text, FileFormat::Toml))
        .add_source(
            Environment::with_prefix(ENV_PREFIX)
                .separator(ENV_SEPARATOR)
                .try_parsing(true)
                .source(Some(locate.overrides.vars.clone())),
        )
        .build()
        .and_then(Config::try_deserialize::<Settings>);
    match (file_problem, merged) {
        (None, Ok(settings)) => Ok(settings),
        (None, Err(e)) => Err(single(locate.merged_error(&e))),
        (Some(problem), merged) => {
            let mut problems = vec![problem];
            if let Err(e) = merged {
                let merged = locate.merged_error(&e);
                if matches!(merged.file, Origin::Env(_)) {
                    problems.push(merged);
                }
            }
            Err(ConfigErrors { problems })
        }
    }
}

/// serde reports a missing field at the table that lacks it; the field's own path is what a
/// variable would set.
fn missing_field_path(problem: &ConfigProblem) -> String {
    let field = problem
        .reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match field {
        Some(field) if problem.key.is_empty() => field.to_string(),
        Some(field) => format!("{}.{field}", problem.key),
        None => problem.key.clone(),
    }
}

/// The `HOTLINE__*` variables and the key path each one sets.
struct Overrides {
    vars: HashMap<String, String>,
    /// (key path, variable name), e.g. ("sip.udp", "HOTLINE__SIP__UDP").
    keys: Vec<(String, String)>,
}

impl Overrides {
    fn new(env: HashMap<String, String>) -> Self {
        // Same matching as the `config` crate: case-insensitive prefix, lower-cased key.
        let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}").to_lowercase();
        let vars: HashMap<String, String> = env
            .into_iter()
            .filter(|(name, _)| name.to_lowercase().starts_with(&prefix))
            .collect();
        let mut keys: Vec<(String, String)> = vars
            .keys()
            .map(|name| {
                let key = name.to_lowercase()[prefix.len()..].replace(ENV_SEPARATOR, ".");
                (key, name.clone())
            })
            .collect();
        keys.sort();
        Self { vars, keys }
    }

    fn from_process() -> Result<Self, ConfigErrors> {
        let mut vars = HashMap::new();
        let mut problems = Vec::new();
        for (name, value) in std::env::vars_os() {
            // Only our own variables matter; anyone else's odd bytes are not our business.
            let Some(name) = name.to_str().map(str::to_string) else {
                continue;
            };
            if !name
                .to_uppercase()
                .starts_with(&format!("{ENV_PREFIX}{ENV_SEPARATOR}"))
            {
                continue;
            }
            match value.into_string() {
                Ok(value) => {
                    vars.insert(name, value);
                }
                Err(raw) => problems.push(not_unicode(&name, &raw)),
            }
        }
        if problems.is_empty() {
            Ok(Self::new(vars))
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// Whether some variable sets `key`, a table holding it, or a key below it.
    fn touches(&self, key: &str) -> bool {
        let below = format!("{key}.");
        self.var_for(key).is_some() || self.keys.iter().any(|(k, _)| k.starts_with(&below))
    }

    /// The variable that sets `key`, or a table holding it.
    fn var_for(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key || key.starts_with(&format!("{k}.")))
            .map(|(_, var)| var.as_str())
    }
}

fn not_unicode(name: &str, raw: &OsString) -> ConfigProblem {
    ConfigProblem {
        file: Origin::Env(name.to_string()),
        line: None,
        column: None,
        key: String::new(),
        reason: format!("value {raw:?} is not valid UTF-8"),
    }
}

/// Turns key paths and error spans into problems that point at a line or a variable.
struct Locate<'a> {
    file: &'a Path,
    map: &'a TomlMap,
    overrides: &'a Overrides,
}

impl Locate<'_> {
    fn problem(&self, key: String, reason: String) -> ConfigProblem {
        match self.overrides.var_for(&key) {
            Some(var) => ConfigProblem {
                file: Origin::Env(var.to_string()),
                line: None,
                column: None,
                key,
                reason,
            },
            None => ConfigProblem {
                file: Origin::File(self.file.to_path_buf()),
                line: self.map.line_of(&key),
                column: None,
                key,
                reason,
            },
        }
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigProblem {
        let site = self.map.site(e.span());
        ConfigProblem {
            file: Origin::File(self.file.to_path_buf()),
            line: site.line,
            column: site.column,
            key: site.key,
            reason: e.message().trim().to_string(),
        }
    }

    /// An error of the merged value; the `config` crate knows the key path but not the variable.
    fn merged_error(&self, e: &ConfigError) -> ConfigProblem {
        let (key, reason) = split_config_error(e);
        // "unknown field `udpp`" is reported at the table holding it; the variable sets the field.
        let key = match unknown_field(&reason) {
            Some(field) if key.is_empty() => field.to_string(),
            Some(field) => format!("{key}.{field}"),
            None => key,
        };
        let var = self.overrides.var_for(&key).or_else(|| {
            // A variable below `key`, when the error is about a table it added to.
            let below = format!("{key}.");
            let mut under = self
                .overrides
                .keys
                .iter()
                .filter(|(k, _)| k.starts_with(&below));
            match (under.next(), under.next()) {
                (Some((_, var)), None) => Some(var.as_str()),
                _ => None,
            }
        });
        match var {
            Some(var) => ConfigProblem {
                file: Origin::Env(var.to_string()),
                line: None,
                column: None,
                key,
                reason,
            },
            None => self.problem(key, reason),
        }
    }
}

fn split_config_error(e: &ConfigError) -> (String, String) {
    match e {
        ConfigError::At { error, key, .. } => (key.clone().unwrap_or_default(), error.to_string()),
        ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => (
            key.clone().unwrap_or_default(),
            format!("invalid type: {unexpected}, expected {expected}"),
        ),
        ConfigError::NotFound(key) => (key.clone(), "missing".to_string()),
        other => (String::new(), other.to_string()),
    }
}

fn unknown_field(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

fn single(problem: ConfigProblem) -> ConfigErrors {
    ConfigErrors {
        problems: vec![problem],
    }
}

fn from_dialplan(p: DialplanProblem) -> ConfigProblem {
    ConfigProblem {
        file: Origin::File(p.file),
        line: p.line,
        column: p.column,
        key: p.key,
        reason: p.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::RingTarget;

    fn manifest() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn shipped() -> String {
        std::fs::read_to_string(manifest().join("config/hotline.toml")).unwrap()
    }

    fn options(env: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            base_dir: Some(manifest()),
            env: Some(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    /// 1-based line of the first line of `text` equal to `line`.
    fn line_no(text: &str, line: &str) -> usize {
        text.lines().position(|l| l == line).unwrap() + 1
    }

    /// Writes `text` as a settings file in a fresh directory and loads it.
    fn load_text(
        text: &str,
        env: &[(&str, &str)],
    ) -> (Result<LoadedConfig, ConfigErrors>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.toml");
        std::fs::write(&path, text).unwrap();
        let result = load_with(&path, &options(env));
        (result, path)
    }

    fn refused(text: &str, env: &[(&str, &str)]) -> (Vec<ConfigProblem>, PathBuf) {
        let (result, path) = load_text(text, env);
        (result.unwrap_err().problems, path)
    }

    fn toml_files(dir: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(manifest().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no shipped files under {dir}/");
        files
    }

    #[test]
    fn every_shipped_config_loads() {
        for file in toml_files("config") {
            let loaded = load_with(&file, &options(&[]))
                .unwrap_or_else(|e| panic!("{}:\n{e}", file.display()));
            assert_eq!(loaded.path, file);
        }
    }

    #[test]
    fn every_shipped_dialplan_compiles_against_the_shipped_settings() {
        let settings = load_with(&manifest().join("config/hotline.toml"), &options(&[]))
            .unwrap()
            .settings;
        for file in toml_files("dialplans") {
            Dialplan::load(std::slice::from_ref(&file), &settings.dialplan_known())
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn shipped_config_says_what_the_hotline_needs() {
        let loaded = load_with(&manifest().join("config/hotline.toml"), &options(&[])).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.sip.udp.to_string(), "127.0.0.1:5060");
        assert_eq!(s.sip.realm, "hotline.local");
        assert_eq!((s.rtp.port_min, s.rtp.port_max), (20000, 20999));
        let users: Vec<_> = s.seats.iter().map(|s| s.user.as_str()).collect();
        assert_eq!(users, ["1001", "1002", "1003", "1010"]);
        let supervisors: Vec<_> = s
            .seats
            .iter()
            .filter(|s| s.supervisor)
            .map(|s| s.user.as_str())
            .collect();
        assert_eq!(supervisors, ["1010"], "the shift leader");
        assert_eq!(s.trunks[0].name, "carrier");
        let hotline = loaded.dialplan.route("12345").unwrap();
        assert_eq!(
            hotline.target,
            RingTarget::Queue {
                name: "citizens".into(),
                priority: crate::dialplan::DEFAULT_PRIORITY
            }
        );
        assert_eq!(s.queues[0].name, "citizens");
        assert!(loaded
            .dialplan
            .route("12347")
            .unwrap()
            .when_closed
            .is_some());
        assert_eq!(hotline.file, manifest().join("dialplans/hotline.toml"));
        assert_eq!(
            loaded.dialplan.route("12346").unwrap().target,
            RingTarget::Seats(vec!["1001".into()])
        );
    }

    #[test]
    fn plain_load_resolves_dialplans_from_the_working_directory() {
        // cargo runs unit tests in the package root, where dialplans/ lives.
        let loaded = load(Path::new("config/hotline.toml")).unwrap();
        assert_eq!(loaded.dialplan.routes().len(), 4);
        assert_eq!(
            loaded.dialplan.routes()[0].file,
            Path::new("dialplans/hotline.toml")
        );
    }

    #[test]
    fn unknown_key_is_refused_with_file_line_and_path() {
        let text = shipped().replacen("[sip]\n", "[sip]\nudpp = \"127.0.0.1:5060\"\n", 1);
        let (problems, path) = refused(&text, &[]);
        let line = line_no(&text, "[sip]") + 1;
        assert_eq!(problems.len(), 1, "{problems:?}");
        let shown = problems[0].to_string();
        let want = format!(
            "{}:{line}:1: sip.udpp: unknown field `udpp`",
            path.display()
        );
        assert!(shown.starts_with(&want), "{shown}");
    }

    #[test]
    fn bad_value_names_the_key_path() {
        let text = shipped().replacen("udp = \"127.0.0.1:5060\"", "udp = \"nonsense\"", 1);
        let (problems, path) = refused(&text, &[]);
        let line = line_no(&text, "udp = \"nonsense\"");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert_eq!(p.file, Origin::File(path));
        assert_eq!(
            (p.line, p.column, p.key.as_str()),
            (Some(line), Some(7), "sip.udp")
        );
        assert!(p.reason.contains("invalid socket address"), "{}", p.reason);
    }

    #[test]
    fn file_values_are_not_coerced_between_types() {
        let text = shipped().replacen("realm = \"hotline.local\"", "realm = 12345", 1);
        let (problems, _) = refused(&text, &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "sip.realm");
        assert_eq!(problems[0].line, Some(line_no(&text, "realm = 12345")));
        // A variable setting the key replaces the file's value, so the file's type no longer counts.
        let (result, _) = load_text(&text, &[("HOTLINE__SIP__REALM", "hotline.local")]);
        assert_eq!(result.unwrap().settings.sip.realm, "hotline.local");
    }

    #[test]
    fn survey_and_api_problems_name_file_and_line() {
        let text = format!(
            "{}\n[api]\ntoken = \"short\"\n\n[survey]\ntrunk = \"nowhere\"\nretries = 9\ncalendar = \"nohours\"\n",
            shipped()
        );
        let (problems, path) = refused(&text, &[]);
        let mut found: Vec<(String, Option<usize>)> =
            problems.iter().map(|p| (p.key.clone(), p.line)).collect();
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "api.token".to_string(),
                    Some(line_no(&text, "token = \"short\""))
                ),
                (
                    "survey.calendar".to_string(),
                    Some(line_no(&text, "calendar = \"nohours\""))
                ),
                (
                    "survey.retries".to_string(),
                    Some(line_no(&text, "retries = 9"))
                ),
                (
                    "survey.trunk".to_string(),
                    Some(line_no(&text, "trunk = \"nowhere\""))
                ),
            ]
        );
        assert!(problems
            .iter()
            .all(|p| p.file == Origin::File(path.clone())));

        let typo = format!("{}\n[survey]\ntrunk = \"carrier\"\nretry = 3\n", shipped());
        let (problems, _) = refused(&typo, &[]);
        assert!(
            problems
                .iter()
                .any(|p| p.reason.contains("unknown field `retry`")),
            "{problems:?}"
        );
    }

    /// The shipped file's commented-out [api] and [survey] examples, uncommented, load.
    #[test]
    fn shipped_api_and_survey_examples_load_when_uncommented() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("api.token");
        std::fs::write(&token, "0123456789abcdef-token\n").unwrap();
        let mut text = String::new();
        let mut example = false;
        for line in shipped().lines() {
            if line == "# [api]" || line == "# [survey]" {
                example = true;
            } else if line.is_empty() || !line.starts_with('#') {
                example = false;
            }
            let line = match line.strip_prefix("# ") {
                Some(rest) if example => rest,
                _ => line,
            };
            text.push_str(line);
            text.push('\n');
        }
        let text = text.replace("/etc/hotline/api.token", &token.display().to_string());
        let (result, _) = load_text(&text, &[]);
        let loaded = result.unwrap_or_else(|e| panic!("{e}"));
        let s = &loaded.settings;
        let survey = s.survey.as_ref().expect("[survey] uncommented");
        assert_eq!(survey.trunk.as_deref(), Some("carrier"));
        assert_eq!((survey.retries, survey.retry_interval_secs), (2, 600));
        let api = s.api.as_ref().expect("[api] uncommented");
        assert!(api.listen.ip().is_loopback());
        assert_eq!(api.token().unwrap(), "0123456789abcdef-token");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let text = shipped().replacen("[rtp]", "[rtp", 1);
        let (problems, path) = refused(&text, &[]);
        let line = line_no(&text, "[rtp");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, Origin::File(path));
        assert_eq!(problems[0].line, Some(line));
    }

    #[test]
    fn port_min_above_port_max_names_the_key_and_line() {
        let text = shipped().replacen("port_min = 20000", "port_min = 30000", 1);
        let (problems, path) = refused(&text, &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].to_string(),
            format!(
                "{}:{}: rtp.port_min: 30000 is greater than rtp.port_max (20999)",
                path.display(),
                line_no(&text, "port_min = 30000")
            )
        );
    }

    #[test]
    fn every_problem_in_settings_and_dialplans_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("bad-plan.toml");
        std::fs::write(
            &plan,
            "[[routes]]\nnumber = \"12345\"\nring = [\"1009\"]\n\n\
             [[routes]]\nnumber = \"12345\"\nring = \"all\"\n",
        )
        .unwrap();
        let text = shipped()
            .replacen("realm = \"hotline.local\"", "realm = \"\"", 1)
            .replacen("port_min = 20000", "port_min = 20001", 1)
            .replacen("ring_timeout_secs = 30", "ring_timeout_secs = 0", 1)
            .replacen("user = \"1002\"", "user = \"1001\"", 1)
            .replacen(
                "files = [\"dialplans/hotline.toml\"]",
                &format!(
                    "files = [{:?}, \"missing.toml\"]",
                    plan.display().to_string()
                ),
                1,
            );
        let (problems, path) = refused(&text, &[]);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let at = |line: &str| format!("{}:{}: ", path.display(), line_no(&text, line));
        let second_1001 = text
            .lines()
            .enumerate()
            .filter(|(_, l)| *l == "user = \"1001\"")
            .nth(1)
            .unwrap()
            .0
            + 1;
        let expected = [
            format!("{}sip.realm: must not be empty", at("realm = \"\"")),
            format!(
                "{}sip.ring_timeout_secs: 0 is outside 1..=300",
                at("ring_timeout_secs = 0")
            ),
            format!("{}rtp.port_min: 20001 is odd", at("port_min = 20001")),
            format!(
                "{}:{second_1001}: seats[1].user: seat \"1001\" is defined twice",
                path.display()
            ),
            format!("{}:3: routes[0].ring[0]: no seat \"1009\"", plan.display()),
            format!(
                "{}:6: routes[1].number: number 12345 is already routed at {}:1",
                plan.display(),
                plan.display()
            ),
            format!("{}: cannot read", manifest().join("missing.toml").display()),
        ];
        assert_eq!(shown.len(), expected.len(), "{shown:#?}");
        for (got, want) in shown.iter().zip(&expected) {
            assert!(got.starts_with(want.as_str()), "got  {got}\nwant {want}");
        }
    }

    #[test]
    fn environment_overrides_the_file() {
        let (result, _) = load_text(
            &shipped(),
            &[
                ("HOTLINE__SIP__UDP", "127.0.0.1:5070"),
                ("HOTLINE__STORE__PATH", "/tmp/x.db"),
                ("HOTLINE__SIP__MAX_CALLS", "5"),
                ("hotline__log__level", "debug"),
                ("OTHER__SIP__UDP", "nonsense"),
            ],
        );
        let s = result.unwrap().settings;
        assert_eq!(s.sip.udp.to_string(), "127.0.0.1:5070");
        assert_eq!(s.sip.tcp.to_string(), "127.0.0.1:5060");
        assert_eq!(s.store.path, Path::new("/tmp/x.db"));
        assert_eq!(s.sip.max_calls, 5);
        assert_eq!(s.log.level, "debug");
    }

    #[test]
    fn environment_can_supply_a_key_the_file_lacks() {
        let text = shipped().replacen("path = \"hotline.db\"", "", 1);
        let (result, _) = load_text(&text, &[("HOTLINE__STORE__PATH", "/tmp/x.db")]);
        assert_eq!(result.unwrap().settings.store.path, Path::new("/tmp/x.db"));
        let (problems, _) = refused(&text, &[]);
        assert_eq!(problems[0].key, "store");
        assert!(problems[0].reason.contains("missing field `path`"));
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let env = |name: &str| Origin::Env(name.to_string());
        let (problems, _) = refused(&shipped(), &[("HOTLINE__SIP__UDP", "nonsense")]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, env("HOTLINE__SIP__UDP"));
        assert_eq!(
            (problems[0].line, problems[0].key.as_str()),
            (None, "sip.udp")
        );

        let (problems, _) = refused(&shipped(), &[("HOTLINE__SIP__UDPP", "x")]);
        assert_eq!(problems[0].file, env("HOTLINE__SIP__UDPP"));
        assert!(problems[0].reason.starts_with("unknown field `udpp`"));

        let (problems, _) = refused(&shipped(), &[("HOTLINE__NOPE", "1")]);
        assert_eq!(problems[0].file, env("HOTLINE__NOPE"));

        let (problems, _) = refused(
            &shipped(),
            &[
                ("HOTLINE__SIP__REALM", ""),
                ("HOTLINE__RTP__PORT_MIN", "80"),
            ],
        );
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "HOTLINE__SIP__REALM: sip.realm: must not be empty",
                "HOTLINE__RTP__PORT_MIN: rtp.port_min: 80 is below 1024",
            ]
        );
    }

    #[test]
    fn unreadable_settings_file_is_one_problem() {
        let err = load_with(Path::new("/nonexistent/hotline.toml"), &options(&[])).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert!(err
            .to_string()
            .starts_with("/nonexistent/hotline.toml: cannot read"));
    }
}
