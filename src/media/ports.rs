//! The pool of RTP ports. RTP goes on even ports (RFC 3550 §11 keeps the odd
//! neighbour for RTCP); ports are handed out round-robin so a port just
//! released is not immediately reused, which keeps late packets of a
//! finished call away from the next one.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::UdpSocket;

use super::MediaError;

#[derive(Debug, Clone)]
pub struct RtpPortPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bind: IpAddr,
    /// First even port of the range.
    first: u16,
    /// As configured, for error messages.
    min: u16,
    max: u16,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// One slot per even port, `true` while leased.
    leased: Vec<bool>,
    in_use: usize,
    /// Slot where the next search starts.
    cursor: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the slots inconsistent
        // (every update is a single assignment pair), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn port(&self, slot: usize) -> u16 {
        // Slots are only created for ports inside the u16 range.
        self.first + (slot as u16) * 2
    }
}

impl RtpPortPool {
    /// A pool over the even ports of `port_min..=port_max` on `bind`.
    pub fn new(bind: IpAddr, port_min: u16, port_max: u16) -> Result<Self, MediaError> {
        let invalid = || MediaError::InvalidPortRange {
            min: port_min,
            max: port_max,
        };
        // Port 0 would mean "any port", which defeats the configured range.
        let lowest = port_min.max(1);
        let first = lowest.checked_add(lowest % 2).ok_or_else(invalid)?;
        if first > port_max {
            return Err(invalid());
        }
        let slots = usize::from((port_max - first) / 2) + 1;
        Ok(Self {
            inner: Arc::new(Inner {
                bind,
                first,
                min: port_min,
                max: port_max,
                state: Mutex::new(State {
                    leased: vec![false; slots],
                    in_use: 0,
                    cursor: 0,
                }),
            }),
        })
    }

    /// Binds the next free even port. Ports held by other processes are
    /// skipped; any other bind failure (bad address, permissions) is
    /// returned at once since every port would fail the same way.
    pub async fn allocate(&self) -> Result<RtpSocket, MediaError> {
        let inner = &self.inner;
        let mut state = inner.lock();
        let slots = state.leased.len();
        for step in 0..slots {
            let slot = (state.cursor + step) % slots;
            if state.leased[slot] {
                continue;
            }
            let port = inner.port(slot);
            match bind(SocketAddr::new(inner.bind, port)) {
                Ok(socket) => {
                    state.leased[slot] = true;
                    state.in_use += 1;
                    state.cursor = (slot + 1) % slots;
                    return Ok(RtpSocket {
                        socket,
                        lease: Lease {
                            pool: Arc::clone(inner),
                            slot,
                        },
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(source) => return Err(MediaError::Bind { port, source }),
            }
        }
        Err(MediaError::PortsExhausted {
            min: inner.min,
            max: inner.max,
        })
    }

    pub fn in_use(&self) -> usize {
        self.inner.lock().in_use
    }
}

/// Binding is a single non-blocking syscall, so it is done under the pool
/// lock: no other task can race us for the slot.
fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// A bound RTP socket leased from the pool; dropping it frees the port.
#[derive(Debug)]
pub struct RtpSocket {
    // Declared before `lease` so the OS socket is closed before the slot is
    // marked free and another call tries to bind it.
    socket: UdpSocket,
    lease: Lease,
}

impl RtpSocket {
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::new(self.lease.pool.bind, self.lease.pool.port(self.lease.slot))
    }

    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }
}

#[derive(Debug)]
struct Lease {
    pool: Arc<Inner>,
    slot: usize,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        if std::mem::replace(&mut state.leased[self.slot], false) {
            state.in_use -= 1;
        }
    }
}

/// A range of `len` ports (starting even) that nobody holds right now,
/// found by asking the OS for an ephemeral port and checking its neighbours.
/// Tests in parallel may still overlap; the pool's skipping copes with that.
#[cfg(test)]
pub(crate) fn test_port_range(len: u16) -> (u16, u16) {
    let localhost = std::net::Ipv4Addr::LOCALHOST;
    loop {
        let probe = std::net::UdpSocket::bind((localhost, 0)).expect("bind probe");
        let start = probe.local_addr().expect("probe addr").port() & !1;
        drop(probe);
        let Some(end) = start.checked_add(len - 1) else {
            continue;
        };
        if (start..=end).all(|p| std::net::UdpSocket::bind((localhost, p)).is_ok()) {
            return (start, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn allocates_even_ports_and_frees_on_drop() {
        let (min, max) = test_port_range(8);
        let pool = RtpPortPool::new(LOCALHOST, min, max).unwrap();
        let a = pool.allocate().await.unwrap();
        let b = pool.allocate().await.unwrap();
        assert_eq!(pool.in_use(), 2);
        for s in [&a, &b] {
            let port = s.local_addr().port();
            assert_eq!(port % 2, 0);
            assert!((min..=max).contains(&port));
            assert_eq!(s.socket().local_addr().unwrap(), s.local_addr());
        }
        assert_ne!(a.local_addr(), b.local_addr());
        drop(a);
        assert_eq!(pool.in_use(), 1);
        drop(b);
        assert_eq!(pool.in_use(), 0);
    }

    #[tokio::test]
    async fn odd_bounds_round_to_even_ports() {
        let (min, max) = test_port_range(6);
        let pool = RtpPortPool::new(LOCALHOST, min + 1, max).unwrap();
        let s = pool.allocate().await.unwrap();
        assert_eq!(s.local_addr().port(), min + 2);
    }

    #[tokio::test]
    async fn exhaustion_is_an_error_and_ports_come_back() {
        let (min, max) = test_port_range(4);
        let pool = RtpPortPool::new(LOCALHOST, min, max).unwrap();
        let first = pool.allocate().await.unwrap();
        let second = pool.allocate().await.unwrap();
        assert!(matches!(
            pool.allocate().await,
            Err(MediaError::PortsExhausted { .. })
        ));
        let freed = first.local_addr().port();
        drop(first);
        let again = pool.allocate().await.unwrap();
        assert_eq!(
            again.local_addr().port(),
            freed,
            "wraps around to the freed port"
        );
        drop((second, again));
        assert_eq!(pool.in_use(), 0);
    }

    #[tokio::test]
    async fn skips_ports_held_elsewhere() {
        let (min, max) = test_port_range(4);
        let squatter = std::net::UdpSocket::bind((LOCALHOST, min)).unwrap();
        let pool = RtpPortPool::new(LOCALHOST, min, max).unwrap();
        let s = pool.allocate().await.unwrap();
        assert_eq!(s.local_addr().port(), min + 2);
        assert!(matches!(
            pool.allocate().await,
            Err(MediaError::PortsExhausted { .. })
        ));
        drop(squatter);
    }

    #[test]
    fn rejects_ranges_without_even_ports() {
        for (min, max) in [(5001, 5001), (6000, 5000), (0, 0), (u16::MAX, u16::MAX)] {
            assert!(
                matches!(
                    RtpPortPool::new(LOCALHOST, min, max),
                    Err(MediaError::InvalidPortRange { .. })
                ),
                "{min}-{max}"
            );
        }
    }
}
