//! `hotline`: run the daemon, or check its configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use hotline::config::{self, LoadedConfig};
use hotline::dialplan::{Closed, Dialplan, RingTarget, Role, Schedule};
use hotline::server::Daemon;

const USAGE: &str = "usage: hotline [run] [--config FILE] [--ready-file FILE]
       hotline check [--config FILE]
       hotline report ratings --month YYYY-MM [--by all|seat|unit] [--format table|csv|json] [--config FILE]
       hotline survey call --number N --ticket T --unit U [--api ADDR] [--token-file FILE] [--config FILE]
       hotline survey status ID [--api ADDR] [--token-file FILE] [--config FILE]

  run     start the daemon (the default); SIGTERM or Ctrl-C drains the calls and exits
  check   load and validate the config, every dialplan and the database, then exit
  report  the month's keypad ratings with the assessment scores (result x300, attitude x100)
  survey  ask the running daemon (its HTTP API) for a return-visit call, or where one stands

  --config FILE      settings (default config/hotline.toml)
  --ready-file FILE  once every socket is bound, write the bound addresses there as JSON
  --api ADDR         the daemon's API (default: api.listen of the config)
  --token-file FILE  the API's bearer token (default: api.token_file or api.token of the config;
                     HOTLINE_API_TOKEN, when set, wins over both)";

struct Args {
    command: String,
    config: PathBuf,
    ready_file: Option<PathBuf>,
    month: Option<String>,
    by: String,
    format: String,
    survey: Option<SurveyCommand>,
    api: Option<std::net::SocketAddr>,
    token_file: Option<PathBuf>,
}

/// `hotline survey ...`.
enum SurveyCommand {
    Call {
        number: Option<String>,
        ticket: Option<String>,
        unit: Option<String>,
    },
    Status(String),
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        command: "run".to_string(),
        config: PathBuf::from("config/hotline.toml"),
        ready_file: None,
        month: None,
        by: "all".to_string(),
        format: "table".to_string(),
        survey: None,
        api: None,
        token_file: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "run" | "check" => parsed.command = arg,
            "report" => match args.next().as_deref() {
                Some("ratings") => parsed.command = "report".to_string(),
                _ => return Err("report: only `report ratings` exists".to_string()),
            },
            "survey" => {
                parsed.command = "survey".to_string();
                parsed.survey = Some(match args.next().as_deref() {
                    Some("call") => SurveyCommand::Call {
                        number: None,
                        ticket: None,
                        unit: None,
                    },
                    Some("status") => {
                        SurveyCommand::Status(args.next().ok_or("survey status needs an id")?)
                    }
                    _ => return Err("survey: `survey call` or `survey status ID`".to_string()),
                });
            }
            "--number" | "--ticket" | "--unit" => {
                let value = args.next().ok_or(format!("{arg} needs a value"))?;
                let Some(SurveyCommand::Call {
                    number,
                    ticket,
                    unit,
                }) = parsed.survey.as_mut()
                else {
                    return Err(format!("{arg} belongs to `survey call`"));
                };
                let slot = match arg.as_str() {
                    "--number" => number,
                    "--ticket" => ticket,
                    _ => unit,
                };
                *slot = Some(value);
            }
            "--api" => {
                let value = args.next().ok_or("--api needs HOST:PORT")?;
                parsed.api = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--api {value:?} is not HOST:PORT"))?,
                );
            }
            "--token-file" => {
                parsed.token_file = Some(args.next().ok_or("--token-file needs a file")?.into())
            }
            "--month" => parsed.month = Some(args.next().ok_or("--month needs YYYY-MM")?),
            "--by" => parsed.by = args.next().ok_or("--by needs all, seat or unit")?,
            "--format" => parsed.format = args.next().ok_or("--format needs table, csv or json")?,
            "--config" => parsed.config = args.next().ok_or("--config needs a file")?.into(),
            "--ready-file" => {
                parsed.ready_file = Some(args.next().ok_or("--ready-file needs a file")?.into())
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("hotline: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.command == "survey" {
        return survey(args);
    }
    let loaded = match config::load(&args.config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("hotline: {} has problems:\n{errors}", args.config.display());
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("hotline: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = match args.command.as_str() {
        "check" => runtime.block_on(check(loaded)),
        "report" => runtime.block_on(report(loaded, args.month, &args.by, &args.format)),
        _ => runtime.block_on(run(loaded, args.ready_file)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hotline: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn report(
    loaded: LoadedConfig,
    month: Option<String>,
    by: &str,
    format: &str,
) -> anyhow::Result<()> {
    let month = month.context("report ratings needs --month YYYY-MM")?;
    let s = &loaded.settings;
    let text =
        hotline::report::run_report(&s.store.path, &month, by, format, s.time.utc_offset_hours)
            .await?;
    print!("{text}");
    Ok(())
}

/// `hotline survey ...`: a client of the running daemon's API. The config is read only for
/// what the command line does not give (the API's address and token).
fn survey(args: Args) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .and_then(|rt| rt.block_on(survey_command(args)));
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("hotline: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn survey_command(args: Args) -> anyhow::Result<String> {
    use hotline::cli_client;
    let env_token = std::env::var("HOTLINE_API_TOKEN").ok();
    let file_token = match &args.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let given = env_token.or(file_token);
    let settings = if args.api.is_none() || given.is_none() {
        let loaded = config::load(&args.config).map_err(|errors| {
            anyhow::anyhow!("{} has problems:\n{errors}", args.config.display())
        })?;
        let api = loaded.settings.api.clone().with_context(|| {
            format!(
                "{} has no [api] table; give --api and --token-file",
                args.config.display()
            )
        })?;
        Some(api)
    } else {
        None
    };
    let api = match (args.api, &settings) {
        (Some(api), _) => api,
        (None, Some(s)) => cli_client::connect_addr(s.listen)
            .context("api.listen has port 0: give the daemon's address with --api")?,
        (None, None) => anyhow::bail!("give the daemon's API address with --api"),
    };
    let token = match (given, &settings) {
        (Some(token), _) => token,
        (None, Some(s)) => s.token()?,
        (None, None) => anyhow::bail!("give the API token with --token-file"),
    };
    let text = match args.survey {
        Some(SurveyCommand::Call {
            number,
            ticket,
            unit,
        }) => {
            let number = number.context("survey call needs --number")?;
            let ticket = ticket.context("survey call needs --ticket")?;
            let unit = unit.context("survey call needs --unit")?;
            cli_client::survey_call(api, &token, &number, &ticket, &unit).await?
        }
        Some(SurveyCommand::Status(id)) => cli_client::survey_status(api, &token, &id).await?,
        None => anyhow::bail!("survey: `survey call` or `survey status ID`"),
    };
    Ok(text)
}

async fn check(loaded: LoadedConfig) -> anyhow::Result<()> {
    if let Some(api) = &loaded.settings.api {
        api.token().context("the API's bearer token")?;
    }
    let store = hotline::store::SqliteStore::open(&loaded.settings.store.path)
        .await
        .with_context(|| format!("opening the store {}", loaded.settings.store.path.display()))?;
    store.close().await;
    let routes = loaded.dialplan.routes();
    println!(
        "{}: ok ({} seats, {} trunks, {} queues, {} routes, {} prompts)",
        loaded.path.display(),
        loaded.settings.seats.len(),
        loaded.settings.trunks.len(),
        loaded.settings.queues.len(),
        routes.len(),
        loaded.prompts.names().count()
    );
    for route in routes {
        let target = match &route.target {
            RingTarget::AllSeats => format!(
                "ring every registered seat for {} s",
                route.ring_timeout.as_secs()
            ),
            RingTarget::Seats(seats) => format!(
                "ring {} for {} s",
                seats.join(", "),
                route.ring_timeout.as_secs()
            ),
            RingTarget::Queue { name, priority } => format!("queue {name}, priority {priority}"),
        };
        let hours = match &route.when_closed {
            Some(w) => match &w.closed {
                Closed::Queue { name, priority } => format!(
                    " (calendar {}; when closed: queue {name}, priority {priority})",
                    w.calendar
                ),
                Closed::Prompt(prompt) => format!(
                    " (calendar {}; when closed: prompt {prompt}, then hang up)",
                    w.calendar
                ),
            },
            None => String::new(),
        };
        let handoff = route
            .handoff
            .as_deref()
            .map(|c| format!(", hand-off {c} from the seat's answer"))
            .unwrap_or_default();
        println!("  {} -> {target}{hours}{handoff}", route.number);
    }
    for line in loaded.settings.handoffs.describe() {
        println!("  {line}");
    }
    print_outbound_and_units(&loaded.dialplan);
    if let Some(api) = &loaded.settings.api {
        println!("  api on http://{}", api.listen);
    }
    if let Some(s) = loaded.settings.survey.as_ref().filter(|s| s.enabled) {
        let through = match s.trunk.as_deref() {
            Some(trunk) => format!("trunk {trunk}"),
            None => "the outbound routes".to_string(),
        };
        let hours = match s.calendar.as_deref() {
            Some(calendar) => format!(" while calendar {calendar} is open"),
            None => String::new(),
        };
        println!(
            "  survey calls through {through} as {}{hours}: {} at once, {} retries {} s apart, {} numbers not to call",
            s.caller_id,
            s.max_concurrent,
            s.retries,
            s.retry_interval_secs,
            s.do_not_call.len()
        );
    }
    Ok(())
}

/// What `check` shows of the directory: each outbound route and which contact each unit's
/// schedule calls when.
fn print_outbound_and_units(plan: &Dialplan) {
    println!(
        "  {} outbound routes, {} units",
        plan.outbound_routes().len(),
        plan.units().len()
    );
    for route in plan.outbound_routes() {
        let mut rewrite = String::new();
        if route.strip > 0 {
            rewrite.push_str(&format!(", strip {}", route.strip));
        }
        if !route.prepend.is_empty() {
            rewrite.push_str(&format!(", prepend {}", route.prepend));
        }
        println!(
            "  outbound {}... -> trunk {} ({}){rewrite}, caller ID {}",
            route.prefix, route.trunk, route.addr, route.caller_id
        );
    }
    for unit in plan.units() {
        let contact = |role: Role| {
            unit.contacts
                .first(role)
                .map_or_else(|| "-".to_string(), |c| format!("{role} {c}"))
        };
        let calls = match &unit.schedule {
            Schedule::Always(role) => format!("{} always", contact(*role)),
            Schedule::ByCalendar {
                calendar,
                working,
                off_hours,
            } => format!(
                "{} when calendar {calendar} is open, else {}",
                contact(*working),
                contact(*off_hours)
            ),
        };
        let parent = unit
            .parent
            .as_deref()
            .map_or_else(String::new, |p| format!(", under {p}"));
        println!(
            "  unit {} {} (level {}{parent}): {calls}",
            unit.id,
            unit.name,
            unit.level.number()
        );
    }
}

async fn run(loaded: LoadedConfig, ready_file: Option<PathBuf>) -> anyhow::Result<()> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(&loaded.settings.log.level));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let daemon = Daemon::start(loaded).await.context("starting the daemon")?;
    if let Some(path) = ready_file {
        let ready = serde_json::json!({
            "sip_udp": daemon.sip_udp.to_string(),
            "sip_tcp": daemon.sip_tcp.to_string(),
            "metrics": daemon.metrics.to_string(),
            "api": daemon.api.map(|a| a.to_string()),
            "pid": std::process::id(),
        });
        std::fs::write(&path, ready.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    wait_for_stop().await;
    tracing::info!("stopping: draining calls and flushing records");
    daemon
        .shutdown()
        .await
        .context("flushing the call records")?;
    Ok(())
}

async fn wait_for_stop() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
