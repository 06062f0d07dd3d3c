//! De-duplication: which (activity id, state) pairs were recorded already, within a bound.

use std::collections::VecDeque;
use std::sync::Arc;

// hashbrown's maps hash with foldhash: SipHash, std's default, was 3 % of a delivery.
use hashbrown::HashMap;

use crate::activity::ActivityState;

/// Remembers the most recent (id, state) pairs; the oldest is forgotten past the capacity, so a
/// flood of unique ids cannot grow memory without bound.
#[derive(Debug)]
pub struct Seen {
    /// The states seen of each id, as a bit set of `State` discriminants. Keyed by id alone so
    /// that a `&str` can look it up: one allocation per new id, shared with `order`.
    states: HashMap<Arc<str>, u8>,
    /// (id, state) pairs, oldest first.
    order: VecDeque<(Arc<str>, ActivityState)>,
    capacity: usize,
}

fn bit(state: ActivityState) -> u8 {
    1 << (state as u8)
}

impl Seen {
    pub fn new(capacity: usize) -> Self {
        Self {
            states: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub fn contains(&self, id: &str, state: ActivityState) -> bool {
        self.states
            .get(id)
            .is_some_and(|bits| bits & bit(state) != 0)
    }

    /// Inserts the pair; false if it was already there.
    pub fn insert(&mut self, id: &str, state: ActivityState) -> bool {
        let key = match self.states.get_key_value(id) {
            Some((_, bits)) if bits & bit(state) != 0 => return false,
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(id),
        };
        *self.states.entry(Arc::clone(&key)).or_insert(0) |= bit(state);
        self.order.push_back((key, state));
        while self.order.len() > self.capacity {
            let Some((old, old_state)) = self.order.pop_front() else {
                break;
            };
            if let Some(bits) = self.states.get_mut(&old) {
                *bits &= !bit(old_state);
                if *bits == 0 {
                    self.states.remove(&old);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(capacity: usize) -> Seen {
        Seen::new(capacity)
    }

    #[test]
    fn each_state_of_an_id_is_remembered_apart() {
        let mut s = seen(10);
        assert!(s.insert("a", ActivityState::InProgress));
        assert!(s.insert("a", ActivityState::Complete));
        assert!(!s.insert("a", ActivityState::InProgress));
        assert!(s.contains("a", ActivityState::Complete));
        assert!(!s.contains("a", ActivityState::Cancelled));
        assert!(!s.contains("b", ActivityState::Complete));
    }

    #[test]
    fn the_oldest_pairs_are_forgotten_past_the_capacity() {
        let mut s = seen(2);
        s.insert("a", ActivityState::InProgress);
        s.insert("a", ActivityState::Complete);
        s.insert("b", ActivityState::Complete);
        assert!(!s.contains("a", ActivityState::InProgress));
        assert!(s.contains("a", ActivityState::Complete));
        s.insert("c", ActivityState::Complete);
        assert!(!s.contains("a", ActivityState::Complete));
        assert!(
            !s.states.contains_key("a"),
            "an id with no state left is dropped"
        );
        assert_eq!(s.states.len(), 2);
    }
}
