//! No input panics: random bytes, random mixes of meaningful fragments, and pathological
//! shapes (deep JSON, endless braces, huge lines) all get a diagnosis.

use imdsbot::diagnose::diagnose;
use imdsbot::matcher::MatchMode;
use imdsbot::reply;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const FRAGMENTS: &[&str] = &[
    "169.254.169.254",
    "/latest/api/token",
    "/latest/meta-data/iam/security-credentials/",
    "HTTP/1.1 403 Forbidden",
    "< HTTP/1.1 401",
    "> PUT ",
    "{\"Code\" : \"",
    "AssumeRoleUnauthorizedAccess",
    "\"Statement\":[{",
    "}",
    "{",
    "]",
    "\"",
    "\\",
    "UnauthorizedOperation",
    "ec2:RunInstances",
    "arn:aws:iam::123456789012:role/",
    "i-0123456789abcdef0",
    "status code: 404",
    "\n",
    " ",
    "\x1b[31m",
    "AKIA",
    "ASIA",
    "X-aws-ec2-metadata-token: ",
    "Encoded authorization failure message: ",
    "{\"allowed\":false,\"context\":",
    "{{instance_id}}",
    "é",
    "\u{fffd}",
    "\0",
];

#[test]
fn random_inputs_never_panic() {
    let kb = imdsbot::knowledge::load_embedded().expect("kb");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..100 {
        let len = (rng.next() % 4096) as usize;
        let bytes: Vec<u8> = if round % 2 == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let mut s = Vec::new();
            while s.len() < len {
                s.extend_from_slice(FRAGMENTS[(rng.next() as usize) % FRAGMENTS.len()].as_bytes());
            }
            s
        };
        for mode in [MatchMode::Command, MatchMode::Auto] {
            let d = diagnose(&kb, &bytes, mode);
            if let Some(r) = reply::build(&kb, &d) {
                imdsbot::render::text::render(&r);
                imdsbot::render::slack::render(&r);
                imdsbot::render::discord::render(&r);
            }
            imdsbot::render::json::render(&kb, &d);
        }
    }
}

#[test]
fn pathological_shapes() {
    let kb = imdsbot::knowledge::load_embedded().expect("kb");
    let deep = format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let braces = "{".repeat(300_000);
    let quotes = format!("{{\"{}", "\"".repeat(100_000));
    let long_line = "x".repeat(900_000);
    let arns = "arn:aws:iam::123456789012:role/a ".repeat(20_000);
    for input in [deep, braces, quotes, long_line, arns] {
        let d = diagnose(&kb, input.as_bytes(), MatchMode::Command);
        let _ = reply::build(&kb, &d);
    }
}
