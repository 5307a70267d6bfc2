//! Rendering one command tree into man pages with clap_mangen.

use std::io;
use std::path::{Path, PathBuf};

/// Writes `NAME.SECTION` for `command` and `NAME-SUB.SECTION` for every visible subcommand,
/// recursively, into `dir` (created if missing). Returns the files written.
pub fn write_pages(command: clap::Command, section: &str, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| annotate(e, dir))?;
    let mut written = Vec::new();
    let mut command = command;
    // Building propagates global arguments and the version into the subcommands.
    command.build();
    let name = command.get_name().to_owned();
    write_tree(&command, &name, section, dir, &mut written)?;
    Ok(written)
}

fn write_tree(
    command: &clap::Command,
    name: &str,
    section: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> io::Result<()> {
    // clap names are &'static str unless its "string" feature is on; this short-lived
    // program leaks a few names rather than change clap's features for the whole workspace.
    let page = command.clone().name(&*name.to_owned().leak());
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .section(section)
        .manual("sealscan")
        .render(&mut roff)?;
    let path = dir.join(format!("{name}.{section}"));
    std::fs::write(&path, roff).map_err(|e| annotate(e, &path))?;
    written.push(path);
    for sub in command.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let sub_name = format!("{name}-{}", sub.get_name());
        write_tree(sub, &sub_name, section, dir, written)?;
    }
    Ok(())
}

fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
