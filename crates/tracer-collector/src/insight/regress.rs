//! What got slower: two sets of traces compared per operation path.
