// Command coredns is CoreDNS built from its Go module with only the plugins the network-probe
// tests use, the way CoreDNS documents compile-time plugin selection (a directives list and
// plugin imports around coremain), so the build skips the Kubernetes, cloud and tracing
// plugins and their dependencies.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/erratic"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// The plugins' execution order, as in CoreDNS's plugin.cfg (a subset of it).
var directives = []string{
	"bind",
	"errors",
	"log",
	"erratic",
	"template",
	"hosts",
	"forward",
	"whoami",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
