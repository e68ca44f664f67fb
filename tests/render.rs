//! Every scenario, explained and diagnosed, renders within Slack's and Discord's limits.

use imdsbot::render::{discord, slack};
use imdsbot::reply::{self, Reply};

fn check_slack(r: &Reply) {
    for m in slack::render(r) {
        assert!(m.blocks.len() <= slack::BLOCKS_MAX);
        assert!(!m.text.is_empty() && m.text.chars().count() <= slack::FALLBACK_MAX);
        for b in &m.blocks {
            if let Some(t) = b.pointer("/text/text").and_then(|t| t.as_str()) {
                assert!(t.chars().count() <= slack::SECTION_TEXT_MAX);
            }
        }
    }
}

fn check_discord(r: &Reply) {
    for m in discord::render(r) {
        assert!(m.content.chars().count() <= discord::CONTENT_MAX);
        assert!(m.embeds.len() <= discord::EMBEDS_MAX);
        assert!(m.embeds.iter().map(discord::Embed::size).sum::<usize>() <= discord::EMBED_TOTAL_MAX);
        for e in &m.embeds {
            assert!(e.description.chars().count() <= discord::EMBED_DESCRIPTION_MAX);
            assert!(e.fields.len() <= discord::EMBED_FIELDS_MAX);
            assert!(
                e.fields
                    .iter()
                    .all(|f| f.value.chars().count() <= discord::EMBED_FIELD_VALUE_MAX)
            );
        }
        assert!(!m.content.is_empty() || !m.embeds.is_empty());
    }
}

#[test]
fn every_scenario_renders_within_limits() {
    let kb = imdsbot::knowledge::load_embedded().expect("kb");
    for s in kb.scenarios() {
        let explained = reply::explain(&kb, s.id.as_str()).expect("explain");
        check_slack(&explained);
        check_discord(&explained);
        for ex in &s.examples {
            let d = imdsbot::diagnose(&kb, ex.as_bytes(), imdsbot::MatchMode::Command);
            let r = reply::build(&kb, &d).expect("command mode always answers");
            check_slack(&r);
            check_discord(&r);
        }
        let esc = reply::escalation(&kb, s, None);
        check_slack(&esc);
        check_discord(&esc);
    }
    for t in kb.glossary() {
        let r = reply::explain(&kb, &t.term).expect("term");
        check_slack(&r);
        check_discord(&r);
    }
}

#[test]
fn no_match_lists_every_scenario_within_limits() {
    let kb = imdsbot::knowledge::load_embedded().expect("kb");
    let d = imdsbot::diagnose(&kb, b"who owns the billing dashboard?", imdsbot::MatchMode::Command);
    let r = reply::build(&kb, &d).expect("no-match reply");
    assert!(matches!(r, Reply::NoMatch(_)));
    check_slack(&r);
    check_discord(&r);
    let all: String = slack::render(&r)
        .iter()
        .map(|m| serde_json::to_string(&m.blocks).unwrap_or_default())
        .collect();
    for s in kb.scenarios() {
        assert!(all.contains(s.id.as_str()), "{} missing from the no-match list", s.id);
    }
}
