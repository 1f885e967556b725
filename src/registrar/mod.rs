//! The registrar (RFC 3261 §10.3): authenticates seats' REGISTERs and keeps their bindings.
//!
//! A pure state machine: the driver passes in the request, where it came from and the time,
//! and sends the response it gets back. Expiry happens on the driver's `purge` timer; reads
//! ignore expired bindings so a late purge never routes a call to a stale phone.

mod contacts;
mod error;
mod seats;
mod table;
#[cfg(test)]
mod tests;

use tokio::time::Instant;

use crate::auth::{authenticate, challenge, parse_credentials, Algorithm, NonceKey, Verdict};
use crate::config::settings::SeatSettings;
use crate::sip::build;
use crate::sip::flow::Flow;
use crate::sip::headers::NameAddr;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::uri::SipUri;
use crate::sip::validate::Essentials;

use contacts::Update;
pub use error::RegisterError;
use seats::Seats;
pub use table::MAX_CONTACTS_PER_SEAT;
use table::{Origin, Table};

/// How long a nonce we minted stays usable before the phone is asked again with stale=true.
pub const NONCE_MAX_AGE_SECS: u64 = 300;

/// Peer-supplied names placed in events are cut to this many characters for the log.
const CLAIMED_USER_MAX_CHARS: usize = 64;

/// One place a seat can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub user: String,
    /// The Contact URI as the phone wrote it.
    pub contact: String,
    /// Where the REGISTER came from. Requests to the seat go there, not to the Contact host,
    /// which behind NAT is a private address.
    pub flow: Flow,
    pub expires_at: Instant,
    pub call_id: String,
    pub cseq: u32,
}

/// Whether a digest's `uri` names the server the request went to. Phones use the Request-URI
/// itself; some (SIPp) use just the server's address. Either way the digest covers the method and
/// our nonce, so it cannot be replayed on another server or for another kind of request.
fn same_server(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (SipUri::parse(digest_uri), SipUri::parse(request_uri)) {
        (Ok(d), Ok(r)) => d.host.eq_ignore_ascii_case(&r.host) && d.port == r.port,
        _ => false,
    }
}

/// What `authenticate_seat` decided.
#[derive(Debug)]
pub enum SeatAuth {
    Seat(String),
    /// Send this 407 and wait for the retry.
    Challenge(Response),
    Rejected {
        claimed: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub response: Response,
    pub event: RegisterEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterEvent {
    /// 401 sent: no usable credentials yet, or a stale nonce.
    Challenged,
    /// `contacts` is how many live bindings the seat has now.
    Registered { user: String, contacts: usize },
    /// The seat has no binding left.
    Unregistered { user: String },
    /// No Contact: the phone asked for its bindings.
    Fetched { user: String },
    /// 403 for bad credentials, an unknown user or a user registering someone else's
    /// address. `user_claimed` is from the request (clipped), for the security log only.
    AuthFailed { user_claimed: String },
    /// Authenticated, but the request cannot be honoured.
    Refused { reason: &'static str },
}

#[derive(Debug)]
pub struct Registrar {
    realm: String,
    seats: Seats,
    min_expires: u32,
    max_expires: u32,
    /// Challenges offered, most preferred first.
    algorithms: Vec<Algorithm>,
    key: NonceKey,
    table: Table,
}

impl Registrar {
    pub fn new(
        realm: String,
        seats: &[SeatSettings],
        min_expires: u32,
        max_expires: u32,
        algorithms: Vec<Algorithm>,
        key: NonceKey,
    ) -> Self {
        Registrar {
            algorithms,
            seats: Seats::new(&realm, seats),
            realm,
            min_expires,
            // Config validation should prevent min > max; if it slips through, clamping
            // must still not panic.
            max_expires: max_expires.max(min_expires),
            key,
            table: Table::default(),
        }
    }

    /// Handles one REGISTER (already through `check_request`). `now` is monotonic,
    /// `now_unix` wall-clock seconds for nonces.
    ///
    /// The Request-URI's host is not checked against the realm: phones often put the
    /// server's IP there, and we are the only domain served.
    pub fn handle(
        &mut self,
        now: Instant,
        now_unix: u64,
        flow: Flow,
        req: &Request,
        ess: &Essentials,
    ) -> RegisterOutcome {
        if req.method != Method::Register {
            return refuse(req, RegisterError::NotRegister, self.min_expires);
        }
        let aor = aor_user(&ess.to);
        let authorization = pick_authorization(req, &self.realm);
        let creds = authorization.and_then(|v| parse_credentials(v).ok());
        let verdict = authenticate(
            authorization,
            Method::Register.as_str(),
            &self.realm,
            |user, alg| self.seats.ha1(user, alg),
            &self.key,
            now_unix,
            NONCE_MAX_AGE_SECS,
        );
        let user = match verdict {
            Verdict::Challenge { stale } => return self.challenge(req, now_unix, stale),
            Verdict::Rejected => {
                let claimed = creds.map(|c| c.username).or(aor).unwrap_or_default();
                return forbidden(req, &claimed);
            }
            Verdict::Ok { user } => user,
        };
        // A seat may only register its own address-of-record, and the digest must have been
        // computed over this request's URI, or a response captured elsewhere would pass.
        let uri_ok = creds.is_some_and(|c| c.uri == req.uri);
        if !uri_ok || aor.as_deref() != Some(user.as_str()) {
            return forbidden(req, aor.as_deref().unwrap_or(&user));
        }
        let update = match contacts::plan(req, self.min_expires, self.max_expires) {
            Ok(update) => update,
            Err(e) => return refuse(req, e, self.min_expires),
        };
        let origin = Origin {
            flow,
            call_id: &ess.call_id,
            cseq: ess.cseq.seq,
        };
        let applied = match &update {
            Update::Fetch => Ok(()),
            Update::RemoveAll => self.table.remove_all(now, &user, &origin),
            Update::Set(changes) => self.table.apply(now, &user, &origin, changes),
        };
        if let Err(e) = applied {
            return refuse(req, e, self.min_expires);
        }
        let response = self.ok(now, req, &user);
        let contacts = self.table.live(now, &user).count();
        let event = match update {
            Update::Fetch => RegisterEvent::Fetched { user },
            _ if contacts == 0 => RegisterEvent::Unregistered { user },
            _ => RegisterEvent::Registered { user, contacts },
        };
        RegisterOutcome { response, event }
    }

    /// Authenticates a request a seat's phone sends as a caller (an INVITE to a feature code):
    /// 407 with our challenges until its `Proxy-Authorization` proves which seat it is.
    pub fn authenticate_seat(&self, now_unix: u64, req: &Request) -> SeatAuth {
        let header = req
            .headers
            .get_all("Proxy-Authorization")
            .find(|v| parse_credentials(v).is_ok_and(|c| c.realm == self.realm));
        let verdict = authenticate(
            header,
            req.method.as_str(),
            &self.realm,
            |user, alg| self.seats.ha1(user, alg),
            &self.key,
            now_unix,
            NONCE_MAX_AGE_SECS,
        );
        match verdict {
            Verdict::Ok { user } => {
                let uri_ok = header
                    .and_then(|v| parse_credentials(v).ok())
                    .is_some_and(|c| same_server(&c.uri, &req.uri));
                if uri_ok {
                    SeatAuth::Seat(user)
                } else {
                    SeatAuth::Rejected { claimed: user }
                }
            }
            Verdict::Challenge { stale } => {
                let nonce = self.key.mint(now_unix);
                let mut response =
                    crate::sip::build::response(req, 407, Some(&crate::sip::ids::tag()));
                for algorithm in &self.algorithms {
                    response.headers.push(
                        "Proxy-Authenticate",
                        challenge(&self.realm, &nonce, *algorithm, stale),
                    );
                }
                SeatAuth::Challenge(response)
            }
            Verdict::Rejected => SeatAuth::Rejected {
                claimed: header
                    .and_then(|v| parse_credentials(v).ok())
                    .map(|c| c.username)
                    .unwrap_or_default(),
            },
        }
    }

    /// Current (unexpired) bindings of a seat, most recent first.
    pub fn lookup(&self, now: Instant, user: &str) -> Vec<Binding> {
        self.table.live(now, user).cloned().collect()
    }

    /// Every seat with at least one live binding, sorted.
    pub fn registered_users(&self, now: Instant) -> Vec<String> {
        let mut users: Vec<String> = self.table.users(now).map(str::to_string).collect();
        users.sort();
        users
    }

    /// Drops expired bindings; returns how many.
    pub fn purge(&mut self, now: Instant) -> usize {
        self.table.purge(now)
    }

    /// The next binding expiry, for the driver's purge timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.next_expiry()
    }

    /// The source address of every live binding: where registered seats send from.
    pub fn addresses(&self, now: Instant) -> std::collections::HashSet<std::net::IpAddr> {
        self.table
            .every_live(now)
            .map(|b| crate::sip::flow::canonical_ip(b.flow.remote.ip()))
            .collect()
    }

    pub fn binding_count(&self, now: Instant) -> usize {
        self.table.live_count(now)
    }

    fn challenge(&self, req: &Request, now_unix: u64, stale: bool) -> RegisterOutcome {
        let nonce = self.key.mint(now_unix);
        let mut response = final_response(req, 401);
        for algorithm in &self.algorithms {
            let value = challenge(&self.realm, &nonce, *algorithm, stale);
            response.headers.push("WWW-Authenticate", value);
        }
        RegisterOutcome {
            response,
            event: RegisterEvent::Challenged,
        }
    }

    /// 200 listing every live binding with its remaining time (RFC 3261 §10.3 step 8).
    fn ok(&self, now: Instant, req: &Request, user: &str) -> Response {
        let mut response = final_response(req, 200);
        for binding in self.table.live(now, user) {
            let left = binding.expires_at.saturating_duration_since(now);
            // Rounded up: a binding with half a second left must not read as expires=0.
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            response
                .headers
                .push("Contact", format!("<{}>;expires={secs}", binding.contact));
        }
        response
    }
}

/// Every final response to a REGISTER gets a fresh To tag.
fn final_response(req: &Request, status: u16) -> Response {
    build::response(req, status, Some(&ids::tag()))
}

/// One 403 for every authentication or authorisation failure, so its bytes say nothing
/// about which check failed or whether the user exists.
fn forbidden(req: &Request, claimed: &str) -> RegisterOutcome {
    RegisterOutcome {
        response: final_response(req, 403),
        event: RegisterEvent::AuthFailed {
            user_claimed: for_log(claimed),
        },
    }
}

fn refuse(req: &Request, err: RegisterError, min_expires: u32) -> RegisterOutcome {
    let mut response = final_response(req, err.status());
    match err {
        // 405 must say what is allowed (RFC 3261 §21.4.6); here that is REGISTER only.
        RegisterError::NotRegister => response.headers.push("Allow", "REGISTER"),
        RegisterError::IntervalTooBrief => {
            response
                .headers
                .push("Min-Expires", min_expires.to_string());
        }
        _ => {}
    }
    RegisterOutcome {
        response,
        event: RegisterEvent::Refused {
            reason: err.reason(),
        },
    }
}

/// The user part of the To URI: the seat this REGISTER is about.
fn aor_user(to: &NameAddr) -> Option<String> {
    SipUri::parse(&to.uri).ok()?.user_decoded()
}

/// A phone may send credentials for several realms; ours is the one that counts.
fn pick_authorization<'a>(req: &'a Request, realm: &str) -> Option<&'a str> {
    let mut all = req.headers.get_all("Authorization");
    let first = all.next()?;
    std::iter::once(first)
        .chain(all)
        .find(|v| parse_credentials(v).is_ok_and(|c| c.realm == realm))
        .or(Some(first))
}

/// Bounded and free of control characters, whatever the peer sent.
fn for_log(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(CLAIMED_USER_MAX_CHARS)
        .collect()
}
