//! `Stream`, a group's shared audio: items (one 20 ms frame each, already
//! encoded) appended once for the whole group, and read by each member from
//! its own cursor when its writer gets to it.
//!
//! Why pull instead of queueing each message on each member. Queueing costs
//! the appending thread a lock and a queue entry per member per message, and
//! a listener's frames wait twice: for their message to fill (the space's
//! frames per message) and then for the writer to reach the listener in its
//! pass. With a stream, a tick appends its frame once; a trigger (`publish`,
//! at the pace the space's frames per message set) asks the writers to visit
//! the members; and a visit sends the member everything appended since its
//! last one, as one message. While the writer keeps up, messages hold what
//! the trigger's pace gives; once its pass is longer than that pace, each
//! visit takes what accumulated meanwhile, so a frame waits for one visit
//! only, not a batch and then a visit.
//!
//! Order. Any message queued on a member (a reply, an event, its own audio)
//! first queues the stream's items that member has not had
//! (`Follow::catch_up`), and so do leaving the group and joining another
//! group's stream: on the wire, everything keeps the order it happened in.
//!
//! A member the writer cannot write to (its socket full) is caught up at each
//! trigger instead, so its queue's drop policy applies as for any audio.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::conn::lock;
use crate::frame::binary_header;

/// Items a stream keeps at most: about 10 s of 20 ms frames (each visit of a
/// publication forgets what every member has had). A member whose cursor falls
/// behind (never, while it is caught up at every trigger) loses the older ones.
pub(crate) const KEEP: usize = 512;

#[derive(Debug)]
pub struct Stream {
    /// What every message starts with, before the msgpack array of its items.
    prefix: Box<[u8]>,
    /// Items per message at most (a visit that finds more sends several).
    max_items: usize,
    log: Mutex<Log>,
    /// The log's end, readable without its lock (`Follow::behind`, asked for every member a writer looks at).
    end: AtomicU64,
    /// The end at the last publication, and at the one before: a member visited with items from
    /// before the one before was not visited in between (`Follow::late`: the writers are behind).
    last_published: AtomicU64,
    before_last: AtomicU64,
}

#[derive(Debug, Default)]
struct Log {
    /// The number of the first item kept; the item numbered n is `items[n - first]`.
    first: u64,
    items: VecDeque<Box<[u8]>>,
}

impl Log {
    fn end(&self) -> u64 {
        self.first + self.items.len() as u64
    }
}

impl Stream {
    pub(crate) fn new(prefix: &[u8], max_items: usize) -> Self {
        Self {
            prefix: prefix.into(),
            max_items: max_items.clamp(1, 15),
            log: Mutex::default(),
            end: AtomicU64::new(0),
            last_published: AtomicU64::new(0),
            before_last: AtomicU64::new(0),
        }
    }

    /// Notes a publication (`Fanout::publish`; one publisher at a time: the space's tick).
    pub(crate) fn published(&self) {
        let last = self.last_published.swap(self.end(), Ordering::Relaxed);
        self.before_last.store(last, Ordering::Relaxed);
    }

    /// Appends one item (a whole msgpack value).
    pub fn push(&self, item: &[u8]) {
        let mut log = lock(&self.log);
        if log.items.len() == KEEP {
            log.items.pop_front();
            log.first += 1;
        }
        log.items.push_back(item.into());
        let end = log.end();
        // Release: whoever sees the new end finds the item in the log (which it then locks).
        self.end.store(end, Ordering::Release);
    }

    /// The messages `items` items make, at most `max_items` each.
    fn messages_of(&self, items: u64) -> usize {
        usize::try_from(items.div_ceil(self.max_items as u64)).unwrap_or(usize::MAX)
    }

    /// Forgets the items before number `next`: every member has had them.
    pub(crate) fn trim(&self, next: u64) {
        let mut log = lock(&self.log);
        while log.first < next && log.items.pop_front().is_some() {
            log.first += 1;
        }
        if log.items.is_empty() {
            log.items.shrink_to(0); // a quiet space keeps nothing
        }
    }

    /// The number the next item will have.
    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Appends to `out` the messages holding the items from `from` on, each
    /// one binary WebSocket message of at most `max_items`, and each message's
    /// end (an offset in `out`) to `ends`; returns the number after the last
    /// item, and how many items were no longer kept.
    fn write_from(&self, from: u64, out: &mut Vec<u8>, ends: &mut Vec<usize>) -> (u64, u64) {
        let log = lock(&self.log);
        let start = from.max(log.first);
        // `start` is within the log or at its end: the difference fits.
        let mut skip = (start - log.first) as usize;
        while skip < log.items.len() {
            let count = (log.items.len() - skip).min(self.max_items);
            let items = log.items.range(skip..skip + count);
            let len = self.prefix.len() + 1 + items.clone().map(|item| item.len()).sum::<usize>();
            let (header, used) = binary_header(len);
            out.extend_from_slice(&header[..used]);
            out.extend_from_slice(&self.prefix);
            // At most 15 items (`new`): a fixarray.
            out.push(0x90 | count as u8);
            for item in items {
                out.extend_from_slice(item);
            }
            ends.push(out.len());
            skip += count;
        }
        (log.end(), start - from)
    }
}

/// A member's place in its group's stream.
#[derive(Debug)]
pub(crate) struct Follow {
    pub group: u64,
    pub stream: Arc<Stream>,
    /// The number of the next item it has not had.
    pub next: u64,
}

impl Follow {
    /// Follows `stream` from its next item on.
    pub fn new(group: u64, stream: Arc<Stream>) -> Self {
        let next = stream.end();
        Self { group, stream, next }
    }

    /// Whether items were appended that this member has not had.
    pub fn behind(&self) -> bool {
        self.stream.end() > self.next
    }

    /// Whether this member still lacks items appended before the publication
    /// before the last: no writer visited it after that one (the writers are a
    /// publication or more behind; `pressure` in the driver reads the count).
    pub fn late(&self) -> bool {
        self.next < self.stream.before_last.load(Ordering::Relaxed)
    }

    /// Appends to `out` the messages of every item not had yet, and their ends
    /// to `ends` (see `Stream::write_from`); returns the messages lost
    /// meanwhile (of the items no longer kept). The member is then up to date.
    pub fn catch_up(&mut self, out: &mut Vec<u8>, ends: &mut Vec<usize>) -> usize {
        let (end, lost) = self.stream.write_from(self.next, out, ends);
        self.next = end;
        self.stream.messages_of(lost)
    }

    /// The messages the items not had yet would make.
    pub fn unsent_messages(&self) -> usize {
        self.stream.messages_of(self.stream.end().saturating_sub(self.next))
    }
}

/// The messages `catch_up` wrote to `out`, with `ends`, one slice each.
pub(crate) fn messages<'a>(out: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    ends.iter().scan(0, move |start, &end| {
        let message = &out[*start..end];
        *start = end;
        Some(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The items of each message, after its 2-byte WebSocket header, a 1-byte prefix and the fixarray header.
    fn items_of(message: &[u8]) -> (usize, Vec<u8>) {
        assert_eq!(&message[..3], &[0x82, (message.len() - 2) as u8, 0xee]);
        ((message[3] & 0x0f) as usize, message[4..].to_vec())
    }

    #[test]
    fn a_member_gets_what_was_appended_after_it_joined_in_messages_of_at_most_max_items() {
        let stream = Arc::new(Stream::new(&[0xee], 2));
        stream.push(&[1]);
        let mut member = Follow::new(7, Arc::clone(&stream));
        assert!(!member.behind());
        for item in 2..=6 {
            stream.push(&[item]);
        }
        assert!(member.behind());
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        let lost = member.catch_up(&mut out, &mut ends);
        let got: Vec<_> = messages(&out, &ends).map(items_of).collect();
        assert_eq!(got, [(2, vec![2, 3]), (2, vec![4, 5]), (1, vec![6])]);
        assert_eq!((lost, member.behind()), (0, false));
        out.clear();
        member.catch_up(&mut out, &mut ends);
        assert!(out.is_empty(), "nothing twice");
    }

    #[test]
    fn a_member_is_late_once_it_lacks_items_from_before_the_publication_before_the_last() {
        let stream = Arc::new(Stream::new(&[0xee], 15));
        let mut member = Follow::new(1, Arc::clone(&stream));
        let publish = |items: std::ops::Range<u8>| {
            for item in items {
                stream.push(&[item]);
            }
            stream.published();
        };
        publish(0..5);
        assert!(member.behind() && !member.late(), "owed the last publication only: on time");
        publish(5..10);
        assert!(member.late(), "not visited since before the last publication");
        member.catch_up(&mut Vec::new(), &mut Vec::new());
        publish(10..15);
        assert!(!member.late(), "caught up: on time again");
    }

    #[test]
    fn what_every_member_has_had_is_forgotten() {
        let stream = Arc::new(Stream::new(&[0xee], 15));
        let (mut ahead, behind) = (Follow::new(1, Arc::clone(&stream)), Follow::new(2, Arc::clone(&stream)));
        for item in 0..4 {
            stream.push(&[item]);
        }
        ahead.catch_up(&mut Vec::new(), &mut Vec::new());
        stream.trim(behind.next.min(ahead.next));
        let kept = |stream: &Stream| {
            let log = lock(&stream.log);
            (log.first, log.items.len())
        };
        assert_eq!(kept(&stream), (0, 4), "one has had none");
        stream.trim(ahead.next);
        assert_eq!(kept(&stream), (4, 0));
        assert_eq!((behind.unsent_messages(), stream.end()), (1, 4), "numbers go on");
    }

    #[test]
    fn a_member_that_fell_past_what_is_kept_loses_the_oldest_and_is_told_how_many() {
        let stream = Arc::new(Stream::new(&[0xee], 15));
        let mut member = Follow::new(1, Arc::clone(&stream));
        for item in 0..KEEP + 3 {
            stream.push(&[item as u8]);
        }
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        assert_eq!(member.catch_up(&mut out, &mut ends), 1, "3 items lost: one message of 15 at most");
        assert_eq!(ends.len(), KEEP.div_ceil(15));
        let first = messages(&out, &ends).next().unwrap();
        assert_eq!(items_of(first).1, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    }
}
