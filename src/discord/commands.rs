//! The `/imds` application command: its definition, how its options become the text
//! [`crate::bot::Engine::command`] parses, and autocomplete of scenario ids and glossary terms.
//!
//! Shape (one command, subcommands, so each input gets its own help and autocomplete):
//! `/imds ask query:<question or paste>`, `/imds explain name:<id or term>` (autocomplete),
//! `/imds escalate id:<scenario id>` (autocomplete), `/imds list`, `/imds help`.

use serenity::all::{CommandDataOption, CommandDataOptionValue, CommandOptionType};
use serenity::builder::{AutocompleteChoice, CreateCommand, CreateCommandOption};

use crate::knowledge::KnowledgeBase;
use crate::knowledge::model::fold;

/// The command's name.
pub const NAME: &str = "imds";
/// How the command is written in help texts.
pub const INVOCATION: &str = "/imds";
/// Autocomplete choices Discord accepts.
pub const CHOICES_MAX: usize = 25;
/// Characters of a choice name or value.
pub const CHOICE_MAX: usize = 100;
/// Longest `query:` Discord accepts for a string option.
pub const QUERY_MAX: u16 = 6000;

/// The `/imds` definition registered at startup.
pub fn register() -> CreateCommand {
    let sub =
        |name: &str, description: &str| CreateCommandOption::new(CommandOptionType::SubCommand, name, description);
    let text = |name: &str, description: &str| {
        CreateCommandOption::new(CommandOptionType::String, name, description).required(true)
    };
    CreateCommand::new(NAME)
        .description("Diagnose EC2 instance-metadata (IMDS) and EC2/IAM authorization errors")
        .add_option(
            sub("ask", "Diagnose a question or a pasted error")
                .add_sub_option(text("query", "The question, or the error output pasted as is").max_length(QUERY_MAX)),
        )
        .add_option(
            sub("explain", "Explain a scenario or a glossary term")
                .add_sub_option(text("name", "Scenario id or glossary term").set_autocomplete(true)),
        )
        .add_option(
            sub("escalate", "What to collect before escalating a scenario")
                .add_sub_option(text("id", "Scenario id").set_autocomplete(true)),
        )
        .add_option(sub("list", "List the scenarios the bot knows"))
        .add_option(sub("help", "How to use the bot"))
}

/// The text after `/imds` that the engine parses, from the interaction's options.
pub fn to_text(options: &[CommandDataOption]) -> String {
    let Some(first) = options.first() else {
        return String::new();
    };
    let arg = |opts: &[CommandDataOption]| {
        opts.iter()
            .find_map(|o| match &o.value {
                CommandDataOptionValue::String(s) => Some(s.clone()),
                CommandDataOptionValue::Autocomplete { value, .. } => Some(value.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    match &first.value {
        CommandDataOptionValue::SubCommand(sub) => match first.name.as_str() {
            "explain" | "escalate" => format!("{} {}", first.name, arg(sub)),
            "list" | "help" => first.name.clone(),
            // `ask`: the question or paste as is.
            _ => arg(sub),
        },
        // A flat `query:` option (older registrations) is a question too.
        _ => arg(options),
    }
}

/// Autocomplete choices for the focused option: scenario ids (`escalate`), or scenario ids and
/// glossary terms (`explain`), those containing `typed` first by prefix.
pub fn complete(kb: &KnowledgeBase, subcommand: &str, typed: &str) -> Vec<AutocompleteChoice> {
    let q = fold(typed.trim());
    let mut names: Vec<String> = kb.scenarios().iter().map(|s| s.id.as_str().to_string()).collect();
    if subcommand == "explain" {
        names.extend(kb.glossary().iter().map(|t| t.term.clone()));
    }
    let mut hits: Vec<(bool, String)> = names
        .into_iter()
        .filter(|n| n.chars().count() <= CHOICE_MAX)
        .filter_map(|n| {
            let f = fold(&n);
            f.contains(&q).then(|| (!f.starts_with(&q), n))
        })
        .collect();
    hits.sort();
    hits.dedup_by(|a, b| a.1 == b.1);
    hits.into_iter()
        .take(CHOICES_MAX)
        .map(|(_, n)| AutocompleteChoice::new(n.clone(), n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::load::{KbSource, load};
    use serde_json::json;

    fn options(v: serde_json::Value) -> Vec<CommandDataOption> {
        serde_json::from_value(v).expect("options")
    }

    #[test]
    fn subcommands_become_engine_text() {
        let ask =
            options(json!([{"name":"ask","type":1,"options":[{"name":"query","type":3,"value":"403 on GetObject"}]}]));
        assert_eq!(to_text(&ask), "403 on GetObject");
        let explain =
            options(json!([{"name":"explain","type":1,"options":[{"name":"name","type":3,"value":"imdsv2"}]}]));
        assert_eq!(to_text(&explain), "explain imdsv2");
        let esc = options(json!([{"name":"escalate","type":1,"options":[{"name":"id","type":3,"value":"x-y"}]}]));
        assert_eq!(to_text(&esc), "escalate x-y");
        let list = options(json!([{"name":"list","type":1,"options":[]}]));
        assert_eq!(to_text(&list), "list");
        assert_eq!(to_text(&[]), "");
    }

    #[test]
    fn completion_prefers_prefixes_and_stays_within_limits() {
        let kb = load(&KbSource::Embedded, &[]).expect("kb");
        let all = complete(&kb, "explain", "");
        assert_eq!(all.len(), CHOICES_MAX);
        let id = kb.scenarios()[0].id.as_str().to_string();
        let some = complete(&kb, "escalate", &id[..4]);
        assert!(!some.is_empty());
        let json = serde_json::to_value(&some).expect("json");
        assert!(json[0]["name"].as_str().expect("name").starts_with(&id[..4]));
        assert!(complete(&kb, "escalate", "zzzz-no-such-thing").is_empty());
    }
}
