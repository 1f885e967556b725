//! An in-memory store for tests: it keeps what it is given, fails on demand, and answers the
//! store's queries from what it kept. It runs on the test's runtime, so a paused clock stays
//! in step with it (SQLite works on threads of its own).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{
    CallRecord, CallbackRequest, ContactAttempt, ContactFailure, FailureVoid, OpenCall,
    RatingRecord, Record, RecordingRecord, SeatEvent, Store, StoreError, SurveyAttempt,
    SurveyRecord,
};

/// An in-memory store that fails on demand, for the paths SQLite will not take on cue.
#[derive(Clone, Default)]
pub struct FakeStore {
    inner: Arc<Mutex<Fake>>,
}

#[derive(Default)]
struct Fake {
    kept: Vec<Record>,
    /// Fail this many writes with a transient error.
    fail_next: u32,
    /// Refuse, as a bad record, any batch holding this id.
    refuse_id: Option<String>,
}

impl FakeStore {
    pub fn failing(fail_next: u32) -> Self {
        let store = FakeStore::default();
        store.inner.lock().unwrap().fail_next = fail_next;
        store
    }

    pub fn refusing(id: &str) -> Self {
        let store = FakeStore::default();
        store.inner.lock().unwrap().refuse_id = Some(id.into());
        store
    }

    /// Every kept record that `pick` picks, in the order kept.
    pub fn picked<T>(&self, pick: impl Fn(&Record) -> Option<T>) -> Vec<T> {
        let fake = self.inner.lock().unwrap();
        fake.kept.iter().filter_map(pick).collect()
    }

    pub fn kept_ids(&self) -> Vec<String> {
        let fake = self.inner.lock().unwrap();
        fake.kept.iter().map(|r| r.id().to_owned()).collect()
    }

    /// Every recording as it stands (its last record, marked by the first deletion after it)
    /// that `pick` picks, ordered by start time, then id; gaps in time order.
    fn recordings(&self, pick: impl Fn(&RecordingRecord) -> bool) -> Vec<RecordingRecord> {
        let fake = self.inner.lock().unwrap();
        let mut latest: Vec<RecordingRecord> = Vec::new();
        for record in &fake.kept {
            match record {
                Record::Recording(r) => {
                    latest.retain(|old| old.id != r.id);
                    let mut r = r.clone();
                    r.gaps.sort_by_key(|g| g.from);
                    latest.push(r);
                }
                Record::RecordingDeleted { id, at } => {
                    if let Some(r) = latest.iter_mut().find(|r| r.id == *id) {
                        r.deleted_at.get_or_insert(*at);
                    }
                }
                _ => {}
            }
        }
        latest.retain(pick);
        latest.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        latest
    }
}

impl Store for FakeStore {
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        let mut fake = self.inner.lock().unwrap();
        if fake.fail_next > 0 {
            fake.fail_next -= 1;
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        }
        if let Some(bad) = records
            .iter()
            .find(|r| Some(r.id()) == fake.refuse_id.as_deref())
        {
            return Err(StoreError::TimeOutOfRange {
                kind: bad.kind(),
                id: bad.id().to_owned(),
                field: "offered_at",
            });
        }
        fake.kept.extend_from_slice(records);
        Ok(())
    }

    async fn calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        let fake = self.inner.lock().unwrap();
        Ok(fake
            .kept
            .iter()
            .filter_map(|r| match r {
                Record::Call(c) => Some(c.clone()),
                _ => None,
            })
            .collect())
    }

    async fn open_calls(&self) -> Result<Vec<OpenCall>, StoreError> {
        let fake = self.inner.lock().unwrap();
        let ended: Vec<&str> = fake
            .kept
            .iter()
            .filter_map(|r| match r {
                Record::Call(c) => Some(c.id.as_str()),
                _ => None,
            })
            .collect();
        let mut open: Vec<OpenCall> = Vec::new();
        for record in &fake.kept {
            if let Record::OpenCall(c) = record {
                open.retain(|o| o.id != c.id);
                if !ended.contains(&c.id.as_str()) {
                    open.push(c.clone());
                }
            }
        }
        Ok(open)
    }

    /// Ends every open call where it began (the fake keeps no sign of life).
    async fn close_interrupted(&self) -> Result<u64, StoreError> {
        let open = self.open_calls().await?;
        let mut fake = self.inner.lock().unwrap();
        let closed = open.len() as u64;
        for c in open {
            let at = c.offered_at;
            let record = c.ended(
                at,
                crate::store::Disposition::Interrupted,
                None,
                Some("daemon".into()),
            );
            fake.kept.push(Record::Call(record));
        }
        Ok(closed)
    }

    async fn seat_events(&self) -> Result<Vec<SeatEvent>, StoreError> {
        let fake = self.inner.lock().unwrap();
        Ok(fake
            .kept
            .iter()
            .filter_map(|r| match r {
                Record::SeatEvent(e) => Some(e.clone()),
                _ => None,
            })
            .collect())
    }

    async fn callbacks(&self) -> Result<Vec<CallbackRequest>, StoreError> {
        let fake = self.inner.lock().unwrap();
        Ok(fake
            .kept
            .iter()
            .filter_map(|r| match r {
                Record::Callback(c) => Some(c.clone()),
                _ => None,
            })
            .collect())
    }

    async fn ratings(&self) -> Result<Vec<RatingRecord>, StoreError> {
        let fake = self.inner.lock().unwrap();
        Ok(fake
            .kept
            .iter()
            .filter_map(|r| match r {
                Record::Rating(r) => Some(r.clone()),
                _ => None,
            })
            .collect())
    }

    async fn calls_in(
        &self,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let all = self.calls().await?;
        Ok(all
            .into_iter()
            .filter(|c| from <= c.offered_at && c.offered_at < to)
            .collect())
    }

    async fn callbacks_in(
        &self,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        let all = self.callbacks().await?;
        Ok(all
            .into_iter()
            .filter(|c| from <= c.requested_at && c.requested_at < to)
            .collect())
    }

    async fn ratings_in(
        &self,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
    ) -> Result<Vec<RatingRecord>, StoreError> {
        let all = self.ratings().await?;
        Ok(all
            .into_iter()
            .filter(|r| from <= r.at && r.at < to)
            .collect())
    }

    async fn call_by_sip_call_id(&self, id: &str) -> Result<Option<CallRecord>, StoreError> {
        Ok(self
            .calls()
            .await?
            .into_iter()
            .rfind(|c| c.sip_call_id == id))
    }

    async fn surveys(&self) -> Result<Vec<SurveyRecord>, StoreError> {
        let fake = self.inner.lock().unwrap();
        let mut latest: Vec<SurveyRecord> = Vec::new();
        for r in &fake.kept {
            if let Record::Survey(s) = r {
                latest.retain(|old| old.id != s.id);
                latest.push(s.clone());
            }
        }
        Ok(latest)
    }

    async fn surveys_in_state(
        &self,
        status: crate::store::SurveyState,
    ) -> Result<Vec<SurveyRecord>, StoreError> {
        let all = self.surveys().await?;
        Ok(all.into_iter().filter(|s| s.status == status).collect())
    }

    async fn survey(&self, id: &str) -> Result<Option<SurveyRecord>, StoreError> {
        Ok(self.surveys().await?.into_iter().find(|s| s.id == id))
    }

    async fn survey_attempts(&self, id: &str) -> Result<Vec<SurveyAttempt>, StoreError> {
        let fake = self.inner.lock().unwrap();
        Ok(fake
            .kept
            .iter()
            .filter_map(|r| match r {
                Record::SurveyAttempt(a) if a.survey_id == id => Some(a.clone()),
                _ => None,
            })
            .collect())
    }

    async fn contact_attempts_of(&self, id: &str) -> Result<Vec<ContactAttempt>, StoreError> {
        Ok(self.picked(|r| match r {
            Record::ContactAttempt(a) if a.handoff_id.as_deref() == Some(id) => Some(a.clone()),
            _ => None,
        }))
    }

    async fn contact_attempts_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<ContactAttempt>, StoreError> {
        Ok(self.picked(|r| match r {
            Record::ContactAttempt(a) if (from..to).contains(&a.started_at) => Some(a.clone()),
            _ => None,
        }))
    }

    async fn contact_failures_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<ContactFailure>, StoreError> {
        Ok(self.picked(|r| match r {
            Record::ContactFailure(f) if (from..to).contains(&f.at) => Some(f.clone()),
            _ => None,
        }))
    }

    async fn contact_failure(&self, id: &str) -> Result<Option<ContactFailure>, StoreError> {
        let found = self.picked(|r| match r {
            Record::ContactFailure(f) if f.id == id => Some(f.clone()),
            _ => None,
        });
        Ok(found.into_iter().next())
    }

    async fn failure_voids(&self) -> Result<Vec<FailureVoid>, StoreError> {
        Ok(self.picked(|r| match r {
            Record::FailureVoid(v) => Some(v.clone()),
            _ => None,
        }))
    }

    async fn failure_void(&self, id: &str) -> Result<Option<FailureVoid>, StoreError> {
        let all = self.failure_voids().await?;
        Ok(all.into_iter().find(|v| v.failure_id == id))
    }

    async fn recordings_of(&self, call_id: &str) -> Result<Vec<RecordingRecord>, StoreError> {
        Ok(self.recordings(|r| r.call_id == call_id))
    }

    async fn open_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        Ok(self.recordings(|r| r.ended_at.is_none()))
    }

    async fn recordings_ended_before(
        &self,
        t: SystemTime,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let mut ended = self.recordings(|r| {
            r.deleted_at.is_none() && r.ended_at.is_some_and(|ended_at| ended_at < t)
        });
        ended.sort_by(|a, b| (a.ended_at, &a.id).cmp(&(b.ended_at, &b.id)));
        Ok(ended)
    }
}

mod tests {
    use super::FakeStore;
    use crate::store::battery::{recordings_battery, Backend};

    /// The fake as a backend of the battery's cases it keeps to: a reopened store is the same
    /// memory.
    struct FakeBackend(FakeStore);

    impl Backend for FakeBackend {
        type S = FakeStore;

        async fn create() -> Self {
            FakeBackend(FakeStore::default())
        }

        async fn open(&self) -> FakeStore {
            self.0.clone()
        }
    }

    recordings_battery!(FakeBackend);
}
