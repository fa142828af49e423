//! The simulation's side of the server's disk seam: turmoil's simulated filesystem, which
//! loses every unsynced write when its host crashes (power loss) and tears pending writes at
//! block boundaries, plus the disk faults a scenario injects: a failed sync, a full disk, a
//! flipped bit in a file at rest.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use server::backoff::stable_hash;
use server::net::{BoxFuture, Disk};
use turmoil::fs::shim::std::fs as simfs;

/// Where each simulated server keeps its files, on its own host's filesystem.
pub const SIM_DATA_DIR: &str = "/data";

/// The disk faults in force, per server, changed by the scenario's steps.
pub type DiskFaults = Arc<Mutex<BTreeMap<String, DiskFault>>>;

/// What is wrong with one server's disk now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskFault {
    /// The next sync fails (EIO), once.
    pub fail_sync: bool,
    /// Every write fails (ENOSPC) until the disk is freed.
    pub full: bool,
    /// The next file read that is not empty gets one bit flipped first, at rest (the bit
    /// chosen from this seed).
    pub flip: Option<u64>,
}

/// How long a sync takes on a simulated disk: writes appended before it are in flight (lost or
/// torn by power loss) until it ends, and records that come meanwhile share the next one.
pub const SYNC_LATENCY: std::time::Duration = std::time::Duration::from_millis(4);

/// One simulated server's directory.
#[derive(Clone)]
pub struct TurmoilDisk {
    server: String,
    root: PathBuf,
    faults: DiskFaults,
}

impl TurmoilDisk {
    pub fn new(server: &str, faults: DiskFaults) -> TurmoilDisk {
        TurmoilDisk {
            server: server.to_string(),
            root: PathBuf::from(SIM_DATA_DIR),
            faults,
        }
    }

    /// Applies `f` to this server's faults and returns what it gives.
    fn fault<T>(&self, f: impl FnOnce(&mut DiskFault) -> T) -> T {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        f(faults.entry(self.server.clone()).or_default())
    }

    fn full(&self) -> io::Result<()> {
        if self.fault(|f| f.full) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "disk full (simulated)",
            ));
        }
        Ok(())
    }

    fn list_now(&self) -> io::Result<Vec<String>> {
        simfs::create_dir_all(&self.root)?;
        simfs::sync_dir("/")?;
        let mut names: Vec<String> = simfs::read_dir(&self.root)?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn read_now(&self, name: &str) -> io::Result<Vec<u8>> {
        let path = self.root.join(name);
        let mut bytes = simfs::read(&path)?;
        if !bytes.is_empty()
            && let Some(seed) = self.fault(|f| f.flip.take())
        {
            let bit =
                stable_hash(&[&self.server, name, &seed.to_string()]) % (bytes.len() as u64 * 8);
            bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
            // The bit flips at rest: it is on the disk, synced, not only in what is read.
            simfs::write(&path, &bytes)?;
            simfs::File::open(&path)?.sync_all()?;
        }
        Ok(bytes)
    }

    fn append_now(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.full()?;
        let mut file = simfs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join(name))?;
        file.write_all(bytes)
    }

    fn sync_now(&self, name: &str) -> io::Result<()> {
        if self.fault(|f| std::mem::take(&mut f.fail_sync)) {
            return Err(io::Error::other("sync failed (simulated)"));
        }
        simfs::OpenOptions::new()
            .write(true)
            .open(self.root.join(name))?
            .sync_all()
    }

    fn replace_now(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.full()?;
        let temporary = self.root.join(format!("{name}.tmp"));
        let mut file = simfs::File::create(&temporary)?;
        file.write_all(bytes)?;
        self.sync_now(&format!("{name}.tmp"))?;
        simfs::rename(&temporary, self.root.join(name))?;
        simfs::sync_dir(&self.root)
    }

    fn remove_now(&self, name: &str) -> io::Result<()> {
        match simfs::remove_file(self.root.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        simfs::sync_dir(&self.root)
    }
}

impl Disk for TurmoilDisk {
    fn list(&self) -> BoxFuture<'static, io::Result<Vec<String>>> {
        let listed = self.list_now();
        Box::pin(async move { listed })
    }

    fn read(&self, name: &str) -> BoxFuture<'static, io::Result<Vec<u8>>> {
        let read = self.read_now(name);
        Box::pin(async move { read })
    }

    fn append(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
        let appended = self.append_now(name, &bytes);
        Box::pin(async move { appended })
    }

    fn sync(&self, name: &str) -> BoxFuture<'static, io::Result<()>> {
        let (disk, name) = (self.clone(), name.to_string());
        Box::pin(async move {
            tokio::time::sleep(SYNC_LATENCY).await;
            disk.sync_now(&name)
        })
    }

    fn replace(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
        let replaced = self.replace_now(name, &bytes);
        Box::pin(async move { replaced })
    }

    fn remove(&self, name: &str) -> BoxFuture<'static, io::Result<()>> {
        let removed = self.remove_now(name);
        Box::pin(async move { removed })
    }
}
