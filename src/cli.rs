//! The command line: argument types and the commands that print to a terminal.
//!
//! `diagnose` is a stable contract used by external checks:
//! `imdsbot diagnose [--mode command|auto] [--format text|json|slack|discord] [--kb DIR] [TEXT...]`
//! with exit 0 for match/ambiguous, 1 for none, 2 for usage or I/O errors.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostic::Diagnostic;
use crate::knowledge::{self, KbSource, KnowledgeBase};
use crate::matcher::MatchMode;
use crate::render;
use crate::reply::{self, Reply};
use crate::text::{self, HEAD_TAIL, SCAN_LIMIT};

/// Exit code: a diagnosis was found (or the command succeeded).
pub const EXIT_OK: u8 = 0;
/// Exit code: no diagnosis / the knowledge base checked is invalid.
pub const EXIT_NONE: u8 = 1;
/// Exit code: usage or I/O error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the knowledge base (or configuration) is invalid (sysexits EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

/// Diagnoses EC2 instance-metadata (IMDS) and EC2/IAM authorization errors.
#[derive(Debug, Parser)]
#[command(name = "imdsbot", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the knowledge base comes from.
#[derive(Debug, Clone, Args)]
pub struct KbArgs {
    /// Load scenarios from this directory instead of the built-in knowledge base.
    #[arg(long, value_name = "DIR", env = "IMDSBOT_KB")]
    pub kb: Option<PathBuf>,
    /// Also load operator scenarios from this directory (repeatable; comma-separated in the env var).
    #[arg(
        long = "kb-extra",
        value_name = "DIR",
        env = "IMDSBOT_KB_EXTRA",
        value_delimiter = ','
    )]
    pub kb_extra: Vec<PathBuf>,
    /// For authors: use the scenarios that validate even if others do not (problems go to stderr).
    #[arg(long)]
    pub lenient: bool,
}

impl KbArgs {
    /// The source to load.
    pub fn source(&self) -> KbSource {
        self.kb.clone().map_or(KbSource::Embedded, KbSource::Dir)
    }

    /// Loads and validates the knowledge base.
    pub fn load(&self) -> Result<KnowledgeBase, Vec<Diagnostic>> {
        if self.lenient {
            let (kb, diags) = knowledge::load::load_lenient(&self.source(), &self.kb_extra);
            if let Some(kb) = kb {
                if !diags.is_empty() {
                    eprintln!(
                        "imdsbot: --lenient: ignoring {} knowledge-base problem(s); see `imdsbot kb check`",
                        diags.len()
                    );
                }
                return Ok(kb);
            }
            return Err(diags);
        }
        knowledge::load(&self.source(), &self.kb_extra)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose a paste (TEXT words, or stdin when no TEXT) and print the reply as the chat thread would show it.
    Diagnose {
        /// `command`: always answer; `auto`: stay silent unless confident (as in watched channels).
        #[arg(long, value_enum, default_value_t = ModeArg::Command)]
        mode: ModeArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Knowledge base.
        #[command(flatten)]
        kb: KbArgs,
        /// The paste or question; joined with spaces. Read from stdin when absent.
        text: Vec<String>,
    },
    /// Explain a scenario (by id) or a glossary term.
    Explain {
        /// Scenario id or glossary term.
        #[arg(required = true)]
        name: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Knowledge base.
        #[command(flatten)]
        kb: KbArgs,
    },
    /// Run the bot: Slack (HTTP or Socket Mode) and/or Discord, as configured by environment
    /// variables, with /healthz, /readyz and /metrics on IMDSBOT_LISTEN.
    Serve {
        /// Optional configuration file (TOML); environment variables override it.
        #[arg(long, value_name = "PATH", env = "IMDSBOT_CONFIG")]
        config: Option<PathBuf>,
        /// Knowledge base.
        #[command(flatten)]
        kb: KbArgs,
    },
    /// Probe a running `serve` (GET /healthz on IMDSBOT_LISTEN); for container health checks.
    Health {
        /// Probe /readyz instead of /healthz.
        #[arg(long)]
        ready: bool,
    },
    /// Configuration tools.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Discord tools.
    Discord {
        /// What to do.
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Knowledge-base tools.
    Kb {
        /// What to do with the knowledge base.
        #[command(subcommand)]
        command: KbCommand,
    },
}

/// `imdsbot kb ...`
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Validate a knowledge directory (default: the built-in one) and print every problem.
    Check {
        /// Directory to check.
        dir: Option<PathBuf>,
        /// Knowledge base.
        #[command(flatten)]
        kb: KbArgs,
    },
    /// List the scenarios.
    List {
        /// Knowledge base.
        #[command(flatten)]
        kb: KbArgs,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
}

/// `imdsbot config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets redacted) and every problem; exit 78 on errors.
    Check {
        /// Optional configuration file (TOML); environment variables override it.
        #[arg(long, value_name = "PATH", env = "IMDSBOT_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// `imdsbot discord ...`
#[derive(Debug, Subcommand)]
pub enum DiscordCommand {
    /// Print the OAuth2 URL that adds the bot (with /imds) to a server, asking for exactly the
    /// permissions it needs.
    InviteUrl {
        /// The application's client id (developer portal > OAuth2).
        #[arg(long, value_name = "ID")]
        client_id: u64,
    },
}

/// `--mode`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// An explicit question: always answer.
    Command,
    /// A watched-channel message: silent unless confident.
    Auto,
}

impl From<ModeArg> for MatchMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Command => MatchMode::Command,
            ModeArg::Auto => MatchMode::Auto,
        }
    }
}

/// `--format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The thread as it would look in chat, as plain text.
    Text,
    /// The machine-readable diagnosis.
    Json,
    /// Slack Block Kit messages (headline first, then thread replies).
    Slack,
    /// Discord messages (headline first, then thread replies).
    Discord,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Diagnose { mode, format, kb, text } => diagnose(mode, format, &kb, &text),
        Command::Explain { name, format, kb } => explain(&name.join(" "), format, &kb),
        Command::Serve { config, kb } => serve(config.as_deref(), &kb),
        Command::Health { ready } => health(ready),
        Command::Config {
            command: ConfigCommand::Check { config },
        } => config_check(config.as_deref()),
        Command::Discord { command } => match command {
            DiscordCommand::InviteUrl { client_id } => out(&format!("{}\n", crate::discord::invite_url(client_id))),
        },
        Command::Kb { command } => match command {
            KbCommand::Check { dir, kb } => check(dir, &kb),
            KbCommand::List { kb } => list(&kb),
            KbCommand::Schema => {
                let s = serde_json::to_string_pretty(&knowledge::schema()).unwrap_or_default();
                out(&format!("{s}\n"))
            }
        },
    }
}

fn health(ready: bool) -> ExitCode {
    let listen = std::env::var("IMDSBOT_LISTEN").unwrap_or_else(|_| crate::config::DEFAULT_LISTEN.to_string());
    let path = if ready {
        crate::serve::READY_PATH
    } else {
        crate::serve::HEALTH_PATH
    };
    match crate::serve::probe(&listen, path) {
        Ok(200) => ExitCode::from(EXIT_OK),
        Ok(status) => {
            eprintln!("imdsbot: {path} answered {status}");
            ExitCode::from(EXIT_NONE)
        }
        Err(e) => {
            eprintln!("imdsbot: cannot probe {listen}{path}: {e}");
            ExitCode::from(EXIT_NONE)
        }
    }
}

fn config_check(path: Option<&std::path::Path>) -> ExitCode {
    let layered = match crate::config::Layered::from_process(path) {
        Ok(l) => l,
        Err(problems) => return config_problems(&problems),
    };
    let code = out(&layered.describe());
    match layered.config() {
        Err(problems) => config_problems(&problems),
        Ok(c) if !c.any_platform() => {
            eprintln!("imdsbot: {}", crate::config::NOTHING_CONFIGURED);
            ExitCode::from(EXIT_CONFIG)
        }
        Ok(_) => {
            eprintln!("imdsbot: configuration OK");
            code
        }
    }
}

fn config_problems(problems: &[crate::config::Problem]) -> ExitCode {
    for p in problems {
        eprintln!("imdsbot: configuration error: {p}");
    }
    ExitCode::from(EXIT_CONFIG)
}

fn serve(path: Option<&std::path::Path>, kb: &KbArgs) -> ExitCode {
    let config = match crate::config::Layered::from_process(path).and_then(|l| l.config()) {
        Ok(c) => c,
        Err(problems) => return config_problems(&problems),
    };
    if !config.any_platform() {
        eprintln!("imdsbot: {}", crate::config::NOTHING_CONFIGURED);
        return ExitCode::from(EXIT_CONFIG);
    }
    // --kb / IMDSBOT_KB on the command line win over the configuration file.
    let mut kb = kb.clone();
    if kb.kb.is_none() {
        kb.kb.clone_from(&config.kb);
    }
    if kb.kb_extra.is_empty() {
        kb.kb_extra.clone_from(&config.kb_extra);
    }
    let origin = crate::serve::KbOrigin {
        base: kb.source(),
        extra: kb.kb_extra.clone(),
    };
    let kb = match load_or_report(&kb) {
        Ok(kb) => kb,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("imdsbot: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_NONE);
        }
    };
    match runtime.block_on(crate::serve::run(config, kb, origin)) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("imdsbot: {e:#}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn out(s: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("imdsbot: cannot write output: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn load_or_report(kb: &KbArgs) -> Result<KnowledgeBase, ExitCode> {
    kb.load().map_err(|diags| {
        for d in &diags {
            eprintln!("{d}");
        }
        eprintln!(
            "imdsbot: the knowledge base is invalid ({} problem(s)); fix it or check it with `imdsbot kb check`",
            diags.len()
        );
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Reads stdin without holding more than `SCAN_LIMIT` bytes: beyond that, the first and last
/// `HEAD_TAIL` bytes are kept.
pub fn read_bounded(mut r: impl Read) -> io::Result<text::Prepared> {
    let mut head: Vec<u8> = Vec::new();
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n;
        if tail.is_empty() && head.len() + n <= SCAN_LIMIT {
            head.extend_from_slice(&buf[..n]);
            continue;
        }
        if tail.is_empty() {
            head.extend_from_slice(&buf[..n]);
            tail.extend(head.drain(HEAD_TAIL..));
        } else {
            tail.extend(&buf[..n]);
        }
        let excess = tail.len().saturating_sub(HEAD_TAIL);
        tail.drain(..excess);
    }
    if tail.is_empty() {
        Ok(text::prepare(&head))
    } else {
        let tail: Vec<u8> = tail.into();
        Ok(text::prepare_truncated(&head, &tail, total))
    }
}

fn diagnose(mode: ModeArg, format: Format, kb: &KbArgs, words: &[String]) -> ExitCode {
    let kb = match load_or_report(kb) {
        Ok(kb) => kb,
        Err(code) => return code,
    };
    let prepared = if words.is_empty() {
        match read_bounded(io::stdin().lock()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("imdsbot: cannot read stdin: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        text::prepare(words.join(" ").as_bytes())
    };
    let d = crate::diagnose::diagnose_prepared(&kb, prepared, mode.into());
    let status = if matches!(d.verdict, crate::Verdict::None) {
        EXIT_NONE
    } else {
        EXIT_OK
    };
    let reply = reply::build(&kb, &d);
    let rendered = match format {
        Format::Json => format!("{}\n", render::json::render(&kb, &d)),
        _ => match &reply {
            Some(r) => render_reply(r, format),
            None => {
                let best = d.ranking.first().map_or("nothing scored at all".to_string(), |h| {
                    format!(
                        "the best candidate, {}, scored {:.2}",
                        kb.scenario(h.scenario).id,
                        h.score
                    )
                });
                format!(
                    "(imdsbot stays silent in auto mode: {best}; auto-replies need {:.2}, a lead of {:.2} and hard evidence)\n",
                    crate::matcher::AUTO_MIN_SCORE,
                    crate::matcher::AUTO_MIN_LEAD
                )
            }
        },
    };
    let code = out(&rendered);
    if code != ExitCode::from(EXIT_OK) {
        return code;
    }
    ExitCode::from(status)
}

fn render_reply(r: &Reply, format: Format) -> String {
    match format {
        Format::Text | Format::Json => render::text::render(r),
        Format::Slack => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::slack::render(r)).unwrap_or_default()
        ),
        Format::Discord => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::discord::render(r)).unwrap_or_default()
        ),
    }
}

fn explain(name: &str, format: Format, kb: &KbArgs) -> ExitCode {
    let kb = match load_or_report(kb) {
        Ok(kb) => kb,
        Err(code) => return code,
    };
    match reply::explain(&kb, name) {
        Some(r) => out(&render_reply(&r, format)),
        None => {
            let names: Vec<String> = kb
                .scenarios()
                .iter()
                .map(|s| s.id.to_string())
                .chain(kb.glossary().iter().map(|t| t.term.clone()))
                .collect();
            let hint = crate::diagnostic::did_you_mean(name, names.iter().map(String::as_str))
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            eprintln!("imdsbot: `{name}` is neither a scenario id nor a glossary term.{hint} See `imdsbot kb list`.");
            ExitCode::from(EXIT_NONE)
        }
    }
}

fn check(dir: Option<PathBuf>, kb: &KbArgs) -> ExitCode {
    let args = KbArgs {
        kb: dir.or_else(|| kb.kb.clone()),
        kb_extra: kb.kb_extra.clone(),
        lenient: false,
    };
    match args.load() {
        Ok(kb) => {
            let examples: usize = kb
                .scenarios()
                .iter()
                .map(|s| s.examples.len() + s.not_examples.len())
                .sum();
            out(&format!(
                "knowledge base OK: {} scenarios, {} glossary terms, {examples} examples checked (version {})\n",
                kb.scenarios().len(),
                kb.glossary().len(),
                kb.version()
            ))
        }
        Err(diags) => {
            let mut s: String = diags.iter().map(|d| format!("{d}\n")).collect();
            let errors = diags.iter().filter(|d| d.is_error()).count();
            s.push_str(&format!("{errors} error(s) found\n"));
            let _ = out(&s);
            ExitCode::from(EXIT_NONE)
        }
    }
}

fn list(kb: &KbArgs) -> ExitCode {
    let kb = match load_or_report(kb) {
        Ok(kb) => kb,
        Err(code) => return code,
    };
    let mut s = String::new();
    for (cat, n) in kb.categories() {
        s.push_str(&format!("{cat} ({n})\n"));
        for sc in kb.scenarios().iter().filter(|x| x.category == cat) {
            let shadow = if sc.mode == crate::knowledge::model::Mode::Shadow {
                " [shadow]"
            } else {
                ""
            };
            s.push_str(&format!(
                "  {:<46} {:<8} {}{shadow}\n",
                sc.id.as_str(),
                sc.severity.as_str(),
                sc.title
            ));
        }
    }
    s.push_str(&format!(
        "{} scenarios, {} glossary terms\n",
        kb.scenarios().len(),
        kb.glossary().len()
    ));
    out(&s)
}
