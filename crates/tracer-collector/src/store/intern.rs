//! String interning for the strings that repeat across spans: service names, operation names,
//! attribute keys.
//!
//! A span refers to an interned string by its [`Sym`] (4 bytes) instead of owning a copy. The table
//! only grows: the interned vocabulary of a tracing deployment (services, operations, attribute
//! keys) is small and stable, and dropping entries would need a reference count on every span.
//! Attribute values are not interned here: those that repeat go to the bounded value dictionary
//! (`values.rs`), the others stay inline in the spans.

use std::sync::{Arc, RwLock, RwLockReadGuard};

/// Handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(pub(crate) u32);

#[derive(Default)]
struct Table {
    ids: super::fxhash::FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
    bytes: usize,
}

/// A grow-only string table, safe to share between threads.
#[derive(Default)]
pub(crate) struct Interner {
    table: RwLock<Table>,
}

impl Interner {
    /// Returns the symbol for `s`, adding it on first sight.
    pub(crate) fn intern(&self, s: &str) -> Sym {
        if let Some(sym) = self.lookup(s) {
            return sym;
        }
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = table.ids.get(s) {
            return Sym(id);
        }
        let id = u32::try_from(table.strings.len()).expect("fewer than 2^32 distinct strings");
        let arc: Arc<str> = Arc::from(s);
        table.bytes += s.len() + 64;
        table.ids.insert(arc.clone(), id);
        table.strings.push(arc);
        Sym(id)
    }

    /// Returns the symbol for `s` without adding it.
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        table.ids.get(s).map(|&id| Sym(id))
    }

    /// A read guard for resolving many symbols without re-locking.
    pub(crate) fn reader(&self) -> InternReader<'_> {
        InternReader(self.table.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Approximate heap bytes held by the table.
    pub(crate) fn bytes(&self) -> usize {
        self.table.read().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

/// Resolves symbols while holding the table's read lock.
pub(crate) struct InternReader<'a>(RwLockReadGuard<'a, Table>);

impl InternReader<'_> {
    /// Returns the symbol for `s` without adding it.
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.0.ids.get(s).map(|&id| Sym(id))
    }

    /// Returns the string behind `sym`.
    pub(crate) fn get(&self, sym: Sym) -> &str {
        &self.0.strings[sym.0 as usize]
    }
}
