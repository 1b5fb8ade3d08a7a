//! A bounded dictionary of the attribute string values that repeat across spans.
//!
//! Most string values a deployment sends come from a small vocabulary: HTTP methods and routes,
//! server addresses, protocol versions, user agents, database operations, event names,
//! exception types. The packed span data refers to such a value by its id in this dictionary
//! (one byte for the first 248 ids, see `span.rs`) instead of repeating it in every span.
//!
//! The dictionary is bounded and resists pollution by high-cardinality values:
//! - it holds at most `max_entries` values and `max_bytes` accounted bytes; once full, new values
//!   are stored inline in the spans, as values that are not interned always are;
//! - only values of [`MIN_LEN`] to [`MAX_LEN`] bytes are interned;
//! - each attribute key may add at most `per_key` distinct values; a key that reaches this count
//!   (url paths with ids, client addresses, trace-specific values) adds no more, and its values
//!   that are not already in the dictionary are stored inline. Lookups of values already
//!   interned continue, so a key with a few frequent values and a long tail keeps referencing
//!   the frequent ones.
//!
//! Entries are never removed and ids never reused, so a reference stored in a span stays valid
//! whatever the store evicts; the cost of never shrinking is bounded by the caps above, and the
//! dictionary's bytes count towards the store's byte budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::fxhash::FxHashMap;

/// Shortest value interned: a reference takes one to four bytes, an inline value two bytes
/// plus its text.
pub(crate) const MIN_LEN: usize = 2;
/// Longest value interned; longer values rarely repeat exactly.
pub(crate) const MAX_LEN: usize = 256;
/// Default entry cap.
pub(crate) const DEFAULT_MAX_ENTRIES: usize = 1 << 16;
/// Default byte cap (lowered to an eighth of the store's byte budget for small budgets).
pub(crate) const DEFAULT_MAX_BYTES: usize = 8 << 20;
/// Default number of distinct values one key may add.
pub(crate) const DEFAULT_PER_KEY: u32 = 1024;
/// Dictionary key under which event names are interned (no attribute key symbol is this large).
pub(crate) const EVENT_NAME_KEY: u32 = u32::MAX;

/// Accounted bytes of one entry besides its text: the `Arc<str>` header and allocator rounding,
/// the hash map slot (at 7/8 load) and the id-to-string vector slot.
const ENTRY_OVERHEAD: usize = 72;
/// Accounted bytes of one per-key counter (hash map slot at 7/8 load).
const KEY_OVERHEAD: usize = 16;

fn entry_cost(value: &str) -> usize {
    value.len().next_multiple_of(8) + ENTRY_OVERHEAD
}

#[derive(Default)]
struct Table {
    ids: FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
    /// Distinct values added per key; a key reaching the per-key cap adds no more.
    added_by_key: FxHashMap<u32, u32>,
    bytes: usize,
}

/// The value dictionary, safe to share between threads.
pub(crate) struct ValueDict {
    table: RwLock<Table>,
    /// Copy of the table's byte count, readable without the lock (the store reads it under its
    /// own lock when enforcing its budget).
    bytes: AtomicUsize,
    max_entries: usize,
    max_bytes: usize,
    per_key: u32,
}

impl ValueDict {
    /// A dictionary with these caps.
    pub(crate) fn new(max_entries: usize, max_bytes: usize, per_key: u32) -> Self {
        ValueDict {
            table: RwLock::new(Table::default()),
            bytes: AtomicUsize::new(0),
            max_entries: max_entries.min(u32::MAX as usize),
            max_bytes,
            per_key,
        }
    }

    /// The default dictionary for a store whose byte budget is `store_max_bytes`: at most an
    /// eighth of that budget, so evicting spans can always bring the store under it.
    pub(crate) fn for_store(store_max_bytes: usize) -> Self {
        ValueDict::new(
            DEFAULT_MAX_ENTRIES,
            DEFAULT_MAX_BYTES.min(store_max_bytes / 8),
            DEFAULT_PER_KEY,
        )
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` may add `value` to `table` under the caps.
    fn may_add(&self, table: &Table, key: u32, value: &str) -> bool {
        let added = table.added_by_key.get(&key).copied();
        let cost = entry_cost(value) + if added.is_none() { KEY_OVERHEAD } else { 0 };
        added.unwrap_or(0) < self.per_key
            && table.strings.len() < self.max_entries
            && table.bytes + cost <= self.max_bytes
    }

    /// What to do with `value`, a value of attribute `key`, as far as `reader` can tell.
    pub(crate) fn find(&self, reader: &ValueReader<'_>, key: u32, value: &str) -> Found {
        if !(MIN_LEN..=MAX_LEN).contains(&value.len()) {
            return Found::Inline;
        }
        if let Some(&id) = reader.0.ids.get(value) {
            return Found::Id(id);
        }
        if self.may_add(&reader.0, key, value) {
            Found::Add
        } else {
            Found::Inline
        }
    }

    /// The id of `value`, a value of attribute `key` (a key symbol, or [`EVENT_NAME_KEY`]),
    /// adding it when the caps allow; `None` means: store it inline.
    ///
    /// Takes the lock briefly; the caller must hold no other lock of the store (the write lock
    /// may have to wait for queries, which hold the interner's read lock while they take this
    /// one's).
    pub(crate) fn id(&self, key: u32, value: &str) -> Option<u32> {
        match self.find(&self.reader(), key, value) {
            Found::Id(id) => return Some(id),
            Found::Inline => return None,
            Found::Add => {}
        }
        let mut table = self.write();
        if let Some(&id) = table.ids.get(value) {
            return Some(id);
        }
        if !self.may_add(&table, key, value) {
            return None;
        }
        let id = table.strings.len() as u32;
        let added = table.added_by_key.entry(key).or_insert(0);
        let key_cost = if *added == 0 { KEY_OVERHEAD } else { 0 };
        *added += 1;
        let text: Arc<str> = Arc::from(value);
        table.ids.insert(text.clone(), id);
        table.strings.push(text);
        table.bytes += entry_cost(value) + key_cost;
        self.bytes.store(table.bytes, Ordering::Relaxed);
        Some(id)
    }

    /// A read guard for resolving the ids of many values without re-locking.
    pub(crate) fn reader(&self) -> ValueReader<'_> {
        ValueReader(self.read())
    }

    /// Accounted bytes held by the dictionary.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Number of values interned.
    pub(crate) fn len(&self) -> usize {
        self.read().strings.len()
    }
}

/// Answer of [`ValueDict::find`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The value has this id.
    Id(u32),
    /// The value is to be stored inline (not eligible, or the caps forbid adding it).
    Inline,
    /// The value may be added ([`ValueDict::id`], without any read guard held).
    Add,
}

/// Holds the dictionary's read lock while spans are packed or decoded.
pub(crate) struct ValueReader<'a>(RwLockReadGuard<'a, Table>);

impl ValueReader<'_> {
    /// The resolver to decode packed span data with.
    pub(crate) fn resolver(&self) -> Resolver<'_> {
        Resolver(&self.0.strings)
    }
}

/// Resolves value ids to their text while a [`ValueReader`] is held.
#[derive(Clone, Copy)]
pub(crate) struct Resolver<'a>(&'a [Arc<str>]);

impl<'a> Resolver<'a> {
    /// For packed data that never holds references (the catalog's resource attributes).
    pub(crate) const NONE: Resolver<'static> = Resolver(&[]);

    /// The text of value `id`; an id the dictionary never issued (a bug) reads as "".
    pub(crate) fn get(self, id: u32) -> &'a str {
        self.0.get(id as usize).map_or("", |s| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_value_is_stored_once_and_keeps_its_id() {
        let dict = ValueDict::new(100, 1 << 20, 10);
        let id = dict.id(1, "GET").unwrap();
        for key in [1, 2, 3] {
            assert_eq!(dict.id(key, "GET"), Some(id));
        }
        assert_eq!(dict.len(), 1);
        assert_eq!(dict.reader().resolver().get(id), "GET");
        assert_eq!(dict.id(1, "x"), None, "too short to gain from a reference");
        assert_eq!(dict.id(1, &"x".repeat(MAX_LEN + 1)), None, "too long");
    }

    #[test]
    fn a_high_cardinality_key_stops_adding_but_keeps_its_frequent_values() {
        let dict = ValueDict::new(1000, 1 << 20, 3);
        let ids: Vec<_> = (0..3)
            .map(|i| dict.id(7, &format!("/orders/{i}")))
            .collect();
        assert!(ids.iter().all(Option::is_some));
        assert_eq!(dict.id(7, "/orders/3"), None);
        assert_eq!(
            dict.id(7, "/orders/0"),
            ids[0],
            "values already interned still resolve"
        );
        assert!(
            dict.id(8, "/orders/3").is_some(),
            "other keys are not affected"
        );
        assert_eq!(dict.len(), 4);
    }

    #[test]
    fn the_caps_hold_whatever_is_fed() {
        let dict = ValueDict::new(500, 20_000, 50);
        for key in 0..1000 {
            for i in 0..100 {
                dict.id(key, &format!("value-{key}-{i}"));
            }
        }
        assert!(dict.len() <= 500);
        assert!(dict.bytes() <= 20_000, "{}", dict.bytes());
        let dict = ValueDict::new(50, 1 << 20, 1000);
        for i in 0..10_000 {
            dict.id(1, &format!("value-{i}"));
        }
        assert_eq!(dict.len(), 50);
    }
}
