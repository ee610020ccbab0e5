//! The object types the watch cache holds. One place to name them, so the cache, the
//! converters and the snapshot agree (and so a change of type touches one file).

pub use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
pub use k8s_openapi::api::batch::v1::Job;
pub use k8s_openapi::api::core::v1::{
    Endpoints, Event as CoreEvent, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
pub use k8s_openapi::api::discovery::v1::EndpointSlice;
pub use k8s_openapi::api::events::v1::Event as EventV1;
