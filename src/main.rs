//! `hotline`: run the daemon, or check its configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use hotline::config::{self, LoadedConfig};
use hotline::dialplan::{Closed, Dialplan, RingTarget, Role, Schedule};
use hotline::ledger::{commands, LedgerUnit, VoidRequest};
use hotline::server::Daemon;

mod cli;

use cli::{ApiArgs, Cli, Command, Ledger, MonthArgs, Report, Survey};

fn main() -> ExitCode {
    use clap::Parser;
    // Usage errors exit with 2 and the usage, as before; --help prints it and exits 0.
    let (command, config_path) = Cli::parse().into_command();
    if let Command::Survey(survey) = command {
        return survey_main(survey, &config_path);
    }
    let loaded = match config::load(&config_path) {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("hotline: {} has problems:\n{errors}", config_path.display());
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
    let result = match command {
        Command::Check => runtime.block_on(check(loaded)),
        Command::Report(report) => runtime.block_on(report_command(loaded, report)),
        Command::Ledger(ledger) => runtime.block_on(ledger_command(loaded, ledger)),
        Command::Run(run_args) => runtime.block_on(run(loaded, run_args.ready_file)),
        Command::Survey(_) => unreachable!("handled before the config is loaded"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hotline: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn report_command(loaded: LoadedConfig, report: Report) -> anyhow::Result<()> {
    let s = &loaded.settings;
    let (path, offset) = (&s.store.path, s.time.utc_offset_hours);
    let text = match report {
        Report::Ratings {
            month: MonthArgs { month, format },
            by,
        } => hotline::report::run_report(path, &month, &by, &format, offset).await?,
        Report::Contacts {
            month: MonthArgs { month, format },
        } => {
            let units: Vec<LedgerUnit> = loaded.dialplan.units().iter().map(Into::into).collect();
            let rule = &s.contact_failures;
            let categories: Vec<&str> = s
                .handoffs
                .categories
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            commands::contacts_report(path, &units, &categories, rule, &month, &format, offset)
                .await?
        }
        Report::Handoffs {
            month: MonthArgs { month, format },
        } => commands::handoffs_report(path, &month, &format, offset).await?,
    };
    print!("{text}");
    Ok(())
}

/// `hotline ledger void`: the unit's calendar is the one its schedule names, else Monday to
/// Friday.
async fn ledger_command(loaded: LoadedConfig, ledger: Ledger) -> anyhow::Result<()> {
    let Ledger::Void {
        failure_id,
        reason,
        by,
        late,
    } = ledger;
    let s = &loaded.settings;
    let calendar_of = |unit: &str| {
        loaded
            .dialplan
            .unit(unit)
            .and_then(|u| u.schedule.calendar())
            .and_then(|name| s.calendars.iter().find(|c| c.name == name))
            .cloned()
            .unwrap_or_else(hotline::ledger::weekdays)
    };
    let request = VoidRequest {
        failure_id,
        by,
        reason,
        late,
        now: std::time::SystemTime::now(),
    };
    let void = commands::void(&s.store.path, request, calendar_of, s.time.utc_offset_hours).await?;
    let late = if void.late { ", late" } else { "" };
    println!(
        "contact failure {} voided by {}{late}: {}",
        void.failure_id, void.by, void.reason
    );
    Ok(())
}

/// `hotline survey ...`: a client of the running daemon's API. The config is read only for
/// what the command line does not give (the API's address and token).
fn survey_main(survey: Survey, config: &Path) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .and_then(|rt| rt.block_on(survey_command(survey, config)));
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

async fn survey_command(survey: Survey, config: &Path) -> anyhow::Result<String> {
    use hotline::cli_client;
    let (Survey::Call { api: args, .. } | Survey::Status { api: args, .. }) = &survey;
    let ApiArgs { api, token_file } = args.clone();
    let env_token = std::env::var("HOTLINE_API_TOKEN").ok();
    let file_token = match &token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let given = env_token.or(file_token);
    let settings = if api.is_none() || given.is_none() {
        let loaded = config::load(config)
            .map_err(|errors| anyhow::anyhow!("{} has problems:\n{errors}", config.display()))?;
        let api = loaded.settings.api.clone().with_context(|| {
            format!(
                "{} has no [api] table; give --api and --token-file",
                config.display()
            )
        })?;
        Some(api)
    } else {
        None
    };
    let api = match (api, &settings) {
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
    let text = match survey {
        Survey::Call {
            number,
            ticket,
            unit,
            ..
        } => cli_client::survey_call(api, &token, &number, &ticket, &unit).await?,
        Survey::Status { id, .. } => cli_client::survey_status(api, &token, &id).await?,
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
    print_outbound_and_units(&loaded.dialplan, &loaded.settings);
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
fn print_outbound_and_units(plan: &Dialplan, settings: &hotline::config::settings::Settings) {
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
        let now = hotline::calendar::to_local(
            std::time::SystemTime::now(),
            settings.time.utc_offset_hours * 3600,
        );
        let hunting = unit.hunting.over(settings.features.hunting());
        let order: Vec<&str> = hotline::dialplan::hunt_order(plan, unit, now, hunting.attempts)
            .into_iter()
            .map(|(role, _)| role.as_str())
            .collect();
        println!(
            "    hunt now: {} (each {} s, {} s apart)",
            order.join(", "),
            hunting.ring_timeout.as_secs(),
            hunting.pause.as_secs()
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
