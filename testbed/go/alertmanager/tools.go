//go:build tools

// Package tools pins Alertmanager, built by testbed/alertmanager-build for the alert tests.
package tools

import (
	_ "github.com/prometheus/alertmanager/cmd/alertmanager"
)
