//! Live state as events. A service publishes what changed on its bus; the metrics, the board
//! and the coming wallboard subscribe. Publishing never waits: a subscriber that falls behind
//! loses the oldest events, is told how many (and they are counted in
//! `hotline_bus_lagged_total{bus}`), and takes a fresh snapshot from the service's handle. So a
//! bus carries views, never control messages and never records: those go through channels that
//! push back, and through the store.

use tokio::sync::broadcast;

use crate::metrics::{labels, names};

/// One service's events; clones publish to the same subscribers.
#[derive(Debug, Clone)]
pub struct Bus<T> {
    name: &'static str,
    tx: broadcast::Sender<T>,
}

/// What a subscriber receives next.
#[derive(Debug, PartialEq, Eq)]
pub enum Update<T> {
    Event(T),
    /// This many events were lost to a subscriber that fell behind: take a snapshot.
    Lagged(u64),
}

/// A subscriber's end of a bus.
#[derive(Debug)]
pub struct Subscription<T> {
    name: &'static str,
    rx: broadcast::Receiver<T>,
}

impl<T: Clone> Bus<T> {
    /// `name` labels the lag metric; `capacity` events wait for the slowest subscriber.
    pub fn new(name: &'static str, capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { name, tx }
    }

    /// Sends `event` to every subscriber there is now; with none, it goes nowhere.
    pub fn publish(&self, event: T) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> Subscription<T> {
        Subscription {
            name: self.name,
            rx: self.tx.subscribe(),
        }
    }
}

impl<T: Clone> Subscription<T> {
    /// The next update; None once every publisher is gone.
    pub async fn recv(&mut self) -> Option<Update<T>> {
        match self.rx.recv().await {
            Ok(event) => Some(Update::Event(event)),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                metrics::counter!(names::BUS_LAGGED_TOTAL, labels::BUS => self.name).increment(n);
                Some(Update::Lagged(n))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_every_event_in_order() {
        let bus = Bus::new("test", 8);
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.publish(1);
        bus.publish(2);
        for s in [&mut a, &mut b] {
            assert_eq!(s.recv().await, Some(Update::Event(1)));
            assert_eq!(s.recv().await, Some(Update::Event(2)));
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_how_much_it_lost() {
        let bus = Bus::new("test", 2);
        let mut slow = bus.subscribe();
        for n in 0..5 {
            bus.publish(n);
        }
        assert_eq!(slow.recv().await, Some(Update::Lagged(3)));
        assert_eq!(slow.recv().await, Some(Update::Event(3)));
        assert_eq!(slow.recv().await, Some(Update::Event(4)));
        drop(bus);
        assert_eq!(slow.recv().await, None);
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine() {
        let bus = Bus::new("test", 1);
        bus.publish("nobody listens");
        let mut late = bus.subscribe();
        bus.publish("heard");
        assert_eq!(late.recv().await, Some(Update::Event("heard")));
    }
}
