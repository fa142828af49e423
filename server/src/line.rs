//! Lines in and out, with their bounds: no line is ever buffered beyond `line_bytes_max`, and
//! no write waits beyond its timeout.
//!
//! A longer line is discarded as it arrives and reported as [`Line::TooLong`] with its first
//! bytes, so the caller can answer `? ` and keep the connection. A final line that ends at EOF
//! without a newline is still a line (clients that half-close after one command send one).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How many bytes of an over-long line are kept for the `? ` reply (docs/protocol.md §1).
pub const TOO_LONG_PREFIX_BYTES: usize = 256;

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 8 * 1024;

/// Why [`write_lines`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailed {
    /// Not written within the bound: the other side stopped reading.
    TimedOut,
    /// The transport failed; its own words.
    Io(String),
}

/// Writes all of `bytes` (one or more whole lines) within `bound`, or says why not: a peer or
/// client that stops reading cannot hold a writer forever.
pub async fn write_lines<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    bound: Duration,
) -> Result<(), WriteFailed> {
    let write = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    match tokio::time::timeout(bound, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(WriteFailed::Io(e.to_string())),
        Err(_) => Err(WriteFailed::TimedOut),
    }
}

/// At most this many bytes of a line go into a log event.
pub const LOGGED_LINE_BYTES_MAX: usize = 256;

/// A line as a log event shows it: lossy UTF-8, cut to [`LOGGED_LINE_BYTES_MAX`] bytes.
pub fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(LOGGED_LINE_BYTES_MAX)]).into_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A whole line, without its `\n`.
    Complete(Vec<u8>),
    /// A line over the limit: only its first [`TOO_LONG_PREFIX_BYTES`] were kept.
    TooLong { prefix: Vec<u8> },
}

/// Reads [`Line`]s from a byte stream. Memory stays under `line_bytes_max + 2 * READ_CHUNK_BYTES`.
pub struct LineReader<R> {
    reader: R,
    /// Where each read lands, allocated and zeroed once per reader (not once per read: that
    /// zeroing was a fifth of the herd's instructions per IAMAT).
    chunk: Box<[u8]>,
    buf: Vec<u8>,
    line_bytes_max: usize,
    /// Set while the rest of an over-long line is being thrown away.
    discarding: Option<Vec<u8>>,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(reader: R, line_bytes_max: usize) -> Self {
        LineReader {
            reader,
            chunk: vec![0; READ_CHUNK_BYTES].into_boxed_slice(),
            buf: Vec::new(),
            line_bytes_max,
            discarding: None,
            eof: false,
        }
    }

    /// The reader back, when nothing past the lines read so far has arrived (a stream that
    /// changes hands, as a link's does when TLS starts); `None` when bytes wait in the buffer.
    pub fn into_inner(self) -> Option<R> {
        (self.buf.is_empty() && self.discarding.is_none()).then_some(self.reader)
    }

    /// The next line, or `None` at a clean end of input.
    pub async fn read_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.take_buffered_line() {
                return Ok(Some(line));
            }
            if self.eof {
                return Ok(self.take_final_line());
            }
            let n = self.reader.read(&mut self.chunk).await?;
            if n == 0 {
                self.eof = true;
            } else {
                self.buf.extend_from_slice(&self.chunk[..n]);
            }
        }
    }

    /// Splits off a line if the buffer holds a newline; starts discarding if it cannot.
    fn take_buffered_line(&mut self) -> Option<Line> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let mut line = self.buf[..pos].to_vec();
                self.buf.drain(..=pos);
                if let Some(prefix) = self.discarding.take() {
                    return Some(Line::TooLong { prefix });
                }
                if line.len() > self.line_bytes_max {
                    line.truncate(TOO_LONG_PREFIX_BYTES);
                    return Some(Line::TooLong { prefix: line });
                }
                Some(Line::Complete(line))
            }
            None => {
                if self.discarding.is_some() {
                    self.buf.clear();
                } else if self.buf.len() > self.line_bytes_max {
                    let prefix = self.buf[..TOO_LONG_PREFIX_BYTES.min(self.buf.len())].to_vec();
                    self.discarding = Some(prefix);
                    self.buf.clear();
                }
                None
            }
        }
    }

    fn take_final_line(&mut self) -> Option<Line> {
        if let Some(prefix) = self.discarding.take() {
            return Some(Line::TooLong { prefix });
        }
        if self.buf.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.buf);
        if line.len() > self.line_bytes_max {
            let prefix = line[..TOO_LONG_PREFIX_BYTES].to_vec();
            return Some(Line::TooLong { prefix });
        }
        Some(Line::Complete(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(line) = reader
            .read_line()
            .await
            .expect("reading a slice cannot fail")
        {
            out.push(line);
        }
        out
    }

    fn complete(s: &str) -> Line {
        Line::Complete(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn lines_are_split_on_newline_and_a_last_line_without_newline_counts() {
        let got = lines(b"one\ntwo\r\nthree", 1024).await;
        assert_eq!(
            got,
            vec![complete("one"), complete("two\r"), complete("three")]
        );
    }

    #[tokio::test]
    async fn empty_input_has_no_lines_and_empty_lines_are_kept() {
        assert!(lines(b"", 1024).await.is_empty());
        assert_eq!(lines(b"\n\n", 1024).await, vec![complete(""), complete("")]);
    }

    #[tokio::test]
    async fn an_over_long_line_is_reported_with_its_prefix_and_the_next_line_survives() {
        let mut input = vec![b'x'; 200_000];
        input.extend_from_slice(b"\nIAMAT next\n");
        let got = lines(&input, 1024).await;
        assert_eq!(
            got,
            vec![
                Line::TooLong {
                    prefix: vec![b'x'; TOO_LONG_PREFIX_BYTES]
                },
                complete("IAMAT next"),
            ]
        );
    }

    #[tokio::test]
    async fn an_over_long_line_cut_by_eof_is_still_answered() {
        let input = vec![b'y'; 5000];
        let got = lines(&input, 1024).await;
        assert_eq!(
            got,
            vec![Line::TooLong {
                prefix: vec![b'y'; TOO_LONG_PREFIX_BYTES]
            }]
        );
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_complete_and_one_more_byte_is_too_long() {
        let mut input = vec![b'a'; 300];
        input.push(b'\n');
        input.extend(vec![b'b'; 301]);
        input.push(b'\n');
        let got = lines(&input, 300).await;
        assert_eq!(got[0], Line::Complete(vec![b'a'; 300]));
        assert!(matches!(got[1], Line::TooLong { .. }));
    }

    #[tokio::test]
    async fn the_buffer_never_grows_past_the_limit_plus_one_read() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for _ in 0..100 {
                client.write_all(&[b'z'; 10_000]).await?;
            }
            client.write_all(b"\n").await?;
            Ok::<_, std::io::Error>(())
        });
        let mut reader = LineReader::new(server, 4096);
        let line = reader.read_line().await.expect("duplex read");
        assert!(matches!(line, Some(Line::TooLong { .. })));
        assert!(reader.buf.capacity() <= 2 * (4096 + READ_CHUNK_BYTES));
        writer.await.expect("writer task").expect("writer io");
    }
}
