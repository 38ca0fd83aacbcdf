//! What the host writes is for the host alone: folders 0700, files 0600, so no other user on the
//! machine can read a preview secret, an admin token, a deployment or an embedded database.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of every folder the host creates.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the host creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and any missing parents, each one 0700; an existing folder is left as it is.
pub fn create_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Creates (or truncates) a file that only the host's user can read.
pub fn create_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The mode above applies only to a new file; an old one may have been wider.
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes a whole file that only the host's user can read.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    create_file(path)?.write_all(bytes)
}

/// Copies a file into a private one (`std::fs::copy` would keep the source's wider mode).
pub fn copy_file(from: &Path, to: &Path) -> io::Result<u64> {
    let mut source = File::open(from)?;
    let mut target = create_file(to)?;
    io::copy(&mut source, &mut target)
}

/// Makes sure a file exists and only the host's user can read it, keeping its contents: for
/// files another library then opens, such as an SQLite database.
pub fn touch_file(path: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))
}

/// A warning for a data folder that others can read or enter, which the host leaves as it is
/// (it may be a folder the user made on purpose) but whose contents it keeps private.
pub fn wide_open(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the data directory {} is mode {mode:o}: other users can list it; the host's own \
             files in it are private (0600), but `chmod 700` it to hide their names too",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_files_are_the_hosts_alone() {
        let root = std::env::temp_dir().join(format!("routelet-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let nested = root.join("a/b");
        create_dir(&nested).unwrap();
        for folder in [root.join("a"), nested.clone()] {
            let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", folder.display());
        }
        let file = nested.join("secret");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        create_file(&file).unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let db = nested.join("db.sqlite");
        std::fs::write(&db, "keep").unwrap();
        touch_file(&db).unwrap();
        assert_eq!(std::fs::read_to_string(&db).unwrap(), "keep");
        assert_eq!(
            std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
