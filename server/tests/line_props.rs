//! Property tests of `LineReader`: any chunking of any input gives the lines of a plain split
//! on `\n`, and over-long lines come back as `TooLong` with their first 256 bytes.
//!
//! The reader sees a socket's view of the bytes: reads of arbitrary sizes, boundaries anywhere
//! (inside a line, right after a `\n`, in the middle of a multi-byte character). Its answer must
//! not depend on where those boundaries fall.

use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use server::line::{Line, LineReader, TOO_LONG_PREFIX_BYTES};
use tokio::io::{AsyncRead, ReadBuf};

/// Gives out `data` in reads of the given sizes (cycled), never more than asked for.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    next_size: usize,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let size = this.sizes[this.next_size % this.sizes.len()];
        this.next_size += 1;
        let n = size.min(buf.remaining()).min(this.data.len() - this.at);
        buf.put_slice(&this.data[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

fn read_all(data: Vec<u8>, sizes: Vec<usize>, limit: usize) -> Vec<Line> {
    let source = Chunked {
        data,
        at: 0,
        sizes,
        next_size: 0,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        let mut reader = LineReader::new(source, limit);
        let mut lines = Vec::new();
        while let Some(line) = reader.read_line().await.expect("reading memory") {
            lines.push(line);
        }
        lines
    })
}

/// docs/protocol.md §1 on the whole input at once: split on `\n`, a last line without `\n` counts,
/// a line over the limit is answered from its first 256 bytes.
fn expected(data: &[u8], limit: usize) -> Vec<Line> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|line| {
            if line.len() <= limit {
                Line::Complete(line.to_vec())
            } else {
                let prefix = &line[..TOO_LONG_PREFIX_BYTES.min(line.len())];
                Line::TooLong {
                    prefix: prefix.to_vec(),
                }
            }
        })
        .collect()
}

/// Bytes with newlines common enough that lines of every length occur, some over the limit.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![1 => Just(b'\n'), 30 => any::<u8>()];
    let line = (0_usize..1500, any::<u8>()).prop_map(|(len, fill)| {
        let fill = if fill == b'\n' { b'x' } else { fill };
        let mut line = vec![fill; len];
        line.push(b'\n');
        line
    });
    let piece = prop_oneof![
        proptest::collection::vec(byte, 0..600),
        line,
        Just(b"IAMAT kiwi +34.068930-118.445127 1621464827.959498503\r\n".to_vec()),
        Just("é漢😀\n".as_bytes().to_vec()),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![1_usize..8, 8_usize..300, 300_usize..20_000];
    proptest::collection::vec(size, 1..16)
}

proptest! {
    #[test]
    fn any_chunking_gives_the_lines_of_a_split_on_newline(
        data in stream(),
        sizes in read_sizes(),
        limit in TOO_LONG_PREFIX_BYTES..=1024,
    ) {
        let want = expected(&data, limit);
        prop_assert_eq!(read_all(data, sizes, limit), want);
    }

    #[test]
    fn lines_over_the_limit_are_too_long_with_at_most_256_bytes_of_their_start(
        data in stream(),
        sizes in read_sizes(),
        limit in TOO_LONG_PREFIX_BYTES..=600,
    ) {
        let whole: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        for (line, source) in read_all(data.clone(), sizes, limit).iter().zip(&whole) {
            match line {
                Line::Complete(bytes) => {
                    prop_assert!(bytes.len() <= limit);
                    prop_assert_eq!(bytes.as_slice(), *source);
                }
                Line::TooLong { prefix } => {
                    prop_assert!(source.len() > limit);
                    prop_assert!(prefix.len() <= TOO_LONG_PREFIX_BYTES);
                    prop_assert!(source.starts_with(prefix));
                }
            }
        }
    }

    #[test]
    fn a_single_byte_limit_still_splits_lines_where_the_newlines_are(
        data in stream(),
        sizes in read_sizes(),
    ) {
        let lines = read_all(data.clone(), sizes, 1);
        let newlines = data.iter().filter(|&&b| b == b'\n').count();
        let last_unterminated = usize::from(data.last().is_some_and(|&b| b != b'\n'));
        prop_assert_eq!(lines.len(), newlines + last_unterminated);
    }
}
