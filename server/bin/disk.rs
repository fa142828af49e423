//! Real files: the production side of the durable store's seam (`net::Disk`), one directory
//! per server. Each call runs on tokio's blocking pool, so a slow disk never stalls the
//! servers' network tasks; the library never sees a thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use server::net::{BoxFuture, Disk};

/// A server's directory on a real disk.
#[derive(Debug, Clone)]
pub struct RealDisk {
    root: PathBuf,
}

impl RealDisk {
    pub fn new(root: PathBuf) -> RealDisk {
        RealDisk { root }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path) -> io::Result<T> + Send + 'static,
    ) -> BoxFuture<'static, io::Result<T>> {
        let root = self.root.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&root))
                .await
                .map_err(io::Error::other)?
        })
    }
}

/// Makes the directory's entries (a file created, renamed or removed) durable.
fn sync_dir(root: &Path) -> io::Result<()> {
    File::open(root)?.sync_all()
}

impl Disk for RealDisk {
    fn list(&self) -> BoxFuture<'static, io::Result<Vec<String>>> {
        self.blocking(|root| {
            std::fs::create_dir_all(root)?;
            let mut names = Vec::new();
            for entry in std::fs::read_dir(root)? {
                names.push(entry?.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            Ok(names)
        })
    }

    fn read(&self, name: &str) -> BoxFuture<'static, io::Result<Vec<u8>>> {
        let path = self.path(name);
        self.blocking(move |_| std::fs::read(path))
    }

    fn append(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
        let path = self.path(name);
        self.blocking(move |_| {
            let mut file = OpenOptions::new().create(true).append(true).open(path)?;
            file.write_all(&bytes)
        })
    }

    fn sync(&self, name: &str) -> BoxFuture<'static, io::Result<()>> {
        let path = self.path(name);
        self.blocking(move |_| File::open(path)?.sync_data())
    }

    fn replace(&self, name: &str, bytes: Vec<u8>) -> BoxFuture<'static, io::Result<()>> {
        let (path, temporary) = (self.path(name), self.path(&format!("{name}.tmp")));
        self.blocking(move |root| {
            let mut file = File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            sync_dir(root)
        })
    }

    fn remove(&self, name: &str) -> BoxFuture<'static, io::Result<()>> {
        let path = self.path(name);
        self.blocking(move |root| {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            sync_dir(root)
        })
    }
}
