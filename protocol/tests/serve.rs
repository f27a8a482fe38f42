//! `serve` against the protocol's rules, on an in-memory ring: every
//! request gets one answer in order; lifecycle ops inside `batch` and
//! `parallel`; the errors of ring ops before `create`/`open` and after
//! `close`; ops a list may not hold.

use ringcheck_protocol::{serve, DriverError, ErrorCode, Feature, Implementation, Ring};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<VecDeque<Vec<u8>>>>;

/// Rings by name, in this process only.
#[derive(Default)]
struct Memory {
    rings: Mutex<HashMap<String, (Shared, u64, u64)>>,
}

struct MemRing {
    items: Shared,
    capacity: u64,
}

impl Ring for MemRing {
    fn put(&self, data: &[u8]) -> Result<bool, DriverError> {
        let mut q = self.items.lock().unwrap();
        if q.len() as u64 == self.capacity {
            return Ok(false);
        }
        q.push_back(data.to_vec());
        Ok(true)
    }
    fn get(&self) -> Result<Option<Vec<u8>>, DriverError> {
        Ok(self.items.lock().unwrap().pop_front())
    }
    fn len(&self) -> Result<u64, DriverError> {
        Ok(self.items.lock().unwrap().len() as u64)
    }
    fn close(&mut self) -> Result<(), DriverError> {
        Ok(())
    }
}

impl Implementation for Memory {
    type Ring = MemRing;
    fn name(&self) -> String {
        "memory".into()
    }
    fn features(&self) -> Vec<Feature> {
        vec![Feature::Batch, Feature::Parallel]
    }
    fn create(&self, name: &str, capacity: u64, item_size: u64) -> Result<MemRing, DriverError> {
        let mut rings = self.rings.lock().unwrap();
        if rings.contains_key(name) {
            return Err(DriverError::new(ErrorCode::Exists, name));
        }
        let items = Shared::default();
        rings.insert(name.into(), (Arc::clone(&items), capacity, item_size));
        Ok(MemRing { items, capacity })
    }
    fn open(&self, name: &str) -> Result<(MemRing, u64, u64), DriverError> {
        let rings = self.rings.lock().unwrap();
        let (items, capacity, item_size) = rings
            .get(name)
            .ok_or_else(|| DriverError::new(ErrorCode::NotFound, name))?;
        let ring = MemRing {
            items: Arc::clone(items),
            capacity: *capacity,
        };
        Ok((ring, *capacity, *item_size))
    }
}

/// Serves `requests` (one JSON object each) and returns the answers.
fn session(requests: &[Value]) -> Vec<Value> {
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let mut output = Vec::new();
    serve(&Memory::default(), input.as_bytes(), &mut output).unwrap();
    String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("(success)")
}

#[test]
fn ring_ops_before_create_are_invalid_and_after_close_closed() {
    let r = session(&[
        json!({"id": 1, "op": "put", "data": "YQ=="}),
        json!({"id": 2, "op": "close"}),
        json!({"id": 3, "op": "create", "name": "r", "capacity": 2, "item_size": 4}),
        json!({"id": 4, "op": "close"}),
        json!({"id": 5, "op": "get"}),
        json!({"id": 6, "op": "close"}),
    ]);
    let got: Vec<&str> = r.iter().map(error).collect();
    assert_eq!(
        got,
        [
            "invalid",
            "invalid",
            "(success)",
            "(success)",
            "closed",
            "closed"
        ]
    );
    let ids: Vec<u64> = r.iter().map(|v| v["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_batch_may_create_open_and_close() {
    let r = session(&[json!({"id": 1, "op": "batch", "ops": [
        {"op": "get"},
        {"op": "create", "name": "r", "capacity": 2, "item_size": 4},
        {"op": "put", "data": "YQ=="},
        {"op": "open", "name": "r"},
        {"op": "get"},
        {"op": "close"},
        {"op": "len"},
    ]})]);
    let results = r[0]["results"].as_array().expect("results");
    let got: Vec<&str> = results.iter().map(error).collect();
    assert_eq!(
        got,
        [
            "invalid",
            "(success)",
            "(success)",
            "(success)",
            "(success)",
            "(success)",
            "closed"
        ]
    );
    assert_eq!(results[3]["capacity"], 2);
    assert_eq!(results[4]["data"], "YQ==");
    for res in results {
        assert!(res["t0"].as_u64().unwrap() <= res["t1"].as_u64().unwrap());
    }
}

#[test]
fn a_list_may_not_hold_hello_exit_batch_or_parallel_and_goes_on() {
    let r = session(&[
        json!({"id": 1, "op": "create", "name": "r", "capacity": 2, "item_size": 4}),
        json!({"id": 2, "op": "batch", "ops": [
            {"op": "hello"},
            {"op": "exit"},
            {"op": "batch", "ops": []},
            {"op": "parallel", "threads": []},
            {"op": "no-such-op"},
            {"op": "put", "data": "YQ=="},
        ]}),
        json!({"id": 3, "op": "len"}),
    ]);
    let got: Vec<&str> = r[1]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(error)
        .collect();
    assert_eq!(
        got,
        [
            "invalid",
            "invalid",
            "invalid",
            "invalid",
            "unsupported",
            "(success)"
        ]
    );
    assert_eq!(
        r[2]["len"], 1,
        "the exit inside the batch did not end the driver"
    );
}

#[test]
fn parallel_threads_share_the_ring_and_may_open_it() {
    let r = session(&[
        json!({"id": 1, "op": "create", "name": "r", "capacity": 8, "item_size": 4}),
        json!({"id": 2, "op": "parallel", "threads": [
            [{"op": "put", "data": "YQ=="}, {"op": "put", "data": "Yg=="}],
            [{"op": "open", "name": "r"}, {"op": "put", "data": "Yw=="}],
        ]}),
        json!({"id": 3, "op": "len"}),
    ]);
    let threads = r[1]["results"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    for t in threads {
        assert!(t.as_array().unwrap().iter().all(|v| v["ok"] == true), "{t}");
    }
    assert_eq!(r[2]["len"], 3);
}
