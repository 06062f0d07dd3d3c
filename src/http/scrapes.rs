//! Scrapes share their work. The recorder's part is written once per generation (a change of
//! the families) and per format, from a snapshot taken under the recorder's lock and written
//! outside it, then gzipped once if a scraper asks for gzip; every scrape of that generation
//! sends the same bytes. What the written generations hold counts against
//! `--web.scrape-memory-bytes`: scrapers that never read their answers cannot make the
//! exporter hold a copy each (the send timeout in [`super::deadline`] then cuts them off).
//!
//! One rendering is written at a time, and a scrape that waited for another's is answered from
//! it if it was taken after the scrape arrived: many scrapers at once, each seeing a new
//! generation (deliveries keep coming), cost one core at most, not one each, and deliveries
//! keep the rest (a delivery's p99 under 16 scrapers at the caps: BENCHMARKS.md).

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use tokio::sync::{Mutex as AsyncMutex, OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::exposition::Format;
use crate::record::{Recorder, Snapshot};

/// The unit of the scrape memory budget.
const UNIT: usize = 1024;

/// The latest generation written, shared by the scrapes of that generation.
#[derive(Debug)]
pub struct Scrapes {
    latest: Mutex<Option<Arc<Rendering>>>,
    budget: Arc<Semaphore>,
    /// The budget's size in units: a rendering larger than the whole budget takes all of it.
    units: u32,
    /// How long a scrape waits for room in the budget before it is answered 503.
    wait: Duration,
    /// Held while a rendering is taken and written: one at a time.
    writer: AsyncMutex<()>,
}

impl Scrapes {
    pub fn new(memory_bytes: usize, wait: Duration) -> Self {
        let units = u32::try_from(memory_bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Self {
            latest: Mutex::new(None),
            budget: Arc::new(Semaphore::new(units as usize)),
            units,
            wait,
            writer: AsyncMutex::new(()),
        }
    }

    /// The latest rendering, if it was taken at or after `arrived`: as fresh as a scrape that
    /// arrived then can ask for.
    fn taken_since(&self, arrived: Instant) -> Option<Arc<Rendering>> {
        let latest = self.latest.lock().expect("never poisoned: no panic inside");
        latest
            .as_ref()
            .filter(|rendering| rendering.taken_at >= arrived)
            .map(Arc::clone)
    }

    /// The recorder's part of a scrape in `format` (and deflated, if `gzipped`): the latest
    /// rendering if it was taken after the scrape arrived (it waited for it), else one of the
    /// recorder's generation now, written once and shared. One rendering is written at a time.
    pub(super) async fn written(
        &self,
        recorder: &std::sync::Mutex<Recorder>,
        format: Format,
        gzipped: bool,
    ) -> Result<Written, Busy> {
        let arrived = Instant::now();
        // Bounded as the wait for budget is: scrapes queued behind one that waits for room
        // give up as it does.
        let writer = tokio::time::timeout(self.wait, self.writer.lock())
            .await
            .map_err(|_| Busy)?;
        // Written by the scrape this one waited for, or taken now.
        let rendering = if let Some(rendering) = self.taken_since(arrived) {
            rendering
        } else {
            let mut recorder = recorder
                .lock()
                .expect("the recorder lock is never poisoned: recording does not panic");
            let generation = recorder.generation();
            self.rendering(generation, || recorder.snapshot())
        };
        let head = rendering.text(format, self).await?;
        let deflated = if gzipped {
            Some(rendering.gzip(format, head.clone(), self).await?)
        } else {
            None
        };
        drop(writer);
        Ok(Written {
            rendering,
            head,
            deflated,
        })
    }

    /// The rendering of `snapshot`'s generation, made if the latest is of another.
    fn rendering(&self, generation: u64, snapshot: impl FnOnce() -> Snapshot) -> Arc<Rendering> {
        let mut latest = self.latest.lock().expect("never poisoned: no panic inside");
        match &*latest {
            Some(rendering) if rendering.generation == generation => Arc::clone(rendering),
            _ => {
                let rendering = Arc::new(Rendering {
                    generation,
                    taken_at: Instant::now(),
                    snapshot: Mutex::new(Some(Arc::new(snapshot()))),
                    formats: [Rendered::default(), Rendered::default()],
                    held: Mutex::new(Vec::new()),
                });
                *latest = Some(Arc::clone(&rendering));
                rendering
            }
        }
    }

    /// Takes room for `bytes` in the budget, for as long as `rendering` lives.
    async fn hold(&self, rendering: &Rendering, bytes: usize) -> Result<(), Busy> {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.units);
        let permit = tokio::time::timeout(
            self.wait,
            Arc::clone(&self.budget).acquire_many_owned(units),
        )
        .await
        .map_err(|_| Busy)?
        .expect("the scrape budget is never closed");
        rendering
            .held
            .lock()
            .expect("never poisoned: no panic inside")
            .push(permit);
        Ok(())
    }
}

/// What [`Scrapes::written`] gives a scrape: the rendering it keeps alive while it sends,
/// the text, and its deflated body if asked for.
#[derive(Debug)]
pub(super) struct Written {
    pub rendering: Arc<Rendering>,
    pub head: Bytes,
    pub deflated: Option<Deflated>,
}

/// The budget had no room for a new rendering in time.
#[derive(Debug)]
pub(super) struct Busy;

/// One generation of the recorder's families, written in each format when first asked for.
#[derive(Debug)]
pub(super) struct Rendering {
    generation: u64,
    /// When its snapshot was taken.
    taken_at: Instant,
    /// What the formats are written from; dropped once both are written.
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    formats: [Rendered; 2],
    /// Room in the budget for what is written here, given back when the last scrape that
    /// sends it is done.
    held: Mutex<Vec<OwnedSemaphorePermit>>,
}

/// One format of a rendering: the text, and its gzip body (without header and trailer) when
/// asked for.
#[derive(Debug, Default)]
struct Rendered {
    text: OnceCell<Bytes>,
    gzip: OnceCell<Deflated>,
}

/// A raw deflate stream (see [`deflate`]), with the CRC-32 and length of what it holds, for
/// the gzip trailer.
#[derive(Debug, Clone)]
pub(super) struct Deflated {
    body: Bytes,
    crc: u32,
    len: u32,
}

impl Rendering {
    /// The rendering in `format`, written the first time (by one scrape; the others wait).
    async fn text(&self, format: Format, scrapes: &Scrapes) -> Result<Bytes, Busy> {
        let text = self.formats[format as usize]
            .text
            .get_or_try_init(|| async {
                let snapshot = self
                    .snapshot
                    .lock()
                    .expect("never poisoned: no panic inside")
                    .clone()
                    .expect("the snapshot is kept until both formats are written");
                let text = tokio::task::spawn_blocking(move || Bytes::from(snapshot.write(format)))
                    .await
                    .expect("writing text does not panic");
                scrapes.hold(self, text.len()).await?;
                Ok(text)
            })
            .await
            .cloned()?;
        if self.formats.iter().all(|f| f.text.initialized()) {
            self.snapshot.lock().expect("never poisoned").take();
        }
        Ok(text)
    }

    async fn gzip(&self, format: Format, text: Bytes, scrapes: &Scrapes) -> Result<Deflated, Busy> {
        self.formats[format as usize]
            .gzip
            .get_or_try_init(|| async {
                let deflated = tokio::task::spawn_blocking(move || deflate(&text, false))
                    .await
                    .expect("deflate does not panic");
                scrapes.hold(self, deflated.body.len()).await?;
                Ok(deflated)
            })
            .await
            .cloned()
    }
}

/// Deflates `data` as a raw stream: ended by a sync flush (byte-aligned, not final), or by
/// the final block if `last`.
///
/// Deflate streams written this way can be joined: a stream that follows starts a compressor
/// of its own and never refers back past its start, so the cached head of a generation and the
/// tail of each scrape make one gzip member (as pigz joins its blocks), which every client
/// reads, not a multi-member file that some read only the first member of.
fn deflate(data: &[u8], last: bool) -> Deflated {
    // The fastest level: Prometheus text is repetitive enough that it still shrinks more than
    // tenfold, and a scrape at the caps is tens of megabytes.
    let mut encoder =
        DeflateEncoder::new(Vec::with_capacity(data.len() / 8 + 64), Compression::fast());
    let body = (|| {
        encoder.write_all(data)?;
        if last {
            encoder.try_finish()?;
        } else {
            encoder.flush()?;
        }
        std::io::Result::Ok(std::mem::take(encoder.get_mut()))
    })()
    .expect("deflate into memory cannot fail");
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    Deflated {
        body: Bytes::from(body),
        crc: crc.finalize(),
        // The gzip trailer keeps the length modulo 2^32.
        len: data.len() as u32,
    }
}

/// The one gzip member of `head` (deflated already) followed by `tail`, in pieces.
pub(super) fn gzip(head: &Deflated, tail: &[u8]) -> Vec<Bytes> {
    let end = deflate(tail, true);
    // The CRC-32 of the whole: the head's, carried on over the tail.
    let mut crc = crc32fast::Hasher::new_with_initial(head.crc);
    crc.update(tail);
    // Header: magic, deflate, no flags, no time, no extra flags, OS unknown.
    let header = Bytes::from_static(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut trailer = Vec::with_capacity(8);
    trailer.extend_from_slice(&crc.finalize().to_le_bytes());
    trailer.extend_from_slice(&head.len.wrapping_add(end.len).to_le_bytes());
    vec![header, head.body.clone(), end.body, Bytes::from(trailer)]
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::io::Read;

    use super::*;

    /// A cached head and a fresh tail make one gzip member that any single-member reader
    /// (flate2's `GzDecoder` reads only the first member) decodes to the two joined.
    #[test]
    fn a_shared_head_and_a_fresh_tail_make_one_gzip_member() {
        let mut head = String::new();
        for i in 0..20_000 {
            writeln!(head, "platformsh_x{{project=\"p{}\"}} {i}", i % 97).unwrap();
        }
        for tail in ["", "# EOF\n", "process_cpu_seconds_total 1.5\n# EOF\n"] {
            let parts = gzip(&deflate(head.as_bytes(), false), tail.as_bytes());
            let body: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, format!("{head}{tail}"));
            assert!(body.len() < head.len() / 5, "{} bytes", body.len());
        }
    }

    fn snapshot() -> Snapshot {
        crate::record::Recorder::new(crate::record::Settings::default()).snapshot()
    }

    #[test]
    fn scrapes_of_one_generation_share_one_rendering() {
        let scrapes = Scrapes::new(1 << 20, Duration::from_secs(1));
        let first = scrapes.rendering(1, snapshot);
        let second = scrapes.rendering(1, || unreachable!("the first snapshot is shared"));
        assert!(Arc::ptr_eq(&first, &second));
        let third = scrapes.rendering(2, snapshot);
        assert!(!Arc::ptr_eq(&first, &third));
    }

    #[test]
    fn a_scrape_that_waited_takes_a_rendering_only_if_taken_after_it_arrived() {
        let scrapes = Scrapes::new(1 << 20, Duration::from_secs(1));
        let before = Instant::now();
        let taken = scrapes.rendering(1, snapshot);
        // Arrived before it was taken (waited while it was written): answered from it.
        assert!(Arc::ptr_eq(&scrapes.taken_since(before).unwrap(), &taken));
        // Arrived after: it may miss what came since, so the scrape takes its own.
        std::thread::sleep(Duration::from_millis(1));
        assert!(scrapes.taken_since(Instant::now()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rendering_waits_for_room_then_gives_up_and_room_comes_back_when_it_is_dropped() {
        let scrapes = Scrapes::new(10 * UNIT, Duration::from_secs(30));
        let held = scrapes.rendering(1, snapshot);
        scrapes.hold(&held, 8 * UNIT).await.unwrap();
        let next = scrapes.rendering(2, snapshot);
        let started = tokio::time::Instant::now();
        assert!(scrapes.hold(&next, 4 * UNIT).await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        // The scrape that sent the first one is done, and the cache moved on: its room is back.
        drop(held);
        scrapes.hold(&next, 4 * UNIT).await.unwrap();
        // Larger than the whole budget: takes all of it rather than never fitting.
        let last = scrapes.rendering(3, snapshot);
        drop(next);
        scrapes.hold(&last, 100 * UNIT).await.unwrap();
    }
}
