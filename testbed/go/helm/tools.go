//go:build tools

// Package tools pins helm, which the deploy tests use to lint and render the chart.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
