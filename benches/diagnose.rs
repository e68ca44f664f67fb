//! Performance budgets (medians, release build):
//!
//! - `diagnose/paste_2k`: a typical ~2 KiB paste against the embedded knowledge base, <= 50 µs;
//! - `diagnose/paste_1m`: a 1 MiB paste of log noise with the error near the end, <= 5 ms;
//! - `diagnose/kb_1000_paste_2k`: the typical paste against 1000 generated scenarios, <= 1 ms;
//! - `kb/load_embedded`: loading and validating the embedded knowledge base (every example and
//!   not_example is ranked), <= 20 ms.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use imdsbot::diagnose::diagnose;
use imdsbot::diagnostic::Code;
use imdsbot::knowledge::validate::{SourceFile, build_lenient};
use imdsbot::knowledge::{EMBEDDED, KnowledgeBase, load_embedded};
use imdsbot::matcher::{MatchMode, Verdict};

/// A botocore debug transcript ending in `NoCredentialsError`, with the curl check that shows the
/// token PUT refused, padded with ordinary application log lines to about 2 KiB.
fn typical_paste() -> String {
    let mut s = String::from(
        "our worker pods on the new nodegroup can't get credentials since this morning, any idea?\n\
2026-03-02 14:21:07,409 INFO  [main] c.a.worker.App - starting worker pool size=8 queue=orders-prod\n\
2026-03-02 14:21:07,412 - MainThread - botocore.credentials - DEBUG - Looking for credentials via: env\n\
2026-03-02 14:21:07,413 - MainThread - botocore.credentials - DEBUG - Looking for credentials via: container-role\n\
2026-03-02 14:21:07,413 - MainThread - botocore.credentials - DEBUG - Looking for credentials via: iam-role\n\
2026-03-02 14:21:07,415 - MainThread - urllib3.connectionpool - DEBUG - Starting new HTTP connection (1): 169.254.169.254:80\n\
2026-03-02 14:21:07,416 - MainThread - urllib3.connectionpool - DEBUG - http://169.254.169.254:80 \"PUT /latest/api/token HTTP/1.1\" 403 0\n\
2026-03-02 14:21:07,417 - MainThread - botocore.utils - DEBUG - Metadata service returned non-200 response with status code of 403 for url: http://169.254.169.254/latest/api/token, content body: b''\n\
2026-03-02 14:21:07,420 - MainThread - urllib3.connectionpool - DEBUG - http://169.254.169.254:80 \"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\" 401 0\n\
2026-03-02 14:21:07,421 - MainThread - botocore.utils - DEBUG - Metadata service returned non-200 response with status code of 401 for url: http://169.254.169.254/latest/meta-data/iam/security-credentials/, content body: b''\n\
2026-03-02 14:21:07,421 - MainThread - botocore.utils - DEBUG - Max number of attempts exceeded (1) when attempting to retrieve data from metadata service.\n\
Traceback (most recent call last):\n\
  File \"/srv/worker/app.py\", line 88, in <module>\n\
    s3.upload_file(path, bucket, key)\n\
botocore.exceptions.NoCredentialsError: Unable to locate credentials\n\
$ curl -s -o /dev/null -w '%{http_code}\\n' -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'\n\
403\n",
    );
    let mut i = 0;
    while s.len() < 2048 {
        s.push_str(&format!(
            "2026-03-02 14:21:{:02},5{:02} INFO  [pool-1-thread-{}] c.a.worker.Poller - polled 0 messages from orders-prod in 20001 ms\n",
            8 + i % 50,
            i % 100,
            1 + i % 8
        ));
        i += 1;
    }
    s
}

/// About 1 MiB of ordinary logs (access log, application INFO/WARN lines, a Java stack trace now
/// and then) with an IMDS failure near the end.
fn huge_paste() -> String {
    let mut s = String::with_capacity(1 << 20);
    let paths = [
        "/api/v1/orders",
        "/api/v1/orders/8812/items",
        "/healthz",
        "/static/js/app.3f9a1c.js",
        "/api/v1/customers/search?q=smith",
        "/login",
    ];
    let statuses = [200, 200, 200, 304, 201, 404, 200, 500, 302, 200];
    let mut i: usize = 0;
    let tail = "2026-03-02 23:59:58,101 - MainThread - botocore.utils - DEBUG - Metadata service returned non-200 response with status code of 401 for url: http://169.254.169.254/latest/meta-data/iam/security-credentials/, content body: b''\n\
2026-03-02 23:59:58,102 - MainThread - botocore.utils - DEBUG - Max number of attempts exceeded (1) when attempting to retrieve data from metadata service.\n\
botocore.exceptions.NoCredentialsError: Unable to locate credentials\n";
    while s.len() + tail.len() + 400 < 1 << 20 {
        match i % 7 {
            0..=3 => s.push_str(&format!(
                "10.0.{}.{} - - [02/Mar/2026:14:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\"\n",
                i % 7,
                i % 250,
                (i / 60) % 60,
                i % 60,
                paths[i % paths.len()],
                statuses[i % statuses.len()],
                512 + i % 4096
            )),
            4 => s.push_str(&format!(
                "2026-03-02 14:{:02}:{:02},{:03} INFO  [http-nio-8080-exec-{}] c.e.orders.OrderService - order {} accepted for customer {} total=EUR {}.{:02}\n",
                (i / 60) % 60,
                i % 60,
                i % 1000,
                i % 16,
                100_000 + i,
                7_000 + i % 300,
                i % 500,
                i % 100
            )),
            5 => s.push_str(&format!(
                "2026-03-02 14:{:02}:{:02},{:03} WARN  [scheduler-1] c.e.orders.Reconciler - reconciliation of batch {} took {} ms (threshold 500 ms), retrying later\n",
                (i / 60) % 60,
                i % 60,
                i % 1000,
                i,
                500 + i % 900
            )),
            _ => s.push_str(
                "java.net.SocketTimeoutException: Read timed out\n\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)\n\tat com.zaxxer.hikari.pool.HikariProxyConnection.prepareStatement(HikariProxyConnection.java)\n",
            ),
        }
        i += 1;
    }
    s.push_str(tail);
    s.push_str("$ curl -s -m 2 http://169.254.169.254/latest/meta-data/iam/security-credentials/\n");
    s.push_str("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<title>401 - Unauthorized</title>\n");
    s
}

/// Syllables for pseudo-words that grow the phrase vocabulary of generated scenarios.
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ren", "tu", "sa", "vo", "bex", "dra", "quo", "nel", "fi", "gor", "pim", "shu", "yat",
];

fn pseudo_word(mut n: usize) -> String {
    let mut w = String::new();
    for _ in 0..3 {
        w.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    w
}

/// Clones of the embedded scenarios with new ids, extra words in their phrases, variant text
/// literals and an extra regex alternative, as YAML files for the real validation path.
fn generated_files(total: usize) -> Vec<SourceFile> {
    use serde_yaml::Value;
    let originals: Vec<(&str, Value)> = EMBEDDED
        .iter()
        .filter(|(name, _)| *name != "glossary.yaml")
        .map(|(name, text)| (*name, serde_yaml::from_str(text).expect("embedded yaml")))
        .collect();
    let mut files: Vec<SourceFile> = originals
        .iter()
        .map(|(name, v)| SourceFile {
            path: format!("knowledge/{name}"),
            text: serde_yaml::to_string(v).expect("yaml"),
        })
        .collect();
    let mut k = 0usize;
    while files.len() < total {
        let (_, base) = &originals[k % originals.len()];
        let mut v = base.clone();
        let id = format!("{}-gen-{k}", v["id"].as_str().expect("id"));
        v["id"] = Value::String(id.clone());
        let word = pseudo_word(k);
        if let Some(phrases) = v["phrases"].as_sequence_mut() {
            for (j, p) in phrases.iter_mut().enumerate() {
                let text = p.as_str().unwrap_or_default();
                *p = Value::String(if j % 2 == 0 {
                    format!("{text} {word}")
                } else {
                    format!("{word} {text}")
                });
            }
        }
        if let Some(signals) = v["signals"].as_sequence_mut() {
            for (j, sig) in signals.iter_mut().enumerate() {
                if (j + k).is_multiple_of(3) {
                    continue; // shared evidence: many scenarios look for the same things
                }
                if let Some(t) = sig.get("text").and_then(Value::as_str) {
                    sig["text"] = Value::String(format!("{t} {word}"));
                } else if let Some(r) = sig.get("regex").and_then(Value::as_str) {
                    sig["regex"] = Value::String(format!("{r}|\\b{word} (?:failed|denied)\\b"));
                }
            }
        }
        files.push(SourceFile {
            path: format!("knowledge/{id}.yaml"),
            text: serde_yaml::to_string(&v).expect("yaml"),
        });
        k += 1;
    }
    files
}

fn generated_kb(total: usize) -> KnowledgeBase {
    let (kb, diags) = build_lenient(generated_files(total), Vec::new());
    // Clones compete with their originals for the same examples; anything else is a bug here.
    let other: Vec<_> = diags
        .iter()
        .filter(|d| d.is_error() && !matches!(d.code, Code::ExampleNotFirst | Code::NotExampleFirst))
        .collect();
    assert!(other.is_empty(), "generated knowledge base is invalid: {other:?}");
    let kb = kb.expect("generated knowledge base");
    assert_eq!(kb.scenarios().len(), total);
    kb
}

fn benches(c: &mut Criterion) {
    let kb = load_embedded().expect("embedded knowledge base");
    let typical = typical_paste();
    let huge = huge_paste();
    assert!((2048..2200).contains(&typical.len()), "{}", typical.len());
    assert!(((1 << 20) - 1024..=1 << 20).contains(&huge.len()), "{}", huge.len());
    for (name, input) in [("typical", &typical), ("huge", &huge)] {
        let d = diagnose(&kb, input.as_bytes(), MatchMode::Command);
        assert!(
            !matches!(d.verdict, Verdict::None),
            "{name} paste finds nothing: the bench would measure the wrong thing"
        );
    }

    let mut g = c.benchmark_group("diagnose");
    g.bench_function("paste_2k", |b| {
        b.iter(|| diagnose(&kb, black_box(typical.as_bytes()), MatchMode::Auto))
    });
    g.sample_size(30);
    g.bench_function("paste_1m", |b| {
        b.iter(|| diagnose(&kb, black_box(huge.as_bytes()), MatchMode::Auto))
    });
    let big = generated_kb(1000);
    g.sample_size(50);
    g.bench_function("kb_1000_paste_2k", |b| {
        b.iter(|| diagnose(&big, black_box(typical.as_bytes()), MatchMode::Auto))
    });
    g.finish();

    let mut g = c.benchmark_group("kb");
    g.sample_size(20);
    g.bench_function("load_embedded", |b| {
        b.iter(|| load_embedded().expect("embedded knowledge base"))
    });
    g.finish();
}

criterion_group!(perf, benches);
criterion_main!(perf);
