// SPDX-License-Identifier: GPL-2.0

//! Which subprogs of a BPF program may throw.
//!
//! A subprog may throw if it calls `bpf_throw()` itself or calls, directly,
//! a subprog that may throw. The verifier's scan fills a [`CallGraph`] from
//! the program's instructions and asks for [`CallGraph::may_throw`].

/// The most subprogs a program has: `BPF_MAX_SUBPROGS` plus the hidden one
/// and the end marker.
pub const MAX_SUBPROGS: usize = 256 + 2;

const WORDS: usize = MAX_SUBPROGS.div_ceil(64);

/// A set of subprogs, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubprogSet([u64; WORDS]);

impl SubprogSet {
    /// The empty set.
    pub const fn new() -> Self {
        Self([0; WORDS])
    }

    /// Adds subprog `i` (ignored if `i` is not below [`MAX_SUBPROGS`]).
    pub fn insert(&mut self, i: usize) {
        if i < MAX_SUBPROGS {
            self.0[i / 64] |= 1 << (i % 64);
        }
    }

    /// Returns whether subprog `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        i < MAX_SUBPROGS && self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// Returns whether the two sets have a subprog in common.
    pub fn meets(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }
}

/// The direct calls between a program's subprogs and the subprogs that call
/// `bpf_throw()`.
pub struct CallGraph<'a> {
    /// `calls[s]`: the subprogs that subprog `s` calls directly.
    calls: &'a mut [SubprogSet],
    throws: SubprogSet,
}

impl<'a> CallGraph<'a> {
    /// A graph of `calls.len()` subprogs with no calls, over storage that
    /// the caller provides (zeroed here).
    pub fn new(calls: &'a mut [SubprogSet]) -> Self {
        calls.fill(SubprogSet::new());
        Self {
            calls,
            throws: SubprogSet::new(),
        }
    }

    /// Records that subprog `caller` calls subprog `callee`.
    pub fn call(&mut self, caller: usize, callee: usize) {
        if let Some(c) = self.calls.get_mut(caller) {
            c.insert(callee);
        }
    }

    /// Records that subprog `s` calls `bpf_throw()`.
    pub fn throw(&mut self, s: usize) {
        self.throws.insert(s);
    }

    /// The subprogs that may throw: a fixed point, reached after at most
    /// one pass per subprog.
    pub fn may_throw(&self) -> SubprogSet {
        let mut throws = self.throws;
        loop {
            let mut grew = false;
            for (s, callees) in self.calls.iter().enumerate() {
                if !throws.contains(s) && callees.meets(&throws) {
                    throws.insert(s);
                    grew = true;
                }
            }
            if !grew {
                return throws;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn graph(n: usize, calls: &[(usize, usize)], throws: &[usize]) -> SubprogSet {
        let mut storage = [SubprogSet::new(); MAX_SUBPROGS];
        let mut g = CallGraph::new(&mut storage[..n]);
        for &(a, b) in calls {
            g.call(a, b);
        }
        for &s in throws {
            g.throw(s);
        }
        g.may_throw()
    }

    fn members(set: SubprogSet, n: usize) -> [bool; 8] {
        let mut out = [false; 8];
        for (i, o) in out.iter_mut().enumerate().take(n) {
            *o = set.contains(i);
        }
        out
    }

    #[test]
    fn nothing_throws() {
        let t = graph(3, &[(0, 1), (1, 2)], &[]);
        assert_eq!(members(t, 3), [false; 8]);
    }

    #[test]
    fn throws_propagate_to_every_caller() {
        // 0 -> 1 -> 2 -> 3 (throws); 0 -> 4 (quiet); 5 calls 1.
        let t = graph(6, &[(0, 1), (1, 2), (2, 3), (0, 4), (5, 1)], &[3]);
        assert_eq!(
            members(t, 6),
            [true, true, true, true, false, true, false, false]
        );
    }

    #[test]
    fn callees_of_a_thrower_do_not_throw() {
        let t = graph(3, &[(0, 1), (1, 2)], &[1]);
        assert_eq!(
            members(t, 3),
            [true, true, false, false, false, false, false, false]
        );
    }

    #[test]
    fn cycles_end() {
        // 0 <-> 1 call each other, 1 -> 2 throws; 3 <-> 4 quiet.
        let t = graph(5, &[(0, 1), (1, 0), (1, 2), (3, 4), (4, 3)], &[2]);
        assert_eq!(
            members(t, 5),
            [true, true, true, false, false, false, false, false]
        );
    }

    #[test]
    fn long_chain_and_high_numbers() {
        let n = MAX_SUBPROGS;
        let mut storage = [SubprogSet::new(); MAX_SUBPROGS];
        let mut g = CallGraph::new(&mut storage[..n]);
        // Each subprog calls the next; only the last throws.
        for s in 0..n - 1 {
            g.call(s, s + 1);
        }
        g.throw(n - 1);
        let t = g.may_throw();
        assert!((0..n).all(|s| t.contains(s)));
        // Out-of-range numbers are ignored, not a panic.
        let mut s = SubprogSet::new();
        s.insert(MAX_SUBPROGS);
        assert!(!s.contains(MAX_SUBPROGS));
    }

    /// Random graphs (cycles, self calls, repeated edges) against a plain
    /// search from each subprog for a reachable thrower.
    #[test]
    fn random_graphs_match_a_search() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5_000 {
            let n = 1 + (next() % 40) as usize;
            let mut calls = std::vec::Vec::new();
            for _ in 0..(next() % (3 * n as u64 + 1)) {
                calls.push(((next() % n as u64) as usize, (next() % n as u64) as usize));
            }
            let throws: std::vec::Vec<usize> = (0..n).filter(|_| next() % 6 == 0).collect();
            let t = graph(n, &calls, &throws);
            for s in 0..n {
                let mut seen = std::vec![false; n];
                let mut todo = std::vec![s];
                let mut want = false;
                while let Some(v) = todo.pop() {
                    if std::mem::replace(&mut seen[v], true) {
                        continue;
                    }
                    want |= throws.contains(&v);
                    todo.extend(calls.iter().filter(|c| c.0 == v).map(|c| c.1));
                }
                assert_eq!(t.contains(s), want, "{n} {calls:?} {throws:?} at {s}");
            }
        }
    }
}
