//! A slim reader of `metadata`: fills k8s-openapi's [`ObjectMeta`] (so the objects work with
//! kube-rs `Api`, watchers and reflectors) but never materialises what nobody reads.
//!
//! Skipped while parsing: `managedFields` (often the largest part of an object as the API returns
//! it), `generateName`, `selfLink`, and the annotation
//! `kubectl.kubernetes.io/last-applied-configuration` (a full copy of the applied manifest).
//! [`deserialize_without_annotations`] also skips every annotation: used for the kinds that come
//! by the hundred thousand (Pods, Events) and whose annotations no analyser reads.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// The annotation `kubectl apply` writes: a copy of the whole manifest, never read here.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Deserializes `metadata`, skipping the fields listed in the module documentation; `null` reads
/// as empty metadata, as k8s-openapi reads it.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    deserialize_opt(d).map(Option::unwrap_or_default)
}

/// Like [`deserialize`], and skips the annotations too.
pub fn deserialize_without_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<ObjectMeta, D::Error> {
    d.deserialize_option(OptVisitor { annotations: false })
        .map(Option::unwrap_or_default)
}

/// Like [`deserialize`] for an optional `metadata` (`null` is `None`).
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ObjectMeta>, D::Error> {
    d.deserialize_option(OptVisitor { annotations: true })
}

struct OptVisitor {
    annotations: bool,
}

impl<'de> Visitor<'de> for OptVisitor {
    type Value = Option<ObjectMeta>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectMeta or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(MetaVisitor {
            annotations: self.annotations,
        })
        .map(Some)
    }
}

enum Field {
    Annotations,
    CreationTimestamp,
    DeletionGracePeriodSeconds,
    DeletionTimestamp,
    Finalizers,
    Generation,
    Labels,
    Name,
    Namespace,
    OwnerReferences,
    ResourceVersion,
    Uid,
    Other,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("field identifier")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "annotations" => Field::Annotations,
                    "creationTimestamp" => Field::CreationTimestamp,
                    "deletionGracePeriodSeconds" => Field::DeletionGracePeriodSeconds,
                    "deletionTimestamp" => Field::DeletionTimestamp,
                    "finalizers" => Field::Finalizers,
                    "generation" => Field::Generation,
                    "labels" => Field::Labels,
                    "name" => Field::Name,
                    "namespace" => Field::Namespace,
                    "ownerReferences" => Field::OwnerReferences,
                    "resourceVersion" => Field::ResourceVersion,
                    "uid" => Field::Uid,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

struct MetaVisitor {
    annotations: bool,
}

impl<'de> Visitor<'de> for MetaVisitor {
    type Value = ObjectMeta;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectMeta")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectMeta, A::Error> {
        let mut m = ObjectMeta::default();
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Annotations if self.annotations => {
                    m.annotations = map.next_value::<Option<Annotations>>()?.map(|a| a.0);
                }
                Field::CreationTimestamp => {
                    m.creation_timestamp = map.next_value::<Option<Time>>()?
                }
                Field::DeletionGracePeriodSeconds => {
                    m.deletion_grace_period_seconds = map.next_value()?
                }
                Field::DeletionTimestamp => {
                    m.deletion_timestamp = map.next_value::<Option<Time>>()?
                }
                Field::Finalizers => {
                    m.finalizers = map.next_value::<Option<Vec<String>>>()?.map(shrink)
                }
                Field::Generation => m.generation = map.next_value()?,
                Field::Labels => m.labels = map.next_value()?,
                Field::Name => m.name = map.next_value()?,
                Field::Namespace => m.namespace = map.next_value()?,
                Field::OwnerReferences => {
                    m.owner_references =
                        map.next_value::<Option<Vec<OwnerReference>>>()?.map(shrink)
                }
                Field::ResourceVersion => m.resource_version = map.next_value()?,
                Field::Uid => m.uid = map.next_value()?,
                Field::Annotations | Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(m)
    }
}

fn shrink<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

/// Annotations without the last-applied copy of the manifest.
struct Annotations(BTreeMap<String, String>);

impl<'de> de::Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnnotationsVisitor;
        impl<'de> Visitor<'de> for AnnotationsVisitor {
            type Value = Annotations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of annotations")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == LAST_APPLIED_ANNOTATION {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        out.insert(key, map.next_value::<String>()?);
                    }
                }
                Ok(Annotations(out))
            }
        }
        d.deserialize_map(AnnotationsVisitor)
    }
}
