//! `repair`: makes a recording cut off by a crash (or a failed write) a
//! well-formed Ogg Opus file, as the server does at start-up for the parts
//! it left unfinished. What a crash leaves is every page written before it,
//! perhaps a torn page after them, and no end-of-stream flag: the torn bytes
//! are cut off and the last whole page gets the flag. A finished file is
//! left as it is, so repairing twice changes nothing.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::head::{FRAME_SAMPLES, SILENCE, duration_ms, is_tags, read_pre_skip};
use crate::ogg::{FLAG_BOS, FLAG_EOS, NO_GRANULE, PageBuilder, pages, set_eos};

/// Repairs the recording at `path` if it needs it; returns the milliseconds
/// it plays. Fails with `InvalidData` if the file does not start with whole
/// Ogg Opus headers (it is no recording, or was cut off before its headers
/// were durable, which `Recorder::create` waits for), and with the
/// underlying error if it cannot be read or written.
pub fn repair(path: &Path) -> io::Result<u64> {
    let bytes = fs::read(path)?;
    let invalid =
        |why: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()));
    let pages = pages(&bytes);
    let (Some((_, head)), Some((tags_at, tags))) = (pages.first(), pages.get(1)) else {
        return Err(invalid("no whole Ogg Opus headers"));
    };
    let pre_skip = match head.packets().first() {
        Some(packet) if head.flags & FLAG_BOS != 0 => read_pre_skip(packet),
        _ => None,
    }
    .ok_or_else(|| invalid("not an Ogg Opus stream"))?;
    if !tags.packets().first().is_some_and(|packet| is_tags(packet)) {
        return Err(invalid("no Opus comment header"));
    }
    let serial = head.serial;
    let mut audio: Vec<_> = pages[2..].iter().take_while(|(_, page)| page.serial == serial).collect();
    // The stream ends with its last page on which a packet ends.
    while audio.last().is_some_and(|(_, page)| !page.ends_packet() || page.granule == NO_GRANULE) {
        audio.pop();
    }
    let file = OpenOptions::new().write(true).open(path)?;
    let granule = match audio.last() {
        Some(&&(at, ref page)) => {
            let end = at + page.bytes.len();
            let torn = end < bytes.len();
            if torn {
                file.set_len(end as u64)?;
            }
            if page.flags & FLAG_EOS == 0 {
                let mut ended = page.bytes.to_vec();
                set_eos(&mut ended);
                file.write_all_at(&ended, at as u64)?;
            } else if !torn {
                return Ok(duration_ms(page.granule, pre_skip)); // whole already: nothing written
            }
            page.granule
        }
        None => {
            // Headers only: the stream gets one packet of silence, so it has an end.
            let end = tags_at + tags.bytes.len();
            file.set_len(end as u64)?;
            let mut builder = PageBuilder::new(serial, tags.sequence.wrapping_add(1));
            builder.add(&SILENCE);
            file.write_all_at(&builder.finish(FLAG_EOS, FRAME_SAMPLES), end as u64)?;
            FRAME_SAMPLES
        }
    };
    file.sync_all()?;
    Ok(duration_ms(granule, pre_skip))
}
