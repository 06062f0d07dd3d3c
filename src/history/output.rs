//! Where `history --output` writes: never the store, never an existing file unless asked, never
//! through a symlink, and nothing at all unless the whole history was written.
//!
//! The history goes to a new file beside the output (created exclusively, so no symlink or
//! file of the same name is followed), which replaces the output by a rename once complete: a
//! failed run leaves the output as it was, and an overwrite replaces a symlink, not its target.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// An output file being written.
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    partial: PathBuf,
    file: Option<BufWriter<File>>,
}

/// The (device, inode) of the file `path` names, following symlinks.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The files of the store at `store`: the database, its WAL, shared memory and lock.
fn store_files(store: &Path) -> [PathBuf; 4] {
    [
        store.to_owned(),
        with_suffix(store, "-wal"),
        with_suffix(store, "-shm"),
        with_suffix(store, ".lock"),
    ]
}

/// The absolute form of `path` with its folder's symlinks resolved (the file itself may not
/// exist yet).
fn resolved(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

impl Output {
    /// Checks `path` against the store at `store` and starts writing beside it.
    pub fn create(path: &Path, store: &Path, overwrite: bool) -> Result<Self, String> {
        let shown = path.display();
        let output = resolved(path).ok_or_else(|| {
            format!("cannot write the history to {shown}: its folder does not exist")
        })?;
        for file in store_files(store) {
            let same_name = resolved(&file).is_some_and(|f| f == output);
            let same_file = identity(&file).is_some() && identity(&file) == identity(path);
            if same_name || same_file {
                return Err(format!(
                    "--output {shown} is part of the store ({}, --storage.path): the history \
                     is read from the store and cannot replace it; write it elsewhere",
                    file.display()
                ));
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !overwrite => {
                let kind = if meta.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "a file"
                };
                return Err(format!(
                    "--output {shown} is {kind} already; give --overwrite to replace it"
                ));
            }
            Ok(meta) if meta.is_dir() => {
                return Err(format!("--output {shown} is a folder"));
            }
            _ => {}
        }
        let partial = with_suffix(&output, &format!(".partial-{}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
        Ok(Self {
            path: output,
            partial,
            file: Some(BufWriter::new(file)),
        })
    }

    /// Puts the complete history in place of the output.
    pub fn finish(mut self) -> Result<(), String> {
        let file = self.file.take().expect("present until finished");
        let file = file
            .into_inner()
            .map_err(|e| format!("cannot write {}: {}", self.partial.display(), e.error()))?;
        file.sync_all()
            .map_err(|e| format!("cannot write {}: {e}", self.partial.display()))?;
        std::fs::rename(&self.partial, &self.path)
            .map_err(|e| format!("cannot move the history to {}: {e}", self.path.display()))
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file
            .as_mut()
            .expect("present until finished")
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("present until finished").flush()
    }
}

impl Drop for Output {
    /// A history not finished leaves nothing behind.
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn the_store_and_its_files_are_refused_whatever_their_name() {
        let dir = folder();
        let store = dir.path().join("store.db");
        for file in store_files(&store) {
            std::fs::write(&file, "x").unwrap();
        }
        std::os::unix::fs::symlink(&store, dir.path().join("link")).unwrap();
        std::fs::hard_link(&store, dir.path().join("hard")).unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let roundabout = sub.join("..").join("store.db");
        for output in store_files(&store).into_iter().chain([
            dir.path().join("link"),
            dir.path().join("hard"),
            roundabout,
        ]) {
            let e = Output::create(&output, &store, true).unwrap_err();
            assert!(e.contains("is part of the store"), "{output:?}: {e}");
        }
        assert_eq!(std::fs::read(&store).unwrap(), b"x");
    }

    #[test]
    fn an_existing_file_needs_overwrite_and_a_symlink_is_replaced_not_followed() {
        let dir = folder();
        let store = dir.path().join("store.db");
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("out.om");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = Output::create(&link, &store, false).unwrap_err();
        assert!(e.contains("is a symlink already"), "{e}");
        let e = Output::create(&target, &store, false).unwrap_err();
        assert!(e.contains("is a file already"), "{e}");

        let mut out = Output::create(&link, &store, true).unwrap();
        out.write_all(b"# EOF\n").unwrap();
        out.finish().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert_eq!(std::fs::read(&link).unwrap(), b"# EOF\n");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn an_unfinished_history_leaves_the_output_as_it_was() {
        let dir = folder();
        let store = dir.path().join("store.db");
        let output = dir.path().join("out.om");
        std::fs::write(&output, "old").unwrap();
        let mut out = Output::create(&output, &store, true).unwrap();
        out.write_all(b"half").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&output).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
