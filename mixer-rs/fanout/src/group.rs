//! `Group`, the members of one broadcast (a space's audience): a dense list a
//! broadcast walks, plus an index so that joins and leaves cost O(1).

use std::sync::Arc;

use crate::conn::Conn;
use crate::shared::IdMap;
use crate::stream::Stream;

#[derive(Debug, Default)]
pub(crate) struct Group {
    members: Vec<Arc<Conn>>,
    /// Connection id -> its place in `members`.
    index: IdMap<usize>,
    /// Dropped: a join that raced with the drop must not bring it back.
    dropped: bool,
    /// Its shared audio, which every member follows (`stream.rs`), once opened.
    pub stream: Option<Arc<Stream>>,
}

impl Group {
    pub fn members(&self) -> &[Arc<Conn>] {
        &self.members
    }

    pub fn contains(&self, conn: u64) -> bool {
        self.index.contains_key(&conn)
    }

    /// Whether `conn` may join: the group is live and it is not a member yet.
    pub fn admits(&self, conn: u64) -> bool {
        !self.dropped && !self.contains(conn)
    }

    /// Adds `conn`, which `admits` accepted.
    pub fn insert(&mut self, conn: Arc<Conn>) {
        self.index.insert(conn.id, self.members.len());
        self.members.push(conn);
    }

    /// Removes `conn` if present (the last member takes its place: order is not kept).
    pub fn remove(&mut self, conn: u64) -> Option<Arc<Conn>> {
        let at = self.index.remove(&conn)?;
        let removed = self.members.swap_remove(at);
        if let Some(moved) = self.members.get(at) {
            self.index.insert(moved.id, at);
        }
        Some(removed)
    }

    /// Empties the group for good.
    pub fn drop_members(&mut self) -> Vec<Arc<Conn>> {
        self.dropped = true;
        self.index.clear();
        std::mem::take(&mut self.members)
    }
}
