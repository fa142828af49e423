//! A server's log file rotated by size with a bounded number of files, so the trace can never
//! fill a disk: `NAME.log` is written until the next lines would take it past
//! `log_file_bytes_max`; then `NAME.log.1` becomes `NAME.log.2` and so on, the file past
//! `log_files_max` goes, `NAME.log` becomes `NAME.log.1`, and a fresh `NAME.log` starts.
//!
//! Rotation happens only between whole lines (the writer thread hands over whole lines), so
//! every file reads on its own and the files, read oldest first
//! (`server::events::log_file_names`), are the trace with nothing torn at a rotation. A file
//! is longer than `log_file_bytes_max` only when it holds a single line that is.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How a log rotates: the herd's `log_file_bytes_max` and `log_files_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub file_bytes_max: u64,
    pub files_max: usize,
}

/// The log file of one server, rotated as [`Rotation`] says.
pub struct RotatingFile {
    dir: PathBuf,
    name: String,
    rotation: Rotation,
    file: File,
    /// Bytes in the current file (it may have held some before this process started).
    written: u64,
}

impl RotatingFile {
    /// Opens `DIR/NAME.log` for appending.
    pub fn open(dir: &Path, name: &str, rotation: Rotation) -> io::Result<RotatingFile> {
        let path = dir.join(server::events::log_file_name(name, 0));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            rotation,
            file,
            written,
        })
    }

    fn path(&self, generation: usize) -> PathBuf {
        self.dir
            .join(server::events::log_file_name(&self.name, generation))
    }

    /// Shifts every rotated file one generation older (the oldest beyond `files_max` goes)
    /// and starts an empty current file.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let kept = self.rotation.files_max.max(1);
        if kept > 1 {
            // `NAME.log.{kept-1}` is replaced by the rename onto it: the oldest goes.
            for generation in (1..kept - 1).rev() {
                let from = self.path(generation);
                if from.exists() {
                    std::fs::rename(&from, self.path(generation + 1))?;
                }
            }
            std::fs::rename(self.path(0), self.path(1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(self.path(0))?;
        self.written = 0;
        Ok(())
    }
}

/// Bytes of whole lines at the start of `bytes` that fit in `room`: up to and including the
/// last `\n` at or before `room` (none when the first line is longer than `room`).
fn whole_lines_within(bytes: &[u8], room: u64) -> usize {
    let limit = usize::try_from(room).unwrap_or(usize::MAX).min(bytes.len());
    bytes[..limit]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1)
}

impl Write for RotatingFile {
    /// Writes all of `buf` (whole lines), rotating between lines as the files fill.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let room = self.rotation.file_bytes_max.saturating_sub(self.written);
            let mut take = whole_lines_within(rest, room);
            if take == 0 {
                if self.written > 0 {
                    self.rotate()?;
                    continue;
                }
                // One line longer than a whole file: it gets a file of its own.
                take = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |newline| newline + 1);
            }
            self.file.write_all(&rest[..take])?;
            self.written += take as u64;
            rest = &rest[take..];
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of this test's own (no other test or process shares it).
    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("herd-logrotate-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    fn lines(count: usize) -> Vec<u8> {
        (0..count)
            .flat_map(|i| format!("{{\"line\":{i:04}}}\n").into_bytes())
            .collect()
    }

    /// Every file within the bound, no more files than the bound, and the kept files read
    /// oldest first are an unbroken run of the last lines written.
    #[test]
    fn files_stay_within_their_bounds_and_keep_the_newest_lines_whole() {
        let dir = scratch("bounds");
        let rotation = Rotation {
            file_bytes_max: 100,
            files_max: 3,
        };
        let mut file = RotatingFile::open(&dir, "Bona", rotation).expect("open");
        let all = lines(200);
        for chunk in all.chunks(7 * 14) {
            file.write_all(chunk).expect("write");
        }
        file.flush().expect("flush");
        let mut kept = Vec::new();
        for name in server::events::log_file_names("Bona", rotation.files_max) {
            let path = dir.join(&name);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            assert!(bytes.len() as u64 <= rotation.file_bytes_max, "{name}");
            assert!(bytes.ends_with(b"\n"), "{name} ends inside a line");
            kept.extend(bytes);
        }
        let names = std::fs::read_dir(&dir).expect("list").count();
        assert!(names <= rotation.files_max, "{names} files");
        assert!(
            !kept.is_empty() && all.ends_with(&kept),
            "not the newest lines, whole"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_line_longer_than_a_file_gets_a_file_of_its_own() {
        let dir = scratch("long-line");
        let rotation = Rotation {
            file_bytes_max: 10,
            files_max: 2,
        };
        let mut file = RotatingFile::open(&dir, "Bona", rotation).expect("open");
        file.write_all(b"short\nmuch longer than ten\nend\n")
            .expect("write");
        let current = std::fs::read(dir.join("Bona.log")).expect("current");
        let older = std::fs::read(dir.join("Bona.log.1")).expect("rotated");
        assert_eq!(older, b"much longer than ten\n");
        assert_eq!(current, b"end\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
