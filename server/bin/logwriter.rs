//! A log file written by a thread of its own: lines gather in one bounded in-memory buffer and
//! go to disk in large writes, so a busy server spends a copy per line, not a system call.
//!
//! Lossless: when the disk falls behind and the buffer is full, the line's writer waits, because
//! the log is the trace (real mode and the load benchmark read it back). [`WriterGuard`] writes
//! out everything on a graceful stop.
//!
//! Why not `tracing-appender`'s non-blocking writer: it sends every line as its own allocation
//! through a channel, and its thread spins in `sched_yield` while the channel is empty; under
//! load the herd spent about a tenth of the machine there.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes of lines a log may hold in memory; past it, the next line waits for the disk. About
/// 20 ms of a busy server's trace: enough to ride out a slow write, and small beside the table
/// (a log holds at most twice this: the lines waiting and the ones being written).
pub const LOG_PENDING_BYTES_MAX: usize = 1024 * 1024;

/// Bytes that make the writer thread write at once instead of waiting to gather more.
pub const LOG_WRITE_BYTES: usize = 64 * 1024;

/// How long the writer thread gathers lines before it writes what it has: the longest a line
/// stays in memory on an idle server, and what keeps a busy one at few, large writes.
pub const LOG_GATHER_TIME: Duration = Duration::from_millis(5);

/// Lines waiting for the writer thread.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The guard was dropped: write what is left and end.
    stopping: bool,
    /// The writer thread ended (it cannot be waited for any more).
    writer_gone: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Lines came to an empty buffer, the buffer passed [`LOG_WRITE_BYTES`], or stopping.
    lines_waiting: Condvar,
    /// The writer thread took the buffer: there is room again.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves plain bytes behind; they are still lines.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The producing end: cheap to clone, one per log file.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keep it alive until exit: dropping it writes every pending line and ends the thread.
pub struct WriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the writer thread for `file`; `name` names the thread.
    pub fn start(
        name: &str,
        file: impl Write + Send + 'static,
    ) -> std::io::Result<(LogWriter, WriterGuard)> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name(format!("log-{name}"))
            .spawn({
                let shared = shared.clone();
                move || write_until_stopped(&shared, file)
            })?;
        Ok((
            LogWriter {
                shared: shared.clone(),
            },
            WriterGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }

    /// Appends whole lines. Waits only while [`LOG_PENDING_BYTES_MAX`] bytes are pending (a
    /// single larger line still goes, into an empty buffer). After the stop (the guard was
    /// dropped and everything written) a line is dropped: nothing would ever write it.
    pub fn append(&self, lines: &[u8]) {
        let mut pending = self.shared.lock();
        while !pending.bytes.is_empty()
            && pending.bytes.len() + lines.len() > LOG_PENDING_BYTES_MAX
            && !pending.writer_gone
        {
            pending = self
                .shared
                .room
                .wait(pending)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if pending.writer_gone {
            return;
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(lines);
        let after = pending.bytes.len();
        drop(pending);
        if before == 0 || (before < LOG_WRITE_BYTES && after >= LOG_WRITE_BYTES) {
            self.shared.lines_waiting.notify_one();
        }
    }
}

/// The writer thread: wait for lines, gather for at most [`LOG_GATHER_TIME`], swap the buffer
/// out and write it, until stopped with nothing left.
fn write_until_stopped(shared: &Shared, mut file: impl Write) {
    let mut taken = Vec::new();
    let mut failed = false;
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.stopping {
            pending = shared
                .lines_waiting
                .wait(pending)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if pending.bytes.len() < LOG_WRITE_BYTES && !pending.stopping {
            pending = shared
                .lines_waiting
                .wait_timeout(pending, LOG_GATHER_TIME)
                .map(|(pending, _)| pending)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        if pending.bytes.is_empty() && pending.stopping {
            pending.writer_gone = true;
            drop(pending);
            shared.room.notify_all();
            let _ = file.flush();
            return;
        }
        std::mem::swap(&mut pending.bytes, &mut taken);
        drop(pending);
        shared.room.notify_all();
        if let Err(e) = file.write_all(&taken).and_then(|()| file.flush())
            && !failed
        {
            // Said once: the servers go on, and the trace on disk has a gap from here.
            eprintln!("server: cannot write a log file: {e}; its lines are lost from here");
            failed = true;
        }
        taken.clear();
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.lines_waiting.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that shares what it was given, and can be held shut to fill the buffer.
    #[derive(Clone, Default)]
    struct Recorder {
        written: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.lock().unwrap().extend_from_slice(buf);
            *self.writes.lock().unwrap() += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let file = Recorder::default();
        let (writer, guard) = LogWriter::start("test", file.clone()).unwrap();
        let mut expected = Vec::new();
        for i in 0..10_000 {
            let line = format!("line {i}\n");
            writer.append(line.as_bytes());
            expected.extend_from_slice(line.as_bytes());
        }
        drop(guard);
        assert_eq!(*file.written.lock().unwrap(), expected);
        // Gathered: far fewer writes than lines.
        assert!(*file.writes.lock().unwrap() < 1_000);
    }

    #[test]
    fn a_line_after_the_stop_is_not_kept() {
        let file = Recorder::default();
        let (writer, guard) = LogWriter::start("test", file.clone()).unwrap();
        writer.append(b"before\n");
        drop(guard);
        writer.append(b"after\n");
        assert!(writer.shared.lock().bytes.is_empty());
        assert_eq!(*file.written.lock().unwrap(), b"before\n");
    }

    #[test]
    fn an_idle_log_is_on_disk_without_a_stop() {
        let file = Recorder::default();
        let (writer, _guard) = LogWriter::start("test", file.clone()).unwrap();
        writer.append(b"one line\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while file.written.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*file.written.lock().unwrap(), b"one line\n");
    }

    /// A file whose writes wait until released: the disk falls behind.
    struct Stalled {
        inner: Recorder,
        release: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (released, changed) = &*self.release;
            let mut released = released.lock().unwrap();
            while !*released {
                released = changed.wait(released).unwrap();
            }
            self.inner.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_buffer_makes_the_next_line_wait_and_loses_nothing() {
        let inner = Recorder::default();
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let file = Stalled {
            inner: inner.clone(),
            release: release.clone(),
        };
        let (writer, guard) = LogWriter::start("test", file).unwrap();
        let line = vec![b'x'; LOG_PENDING_BYTES_MAX / 4];
        let producer = std::thread::spawn({
            let writer = writer.clone();
            let line = line.clone();
            move || {
                // The writer thread holds at most four (a full buffer it took and cannot
                // write), the buffer four more: the ninth must wait.
                for _ in 0..9 {
                    writer.append(&line);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(!producer.is_finished(), "a line went past a full buffer");
        let pending = writer.shared.lock().bytes.len();
        assert!(pending <= LOG_PENDING_BYTES_MAX, "{pending} bytes pending");
        let (released, changed) = &*release;
        *released.lock().unwrap() = true;
        changed.notify_all();
        producer.join().unwrap();
        drop(guard);
        assert_eq!(inner.written.lock().unwrap().len(), 9 * line.len());
    }
}
