//! String interning for the strings that repeat across spans: service names, operation names,
//! attribute keys.
//!
//! A span refers to an interned string by its [`Sym`] (4 bytes) instead of owning a copy. The
//! table is bounded, against a client that puts ids in span names or attribute keys: past
//! [`MAX_STRINGS`] strings or [`MAX_BYTES`] bytes, a new string is stored as [`OVERFLOW`] and
//! counted, so memory stays bounded and the loss is visible in the store's stats. Attribute
//! values are not interned here: those that repeat go to the bounded value dictionary
//! (`values.rs`), the others stay inline in the spans.
//!
//! # Freeing names
//!
//! Names whose last span was evicted are freed by a sweep, not by a count per use: counting
//! would mean decoding every evicted span's packed data on the ingest path, while a deployment's
//! vocabulary is small and stable and a sweep is only needed when a client keeps sending new
//! names. The store runs one when the table passes half of either cap ([`Interner::sweep_due`]):
//! it marks the names its spans and its catalog use, and the table frees the rest. Two kinds of
//! holder have symbols the store does not see, and the sweep waits for each:
//!
//! - A batch being prepared: it holds a writer's [`NameLease`] ([`Interner::writer_lease`]),
//!   and every symbol handed out for storage marks its entry with the current mark epoch. A
//!   sweep first starts a new epoch, then waits until no writer lease taken before it is left
//!   ([`Interner::sweep_ready`]): from then on every batch in flight has marked what it uses
//!   with the new epoch, and names marked with it are kept.
//! - A query, and the traces it copies out of the store: each holds a reader's lease
//!   ([`Interner::reader_lease`]). A freed symbol keeps its string, and is not given to another
//!   string until no reader lease taken before the sweep ended is left, so a response names
//!   what it copied even when its spans were evicted meanwhile. (A response that takes very
//!   long, such as a big trace streamed to a slow client, therefore delays the reuse of freed
//!   names; past the cap, new names are stored as the placeholder meanwhile.)
//!
//! Leases are counted per generation: a generation is an `Arc`, a lease a clone of the current
//! one, and each generation holds the next, so "no lease taken before generation G is left" is
//! "G's strong count is down to what the interner itself holds".
//!
//! A sweep runs when the table is crowded and either [`SWEEP_INTERVAL`] has passed since the
//! last one or the table has grown by an eighth of its cap since: its cost (a walk of the
//! store) is paid once per that much new names, and a table full of names that are still in
//! use is not swept again and again.
//!
//! Known limit: with more writers than cores, a started sweep waits for every batch that was
//! in flight when it started, and a preempted writer holds its lease for a scheduler slice, so
//! under a client that sends new names at a high rate the sweeps run less often than the rule
//! above says and new names become the placeholder before the caps alone would require it
//! (`tests/name_budget.rs` measures it; no wrong name is ever served). A sweep that marks per
//! batch instead of per epoch, or one on its own thread, would lift it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, Instant};

/// Most distinct strings the table holds (a deployment has hundreds to thousands).
pub(crate) const MAX_STRINGS: usize = 1 << 20;
/// Most bytes the table accounts (strings plus per-entry overhead).
pub(crate) const MAX_BYTES: usize = 64 << 20;
/// What a string that arrives when the table is full is stored as.
pub(crate) const OVERFLOW: &str = "(name dropped: too many distinct names)";
/// Bytes accounted per entry besides the string (map slot, vector slots, `Arc` header).
const ENTRY_OVERHEAD: usize = 64;
/// Time after which a crowded table is swept again even if it has not grown (its names may have
/// lost their spans since).
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// The `used` mark of a freed entry.
const FREED: u32 = u32::MAX;

/// Handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(pub(crate) u32);

/// A generation of leases. Its strong count is the number of leases taken in it, plus one for
/// the generation before it while that one lives, plus the interner's own references (the
/// current slot, a sweep waiting for it).
#[derive(Debug, Default)]
struct Generation {
    next: OnceLock<Arc<Generation>>,
}

/// Starts a new generation in `slot`, returning the one that ended.
fn advance(slot: &Mutex<Arc<Generation>>) -> Arc<Generation> {
    let mut current = slot.lock().unwrap_or_else(|e| e.into_inner());
    let next = Arc::new(Generation::default());
    // Set once: each generation is ended once.
    let _ = current.next.set(next.clone());
    std::mem::replace(&mut *current, next)
}

/// Keeps the symbols its holder was handed valid: held by a batch between preparation and
/// insertion, by a query, and by a trace copied out of the store (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct NameLease(#[allow(dead_code)] Arc<Generation>);

/// Symbols freed by one sweep, waiting to be given to new strings.
struct Freed {
    /// The reader generation that ended with the sweep that freed them: reusable once no lease
    /// of it or before it is left (weak, so it does not count as one).
    readers: Weak<Generation>,
    ids: Vec<u32>,
}

#[derive(Default)]
struct Table {
    ids: super::fxhash::FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
    /// Per entry, the last epoch in which it was handed out for storage ([`FREED`] once freed).
    used: Vec<AtomicU32>,
    epoch: u32,
    /// Symbols that may be given to a new string.
    free: Vec<u32>,
    /// Symbols freed but still holding their string, oldest first.
    freed: VecDeque<Freed>,
    bytes: usize,
    /// Strings that arrived when the table was full and were stored as [`OVERFLOW`].
    overflowed: u64,
    /// Names freed by sweeps since start.
    swept: u64,
}

impl Table {
    fn mark(&self, id: u32) {
        let used = &self.used[id as usize];
        if used.load(Ordering::Relaxed) != self.epoch {
            used.store(self.epoch, Ordering::Relaxed);
        }
    }

    /// Entries that hold a string of their own (freed ones waiting for reuse included).
    fn held(&self) -> usize {
        self.strings.len() - self.free.len()
    }

    /// Moves the freed symbols that no reader can hold any more to the free list, dropping
    /// their strings.
    fn reclaim(&mut self) {
        while let Some(group) = self.freed.front() {
            if group.readers.strong_count() > 0 {
                break;
            }
            let group = self.freed.pop_front().expect("front exists");
            let empty: Arc<str> = Arc::from("");
            for id in group.ids {
                let old = std::mem::replace(&mut self.strings[id as usize], empty.clone());
                self.bytes -= old.len() + ENTRY_OVERHEAD;
                self.free.push(id);
            }
        }
    }

    fn insert(&mut self, s: &str) -> Sym {
        let arc: Arc<str> = Arc::from(s);
        self.bytes += s.len() + ENTRY_OVERHEAD;
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = arc.clone();
                self.used[id as usize].store(self.epoch, Ordering::Relaxed);
                id
            }
            None => {
                let id =
                    u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct strings");
                self.strings.push(arc.clone());
                self.used.push(AtomicU32::new(self.epoch));
                id
            }
        };
        self.ids.insert(arc, id);
        Sym(id)
    }
}

/// Where the sweep the store runs stands.
#[derive(Default)]
struct SweepState {
    /// The writer generation a started sweep waits to see drained, and the mark epoch that
    /// ended with it.
    waiting_for: Option<(Arc<Generation>, u32)>,
    /// When the last sweep ended, and the table's bytes then.
    last: Option<(Instant, usize)>,
}

/// A bounded string table, safe to share between threads, whose unused names a sweep frees.
pub(crate) struct Interner {
    table: RwLock<Table>,
    max_strings: usize,
    max_bytes: usize,
    /// The current generations of writer and reader leases (leaf locks: nothing else is taken
    /// under them).
    writers: Mutex<Arc<Generation>>,
    readers: Mutex<Arc<Generation>>,
    sweep: Mutex<SweepState>,
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
            writers: Mutex::default(),
            readers: Mutex::default(),
            sweep: Mutex::new(SweepState::default()),
        }
    }

    fn read_table(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_table(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A writer's lease: take it before asking for symbols to store, and hold it until they are
    /// stored (or given up).
    pub(crate) fn writer_lease(&self) -> NameLease {
        NameLease(
            self.writers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// A reader's lease: take it before copying symbols out of the store, and hold it while
    /// they are in use.
    pub(crate) fn reader_lease(&self) -> NameLease {
        NameLease(
            self.readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// Returns the symbol for `s` to store, adding it on first sight; when the table is full,
    /// the symbol of [`OVERFLOW`] (counted in [`overflowed`](Self::overflowed)).
    pub(crate) fn intern(&self, s: &str) -> Sym {
        if let Some(sym) = self.reader().stored(s) {
            return sym;
        }
        let mut table = self.write_table();
        if let Some(&id) = table.ids.get(s) {
            table.mark(id);
            return Sym(id);
        }
        if table.free.is_empty() && !table.freed.is_empty() {
            table.reclaim();
        }
        let full = table.held() >= self.max_strings
            || table.bytes + s.len() + ENTRY_OVERHEAD > self.max_bytes;
        if !full {
            return table.insert(s);
        }
        table.overflowed += 1;
        match table.ids.get(OVERFLOW) {
            Some(&id) => {
                table.mark(id);
                Sym(id)
            }
            None => table.insert(OVERFLOW),
        }
    }

    /// How many strings were stored as [`OVERFLOW`] because the table was full.
    pub(crate) fn overflowed(&self) -> u64 {
        self.read_table().overflowed
    }

    /// How many names sweeps have freed since start.
    pub(crate) fn swept(&self) -> u64 {
        self.read_table().swept
    }

    /// Returns the symbol for `s` without adding it (for queries: not a use for storage).
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.reader().lookup(s)
    }

    /// A read guard for resolving many symbols without re-locking.
    pub(crate) fn reader(&self) -> InternReader<'_> {
        InternReader(self.read_table())
    }

    /// Approximate heap bytes held by the table.
    pub(crate) fn bytes(&self) -> usize {
        self.read_table().bytes
    }

    /// Number of symbols handed out so far (live or not); every [`Sym`] is below it.
    pub(crate) fn len(&self) -> usize {
        self.read_table().strings.len()
    }

    /// Whether a sweep should run: the table is past half of a cap, and the last
    /// sweep is [`SWEEP_INTERVAL`] ago or the table has grown by an eighth of its byte cap
    /// since (or a started sweep is waiting for its leases).
    pub(crate) fn sweep_due(&self) -> bool {
        let (crowded, bytes) = {
            let table = self.read_table();
            let held = table.held();
            let crowded = held.saturating_mul(2) > self.max_strings
                || table.bytes.saturating_mul(2) > self.max_bytes;
            (crowded, table.bytes)
        };
        if !crowded {
            return false;
        }
        let sweep = self.sweep.lock().unwrap_or_else(|e| e.into_inner());
        sweep.waiting_for.is_some()
            || sweep.last.is_none_or(|(at, then)| {
                at.elapsed() >= SWEEP_INTERVAL || bytes >= then.saturating_add(self.max_bytes / 8)
            })
    }

    /// Starts a sweep (a new mark epoch and writer generation) if none is started, and says
    /// whether the started one may mark now: `Some(epoch)`, the mark epoch that ended, once no
    /// writer lease taken before the sweep started is left; names last handed out in that epoch
    /// or earlier, and not marked, may then be freed by [`Interner::finish_sweep`]. `None` while
    /// such a lease is still out (ask again later) or while another thread holds the sweep.
    pub(crate) fn sweep_ready(&self) -> Option<u32> {
        let mut sweep = self.sweep.try_lock().ok()?;
        if sweep.waiting_for.is_none() {
            let ended = {
                let mut table = self.write_table();
                table.epoch += 1;
                table.epoch - 1
            };
            sweep.waiting_for = Some((advance(&self.writers), ended));
        }
        let (writers, epoch) = sweep.waiting_for.as_ref()?;
        // One reference is `waiting_for`'s: no lease of it or of a generation before it is left.
        (Arc::strong_count(writers) == 1).then_some(*epoch)
    }

    /// Frees every entry below `live.len() * 64` that is not set in `live` and was last handed
    /// out in epoch `epoch` or earlier (from [`Interner::sweep_ready`]), then ends the sweep and
    /// its epoch. Returns how many names were freed.
    pub(crate) fn finish_sweep(&self, live: &[u64], epoch: u32) -> usize {
        let mut sweep = self.sweep.lock().unwrap_or_else(|e| e.into_inner());
        sweep.waiting_for = None;
        let mut table = self.write_table();
        table.reclaim();
        let n = table.strings.len().min(live.len() * 64);
        let mut ids = Vec::new();
        let mut pending_bytes = 0;
        for id in 0..n {
            let used = table.used[id].load(Ordering::Relaxed);
            let is_live = live[id / 64] & (1 << (id % 64)) != 0;
            if is_live || used == FREED || used > epoch {
                continue;
            }
            let key = table.strings[id].clone();
            pending_bytes += key.len() + ENTRY_OVERHEAD;
            table.ids.remove(&key);
            table.used[id].store(FREED, Ordering::Relaxed);
            ids.push(id as u32);
        }
        let freed = ids.len();
        table.swept += freed as u64;
        // Every reader that took a lease until now may hold a freed symbol: the symbols wait for
        // their leases (see `reclaim`).
        let ended = advance(&self.readers);
        if !ids.is_empty() {
            table.freed.push_back(Freed {
                readers: Arc::downgrade(&ended),
                ids,
            });
        }
        // What the table holds once the freed strings are dropped: growth is measured from it.
        sweep.last = Some((Instant::now(), table.bytes - pending_bytes));
        freed
    }
}

/// Resolves symbols while holding the table's read lock.
pub(crate) struct InternReader<'a>(RwLockReadGuard<'a, Table>);

impl InternReader<'_> {
    /// Returns the symbol for `s` without adding it (for queries: not a use for storage).
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.0.ids.get(s).map(|&id| Sym(id))
    }

    /// Returns the symbol for `s` to store, without adding it: marks it used in this epoch,
    /// so a sweep keeps it (call while holding a [`NameLease`]).
    pub(crate) fn stored(&self, s: &str) -> Option<Sym> {
        let id = *self.0.ids.get(s)?;
        self.0.mark(id);
        Some(Sym(id))
    }

    /// Returns the string behind `sym`.
    pub(crate) fn get(&self, sym: Sym) -> &str {
        self.0.strings.get(sym.0 as usize).map_or("", |s| &**s)
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

    /// Runs a whole sweep that may mark now, with `live` the names still in use.
    fn sweep(interner: &Interner, live: &[Sym]) -> usize {
        let epoch = interner
            .sweep_ready()
            .expect("no lease of the old epoch is out");
        let mut bits = vec![0u64; interner.len().div_ceil(64)];
        for sym in live {
            bits[sym.0 as usize / 64] |= 1 << (sym.0 % 64);
        }
        interner.finish_sweep(&bits, epoch)
    }

    #[test]
    fn a_sweep_frees_the_names_nothing_uses_and_their_bytes() {
        let interner = Interner::with_limits(100, usize::MAX);
        let kept = interner.intern("GET /kept");
        let gone = interner.intern("GET /gone");
        let before = interner.bytes();
        assert_eq!(sweep(&interner, &[kept]), 1);
        assert_eq!(
            interner.lookup("GET /gone"),
            None,
            "a freed name is not found"
        );
        assert_eq!(interner.lookup("GET /kept"), Some(kept));
        assert_eq!(interner.swept(), 1);
        // The next new string takes the freed symbol, and the old string's bytes are gone.
        let new = interner.intern("GET /new");
        assert_eq!(new, gone, "the freed symbol is reused");
        assert_eq!(interner.reader().get(new), "GET /new");
        assert_eq!(
            interner.bytes(),
            before - "GET /gone".len() + "GET /new".len()
        );
        assert_eq!(interner.len(), 2, "no new slot was needed");
    }

    #[test]
    fn a_name_handed_to_a_batch_during_a_sweep_is_kept() {
        let interner = Interner::with_limits(100, usize::MAX);
        interner.intern("db.system");
        let old_batch = interner.writer_lease();
        assert_eq!(
            interner.sweep_ready(),
            None,
            "a batch prepared before the sweep started may still hold any name"
        );
        // A batch of the new epoch hands out the name for storage; the old batch ends without
        // storing it.
        let new_batch = interner.writer_lease();
        let sym = interner.reader().stored("db.system").unwrap();
        drop(old_batch);
        assert_eq!(
            sweep(&interner, &[]),
            0,
            "the name marked by the new batch stays"
        );
        assert_eq!(interner.lookup("db.system"), Some(sym));
        drop(new_batch);
        // Unused for a whole epoch and stored nowhere: freed by the next sweep.
        assert_eq!(sweep(&interner, &[]), 1);
        assert_eq!(interner.lookup("db.system"), None);
    }

    #[test]
    fn a_freed_symbol_keeps_its_string_while_a_copy_of_its_epoch_is_out() {
        let interner = Interner::with_limits(100, usize::MAX);
        let sym = interner.intern("checkout");
        // Finish the first epoch, so the name is unused by the one the copy is taken in.
        assert_eq!(sweep(&interner, &[sym]), 0);
        let epoch = interner.sweep_ready().unwrap();
        let bits = vec![0u64; interner.len().div_ceil(64)];
        // A response copies a trace during the sweep (its lease is of the sweep's epoch).
        let response = interner.reader_lease();
        assert_eq!(interner.finish_sweep(&bits, epoch), 1);
        let other = interner.intern("payments");
        assert_ne!(other, sym, "the symbol is not reused while the copy is out");
        assert_eq!(
            interner.reader().get(sym),
            "checkout",
            "the copy still reads its name"
        );
        drop(response);
        let third = interner.intern("shipping");
        assert_eq!(third, sym, "reused once the copy is gone");
    }
}
