//! `related` lists from an interaction log: for each item, the items most often consumed shortly
//! before it, each with P(item follows that one). The evaluation's server and a site's own log
//! (`cloister.related` in the Python wheel) count alike.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::{InputError, InputErrorKind};
use crate::rank::Related;

/// Per item (by index), its kept predecessors and their weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Transitions {
    pub before: Vec<Vec<(usize, f32)>>,
}

impl Transitions {
    /// Counts (p, c) when c comes at most `window` events after p in one sequence; weight =
    /// P(c follows p). A candidate keeps the `keep` predecessors seen most often before it:
    /// ranked by the conditional weight instead, rare items (which few histories hold) would
    /// fill the list.
    pub fn fit<'a>(
        seqs: impl Iterator<Item = &'a [usize]>,
        n_items: usize,
        keep: usize,
        window: usize,
    ) -> Self {
        if keep == 0 {
            return Self {
                before: vec![Vec::new(); n_items],
            };
        }
        let mut counts: Vec<BTreeMap<usize, f32>> = vec![BTreeMap::new(); n_items];
        let mut out_total = vec![0f32; n_items];
        for s in seqs {
            for (k, &p) in s.iter().enumerate() {
                for &c in s.iter().skip(k + 1).take(window) {
                    *counts[c].entry(p).or_default() += 1.0;
                    out_total[p] += 1.0;
                }
            }
        }
        let before = counts
            .into_iter()
            .map(|m| {
                let mut v: Vec<(usize, f32, f32)> = m
                    .into_iter()
                    .map(|(p, c)| (p, c, c / out_total[p]))
                    .collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(keep);
                v.into_iter().map(|(p, _, w)| (p, w)).collect()
            })
            .collect();
        Self { before }
    }
}

/// One row of a site's interaction log.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction<'a> {
    pub user: &'a str,
    pub item: &'a str,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// A row left out of the count, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// The row's index in the log.
    pub row: usize,
    pub error: InputError,
}

/// The `related` lists of a log: for each item that follows another, its `keep` most frequent
/// predecessors within `window` events of one user, as candidates carry them. A user's rows
/// must come in time order (ties allowed); a row that goes back in time, names no item or user,
/// has a negative time, or names an item outside `catalogue` (when given) is reported and left
/// out, and the count goes on.
pub fn related_lists<'a>(
    log: impl IntoIterator<Item = Interaction<'a>>,
    catalogue: Option<&HashSet<&str>>,
    keep: usize,
    window: usize,
) -> (BTreeMap<String, Vec<Related>>, Vec<RowError>) {
    let mut ids: Vec<&'a str> = Vec::new();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut seqs: HashMap<&'a str, (i64, Vec<usize>)> = HashMap::new();
    let mut errors = Vec::new();
    for (row, r) in log.into_iter().enumerate() {
        let bad = |kind: InputErrorKind, message: String| RowError {
            row,
            error: InputError::new(kind, message),
        };
        if r.item.is_empty() || r.user.is_empty() {
            errors.push(bad(
                InputErrorKind::InvalidItem,
                "a row needs a user and an item".into(),
            ));
            continue;
        }
        if r.at < 0 {
            errors.push(bad(
                InputErrorKind::InvalidTime,
                format!("time {} is before 1970", r.at),
            ));
            continue;
        }
        if catalogue.is_some_and(|c| !c.contains(r.item)) {
            errors.push(bad(
                InputErrorKind::UnknownItem,
                format!("item '{}' is not in the catalogue", r.item),
            ));
            continue;
        }
        let (last, seq) = seqs.entry(r.user).or_insert((i64::MIN, Vec::new()));
        if r.at < *last {
            errors.push(bad(
                InputErrorKind::InvalidTime,
                format!(
                    "user '{}': time {} comes after {} in the log (a user's rows must be in time order)",
                    r.user, r.at, last
                ),
            ));
            continue;
        }
        *last = r.at;
        let next = ids.len();
        let i = *index.entry(r.item).or_insert(next);
        if i == next {
            ids.push(r.item);
        }
        seq.push(i);
    }
    let transitions = Transitions::fit(
        seqs.values().map(|(_, s)| s.as_slice()),
        ids.len(),
        keep,
        window,
    );
    let lists = transitions
        .before
        .into_iter()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(c, b)| {
            let related = b
                .into_iter()
                .map(|(p, w)| Related {
                    id: ids[p].to_string(),
                    weight: w as f64,
                })
                .collect();
            (ids[c].to_string(), related)
        })
        .collect();
    (lists, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_count_predecessors_within_the_window_and_keep_the_most_frequent() {
        // 0 comes right before 2 in three sequences (3 of 0's 5 pairs); 1 comes two steps
        // before 2 once (1 of its 2 pairs: P = 0.5); 3 comes four steps before, beyond the window.
        let seqs: Vec<Vec<usize>> = vec![
            vec![0, 2],
            vec![0, 2],
            vec![0, 2, 4],
            vec![1, 4, 2],
            vec![3, 4, 4, 4, 2],
            vec![0, 4],
        ];
        let t = Transitions::fit(seqs.iter().map(Vec::as_slice), 5, 1, 2);
        assert_eq!(t.before[2].len(), 1);
        let (p, w) = t.before[2][0];
        // Kept by count (3) although 1's conditional weight is higher.
        assert_eq!(p, 0);
        assert!((w - 3.0 / 5.0).abs() < 1e-6, "{w}");
        let all = Transitions::fit(seqs.iter().map(Vec::as_slice), 5, 10, 2);
        assert!(all.before[2]
            .iter()
            .any(|&(p, w)| p == 1 && (w - 0.5).abs() < 1e-6));
        assert!(!all.before[2].iter().any(|&(p, _)| p == 3));
        let none = Transitions::fit(seqs.iter().map(Vec::as_slice), 5, 0, 2);
        assert!(none.before.iter().all(Vec::is_empty));
    }

    #[test]
    fn a_log_gives_the_same_lists_as_its_sequences_and_reports_bad_rows() {
        let row = |user, item, at| Interaction { user, item, at };
        // Two users interleaved: u1 a b c, u2 a c; then bad rows.
        let log = vec![
            row("u1", "a", 1),
            row("u2", "a", 5),
            row("u1", "b", 2),
            row("u2", "c", 6),
            row("u1", "c", 3),
            row("u1", "a", 0),
            row("u2", "", 7),
            row("u2", "zz", 8),
            row("u3", "a", -1),
        ];
        let catalogue: HashSet<&str> = ["a", "b", "c"].into();
        let (lists, errors) = related_lists(log, Some(&catalogue), 10, 2);
        let kinds: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.row, e.error.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (5, "invalid_time"),
                (6, "invalid_item"),
                (7, "unknown_item"),
                (8, "invalid_time")
            ]
        );
        // c follows a twice (u1 within 2 steps, u2 right after) of a's 3 pairs, b once of 1.
        let c = &lists["c"];
        assert_eq!(c[0].id, "a");
        assert!((c[0].weight - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(c[1].id, "b");
        assert!((c[1].weight - 1.0).abs() < 1e-6);
        assert_eq!(lists["b"].len(), 1);
        assert!(!lists.contains_key("a"));
    }
}
