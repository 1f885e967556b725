//! The daemon's lifecycle: bind every socket, start the tasks, report the bound addresses, and
//! on shutdown end the calls, stop the transports and flush every pending record.

pub mod core;
mod heap;
pub mod history;
pub mod live;
pub mod surveys;
pub mod trunks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use self::core::{Core, CoreChannels, CoreSnapshot};
use self::surveys::{NoSurveys, SurveyHandle, SurveyPlan, SurveyService};
use crate::auth::NonceKey;
use crate::call::board::Board;
use crate::call::CallContext;
use crate::clock::{Clock, SystemClock};
use crate::config::LoadedConfig;
use crate::handoff::service::HandoffService;
use crate::handoff::HandoffHandle;
use crate::media::encoded::EncodedPrompts;
use crate::media::{MediaError, RtpPortPool};
use crate::metrics::MetricsError;
use crate::queue::{Acd, SeatId};
use crate::queue::{AcdHandle, AcdService};
use crate::recording::RecordingService;
use crate::registrar::Registrar;
use crate::sip::flow::LocalAddrs;
use crate::sip::transport::{run_tcp, run_udp, SipSender};
use crate::store::{Record, SqliteStore, StoreError, StoreWriter, WriterHandle};

/// Messages waiting for the core; beyond this the transports drop (a flood costs retransmits,
/// not memory).
const INBOUND_QUEUE: usize = 4096;
const COMMAND_QUEUE: usize = 4096;
/// A seat that sends nothing at all, not even 100 Trying, for this long counts as unreachable.
const SEAT_NO_RESPONSE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("queues: {0}")]
    Queues(String),
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingStartError),
}

/// Copies the state of the RTP pool and the store writer into the metrics once a second.
/// How often the daemon writes its sign of life, the end time of calls a crash leaves open.
const ALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// Writes the daemon's sign of life every `ALIVE_INTERVAL` until `stop`.
async fn keep_alive(writer: WriterHandle, clock: Arc<dyn Clock>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(ALIVE_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = writer.submit(Record::Alive(clock.now())).await {
            tracing::warn!(%error, "sign of life not queued");
        }
    }
}

async fn publish_gauges(rtp: RtpPortPool, writer: WriterHandle, stop: CancellationToken) {
    use crate::metrics::names;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        metrics::gauge!(names::RTP_PORTS_IN_USE).set(rtp.in_use() as f64);
        metrics::gauge!(names::STORE_QUEUE_DEPTH).set(writer.queued() as f64);
        let stats = writer.stats();
        metrics::counter!(names::STORE_RECORDS_WRITTEN_TOTAL).absolute(stats.records());
        metrics::counter!(names::STORE_COMMITS_TOTAL).absolute(stats.commits());
        metrics::counter!(names::STORE_RECORDS_LOST_TOTAL).absolute(stats.records_lost());
        metrics::counter!(names::STORE_WRITE_ERRORS_TOTAL).absolute(stats.write_errors());
    }
}

/// How long stopping waits for survey calls under way to report.
const SURVEY_DRAIN: Duration = Duration::from_secs(10);

/// A running daemon. Tests start several in one process; `main` starts one.
pub struct Daemon {
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    pub metrics: SocketAddr,
    /// The HTTP API, when `[api]` is configured.
    pub api: Option<SocketAddr>,
    surveys: Option<(SurveyHandle, JoinHandle<()>)>,
    drain: CancellationToken,
    transports: CancellationToken,
    core: JoinHandle<()>,
    acd: AcdHandle,
    services_stop: CancellationToken,
    acd_task: JoinHandle<()>,
    handoffs: HandoffHandle,
    handoff_task: JoinHandle<()>,
    /// The recording service, when `[recording]` is on.
    recording_task: Option<JoinHandle<()>>,
    writer_task: JoinHandle<()>,
    others: Vec<JoinHandle<()>>,
    snapshots: mpsc::Sender<oneshot::Sender<CoreSnapshot>>,
    board: Board,
    rtp: RtpPortPool,
    store: SqliteStore,
    writer: WriterHandle,
}

impl Daemon {
    pub async fn start(config: LoadedConfig) -> Result<Daemon, StartError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(
        config: LoadedConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, StartError> {
        let settings = Arc::new(config.settings);
        let bind = |what: &'static str, addr: SocketAddr| {
            move |source| StartError::Bind { what, addr, source }
        };
        let udp = UdpSocket::bind(settings.sip.udp)
            .await
            .map_err(bind("SIP/UDP", settings.sip.udp))?;
        let tcp = TcpListener::bind(settings.sip.tcp)
            .await
            .map_err(bind("SIP/TCP", settings.sip.tcp))?;
        let metrics_listener = TcpListener::bind(settings.metrics.listen)
            .await
            .map_err(bind("metrics", settings.metrics.listen))?;
        let local = LocalAddrs {
            udp: udp
                .local_addr()
                .map_err(bind("SIP/UDP", settings.sip.udp))?,
            tcp: tcp
                .local_addr()
                .map_err(bind("SIP/TCP", settings.sip.tcp))?,
        };
        let metrics_addr = metrics_listener
            .local_addr()
            .map_err(bind("metrics", settings.metrics.listen))?;
        // The token is read (and the API's socket bound) before anything starts, so a bad
        // token file stops the start-up.
        let api_listener = match &settings.api {
            Some(api) => {
                let token = api.token()?;
                let listener = TcpListener::bind(api.listen)
                    .await
                    .map_err(bind("API", api.listen))?;
                let addr = listener.local_addr().map_err(bind("API", api.listen))?;
                Some((listener, token, addr))
            }
            None => None,
        };
        let metrics_handle = crate::metrics::install()?;

        if let Some(parent) = settings
            .store
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Open {
                path: settings.store.path.clone(),
                source: sqlx::Error::Io(source),
            })?;
        }
        let store = SqliteStore::open(&settings.store.path).await?;
        let interrupted = store.close_interrupted().await?;
        if interrupted > 0 {
            tracing::warn!(
                calls = interrupted,
                "calls left open by the last run were closed as interrupted"
            );
        }
        let interrupted = store.close_interrupted_handoffs().await?;
        if interrupted > 0 {
            tracing::warn!(
                handoffs = interrupted,
                "hand-offs left open by the last run were closed as interrupted"
            );
        }
        let (writer, writer_task) = StoreWriter::spawn(
            store.clone(),
            settings.store.queue_capacity,
            settings.store.batch_max,
        );
        let rtp = RtpPortPool::new(
            settings.rtp.bind,
            settings.rtp.port_min,
            settings.rtp.port_max,
        )?;

        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (snapshot_tx, snapshot_rx) = mpsc::channel(16);
        let board = Board::default();
        let seats: Vec<SeatId> = settings
            .seats
            .iter()
            .map(|s| SeatId::from(s.user.as_str()))
            .collect();
        let acd = Acd::new(&settings.queues, &seats, tokio::time::Instant::now())
            .map_err(|e| StartError::Queues(e.to_string()))?;
        let services_stop = CancellationToken::new();
        let (acd, acd_task) = AcdService::start(
            acd,
            seats,
            settings.queues.iter().map(|q| q.name.clone()).collect(),
            writer.clone(),
            clock.clone(),
            services_stop.clone(),
        );
        let acd_handle = acd.clone();
        let (handoffs, handoff_task) = HandoffService::start(
            settings.handoffs.clone(),
            settings.contact_failures,
            writer.clone(),
            clock.clone(),
            services_stop.clone(),
        );
        let (recordings, recording_task) = match settings.recording.clone() {
            Some(recording) => {
                let (handle, task) = RecordingService::start(
                    recording,
                    settings.time.utc_offset_hours,
                    store.clone(),
                    writer.clone(),
                    clock.clone(),
                    services_stop.clone(),
                )
                .await?;
                (Some(handle), Some(task))
            }
            None => (None, None),
        };
        let prompts = Arc::new(EncodedPrompts::new(&config.prompts));
        let dialplan = Arc::new(config.dialplan);
        let ctx = Arc::new(CallContext {
            core: command_tx,
            local,
            realm: settings.sip.realm.clone(),
            user_agent: settings.sip.user_agent.clone(),
            rtp: rtp.clone(),
            media_addr: settings.rtp.advertise.unwrap_or(settings.rtp.bind),
            writer: writer.clone(),
            clock: clock.clone(),
            board: board.clone(),
            no_response: SEAT_NO_RESPONSE,
            acd,
            handoffs: handoffs.clone(),
            prompts,
            ratings: settings.ratings.rules(),
            in_call: settings.in_call_codes(),
            dialer: crate::call::dial::Dialer::new(dialplan.clone(), &settings),
            recordings,
        });
        let registrar = Registrar::new(
            settings.sip.realm.clone(),
            &settings.seats,
            settings.sip.min_expires_secs,
            settings.sip.max_expires_secs,
            settings.sip.digest_algorithms.clone(),
            NonceKey::random(),
        );
        let udp = Arc::new(udp);
        let sender = SipSender::new(udp.clone());
        let drain = CancellationToken::new();
        let transports = CancellationToken::new();
        let surveys = SurveyPlan::from_settings(&settings)
            .map(|plan| SurveyService::start(plan, ctx.clone(), store.clone(), drain.clone()));
        let ledger_units: Vec<crate::ledger::LedgerUnit> =
            dialplan.units().iter().map(Into::into).collect();
        let calls = ctx.clone();
        let mut core = Core::new(ctx, settings.clone(), dialplan, registrar, sender.clone());
        // Started again during a day: that day's lines so far are in the records.
        let today =
            crate::calendar::to_local(clock.now(), settings.time.utc_offset_hours * 3600).date;
        let (trunk_days, _) =
            history::lines_of_day(&store, today, settings.time.utc_offset_hours).await?;
        core.resume_lines(today, trunk_days);

        let core = tokio::spawn(core.run(
            CoreChannels {
                inbound: inbound_rx,
                commands: command_rx,
                snapshots: snapshot_rx,
            },
            drain.clone(),
        ));
        let mut others = vec![
            tokio::spawn(run_udp(udp, inbound_tx.clone(), transports.clone())),
            tokio::spawn(run_tcp(tcp, sender, inbound_tx, transports.clone())),
        ];
        let metrics_stop = transports.clone();
        others.push(tokio::spawn(async move {
            let stopped = async move { metrics_stop.cancelled().await };
            if let Err(error) =
                crate::metrics::serve(metrics_listener, metrics_handle, stopped).await
            {
                tracing::error!(%error, "metrics endpoint failed");
            }
        }));
        let api_addr = api_listener.as_ref().map(|(_, _, addr)| *addr);
        if let Some((listener, token, _)) = api_listener {
            let service: Arc<dyn crate::api::Surveys> = match &surveys {
                Some((handle, _)) => Arc::new(handle.clone()),
                None => Arc::new(NoSurveys),
            };
            let live = Arc::new(live::LiveState {
                board: board.clone(),
                acd: acd_handle.clone(),
                handoffs: handoffs.clone(),
                settings: settings.handoffs.clone(),
                clock: clock.clone(),
                store: store.clone(),
                core: snapshot_tx.clone(),
                utc_offset_hours: settings.time.utc_offset_hours,
                stop: transports.clone(),
                seats: settings
                    .seats
                    .iter()
                    .map(|s| (s.user.clone(), s.supervisor))
                    .collect(),
                calls: calls.clone(),
            });
            let history = Arc::new(history::HistoryState {
                store_path: settings.store.path.clone(),
                store: store.clone(),
                units: ledger_units,
                categories: settings
                    .handoffs
                    .categories
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
                rule: settings.contact_failures,
                utc_offset_hours: settings.time.utc_offset_hours,
                trunks: settings
                    .trunks
                    .iter()
                    .map(|t| (t.name.clone(), t.lines))
                    .collect(),
            });
            let router =
                crate::api::router(crate::api::ApiState::new(&token, service, live, history));
            let api_stop = transports.clone();
            others.push(tokio::spawn(async move {
                let stopped = async move { api_stop.cancelled().await };
                if let Err(error) = crate::api::serve(listener, router, stopped).await {
                    tracing::error!(%error, "API failed");
                }
            }));
        }
        let membership = settings
            .queues
            .iter()
            .map(|q| {
                let members = match &q.seats {
                    crate::queue::Members::All => None,
                    crate::queue::Members::List(list) => Some(list.clone()),
                };
                (q.name.clone(), members)
            })
            .collect();
        others.push(tokio::spawn(crate::queue::gauges::run(
            acd_handle.clone(),
            membership,
            transports.clone(),
        )));
        others.push(tokio::spawn(crate::store::checkpoint::run(
            store.clone(),
            transports.clone(),
        )));
        others.push(tokio::spawn(keep_alive(
            writer.clone(),
            clock.clone(),
            transports.clone(),
        )));
        others.push(tokio::spawn(heap::run(
            snapshot_tx.clone(),
            transports.clone(),
        )));
        others.push(tokio::spawn(publish_gauges(
            rtp.clone(),
            writer.clone(),
            transports.clone(),
        )));
        info!(sip_udp = %local.udp, sip_tcp = %local.tcp, metrics = %metrics_addr, api = ?api_addr, "hotline started");
        Ok(Daemon {
            sip_udp: local.udp,
            sip_tcp: local.tcp,
            metrics: metrics_addr,
            api: api_addr,
            surveys,
            drain,
            transports,
            core,
            acd: acd_handle,
            services_stop,
            acd_task,
            handoffs,
            handoff_task,
            recording_task,
            writer_task,
            others,
            snapshots: snapshot_tx,
            board,
            rtp,
            store,
            writer,
        })
    }

    /// The core's own counts: calls, dialogs, transactions, registrations.
    pub async fn snapshot(&self) -> CoreSnapshot {
        let (tx, rx) = oneshot::channel();
        if self.snapshots.send(tx).await.is_err() {
            return CoreSnapshot::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Calls in progress with their media counters.
    /// The ACD's handle: its live updates and snapshots.
    pub fn acd(&self) -> &AcdHandle {
        &self.acd
    }

    /// The hand-off service's handle: open hand-offs and their changes.
    pub fn handoffs(&self) -> &HandoffHandle {
        &self.handoffs
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    pub fn rtp_ports_in_use(&self) -> usize {
        self.rtp.in_use()
    }

    pub fn store(&self) -> &SqliteStore {
        &self.store
    }

    /// Moves the survey scheduler's clock forward (retries fall due at once). For tests; the
    /// rest of the daemon keeps real time. Does nothing without a survey.
    pub async fn advance_survey_clock(&self, by: Duration) {
        if let Some((handle, _)) = &self.surveys {
            handle.advance(by).await;
        }
    }

    /// Waits until every record submitted so far is committed.
    pub async fn flush_records(&self) -> Result<(), StoreError> {
        self.writer.flush().await
    }

    /// Ends every call (BYE or a final response), stops the transports and returns once every
    /// record is committed.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        self.drain.cancel();
        let _ = self.core.await;
        if let Some((handle, task)) = self.surveys {
            drop(handle);
            // The core has ended every call, so the attempts under way report at once.
            if tokio::time::timeout(SURVEY_DRAIN, task).await.is_err() {
                tracing::warn!("survey service did not stop in time");
            }
        }
        self.services_stop.cancel();
        let _ = self.acd_task.await;
        let _ = self.handoff_task.await;
        if let Some(task) = self.recording_task {
            let _ = task.await;
        }
        self.transports.cancel();
        for task in self.others {
            let _ = task.await;
        }
        let flushed = self.writer.flush().await;
        drop(self.writer);
        let _ = self.writer_task.await;
        self.store.close().await;
        info!("hotline stopped");
        flushed
    }
}
