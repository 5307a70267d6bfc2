//! The data directory's permissions. It holds the database (users' password hashes, the
//! outbox with reset tokens in clear until delivered), the data key and the TLS key, so it is
//! the owner's alone whatever the umask of whoever runs `init` or `serve`: the directory 0700,
//! the database, its -wal and -shm, and the key files 0600.
//!
//! When the rows live in PostgreSQL instead, the directory keeps the keys and TLS files and
//! a `database.url` (0600: it may hold the database password) saying where the rows are.
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data directory {path} is open to others (mode {mode:04o}); it holds password hashes and keys: chmod 700 {path}"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path}: {reason}")]
    Database { path: PathBuf, reason: String },
}

/// The file naming the database when it is not the directory's own SQLite file.
pub const DATABASE_FILE: &str = "database.url";

/// Where the data directory's rows live: the URL in its `database.url`, or None for its own
/// SQLite file. The file is narrowed to 0600 like the database it stands for.
pub fn database(dir: &Path) -> Result<Option<crate::store::Location>, DataDirError> {
    let file = dir.join(DATABASE_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&file)(e)),
    };
    narrow(&file)?;
    let url = text.trim();
    let location = crate::store::Location::parse(url).map_err(|e| DataDirError::Database {
        path: file,
        reason: e.to_string(),
    })?;
    if let crate::store::Location::Sqlite(db) = &location {
        // A SQLite file named by URL is kept like the directory's own: 0600 from the start.
        prepare_db_file(db)?;
    }
    Ok(Some(location))
}

/// Records (or replaces) the database URL of the directory, 0600 from its creation.
pub fn set_database(dir: &Path, url: &str) -> Result<(), DataDirError> {
    let file = dir.join(DATABASE_FILE);
    crate::store::Location::parse(url).map_err(|e| DataDirError::Database {
        path: file.clone(),
        reason: e.to_string(),
    })?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&file)
        .map_err(io(&file))?;
    narrow(&file)?;
    std::io::Write::write_all(&mut f, format!("{url}\n").as_bytes()).map_err(io(&file))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the directory (and missing parents) 0700, and narrows it to 0700 if it existed.
pub fn create(dir: &Path) -> Result<(), DataDirError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE)).map_err(io(dir))
}

/// Refuses a directory that group or others may read, write or enter.
pub fn check(dir: &Path) -> Result<(), DataDirError> {
    let mode = std::fs::metadata(dir)
        .map_err(io(dir))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(DataDirError::TooOpen {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Makes sure the database file exists as 0600 before SQLite opens it: SQLite creates its
/// -wal and -shm with the database file's mode, so they follow. A file left wider by an
/// older version is narrowed.
pub fn prepare_db_file(db: &Path) -> Result<(), DataDirError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(db)
        .map_err(io(db))?;
    narrow(db)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            narrow(&side)?;
        }
    }
    Ok(())
}

fn narrow(file: &Path) -> Result<(), DataDirError> {
    let mode = std::fs::metadata(file)
        .map_err(io(file))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))
            .map_err(io(file))?;
    }
    Ok(())
}
