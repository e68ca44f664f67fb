//! Everything in deploy/ is checked: valid YAML, references that resolve, probe paths and
//! ports that match the code, and every configuration variable documented.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy().join(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

fn docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("deploy/{rel}: invalid YAML: {e}")))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    s(v, path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing {path:?}"))
}

fn k8s_objects() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(deploy().join("kubernetes")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let rel = format!("kubernetes/{}", p.file_name().unwrap().to_string_lossy());
            for d in docs(&rel) {
                out.push((rel.clone(), d));
            }
        }
    }
    out
}

fn named<'a>(objs: &'a [(String, Value)], kind: &str) -> BTreeSet<&'a str> {
    objs.iter()
        .filter(|(_, o)| str_at(o, &["kind"]) == kind)
        .map(|(_, o)| str_at(o, &["metadata", "name"]))
        .collect()
}

fn env_names() -> BTreeSet<&'static str> {
    imdsbot::config::SETTINGS.iter().map(|s| s.env).collect()
}

#[test]
fn kubernetes_manifests_are_consistent_with_the_code() {
    let objs = k8s_objects();
    let kinds: BTreeSet<&str> = objs.iter().map(|(_, o)| str_at(o, &["kind"])).collect();
    for k in [
        "Deployment",
        "StatefulSet",
        "Service",
        "HorizontalPodAutoscaler",
        "Secret",
        "ConfigMap",
    ] {
        assert!(kinds.contains(k), "no {k} in deploy/kubernetes");
    }
    let secrets = named(&objs, "Secret");
    let configmaps = named(&objs, "ConfigMap");
    let services = named(&objs, "Service");
    let secret_keys: BTreeSet<String> = objs
        .iter()
        .filter(|(_, o)| str_at(o, &["kind"]) == "Secret")
        .flat_map(|(_, o)| s(o, &["stringData"]).and_then(Value::as_mapping).unwrap().keys())
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let listen_port: u16 = 8080;

    for (file, o) in &objs {
        let kind = str_at(o, &["kind"]);
        if !["Deployment", "StatefulSet"].contains(&kind) {
            continue;
        }
        let name = str_at(o, &["metadata", "name"]);
        if kind == "StatefulSet" {
            assert!(
                services.contains(str_at(o, &["spec", "serviceName"])),
                "{file}: serviceName"
            );
        }
        let selector = s(o, &["spec", "selector", "matchLabels"]).unwrap();
        let labels = s(o, &["spec", "template", "metadata", "labels"]).unwrap();
        for (k, v) in selector.as_mapping().unwrap() {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{file}: selector label {k:?} not on the pod template"
            );
        }
        let pod = s(o, &["spec", "template", "spec"]).unwrap();
        for c in pod.get("containers").unwrap().as_sequence().unwrap() {
            if str_at(c, &["name"]) != "imdsbot" {
                continue;
            }
            let ports = c.get("ports").unwrap().as_sequence().unwrap();
            let http = ports
                .iter()
                .find(|p| str_at(p, &["name"]) == "http")
                .expect("http port");
            assert_eq!(
                http.get("containerPort").and_then(Value::as_u64),
                Some(u64::from(listen_port))
            );
            let env = c.get("env").unwrap().as_sequence().unwrap();
            let mut listen = None;
            for e in env {
                let var = str_at(e, &["name"]);
                assert!(env_names().contains(var), "{file}: {name}: unknown variable {var}");
                if var == "IMDSBOT_LISTEN" {
                    listen = Some(str_at(e, &["value"]).to_string());
                }
                if let Some(r) = s(e, &["valueFrom", "secretKeyRef"]) {
                    assert!(secrets.contains(str_at(r, &["name"])), "{file}: secret {r:?}");
                    assert!(secret_keys.contains(str_at(r, &["key"])), "{file}: secret key {r:?}");
                }
            }
            let listen = listen.unwrap_or_else(|| panic!("{file}: IMDSBOT_LISTEN must be set (default is loopback)"));
            assert_eq!(listen, format!("0.0.0.0:{listen_port}"), "{file}");
            assert_eq!(
                str_at(c, &["readinessProbe", "httpGet", "path"]),
                imdsbot::serve::READY_PATH
            );
            assert_eq!(
                str_at(c, &["livenessProbe", "httpGet", "path"]),
                imdsbot::serve::HEALTH_PATH
            );
            assert_eq!(str_at(c, &["readinessProbe", "httpGet", "port"]), "http");
            assert_eq!(str_at(c, &["livenessProbe", "httpGet", "port"]), "http");
            for m in c.get("volumeMounts").and_then(Value::as_sequence).into_iter().flatten() {
                let vol = str_at(m, &["name"]);
                let v = pod["volumes"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .find(|v| str_at(v, &["name"]) == vol);
                let v = v.unwrap_or_else(|| panic!("{file}: volume {vol} not declared"));
                if let Some(cm) = s(v, &["configMap", "name"]) {
                    assert!(configmaps.contains(cm.as_str().unwrap()), "{file}: configmap {cm:?}");
                }
            }
        }
        if kind == "Deployment" && name == "imdsbot-slack" {
            assert!(
                s(o, &["spec", "replicas"]).and_then(Value::as_u64).unwrap() >= 2,
                "at least 2 replicas"
            );
        }
    }
    // Services select pods that exist and target named ports.
    for (file, o) in objs.iter().filter(|(_, o)| str_at(o, &["kind"]) == "Service") {
        let sel = s(o, &["spec", "selector"]).unwrap().as_mapping().unwrap();
        let matched = objs.iter().any(|(_, w)| {
            s(w, &["spec", "template", "metadata", "labels"])
                .is_some_and(|l| sel.iter().all(|(k, v)| l.get(k) == Some(v)))
        });
        assert!(
            matched,
            "{file}: Service {} selects nothing",
            str_at(o, &["metadata", "name"])
        );
    }
    for (file, o) in objs
        .iter()
        .filter(|(_, o)| str_at(o, &["kind"]) == "HorizontalPodAutoscaler")
    {
        let target = str_at(o, &["spec", "scaleTargetRef", "name"]);
        assert!(
            named(&objs, "Deployment").contains(target),
            "{file}: HPA target {target}"
        );
        assert!(s(o, &["spec", "minReplicas"]).and_then(Value::as_u64).unwrap() >= 2);
    }
}

#[test]
fn compose_env_sample_and_dockerfile_agree() {
    let compose = &docs("docker-compose.yml")[0];
    let svc = s(compose, &["services", "imdsbot"]).unwrap();
    assert_eq!(str_at(svc, &["build", "dockerfile"]), "deploy/Dockerfile");
    assert_eq!(str_at(svc, &["env_file"]), ".env");
    let sample = read(".env.sample");
    let documented: BTreeSet<&str> = sample
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    for var in env_names() {
        assert!(documented.contains(var), "deploy/.env.sample does not list {var}");
    }
    for var in &documented {
        assert!(
            env_names().contains(var) || *var == "RUST_LOG",
            "deploy/.env.sample lists unknown {var}"
        );
    }
    let docker = read("Dockerfile");
    assert!(docker.contains("--locked"), "release build must be --locked");
    assert!(
        docker.contains("USER nonroot") || docker.contains("USER 65532"),
        "runs as non-root"
    );
    assert!(
        docker.contains("HEALTHCHECK") && docker.contains("\"health\""),
        "healthcheck uses `imdsbot health`"
    );
    assert!(docker.matches("FROM ").count() >= 2, "multi-stage");
    for copied in ["Cargo.toml", "Cargo.lock", "build.rs", "src", "knowledge"] {
        assert!(docker.contains(copied), "Dockerfile must copy {copied}");
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(copied).exists());
    }
}

#[test]
fn systemd_unit_is_hardened() {
    let unit = read("systemd/imdsbot.service");
    for line in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "ExecStart=/usr/local/bin/imdsbot serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "missing `{line}`");
    }
}

#[test]
fn health_subcommand_exists() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imdsbot"))
        .arg("health")
        .env("IMDSBOT_LISTEN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing listens on port 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/healthz"));
}
