//! Slim Kubernetes objects: the kinds the analysers read, with only the fields they (and the
//! renderers) read.
//!
//! Each type deserializes straight from the API's JSON (camelCase names, `null` as absent) and
//! mirrors the shape of its k8s-openapi namesake (same field names, same `Option`-ness, same
//! nesting), so code written against k8s-openapi changes little. Every other field of the API
//! object is skipped while parsing and never materialised; `metadata` is k8s-openapi's
//! [`ObjectMeta`], filled by a reader that skips `managedFields` and the last-applied annotation
//! (see [`meta`]). The top-level kinds implement [`k8s_openapi::Resource`] and
//! [`k8s_openapi::Metadata`], so kube-rs `Api<K>`, `watcher` and reflectors take them directly;
//! they serialize back to valid Kubernetes JSON (with `apiVersion` and `kind`) for what they keep.
//!
//! What was measured to choose this design is in the crate's README.

mod map;
pub mod meta;

pub use map::StrMap;

pub mod apps_v1;
pub mod batch_v1;
pub mod core_v1;
pub mod discovery_v1;
pub mod events_v1;

pub use self::apps_v1::*;
pub use self::batch_v1::*;
pub use self::core_v1::*;
pub use self::discovery_v1::{Endpoint, EndpointConditions, EndpointSlice};

pub use compact_str::CompactString;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, MicroTime, ObjectMeta, OwnerReference, Time,
};
pub use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
pub use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};

use serde::{Deserialize, Deserializer};

/// A resource quantity as the API writes it (`512Mi`, `250m`, `1`); parse it where needed.
///
/// Like k8s-openapi's `Quantity`, a newtype over the text, but the text is stored inline when short
/// (every quantity in practice), and a bare number in a hand-written file reads as its text.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Quantity(pub CompactString);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;
        impl serde::de::Visitor<'_> for QuantityVisitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a quantity such as \"512Mi\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(compact_str::format_compact!("{v}")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(compact_str::format_compact!("{v}")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(compact_str::format_compact!("{v}")))
            }
        }
        d.deserialize_any(QuantityVisitor)
    }
}

/// Reads a field the API marks as required: absent or `null` gives the type's default, as
/// k8s-openapi does (kubectl dumps of old clusters omit fields newer versions require).
pub(crate) fn required<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads an optional list with no spare capacity: serde grows vectors by doubling, and a pod's
/// one container in a vector of four would keep three empty slots alive for the object's lifetime.
pub(crate) fn shrunk<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.map(|mut v| {
        v.shrink_to_fit();
        v
    }))
}

/// [`required`] for a list, with no spare capacity (see [`shrunk`]).
pub(crate) fn required_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(shrunk(d)?.unwrap_or_default())
}

/// Whether a top-level field is left out when serializing (absent optional fields are).
pub(crate) trait Absent {
    fn absent(&self) -> bool {
        false
    }
}

impl<T> Absent for Option<T> {
    fn absent(&self) -> bool {
        self.is_none()
    }
}

impl Absent for ObjectMeta {}
impl Absent for String {}
impl Absent for CompactString {}
impl<T> Absent for Vec<T> {}

/// Implements `k8s_openapi::Resource`, `k8s_openapi::Metadata` and a `Serialize` that writes
/// `apiVersion`, `kind` and then the listed fields under their JSON names.
macro_rules! k8s_kind {
    (
        $ty:ident, group: $group:literal, version: $version:literal, api_version: $api_version:literal,
        plural: $plural:literal, scope: $scope:ty,
        fields: { $($field:ident => $json:literal),* $(,)? }
    ) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = $api_version;
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($ty);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }

        impl k8s_openapi::ListableResource for $ty {
            const LIST_KIND: &'static str = concat!(stringify!($ty), "List");
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = $crate::objects::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                use $crate::objects::Absent as _;
                let len = 2 $(+ usize::from(!self.$field.absent()))*;
                let mut st = s.serialize_struct(stringify!($ty), len)?;
                st.serialize_field("apiVersion", <Self as k8s_openapi::Resource>::API_VERSION)?;
                st.serialize_field("kind", <Self as k8s_openapi::Resource>::KIND)?;
                $(
                    if self.$field.absent() {
                        st.skip_field($json)?;
                    } else {
                        st.serialize_field($json, &self.$field)?;
                    }
                )*
                st.end()
            }
        }
    };
}
pub(crate) use k8s_kind;

#[cfg(test)]
mod tests;
