//! Keeping a caller's rating: the record is written and committed before the call goes on, so
//! "thank you" is only ever said for a rating the store holds.

use tracing::{info, warn};

use super::io::CallIo;
use crate::ratings::{RatingKind, RatingOutcome};
use crate::sip::ids;
use crate::store::{RatingRecord, Record};

/// Writes the keypad rating of call `call_id` (the seat that served, the unit it was
/// transferred to) and waits for the commit. False when the store could not keep it.
pub async fn commit(
    io: &CallIo,
    call_id: &str,
    seat: Option<String>,
    unit: Option<String>,
    outcome: RatingOutcome,
) -> bool {
    commit_kind(io, call_id, RatingKind::Keypad, seat, unit, outcome).await
}

/// As `commit`, for any kind of rating (a return-visit question, say).
pub async fn commit_kind(
    io: &CallIo,
    call_id: &str,
    kind: RatingKind,
    seat: Option<String>,
    unit: Option<String>,
    outcome: RatingOutcome,
) -> bool {
    let record = RatingRecord {
        id: format!("rating-{}", ids::tag()),
        call_id: call_id.to_string(),
        kind,
        at: io.ctx.clock.now(),
        seat,
        unit,
        outcome,
    };
    let value = match outcome {
        RatingOutcome::Rated(rating) => rating.as_str(),
        RatingOutcome::NotRated(_) => "not_rated",
    };
    metrics::counter!(crate::metrics::names::RATINGS_TOTAL, "value" => value).increment(1);
    info!(?kind, ?outcome, "rating");
    let writer = &io.ctx.writer;
    let kept = match writer.submit(Record::Rating(record)).await {
        Ok(()) => writer.flush().await,
        Err(error) => Err(error),
    };
    if let Err(error) = &kept {
        warn!(%error, "rating not kept");
    }
    kept.is_ok()
}
