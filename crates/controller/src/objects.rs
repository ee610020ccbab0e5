//! The object types the watch cache holds: kubemedic-model's slim objects (only what diagnosis
//! and the controller read; managedFields and other heavy fields are never materialised). One
//! place to name them, so the cache, the converters and the snapshot agree.

pub use kubemedic_model::objects::events_v1::Event as EventV1;
pub use kubemedic_model::objects::{
    DaemonSet, Deployment, EndpointSlice, Endpoints, Event as CoreEvent, Job, Node,
    PersistentVolume, PersistentVolumeClaim, Pod, ReplicaSet, ReplicationController, Service,
    StatefulSet,
};
