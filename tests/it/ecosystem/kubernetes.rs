//! The Kubernetes example (contrib/kubernetes): every manifest parses, the
//! manifests agree with each other (mounts, Secret keys, ports, labels) and
//! the configuration the ConfigMap carries passes `acsync check`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::repo;

/// Every document of every manifest in contrib/kubernetes: (file, document).
fn k8s_manifests() -> Vec<(String, Value)> {
    use serde::Deserialize;
    let dir = repo("contrib/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("contrib/kubernetes")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("manifest");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            docs.push((name.clone(), v));
        }
    }
    docs
}

/// The one manifest of `kind`.
fn k8s_kind<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what}: {v}"))
}

/// The setting `key = "value"` of a TOML text, as a string.
fn toml_setting(toml_text: &str, table: &str, key: &str) -> String {
    let v: toml::Value = toml::from_str(toml_text).expect("acsync.toml");
    let mut cur = &v;
    for part in table.split('.') {
        cur = &cur[part];
    }
    cur[key]
        .as_str()
        .unwrap_or_else(|| panic!("{table}.{key}"))
        .to_string()
}

#[test]
fn kubernetes_manifests_parse_agree_with_each_other_and_carry_a_config_that_passes_check() {
    use std::os::unix::fs::PermissionsExt;
    let docs = k8s_manifests();
    let kustomization = k8s_kind(&docs, "Kustomization");
    let listed: BTreeSet<&str> = kustomization["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| str_of(r, "resource"))
        .collect();
    let files: BTreeSet<&str> = docs
        .iter()
        .map(|(f, _)| f.as_str())
        .filter(|f| *f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files, "kustomization lists every manifest");

    let deploy = k8s_kind(&docs, "Deployment");
    assert_eq!(deploy["spec"]["replicas"], 1);
    assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate");
    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| str_of(a, "arg"))
        .collect();
    let config_dir = args[args
        .iter()
        .position(|a| *a == "--config-dir")
        .expect("--config-dir")
        + 1];
    let mount_of = |volume: &str| -> String {
        let mounts = container["volumeMounts"].as_array().expect("mounts");
        let m = mounts
            .iter()
            .find(|m| m["name"] == volume)
            .unwrap_or_else(|| panic!("mount {volume}"));
        str_of(&m["mountPath"], "mountPath").to_string()
    };
    let volume = |pred: &dyn Fn(&Value) -> bool| -> Value {
        let vols = pod["volumes"].as_array().expect("volumes");
        vols.iter().find(|v| pred(v)).cloned().expect("volume")
    };

    // The configuration: the ConfigMap's items, written where the pod sees them.
    let cm = k8s_kind(&docs, "ConfigMap");
    let config_vol = volume(&|v| v["configMap"]["name"] == cm["metadata"]["name"]);
    assert_eq!(mount_of(str_of(&config_vol["name"], "name")), config_dir);
    assert_eq!(
        config_vol["configMap"]["defaultMode"], 0o440,
        "not world-readable"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let items = config_vol["configMap"]["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        cm["data"].as_object().expect("data").len(),
        "every key mounted"
    );
    for item in items {
        let text = str_of(&cm["data"][str_of(&item["key"], "key")], "data");
        let path = dir.path().join(str_of(&item["path"], "path"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, PermissionsExt::from_mode(0o440)).expect("chmod");
    }
    let settings = std::fs::read_to_string(dir.path().join("acsync.toml"))
        .expect("acsync.toml in the ConfigMap");

    // State and status on the persistent volume; the key from the Secret.
    let pvc = k8s_kind(&docs, "PersistentVolumeClaim");
    let state_vol = volume(&|v| v["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]);
    let state_mount = mount_of(str_of(&state_vol["name"], "name"));
    for key in ["state_dir", "status_dir"] {
        let v = toml_setting(&settings, "daemon", key);
        assert!(
            v.starts_with(&state_mount),
            "{key} = {v} is not on the state volume {state_mount}"
        );
    }
    let secret = k8s_kind(&docs, "Secret");
    let secret_vol = volume(&|v| v["secret"]["secretName"] == secret["metadata"]["name"]);
    let key_item = &secret_vol["secret"]["items"][0];
    assert!(
        secret["stringData"]
            .get(str_of(&key_item["key"], "key"))
            .is_some()
    );
    let key_path = format!(
        "{}/{}",
        mount_of(str_of(&secret_vol["name"], "name")),
        str_of(&key_item["path"], "path")
    );
    assert_eq!(
        toml_setting(&settings, "connections.prod", "api_key_file"),
        key_path
    );
    for env in container["env"].as_array().expect("env") {
        let key = str_of(&env["valueFrom"]["secretKeyRef"]["key"], "secretKeyRef");
        assert!(
            secret["stringData"].get(key).is_some(),
            "{key} in the Secret"
        );
    }

    // Scraped: metrics_listen's port is the container's, the Service's and the ServiceMonitor's.
    let listen = toml_setting(&settings, "daemon", "metrics_listen");
    let port: u64 = listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert_eq!(container["ports"][0]["containerPort"], port);
    let service = k8s_kind(&docs, "Service");
    let monitor = k8s_kind(&docs, "ServiceMonitor");
    assert_eq!(
        service["spec"]["selector"],
        deploy["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        service["metadata"]["labels"]
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    assert_eq!(
        service["metadata"]["name"], "acsync",
        "the job label the alert rules expect"
    );

    let out = std::process::Command::new(crate::util::bin())
        .args(["check", "--config-dir"])
        .arg(dir.path())
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("acsync check");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!all.contains("warning"), "{all}");
    assert!(all.contains("2 file(s) valid"), "{all}");
}
