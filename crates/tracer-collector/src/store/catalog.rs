//! Deduplicated resources ("processes" in Jaeger's words) and instrumentation scopes.
//!
//! Every span of a batch shares its resource and scope, and the same few resources arrive again
//! in every batch, so spans store a 4-byte index into these tables. The tables are keyed by the
//! protobuf encoding of the resource or scope and only grow; their size is reported in the
//! store statistics.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::intern::{Interner, Sym};
use super::span::{AttrIter, ProcessId, Reader, ScopeId, Writer};

/// Service name used when a resource has no `service.name`, as the OTLP to Jaeger translation
/// does.
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// A resource, with its service name pulled out.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) service: Sym,
    pub(crate) resource: Resource,
    /// Resource attributes other than `service.name`, packed for tag search.
    packed_tags: Box<[u8]>,
}

impl Process {
    /// Resource attributes other than `service.name`, for tag search.
    pub(crate) fn tags(&self) -> AttrIter<'_> {
        Reader::attr_iter(&self.packed_tags)
    }
}

/// An instrumentation scope.
pub(crate) type Scope = InstrumentationScope;

struct Table<T> {
    items: Vec<Arc<T>>,
    ids: HashMap<Vec<u8>, u32>,
    bytes: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: Vec::new(),
            ids: HashMap::new(),
            bytes: 0,
        }
    }
}

impl<T> Table<T> {
    fn get_or_insert(&mut self, key: Vec<u8>, make: impl FnOnce() -> T) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = u32::try_from(self.items.len()).expect("fewer than 2^32 resources");
        self.bytes += 2 * key.len() + 128;
        self.items.push(Arc::new(make()));
        self.ids.insert(key, id);
        id
    }
}

/// The process and scope tables.
#[derive(Default)]
pub(crate) struct Catalog {
    processes: RwLock<Table<Process>>,
    scopes: RwLock<Table<Scope>>,
}

impl Catalog {
    pub(crate) fn process_id(&self, resource: Option<&Resource>, interner: &Interner) -> ProcessId {
        let resource = resource.cloned().unwrap_or_default();
        let key = resource.encode_to_vec();
        if let Some(&id) = self
            .processes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .get(&key)
        {
            return ProcessId(id);
        }
        // Intern before taking the table's write lock: a query holds the interner's read lock
        // while it reads this table, so interning under the write lock could deadlock.
        let service = resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(
                |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
                    _ => None,
                },
            )
            .unwrap_or(NO_SERVICE_NAME);
        let service = interner.intern(service);
        let mut w = Writer::default();
        let tags: Vec<&KeyValue> = resource
            .attributes
            .iter()
            .filter(|kv| kv.key != "service.name")
            .collect();
        w.varint(tags.len() as u64);
        for kv in tags {
            w.varint(u64::from(interner.intern(&kv.key).0));
            w.value(kv.value.as_ref().and_then(|v| v.value.as_ref()));
        }
        let mut table = self.processes.write().unwrap_or_else(|e| e.into_inner());
        let id = table.get_or_insert(key, || Process {
            service,
            resource,
            packed_tags: w.buf.into_boxed_slice(),
        });
        ProcessId(id)
    }

    pub(crate) fn scope_id(&self, scope: Option<&InstrumentationScope>) -> ScopeId {
        let scope = scope.cloned().unwrap_or_default();
        let key = scope.encode_to_vec();
        if let Some(&id) = self
            .scopes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .get(&key)
        {
            return ScopeId(id);
        }
        let mut table = self.scopes.write().unwrap_or_else(|e| e.into_inner());
        ScopeId(table.get_or_insert(key, || scope))
    }

    pub(crate) fn process(&self, id: ProcessId) -> Arc<Process> {
        self.processes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .items[id.0 as usize]
            .clone()
    }

    /// Applies `f` to every process, in id order.
    pub(crate) fn map_processes<T>(&self, f: impl Fn(&Process) -> T) -> Vec<T> {
        let table = self.processes.read().unwrap_or_else(|e| e.into_inner());
        table.items.iter().map(|p| f(p)).collect()
    }

    pub(crate) fn scope(&self, id: ScopeId) -> Arc<Scope> {
        self.scopes.read().unwrap_or_else(|e| e.into_inner()).items[id.0 as usize].clone()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.processes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .bytes
            + self.scopes.read().unwrap_or_else(|e| e.into_inner()).bytes
    }
}
