//! discovery.k8s.io/v1 kinds: EndpointSlice.

use super::{
    NamespaceResourceScope, ObjectMeta, ObjectReference, k8s_kind, meta, required, required_vec,
    shrunk,
};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// An EndpointSlice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    /// IPv4, IPv6 or FQDN.
    #[serde(default, deserialize_with = "required")]
    pub address_type: CompactString,
    /// The endpoints.
    #[serde(default, deserialize_with = "shrunk")]
    pub endpoints: Option<Vec<Endpoint>>,
    /// Standard object metadata (slim: see [`meta`]); the Service is in the
    /// `kubernetes.io/service-name` label.
    #[serde(default, deserialize_with = "meta::deserialize")]
    pub metadata: ObjectMeta,
    /// Ports.
    #[serde(default, deserialize_with = "shrunk")]
    pub ports: Option<Vec<EndpointPort>>,
}

k8s_kind!(EndpointSlice, group: "discovery.k8s.io", version: "v1",
    api_version: "discovery.k8s.io/v1", plural: "endpointslices", scope: NamespaceResourceScope,
    fields: { address_type => "addressType", endpoints => "endpoints", metadata => "metadata", ports => "ports" });

/// One endpoint of a slice.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Addresses (one in practice).
    #[serde(default, deserialize_with = "required_vec")]
    pub addresses: Vec<CompactString>,
    /// Ready, serving, terminating.
    pub conditions: Option<EndpointConditions>,
    /// Node hosting it.
    pub node_name: Option<CompactString>,
    /// The pod behind it.
    pub target_ref: Option<ObjectReference>,
}

/// An endpoint's conditions.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConditions {
    /// Ready for traffic.
    pub ready: Option<bool>,
    /// Serving (also while terminating).
    pub serving: Option<bool>,
    /// Terminating.
    pub terminating: Option<bool>,
}

/// A port of a slice (discovery/v1; `port` is optional here, unlike core/v1).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Port name.
    pub name: Option<CompactString>,
    /// Port number.
    pub port: Option<i32>,
    /// TCP, UDP or SCTP.
    pub protocol: Option<CompactString>,
}
