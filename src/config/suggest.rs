//! "Did you mean …?" for misspelt keys, connection names and time zones:
//! the closest known name by edit distance (case-insensitive), if it is
//! close enough to be a slip rather than a different word. Pure.

/// Longer words (in characters) are never compared.
const MAX_NAME: usize = 64;

/// The candidate nearest to `word`, if at most a third of its length away
/// (and never more than 3 edits). A candidate equal to `word` but for case
/// is always the answer.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    if word.len() > 4 * MAX_NAME {
        return None;
    }
    let w = word.to_lowercase();
    let limit = (w.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = distance(&w, &c.to_lowercase());
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean `X`?)`, or nothing.
pub fn hint<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Edit distance over characters, a swap of two neighbours counting as one
/// edit (optimal string alignment: `vpi` is one edit from `vip`). Inputs
/// longer than 64 characters are not names anyone misspelt: they are
/// treated as far from everything.
pub fn distance(a: &str, b: &str) -> usize {
    if a.len() > 4 * MAX_NAME || b.len() > 4 * MAX_NAME {
        return usize::MAX;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() > MAX_NAME || b.len() > MAX_NAME {
        return usize::MAX;
    }
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 0..a.len() {
        let mut cur = vec![i + 1; b.len() + 1];
        for j in 0..b.len() {
            let subst = prev[j] + usize::from(a[i] != b[j]);
            let mut d = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(before[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_far_ones_not() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("vpi", "vip"), 1);
        assert_eq!(distance("", "abc"), 3);
        let keys = ["connection", "list_id", "schedule", "timezone"];
        assert_eq!(did_you_mean("lst_id", keys), Some("list_id"));
        assert_eq!(did_you_mean("time_zone", keys), Some("timezone"));
        assert_eq!(did_you_mean("Schedule", keys), Some("schedule"));
        assert_eq!(did_you_mean("color", keys), None);
        assert_eq!(did_you_mean(&"x".repeat(5000), keys), None);
        assert_eq!(hint("prd", ["prod", "staging"]), " (did you mean `prod`?)");
    }
}
