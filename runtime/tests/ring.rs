//! The ring against upstream's golden vectors (`shared/conformance/ring`): node tokens,
//! target keys, owners in four node sets, and two owners with replication factor 2.

use alloy_runtime::cluster::ring::{target_key, tokens, Ring, TOKENS_PER_NODE};
use serde_json::Value as Json;

fn vectors() -> Option<Json> {
    let path = alloy_testdata::conformance_root()?.join("ring/ckit-ring-vectors.json");
    let text = std::fs::read_to_string(&path).expect("ring vectors readable");
    Some(serde_json::from_str(&text).expect("ring vectors are JSON"))
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ring_matches_upstream_vectors() {
    let Some(v) = vectors() else { return };
    assert_eq!(v["tokens_per_node"].as_u64(), Some(TOKENS_PER_NODE as u64));
    for example in v["token_examples"].as_array().unwrap() {
        let node = example["node"].as_str().unwrap();
        let got: Vec<String> = tokens(node).take(4).map(|t| format!("{t:016x}")).collect();
        assert_eq!(
            got,
            strings(&example["first_4_tokens_hex"]),
            "tokens of {node:?}"
        );
    }
    let rings: Vec<Ring> = v["node_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| Ring::new(strings(set)))
        .collect();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 200);
    for (i, case) in cases.iter().enumerate() {
        let labels: Vec<(String, String)> = case["labels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let key = target_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(
            format!("{key:016x}"),
            case["key_hex"].as_str().unwrap(),
            "key of case {i}"
        );
        for (ring, want) in rings.iter().zip(strings(&case["owner_per_node_set"])) {
            assert_eq!(
                ring.lookup(key, 1).unwrap(),
                [want.as_str()],
                "owner of case {i}"
            );
        }
        assert_eq!(
            rings[2].lookup(key, 2).unwrap(),
            strings(&case["two_owners_in_node_set_2"]),
            "two owners of case {i}"
        );
    }
}
