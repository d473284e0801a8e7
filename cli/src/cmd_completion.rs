//! `ferroalloy completion SHELL` prints a shell completion script and the hidden
//! `ferroalloy mangen` writes man pages, both generated from the clap definitions so
//! they never drift from the flags the binary accepts.

use anyhow::{anyhow, Result};
use std::path::PathBuf;

/// Long help of `completion`.
pub const LONG_ABOUT: &str = "\
Print a completion script for SHELL to stdout.

Examples:
  ferroalloy completion bash > /etc/bash_completion.d/ferroalloy
  ferroalloy completion zsh > \"${fpath[1]}/_ferroalloy\"
  ferroalloy completion fish > ~/.config/fish/completions/ferroalloy.fish";

/// Flags and arguments of `completion`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// Flags of the hidden `mangen`.
#[derive(Debug, clap::Args)]
pub struct MangenArgs {
    /// Write `ferroalloy.1` and one `ferroalloy-<subcommand>.1` per subcommand into
    /// this directory; without it the main page is printed to stdout.
    #[arg(long = "out-dir", value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub fn completion(args: &CompletionArgs, mut cmd: clap::Command) -> Result<()> {
    let name = cmd.get_name().to_string();
    clap_complete::generate(args.shell, &mut cmd, name, &mut std::io::stdout());
    Ok(())
}

pub fn mangen(args: &MangenArgs, cmd: clap::Command) -> Result<()> {
    // Hidden subcommands (this one) stay out of the pages.
    let cmd = cmd.mut_subcommand("mangen", |c| c.hide(true));
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| anyhow!("create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| anyhow!("write man pages to {}: {e}", dir.display()))
        }
        None => clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .map_err(|e| anyhow!("write man page: {e}")),
    }
}
