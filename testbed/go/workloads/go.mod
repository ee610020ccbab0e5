module kubemedic.local/testbed/workloads

go 1.22
