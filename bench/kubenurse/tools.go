//go:build tools

// Package tools pins kubenurse, the peer of kubemedic's network prober in bench/probes.sh.
package tools

import _ "github.com/postfinance/kubenurse"
