//! The node agent: log, plugin and stats sources feeding the detector; Kubernetes, Prometheus and JSON exporters.
