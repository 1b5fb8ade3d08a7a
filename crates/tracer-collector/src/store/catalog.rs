//! Deduplicated resources ("processes" in Jaeger's words) and instrumentation scopes.
//!
//! Every span of a batch shares its resource and scope, and the same few resources arrive again
//! in every batch, so spans store a 4-byte index into these tables. The tables are keyed by a
//! canonical encoding of the resource or scope (its strings as given, values inline). Each entry counts the stored spans that use it
//! (plus leases held by batches being prepared); when the last of its spans is evicted it is
//! freed, and its bytes count in the store's byte budget while it lives, so a client sending a
//! new resource with every request cannot grow the tables past the budget.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::batch::{KeyValue, Resource, Scope as BatchScope, SpanBatch};
use super::fxhash::{FxHashMap, FxHashSet};
use super::intern::{Interner, Sym};
use super::span::{AttrIter, ProcessId, Reader, ScopeId, Writer};

/// A resource, with its service name pulled out.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) service: Sym,
    /// Every resource attribute as received, packed (keys interned, values inline).
    packed_attributes: Box<[u8]>,
    pub(crate) dropped_attributes: u32,
}

impl Process {
    /// The resource attributes, in the order received.
    pub(crate) fn attributes(&self) -> AttrIter<'_> {
        Reader::attr_iter(&self.packed_attributes)
    }
}

/// An instrumentation scope.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub(crate) name: String,
    pub(crate) version: String,
    packed_attributes: Box<[u8]>,
    pub(crate) dropped_attributes: u32,
}

impl Scope {
    /// The scope attributes, in the order received.
    pub(crate) fn attributes(&self) -> AttrIter<'_> {
        Reader::attr_iter(&self.packed_attributes)
    }
}

/// The table key of a list of attributes: their text and values, nothing interned.
fn key_attributes(
    w: &mut Writer,
    batch: &SpanBatch<'_>,
    attributes: &[KeyValue<'_>],
    dropped: u32,
) {
    w.varint(u64::from(dropped));
    w.varint(attributes.len() as u64);
    for kv in attributes {
        w.str(kv.key);
        w.any(batch, &kv.value);
    }
}

/// Packs attributes for storage (keys interned). Call without holding a table's lock: a query
/// holds the interner's read lock while it reads the tables.
fn pack_attributes(
    batch: &SpanBatch<'_>,
    attributes: &[KeyValue<'_>],
    interner: &Interner,
) -> Box<[u8]> {
    let mut w = Writer::default();
    w.varint(attributes.len() as u64);
    for kv in attributes {
        w.varint(u64::from(interner.intern(kv.key).0));
        w.any(batch, &kv.value);
    }
    w.buf.into_boxed_slice()
}

/// One table entry: the item, its key, and what keeps it alive.
struct Entry<T> {
    item: Arc<T>,
    key: Vec<u8>,
    /// Stored spans that reference the entry.
    spans: u64,
    /// Batches being prepared that reference it (taken by `get_or_lease`, given back by
    /// `settle`), so an entry is not freed between a batch's preparation and its insertion.
    leases: u64,
}

/// Bytes accounted per entry besides its key (twice: map key and entry) and item.
const ENTRY_OVERHEAD: usize = 128;

struct Table<T> {
    items: FxHashMap<u32, Entry<T>>,
    ids: HashMap<Vec<u8>, u32>,
    next_id: u32,
    bytes: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: FxHashMap::default(),
            ids: HashMap::new(),
            next_id: 0,
            bytes: 0,
        }
    }
}

impl<T> Table<T> {
    fn footprint(key: &[u8]) -> usize {
        2 * key.len() + ENTRY_OVERHEAD
    }

    /// The id of `key`, adding the entry on first sight; takes a lease either way.
    fn get_or_lease(&mut self, key: Vec<u8>, make: impl FnOnce() -> T) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            if let Some(entry) = self.items.get_mut(&id) {
                entry.leases += 1;
            }
            return id;
        }
        // Ids are not reused while any entry holds them: a trace copied out of the store for
        // a response may still name an id whose entry was freed, and must not see another
        // resource under it.
        let mut id = self.next_id;
        while self.items.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.bytes += Self::footprint(&key);
        self.ids.insert(key.clone(), id);
        self.items.insert(
            id,
            Entry {
                item: Arc::new(make()),
                key,
                spans: 0,
                leases: 1,
            },
        );
        id
    }

    /// Adds `spans` stored spans to the entry and gives back `leases` leases; frees it when
    /// nothing references it any more. Returns the bytes freed.
    fn settle(&mut self, id: u32, spans: i64, leases: u64) -> usize {
        let Some(entry) = self.items.get_mut(&id) else {
            return 0;
        };
        entry.spans = entry.spans.saturating_add_signed(spans);
        entry.leases = entry.leases.saturating_sub(leases);
        if entry.spans > 0 || entry.leases > 0 {
            return 0;
        }
        let Some(entry) = self.items.remove(&id) else {
            return 0;
        };
        self.ids.remove(&entry.key);
        let freed = Self::footprint(&entry.key);
        self.bytes -= freed;
        freed
    }

    fn get(&self, id: u32) -> Option<Arc<T>> {
        self.items.get(&id).map(|e| e.item.clone())
    }
}

/// References a batch or an evicted trace holds on catalog entries, counted per entry.
#[derive(Debug, Default, Clone)]
pub(crate) struct CatalogRefs {
    /// (process id, spans, leases).
    pub(crate) processes: Vec<(ProcessId, i64, u64)>,
    /// (scope id, spans, leases).
    pub(crate) scopes: Vec<(ScopeId, i64, u64)>,
}

impl CatalogRefs {
    /// Records a lease taken on `process` while preparing.
    pub(crate) fn lease_process(&mut self, process: ProcessId) {
        self.processes.push((process, 0, 1));
    }

    /// Records a lease taken on `scope` while preparing.
    pub(crate) fn lease_scope(&mut self, scope: ScopeId) {
        self.scopes.push((scope, 0, 1));
    }

    /// Adds `n` spans (negative: removed) referencing `process` and `scope`.
    pub(crate) fn count(&mut self, process: ProcessId, scope: ScopeId, n: i64) {
        match self
            .processes
            .iter_mut()
            .rev()
            .find(|(p, _, _)| *p == process)
        {
            Some(entry) => entry.1 += n,
            None => self.processes.push((process, n, 0)),
        }
        match self.scopes.iter_mut().rev().find(|(s, _, _)| *s == scope) {
            Some(entry) => entry.1 += n,
            None => self.scopes.push((scope, n, 0)),
        }
    }
}

/// Takes a lease on the entry of `key` when the table holds it.
fn lease_existing<T>(table: &RwLock<Table<T>>, key: &[u8]) -> Option<u32> {
    let mut table = table.write().unwrap_or_else(|e| e.into_inner());
    let id = *table.ids.get(key)?;
    if let Some(entry) = table.items.get_mut(&id) {
        entry.leases += 1;
    }
    Some(id)
}

/// The process and scope tables.
#[derive(Default)]
pub(crate) struct Catalog {
    processes: RwLock<Table<Process>>,
    scopes: RwLock<Table<Scope>>,
}

impl Catalog {
    /// The id of `resource` (of `batch`), adding it on first sight, with a lease the caller
    /// records in its batch's [`CatalogRefs`].
    pub(crate) fn process_id(
        &self,
        resource: &Resource<'_>,
        batch: &SpanBatch<'_>,
        interner: &Interner,
    ) -> ProcessId {
        let attributes = batch.attributes_in(&resource.attributes);
        let mut key = Writer::default();
        key.str(resource.service);
        key_attributes(&mut key, batch, attributes, resource.dropped_attributes);
        let key = key.buf;
        if let Some(id) = lease_existing(&self.processes, &key) {
            return ProcessId(id);
        }
        // Intern before taking the table's write lock: a query holds the interner's read lock
        // while it reads this table, so interning under the write lock could deadlock.
        let process = Process {
            service: interner.intern(resource.service),
            packed_attributes: pack_attributes(batch, attributes, interner),
            dropped_attributes: resource.dropped_attributes,
        };
        let mut table = self.processes.write().unwrap_or_else(|e| e.into_inner());
        ProcessId(table.get_or_lease(key, || process))
    }

    /// The id of `scope` (of `batch`), adding it on first sight, with a lease (see
    /// [`Catalog::process_id`]).
    pub(crate) fn scope_id(
        &self,
        scope: &BatchScope<'_>,
        batch: &SpanBatch<'_>,
        interner: &Interner,
    ) -> ScopeId {
        let attributes = batch.attributes_in(&scope.attributes);
        let mut key = Writer::default();
        key.str(scope.name);
        key.str(scope.version);
        key_attributes(&mut key, batch, attributes, scope.dropped_attributes);
        let key = key.buf;
        if let Some(id) = lease_existing(&self.scopes, &key) {
            return ScopeId(id);
        }
        let stored = Scope {
            name: scope.name.to_owned(),
            version: scope.version.to_owned(),
            packed_attributes: pack_attributes(batch, attributes, interner),
            dropped_attributes: scope.dropped_attributes,
        };
        let mut table = self.scopes.write().unwrap_or_else(|e| e.into_inner());
        ScopeId(table.get_or_lease(key, || stored))
    }

    /// Applies span counts and gives back leases; entries nothing references any more are
    /// freed. Returns the bytes freed.
    pub(crate) fn settle(&self, refs: &CatalogRefs) -> usize {
        let mut freed = 0;
        if !refs.processes.is_empty() {
            let mut table = self.processes.write().unwrap_or_else(|e| e.into_inner());
            for &(id, spans, leases) in &refs.processes {
                freed += table.settle(id.0, spans, leases);
            }
        }
        if !refs.scopes.is_empty() {
            let mut table = self.scopes.write().unwrap_or_else(|e| e.into_inner());
            for &(id, spans, leases) in &refs.scopes {
                freed += table.settle(id.0, spans, leases);
            }
        }
        freed
    }

    /// The process with this id; `None` when it was freed (a trace copied out of the store and
    /// evicted since).
    pub(crate) fn process(&self, id: ProcessId) -> Option<Arc<Process>> {
        self.processes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id.0)
    }

    /// Ids of the processes for which `f` holds.
    pub(crate) fn processes_where(&self, f: impl Fn(&Process) -> bool) -> FxHashSet<u32> {
        let table = self.processes.read().unwrap_or_else(|e| e.into_inner());
        table
            .items
            .iter()
            .filter(|(_, e)| f(&e.item))
            .map(|(&id, _)| id)
            .collect()
    }

    /// The scope with this id; `None` when it was freed.
    pub(crate) fn scope(&self, id: ScopeId) -> Option<Arc<Scope>> {
        self.scopes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id.0)
    }

    /// Number of processes and scopes held.
    pub(crate) fn len(&self) -> (usize, usize) {
        (
            self.processes
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .items
                .len(),
            self.scopes
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .items
                .len(),
        )
    }

    /// Calls `f` with every name symbol the processes and scopes hold (service names and
    /// attribute keys), for a sweep of the names table.
    pub(crate) fn for_each_sym(&self, mut f: impl FnMut(Sym)) {
        let processes = self.processes.read().unwrap_or_else(|e| e.into_inner());
        for entry in processes.items.values() {
            f(entry.item.service);
            entry.item.attributes().for_each(|(key, _)| f(key));
        }
        drop(processes);
        let scopes = self.scopes.read().unwrap_or_else(|e| e.into_inner());
        for entry in scopes.items.values() {
            entry.item.attributes().for_each(|(key, _)| f(key));
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.processes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .bytes
            + self.scopes.read().unwrap_or_else(|e| e.into_inner()).bytes
    }
}
