//! Handshakes in progress: connections accepted whose upgrade request has not
//! been read whole yet, counted by client address (by its key: an IPv6 client
//! by its /64, `address.rs`) and in all.
//!
//! Why: the owner's cap on connections per address (HTTP 429) can only act on
//! a request it has read, and a connection may hold its descriptor for the
//! whole handshake timeout (10 s) by sending half a request. From one address,
//! at a few thousand connections a second, that was enough to take every
//! descriptor the server had. So the reader counts these connections itself:
//!
//! - **Per address**, at most `MAX_HANDSHAKES_PER_ADDRESS`: one more from that
//!   address is closed as soon as it is accepted, with nothing written (a
//!   refusal it has not asked for yet; and closing with its bytes unread sends
//!   a reset, which would lose an answer anyway). A real client sends its
//!   request in the packet after the TCP handshake, so its handshake lasts
//!   well under a round trip: 16 at once leaves room for a crowd behind one NAT
//!   and costs one address at most 16 descriptors on top of its 64 connections.
//! - **In all**, at most `MAX_HANDSHAKES`: one more ends the oldest handshake
//!   in progress, not the newcomer, and at once. Many addresses (many hosts,
//!   or an IPv6 client's many /64s: a /48 holds 65,536) get round any
//!   per-address count; ending the oldest keeps the descriptors bounded.
//!   Real clients are spared twice over. The listening sockets defer accepting
//!   a connection until its first bytes come (TCP_DEFER_ACCEPT, for
//!   `WireConfig::defer_accept`, 1 s): one that sends nothing waits in the
//!   kernel meanwhile, so a burst of clients slow to send, or of bare
//!   connects, fills no slot. And a newcomer is read as soon as it is
//!   accepted: only one whose request has not come whole by then ends the
//!   oldest, so a client whose request comes with its first bytes (every real
//!   one) ends no one and is never kept waiting. (Pausing accepts while the
//!   oldest had a grace, tried on 2026-12-04, throttled everyone to 1,024 a
//!   second behind an attacker's connects: docs/security.md.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::address::{ClientKey, client_key};

/// The default of `WireConfig::max_handshakes_per_address`.
pub const MAX_HANDSHAKES_PER_ADDRESS: u32 = 16;
/// The default of `WireConfig::max_handshakes`.
pub const MAX_HANDSHAKES: u32 = 1024;

pub(crate) struct Handshakes {
    /// Handshakes in progress by client key (a peer's address counts as its key).
    per_address: HashMap<ClientKey, u32>,
    total: u32,
    /// Every connection counted in, oldest first. Connections that have left
    /// the handshake since are dropped by `oldest` and by `sweep`.
    order: VecDeque<u64>,
    max_per_address: u32,
    max_total: u32,
}

impl Handshakes {
    pub fn new(max_per_address: u32, max_total: u32) -> Self {
        Self { per_address: HashMap::new(), total: 0, order: VecDeque::new(), max_per_address, max_total }
    }

    /// Whether `peer` may start one more handshake.
    pub fn allows(&self, peer: IpAddr) -> bool {
        self.per_address.get(&client_key(peer)).copied().unwrap_or(0) < self.max_per_address
    }

    /// Whether more are in progress than the cap: the oldest must end.
    pub fn over_cap(&self) -> bool {
        self.total > self.max_total
    }

    pub fn started(&mut self, id: u64, peer: IpAddr) {
        *self.per_address.entry(client_key(peer)).or_insert(0) += 1;
        self.total += 1;
        self.order.push_back(id);
    }

    /// A connection counted in by `started` left its handshake (its request was read, or it ended).
    pub fn finished(&mut self, peer: IpAddr) {
        let key = client_key(peer);
        if let Some(count) = self.per_address.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&key);
            }
            self.total -= 1;
        }
    }

    /// The oldest connection still in its handshake (`in_handshake` says which are).
    pub fn oldest(&mut self, in_handshake: impl Fn(u64) -> bool) -> Option<u64> {
        while let Some(&id) = self.order.front() {
            if in_handshake(id) {
                return Some(id);
            }
            self.order.pop_front();
        }
        None
    }

    /// Forgets the ids of connections no longer in their handshake: the order holds at most the
    /// connections accepted since the last sweep, and those still in their handshake.
    pub fn sweep(&mut self, in_handshake: impl Fn(u64) -> bool) {
        self.order.retain(|&id| in_handshake(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn an_address_at_its_cap_is_refused_and_others_are_not() {
        let mut h = Handshakes::new(2, 100);
        h.started(1, A);
        assert!(h.allows(A));
        h.started(2, A);
        assert!(!h.allows(A) && h.allows(B));
        h.finished(A);
        assert!(h.allows(A));
        h.finished(A);
        assert_eq!((h.total, h.per_address.len()), (0, 0), "an address with none is forgotten");
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_its_cap_and_a_mapped_ipv4_one_is_its_ipv4_address() {
        let mut h = Handshakes::new(2, 100);
        let [one, two, next_64] =
            ["2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:2::1"].map(|a| a.parse().unwrap());
        h.started(1, one);
        h.started(2, two);
        assert!(!h.allows("2001:db8:0:1:ffff::9".parse().unwrap()) && h.allows(next_64));
        h.finished(two);
        assert!(h.allows(one));
        h.finished(one);
        assert_eq!(h.per_address.len(), 0);

        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        h.started(3, A);
        h.started(4, mapped);
        assert!(!h.allows(A) && !h.allows(mapped) && h.allows(B));
        h.finished(A);
        h.finished(mapped);
        assert_eq!((h.total, h.per_address.len()), (0, 0));
    }

    #[test]
    fn the_oldest_still_in_its_handshake_is_the_one_given() {
        let mut h = Handshakes::new(10, 3);
        for id in 1..=3 {
            h.started(id, A);
        }
        assert!(!h.over_cap(), "at the cap, not over it");
        h.started(4, A);
        assert!(h.over_cap());
        // 1 has left its handshake: 2 is the oldest, and stays so until it leaves too.
        assert_eq!(h.oldest(|id| id != 1), Some(2));
        assert_eq!(h.oldest(|id| id != 1), Some(2));
        h.sweep(|id| id == 3);
        assert_eq!(h.order.iter().copied().collect::<Vec<_>>(), [3]);
    }
}
