//! [`StrMap`]: the small string-keyed maps of object specs (resource limits and requests,
//! selectors, capacities), kept as a sorted vector.
//!
//! k8s-openapi uses `BTreeMap<String, _>` for these; a `BTreeMap` allocates a node of 11 slots
//! (544 bytes for `String` values) even for one entry, and a pod carries two or four such maps per
//! container. `StrMap` offers the `BTreeMap` methods the analysers use (`get`, `iter`, `len`,
//! `insert`, ...), iterates in key order like it, and (de)serializes as the same JSON object.

use compact_str::CompactString;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// A map from `String` keys, sorted by key, with no spare capacity after parsing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StrMap<V> {
    entries: Vec<(CompactString, V)>,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for StrMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> StrMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: CompactString, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Entries in key order.
    pub fn iter(
        &self,
    ) -> impl ExactSizeIterator<Item = (&CompactString, &V)> + DoubleEndedIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &CompactString> + DoubleEndedIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + DoubleEndedIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn from_unsorted(mut entries: Vec<(CompactString, V)>) -> Self {
        // Stable sort, then keep the last of equal keys (what a JSON object with a repeated key
        // means to every Kubernetes client).
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(CompactString, V)> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        out.shrink_to_fit();
        Self { entries: out }
    }
}

impl<K: Into<CompactString>, V> FromIterator<(K, V)> for StrMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_unsorted(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<K: Into<CompactString>, V, const N: usize> From<[(K, V); N]> for StrMap<V> {
    fn from(a: [(K, V); N]) -> Self {
        a.into_iter().collect()
    }
}

impl<'a, V> IntoIterator for &'a StrMap<V> {
    type Item = (&'a CompactString, &'a V);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (CompactString, V)>,
        fn(&'a (CompactString, V)) -> (&'a CompactString, &'a V),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<V> IntoIterator for StrMap<V> {
    type Item = (CompactString, V);
    type IntoIter = std::vec::IntoIter<(CompactString, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<V: Serialize> Serialize for StrMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for StrMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = StrMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrMap<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<CompactString, V>()? {
                    entries.push((k, v));
                }
                Ok(StrMap::from_unsorted(entries))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map_and_reads_json_objects() {
        let m: StrMap<CompactString> =
            serde_json::from_str(r#"{"memory": "512Mi", "cpu": "250m", "memory": "1Gi"}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.get("memory").map(CompactString::as_str),
            Some("1Gi"),
            "last wins"
        );
        assert_eq!(m.keys().collect::<Vec<_>>(), ["cpu", "memory"]);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"cpu":"250m","memory":"1Gi"}"#
        );
        let mut m = m;
        assert_eq!(m.insert("ephemeral-storage".into(), "1Gi".into()), None);
        assert_eq!(m.insert("cpu".into(), "1".into()).as_deref(), Some("250m"));
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["cpu", "ephemeral-storage", "memory"]
        );
        assert_eq!(m.remove("cpu").as_deref(), Some("1"));
        assert!(!m.contains_key("cpu"));
        let from: StrMap<i32> = [("b", 2), ("a", 1)].into();
        assert_eq!(
            from.iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            [("a", 1), ("b", 2)]
        );
    }
}
