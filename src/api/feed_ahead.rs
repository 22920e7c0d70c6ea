//! Feed pages read ahead. A puller catching up on `ListDisclosureChanges`
//! asks for the next page only after this one has arrived, so each page
//! used to be read and then sent: the database and the network took turns.
//! After a full page the service reads the next one in the background; when
//! the puller asks for it, the page is served from here if it is still what
//! a read now would give.
//!
//! A page read ahead is served only if:
//! - the feed's head ([`App::feed_head`]) is the same as just before it was
//!   read. Every publication, correction and removal appends a change, and
//!   feed writers are serialised until commit, so no record has been
//!   removed or corrected since: a removed record's content is never served
//!   from a page read before its removal;
//! - it is at most [`MAX_AGE`] old. A record's stored encoding can also change
//!   without a change (its `repair_pending` flag). A page read ahead shows
//!   that flag at most this late, as a read that was slow would.
//!
//! Otherwise the page is read again. Pages are keyed by `(after_sequence,
//! page_size)`. All callers share them, since the feed is the same for
//! every reader. A page is taken out when served; at most [`MAX_PAGES`] are
//! kept, the oldest dropped first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::app::App;
use crate::app::public::EncodedChange;

/// How old a page read ahead may be when served.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Pages kept at most (each up to a page of 1,000 records, ~1 MB).
pub const MAX_PAGES: usize = 16;

/// A feed page's answer, as [`super::served::changes_page`] assembles it.
#[derive(Clone)]
pub struct Page {
    /// The response's bytes.
    pub bytes: Bytes,
    /// The page's last sequence.
    pub last_sequence: i64,
    /// Whether the page was full, so the puller will ask for the next.
    pub full: bool,
}

impl Page {
    /// The page of `changes` read after `after` with `limit`.
    pub fn assemble(changes: &[EncodedChange], after: i64, limit: i64) -> Page {
        let last_sequence = changes.last().map(|c| c.sequence).unwrap_or(after);
        Page {
            bytes: super::served::changes_page(changes, last_sequence),
            last_sequence,
            full: changes.len() as i64 == limit,
        }
    }
}

/// A page read ahead, with the feed's head read just before it.
#[derive(Clone)]
struct Ahead {
    head: i64,
    /// When the head was read.
    read_at: Instant,
    page: Page,
}

type Pending = Shared<BoxFuture<'static, Option<Ahead>>>;

/// The pages read ahead, shared by the service's clones.
#[derive(Default)]
pub struct FeedAhead {
    pages: Mutex<HashMap<(i64, i64), (Instant, Pending)>>,
}

impl FeedAhead {
    /// Starts reading the page after `after` (`limit` changes) in the
    /// background, unless it is already being read.
    pub fn read_ahead(&self, app: &Arc<App>, after: i64, limit: i64) {
        let Ok(mut pages) = self.pages.lock() else { return };
        if pages.contains_key(&(after, limit)) {
            return;
        }
        while pages.len() >= MAX_PAGES {
            let Some(oldest) = pages.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k) else {
                break;
            };
            pages.remove(&oldest);
        }
        let app = app.clone();
        let pending = async move { read(&app, after, limit).await }.boxed().shared();
        pages.insert((after, limit), (Instant::now(), pending.clone()));
        drop(pages);
        // Driven to the end even if nobody asks for it.
        tokio::spawn(pending);
    }

    /// The page after `after` if it was read ahead and may still be served
    /// (see the module's rules); waits for a read still under way.
    pub async fn take(&self, app: &App, after: i64, limit: i64) -> Option<Page> {
        let pending = self.pages.lock().ok()?.remove(&(after, limit))?.1;
        let ahead = pending.await?;
        if ahead.read_at.elapsed() > MAX_AGE {
            return None;
        }
        match app.feed_head().await {
            Ok(head) if head == ahead.head => Some(ahead.page),
            _ => None,
        }
    }
}

/// Reads a page: the head first, then the changes, so any change committed
/// after the head was read moves it.
async fn read(app: &App, after: i64, limit: i64) -> Option<Ahead> {
    let read_at = Instant::now();
    let head = app.feed_head().await.ok()?;
    let changes = app.changes_encoded(after, limit).await.ok()?;
    Some(Ahead {
        head,
        read_at,
        page: Page::assemble(&changes, after, limit),
    })
}
