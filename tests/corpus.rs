//! Accuracy on the labelled corpus in `tests/corpus/`: `positive/<scenario-id>/*.txt` must rank
//! their scenario first, `negative/*.txt` (unrelated chat and logs) must stay silent in auto
//! mode. Run with `--nocapture` to see the figures.

use std::fs;
use std::path::Path;

use imdsbot::diagnose::diagnose;
use imdsbot::matcher::{MatchMode, Verdict};

/// Minimum share of positives whose scenario ranks first.
const MIN_TOP1: f64 = 0.90;
/// Maximum share of negatives answered in auto mode.
const MAX_FALSE_POSITIVE_RATE: f64 = 0.02;

fn read_dir_sorted(p: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(p)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn corpus_accuracy() {
    let kb = imdsbot::knowledge::load_embedded().expect("knowledge base");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let (mut total, mut top1, mut top3, mut auto_answered) = (0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for dir in read_dir_sorted(&root.join("positive")) {
        let id = dir.file_name().expect("name").to_string_lossy().into_owned();
        let idx = kb
            .scenarios()
            .iter()
            .position(|s| s.id.as_str() == id)
            .unwrap_or_else(|| panic!("unknown scenario dir {id}"));
        for f in read_dir_sorted(&dir) {
            let bytes = fs::read(&f).expect("read");
            let d = diagnose(&kb, &bytes, MatchMode::Auto);
            total += 1;
            let pos = d.ranking.iter().position(|h| h.scenario == idx);
            if pos == Some(0) {
                top1 += 1;
            } else {
                let got = d
                    .ranking
                    .first()
                    .map_or("nothing".to_string(), |h| kb.scenario(h.scenario).id.to_string());
                misses.push(format!(
                    "{}: got {got}, expected at #{}",
                    f.display(),
                    pos.map_or(0, |p| p + 1)
                ));
            }
            if pos.is_some_and(|p| p < 3) {
                top3 += 1;
            }
            if matches!(&d.verdict, Verdict::Match(h) if h.scenario == idx) {
                auto_answered += 1;
            }
        }
    }
    let mut negatives = 0usize;
    let mut false_positives = Vec::new();
    for f in read_dir_sorted(&root.join("negative")) {
        let bytes = fs::read(&f).expect("read");
        negatives += 1;
        let d = diagnose(&kb, &bytes, MatchMode::Auto);
        if let Verdict::Match(h) = &d.verdict {
            false_positives.push(format!(
                "{} -> {} ({:.2})",
                f.display(),
                kb.scenario(h.scenario).id,
                h.score
            ));
        }
    }
    let pct = |n: usize, d: usize| 100.0 * n as f64 / d.max(1) as f64;
    println!(
        "corpus: {total} positives: top-1 {top1} ({:.1}%), top-3 {top3} ({:.1}%), auto-mode answered correctly {auto_answered} ({:.1}%)",
        pct(top1, total),
        pct(top3, total),
        pct(auto_answered, total)
    );
    println!(
        "corpus: {negatives} negatives: {} false positives ({:.1}%)",
        false_positives.len(),
        pct(false_positives.len(), negatives)
    );
    for m in &misses {
        println!("  miss: {m}");
    }
    for fp in &false_positives {
        println!("  false positive: {fp}");
    }
    assert!(total >= 150, "corpus too small: {total}");
    assert!(negatives >= 60, "negative corpus too small: {negatives}");
    assert!(
        top1 as f64 / total as f64 >= MIN_TOP1,
        "top-1 {:.1}% below {}%",
        pct(top1, total),
        MIN_TOP1 * 100.0
    );
    assert!(
        (false_positives.len() as f64) / (negatives as f64) <= MAX_FALSE_POSITIVE_RATE,
        "false positives: {false_positives:?}"
    );
}
