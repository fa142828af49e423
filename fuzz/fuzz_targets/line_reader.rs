//! Fuzz target: `LineReader` fed an arbitrary byte stream in arbitrary chunks, under a small limit.
//!
//! The reader must agree with a plain split on `\n` (a last line without `\n` still counts):
//! a line within the limit comes back whole, a longer one as `TooLong` with a prefix of it of at
//! most 256 bytes, never whole. Its memory must stay bounded by the limit and one read, however
//! long the stream or its lines: a counting allocator measures the peak while it reads.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use server::line::{Line, LineReader, TOO_LONG_PREFIX_BYTES};
use tokio::io::{AsyncRead, ReadBuf};

/// The reader's own read size (`line.rs`); the memory bound is stated in it.
const READ_CHUNK_BYTES: usize = 8 * 1024;
/// Streams are capped so one input stays fast; still far beyond every limit tried.
const STREAM_BYTES_MAX: usize = 1 << 20;

/// Counts live heap bytes and their peak, so the target can bound what the reader holds.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Hands out the stream one chunk per read (split further when the reader asks for less);
/// never pending, so the reader's future completes on its first poll.
struct Chunks {
    chunks: Vec<Vec<u8>>,
    next: usize,
    offset: usize,
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(chunk) = this.chunks.get(this.next) {
            let n = buf.remaining().min(chunk.len() - this.offset);
            buf.put_slice(&chunk[this.offset..this.offset + n]);
            this.offset += n;
            if this.offset == chunk.len() {
                this.next += 1;
                this.offset = 0;
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Input layout: 2 bytes of limit (1..=1024), then segments `[len][repeat][len bytes]`, each one
/// read of its bytes repeated `repeat + 1` times. Short repeats give long lines from short inputs.
fn decode(data: &[u8]) -> Option<(usize, Vec<Vec<u8>>)> {
    let (limit, mut rest) = data.split_first_chunk::<2>()?;
    let limit = usize::from(u16::from_le_bytes(*limit)) % 1024 + 1;
    let mut chunks = Vec::new();
    let mut total = 0;
    while let [len, repeat, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        let chunk = bytes.repeat(usize::from(*repeat) + 1);
        total += chunk.len();
        if total > STREAM_BYTES_MAX {
            break;
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
    }
    Some((limit, chunks))
}

/// What docs/protocol.md §1 asks for, computed on the whole stream at once.
fn expected_lines(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = stream.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

fuzz_target!(|data: &[u8]| {
    let Some((limit, chunks)) = decode(data) else {
        return;
    };
    let stream = chunks.concat();
    let expected = expected_lines(&stream);
    drop(stream);

    let mut reader = LineReader::new(
        Chunks {
            chunks,
            next: 0,
            offset: 0,
        },
        limit,
    );
    let mut waker_context = Context::from_waker(Waker::noop());
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    // The reader's buffer may double past one read on top of the limit, and one line
    // (at most the buffer's contents) is split off from it while it is held.
    let bound = 3 * (limit + READ_CHUNK_BYTES) + TOO_LONG_PREFIX_BYTES + 1024;

    let mut expected = expected.iter();
    loop {
        let got = match pin!(reader.read_line()).poll(&mut waker_context) {
            Poll::Ready(result) => result.expect("reading from memory cannot fail"),
            Poll::Pending => panic!("the source is never pending"),
        };
        let peak = PEAK.load(Ordering::Relaxed) - baseline;
        assert!(
            peak <= bound,
            "reader held {peak} bytes, bound {bound} (limit {limit})"
        );
        let want = expected.next();
        match (got, want) {
            (None, None) => break,
            (Some(Line::Complete(line)), Some(want)) => {
                assert!(line.len() <= limit, "a complete line is within the limit");
                assert_eq!(&line, want);
            }
            (Some(Line::TooLong { prefix }), Some(want)) => {
                assert!(want.len() > limit, "only a line over the limit is TooLong");
                assert!(prefix.len() <= TOO_LONG_PREFIX_BYTES);
                assert!(
                    want.starts_with(&prefix),
                    "the prefix is the line's own start"
                );
                // With a limit of at least 256 the prefix is always the first 256 bytes; below
                // that it holds at least what was over the limit when discarding began.
                let least = TOO_LONG_PREFIX_BYTES.min(want.len());
                let least = if limit >= TOO_LONG_PREFIX_BYTES {
                    least
                } else {
                    least.min(limit + 1)
                };
                assert!(prefix.len() >= least, "prefix of {} bytes", prefix.len());
            }
            (got, want) => panic!("reader gave {got:?}, expected {want:?}"),
        }
    }
});
