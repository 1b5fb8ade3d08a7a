//! String interning for the strings that repeat across spans: service names, operation names,
//! attribute keys.
//!
//! A span refers to an interned string by its [`Sym`] (4 bytes) instead of owning a copy. The table
//! only grows: the interned vocabulary of a tracing deployment (services, operations, attribute
//! keys) is small and stable, and dropping entries would need a reference count on every span.
//! It is bounded all the same, against a client that puts ids in span names or attribute keys:
//! past [`MAX_STRINGS`] strings or [`MAX_BYTES`] bytes, a new string is stored as [`OVERFLOW`]
//! and counted, so memory stays bounded and the loss is visible in the store's stats.
//! Attribute values are not interned here: those that repeat go to the bounded value dictionary
//! (`values.rs`), the others stay inline in the spans.

use std::sync::{Arc, RwLock, RwLockReadGuard};

/// Most distinct strings the table holds (a deployment has hundreds to thousands).
pub(crate) const MAX_STRINGS: usize = 1 << 20;
/// Most bytes the table accounts (strings plus per-entry overhead).
pub(crate) const MAX_BYTES: usize = 64 << 20;
/// What a string that arrives when the table is full is stored as.
pub(crate) const OVERFLOW: &str = "(name dropped: too many distinct names)";
/// Bytes accounted per entry besides the string (map slot, vector slot, `Arc` header).
const ENTRY_OVERHEAD: usize = 64;

/// Handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(pub(crate) u32);

#[derive(Default)]
struct Table {
    ids: super::fxhash::FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
    bytes: usize,
    /// Strings that arrived when the table was full and were stored as [`OVERFLOW`].
    overflowed: u64,
}

impl Table {
    fn insert(&mut self, s: &str) -> Sym {
        let id = u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct strings");
        let arc: Arc<str> = Arc::from(s);
        self.bytes += s.len() + ENTRY_OVERHEAD;
        self.ids.insert(arc.clone(), id);
        self.strings.push(arc);
        Sym(id)
    }
}

/// A grow-only, bounded string table, safe to share between threads.
pub(crate) struct Interner {
    table: RwLock<Table>,
    max_strings: usize,
    max_bytes: usize,
}

impl Default for Interner {
    fn default() -> Self {
        Self::with_limits(MAX_STRINGS, MAX_BYTES)
    }
}

impl Interner {
    /// An empty table holding at most `max_strings` strings and `max_bytes` bytes (plus the one
    /// [`OVERFLOW`] entry).
    pub(crate) fn with_limits(max_strings: usize, max_bytes: usize) -> Self {
        Interner {
            table: RwLock::new(Table::default()),
            max_strings,
            max_bytes,
        }
    }

    /// Returns the symbol for `s`, adding it on first sight; when the table is full, the symbol
    /// of [`OVERFLOW`] (counted in [`overflowed`](Self::overflowed)).
    pub(crate) fn intern(&self, s: &str) -> Sym {
        if let Some(sym) = self.lookup(s) {
            return sym;
        }
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = table.ids.get(s) {
            return Sym(id);
        }
        let full = table.strings.len() >= self.max_strings
            || table.bytes + s.len() + ENTRY_OVERHEAD > self.max_bytes;
        if !full {
            return table.insert(s);
        }
        table.overflowed += 1;
        match table.ids.get(OVERFLOW) {
            Some(&id) => Sym(id),
            None => table.insert(OVERFLOW),
        }
    }

    /// How many strings were stored as [`OVERFLOW`] because the table was full.
    pub(crate) fn overflowed(&self) -> u64 {
        self.table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .overflowed
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_stores_new_strings_as_overflow_and_counts_them() {
        let interner = Interner::with_limits(3, usize::MAX);
        let a = interner.intern("GET /a");
        assert_eq!(
            interner.intern("GET /a"),
            a,
            "a known string keeps its symbol"
        );
        interner.intern("GET /b");
        interner.intern("GET /c");
        let over = interner.intern("GET /d");
        assert_eq!(interner.reader().get(over), OVERFLOW);
        assert_eq!(interner.intern("GET /e"), over);
        assert_eq!(interner.overflowed(), 2);
        assert_eq!(
            interner.reader().get(a),
            "GET /a",
            "earlier strings stay resolvable"
        );
        assert_eq!(
            interner.intern("GET /b"),
            Sym(1),
            "earlier strings keep their symbols"
        );
    }

    #[test]
    fn the_byte_cap_bounds_the_table_too() {
        let interner = Interner::with_limits(usize::MAX, 10_000);
        for i in 0..10_000 {
            interner.intern(&format!("operation-{i:06}"));
        }
        // 10,000 bytes at ~79 bytes per entry: about 126 strings, then only the overflow entry.
        assert!(interner.bytes() <= 10_000 + OVERFLOW.len() + ENTRY_OVERHEAD);
        assert!(interner.overflowed() > 9_800, "{}", interner.overflowed());
    }
}
