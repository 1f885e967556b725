//! The command line, parsed by clap. `hotline` alone (or with `--config` and `--ready-file`) runs
//! the daemon, as `hotline run` does.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hotline",
    about = "SIP/RTP telephony daemon for 12345 citizen-service hotlines"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "config/hotline.toml"
    )]
    pub config: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the daemon (the default); SIGTERM or Ctrl-C drains the calls and exits.
    Run(RunArgs),
    /// Load and validate the config, every dialplan and the database, then exit.
    Check,
    /// Monthly reports from the database (read-only beside a running daemon).
    #[command(subcommand)]
    Report(Report),
    /// Ask the running daemon (its HTTP API) for a return-visit call, or where one stands.
    #[command(subcommand)]
    Survey(Survey),
    /// The contact-failure ledger.
    #[command(subcommand)]
    Ledger(Ledger),
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Once every socket is bound, write the bound addresses there as JSON.
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
}

/// The month and the format every report takes.
#[derive(Debug, Clone, Args)]
pub struct MonthArgs {
    /// The month, local time.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Subcommand)]
pub enum Report {
    /// The month's keypad ratings with the assessment scores (result x300, attitude x100).
    Ratings {
        #[command(flatten)]
        month: MonthArgs,
        /// all, seat or unit.
        #[arg(long, default_value = "all")]
        by: String,
    },
    /// The month's contact ledger: every unit's contact failures, voids, score (of 40) and
    /// hand-offs made in time and late by category.
    Contacts {
        #[command(flatten)]
        month: MonthArgs,
    },
    /// The month's hand-offs with their attempts to reach units.
    Handoffs {
        #[command(flatten)]
        month: MonthArgs,
    },
}

/// Where the daemon's API is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The daemon's API (default: api.listen of the config).
    #[arg(long, value_name = "HOST:PORT")]
    pub api: Option<SocketAddr>,
    /// The API's bearer token (default: api.token_file or api.token of the config;
    /// HOTLINE_API_TOKEN, when set, wins over both).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Survey {
    /// Ask for a return-visit call.
    Call {
        #[arg(long)]
        number: String,
        #[arg(long)]
        ticket: String,
        #[arg(long)]
        unit: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Where a return visit stands.
    Status {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum Ledger {
    /// Void a contact failure upheld on appeal (within 5 working days of it, on the unit's
    /// calendar, unless --late). The void is a record of its own; nothing is deleted.
    Void {
        failure_id: String,
        /// Why the failure is voided.
        #[arg(long)]
        reason: String,
        /// Who voids it.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Void it even past the appeal window.
        #[arg(long)]
        late: bool,
    },
}

impl Cli {
    /// What to do: a subcommand, or run. Options may stand before the subcommand, as the
    /// hand-written parser allowed (`hotline --config x.toml check`); `--ready-file` matters to
    /// `run` only.
    pub fn into_command(self) -> (Command, PathBuf) {
        let command = match self.command {
            None => Command::Run(self.run),
            Some(Command::Run(RunArgs { ready_file })) => Command::Run(RunArgs {
                ready_file: ready_file.or(self.run.ready_file),
            }),
            Some(command) => command,
        };
        (command, self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Command, PathBuf), clap::Error> {
        Cli::try_parse_from(std::iter::once("hotline").chain(args.iter().copied()))
            .map(Cli::into_command)
    }

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory;
        <Cli as CommandFactory>::command().debug_assert();
    }

    #[test]
    fn no_subcommand_runs_with_the_default_config() {
        let (command, config) = parse(&[]).unwrap();
        assert!(matches!(
            command,
            Command::Run(RunArgs { ready_file: None })
        ));
        assert_eq!(config, PathBuf::from("config/hotline.toml"));
        let (command, config) = parse(&["--config", "x.toml", "--ready-file", "r"]).unwrap();
        assert!(matches!(
            command,
            Command::Run(RunArgs {
                ready_file: Some(_)
            })
        ));
        assert_eq!(config, PathBuf::from("x.toml"));
        let (command, _) = parse(&["run", "--config", "x.toml", "--ready-file", "r"]).unwrap();
        assert!(matches!(
            command,
            Command::Run(RunArgs {
                ready_file: Some(_)
            })
        ));
    }

    #[test]
    fn reports_default_to_a_table() {
        let (command, _) = parse(&["report", "ratings", "--month", "2026-11"]).unwrap();
        let Command::Report(Report::Ratings { month, by }) = command else {
            panic!("{command:?}");
        };
        assert_eq!((month.format.as_str(), by.as_str()), ("table", "all"));
        let (command, config) = parse(&[
            "report", "contacts", "--month", "2026-11", "--format", "json", "--config", "h.toml",
        ])
        .unwrap();
        assert!(matches!(command, Command::Report(Report::Contacts { .. })));
        assert_eq!(config, PathBuf::from("h.toml"));
        assert!(parse(&["report", "handoffs"]).is_err(), "--month is needed");
    }

    #[test]
    fn ledger_void_takes_an_id_a_reason_and_a_name() {
        let (command, _) = parse(&[
            "ledger", "void", "cf-1", "--reason", "line cut", "--by", "王", "--late",
        ])
        .unwrap();
        let Command::Ledger(Ledger::Void {
            failure_id, late, ..
        }) = command
        else {
            panic!("{command:?}");
        };
        assert_eq!((failure_id.as_str(), late), ("cf-1", true));
        assert!(parse(&["ledger", "void", "cf-1", "--by", "王"]).is_err());
    }

    #[test]
    fn survey_commands_keep_their_flags() {
        let (command, _) = parse(&[
            "survey",
            "call",
            "--number",
            "1",
            "--ticket",
            "T",
            "--unit",
            "u",
            "--api",
            "127.0.0.1:9070",
        ])
        .unwrap();
        assert!(matches!(command, Command::Survey(Survey::Call { .. })));
        assert!(parse(&["survey", "status", "s-1", "--api", "nowhere"]).is_err());
    }
}
