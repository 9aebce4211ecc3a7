//! `SpeakerRoutes`: which client connection's `audio` goes to which space's
//! mixer input. The server's WebSocket reader (the `wire` crate) looks a
//! speaker's connection up here for every packet and pushes it into the
//! mixer's ingress itself, with no Python on the way. A space's `Driver` keeps
//! its entries in step with its inputs (`Driver::route`, `unroute`, `stop`):
//! exactly the unmuted people on the mic, each at their current connection.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use fanout::IdMap;
use mixer_core::Frame;

use crate::pool::PoolShared;
use crate::space::Slot;

/// What became of one packet offered to `SpeakerRoutes::push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The connection has no route: not on the mic, muted, in no space.
    Unrouted,
    /// Queued for the space's next tick (`packets_in` in the mixer's stats), `tick`: the deadline of that
    /// tick (`Slot::next_tick`: behind now while its tick thread is late), `None` if it was not ticking
    /// (stopped meanwhile).
    Accepted { tick: Option<Instant> },
    /// Routed to an input that was just removed; counted by the mixer as `dropped_no_input`.
    NoInput,
    /// The mixer refused it (over `MAX_PACKET_BYTES`); the packet is dropped
    /// and nothing counted it: the caller hands the message to whoever does.
    Refused,
}

struct Route {
    slot: Arc<Slot>,
    pool: Arc<PoolShared>,
    input: u64,
}

/// The server's table of speakers' connections, shared by every space's
/// driver (writers, a few times per role change) and the reader (one read
/// lock per packet).
#[derive(Default)]
pub struct SpeakerRoutes {
    routes: RwLock<IdMap<Route>>,
}

impl SpeakerRoutes {
    /// Pushes one packet from connection `conn` into its space's mixer, and
    /// wakes the space's ticks if it was quiet. Under the read lock, so that
    /// nothing of the route is cloned: its `Arc`s are shared with the tick threads.
    pub fn push(&self, conn: u64, frame: Frame) -> Pushed {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        let Some(route) = routes.get(&conn) else { return Pushed::Unrouted };
        match route.slot.mixer().push(route.input, frame) {
            Ok(true) => {
                route.slot.notify(&route.pool);
                Pushed::Accepted { tick: route.slot.next_tick(&route.pool) }
            }
            Ok(false) => Pushed::NoInput,
            Err(_) => Pushed::Refused,
        }
    }

    /// Whether `conn`'s audio goes to a mixer now.
    pub fn is_routed(&self, conn: u64) -> bool {
        self.routes.read().unwrap_or_else(PoisonError::into_inner).contains_key(&conn)
    }

    /// Connections routed now.
    pub fn len(&self) -> usize {
        self.routes.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A connection is gone: whatever route it had goes with it.
    pub fn forget(&self, conn: u64) {
        self.write().remove(&conn);
    }

    pub(crate) fn set(&self, conn: u64, slot: &Arc<Slot>, pool: &Arc<PoolShared>, input: u64) {
        let route = Route { slot: Arc::clone(slot), pool: Arc::clone(pool), input };
        self.write().insert(conn, route);
    }

    /// Removes `conn`'s route if it still leads to `slot`'s `input` (a newer
    /// route of the same connection, to another space, stays).
    pub(crate) fn clear(&self, conn: u64, slot: &Arc<Slot>, input: u64) {
        let mut routes = self.write();
        if routes.get(&conn).is_some_and(|r| Arc::ptr_eq(&r.slot, slot) && r.input == input) {
            routes.remove(&conn);
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, IdMap<Route>> {
        self.routes.write().unwrap_or_else(PoisonError::into_inner)
    }
}
