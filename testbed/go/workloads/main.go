// Command workload is a small program that fails the ways the seeds' workloads fail, packed
// into images for the testbed's real node (no registry needed). One binary, one mode per
// image:
//
//	workload panic      logs a few start-up lines, then panics in a handler: Go prints the
//	                    goroutine trace and exits 2 (the pod-restarts seed)
//	workload badconfig  reads the config file given by -config (default /etc/app/config.yaml)
//	                    and exits 1 naming the file, line and field it rejects
//	workload oom        allocates and touches memory until the cgroup OOM killer ends it
//	workload serve      answers HTTP on -listen (default :8080), after -start-delay (default
//	                    0s: a slow start, for probes that begin too early)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: workload panic|badconfig|oom|serve [flags]")
		os.Exit(64)
	}
	mode, args := os.Args[1], os.Args[2:]
	switch mode {
	case "panic":
		panicking(args)
	case "badconfig":
		badConfig(args)
	case "oom":
		oom(args)
	case "serve":
		serve(args)
	default:
		fmt.Fprintf(os.Stderr, "workload: unknown mode %q\n", mode)
		os.Exit(64)
	}
}

type order struct {
	ID    string
	Items map[string]int
}

// process dereferences a nil map entry the way a real handler bug does.
func process(o *order) int {
	total := 0
	for _, n := range o.Items {
		total += n
	}
	return total
}

func panicking(args []string) {
	fs := flag.NewFlagSet("panic", flag.ExitOnError)
	after := fs.Duration("after", 2*time.Second, "how long to run before crashing")
	_ = fs.Parse(args)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("iot-gateway starting, version 1.4.2")
	log.Printf("connected to broker tcp://mqtt.iot.svc:1883")
	log.Printf("serving device sessions on :9000")
	time.Sleep(*after)
	var pending map[string]*order
	log.Printf("processing order %s", "A-1042")
	process(pending["A-1042"]) // nil pointer: panics with a goroutine trace, exit code 2
}

func badConfig(args []string) {
	fs := flag.NewFlagSet("badconfig", flag.ExitOnError)
	path := fs.String("config", "/etc/app/config.yaml", "config file")
	_ = fs.Parse(args)
	log.SetFlags(log.LstdFlags)
	log.Printf("billing-api starting, reading %s", *path)
	f, err := os.Open(*path)
	if err != nil {
		log.Printf("error: cannot read config file %s: %v", *path, err)
		os.Exit(1)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	line := 0
	seen := map[string]bool{}
	for scanner.Scan() {
		line++
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, ":")
		if !ok {
			log.Printf("error: parsing config file %s: line %d: expected \"key: value\", found %q", *path, line, text)
			os.Exit(1)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "port" && strings.Trim(value, "0123456789") != "" {
			log.Printf("error: invalid config file %s: line %d: field port: %q is not a number", *path, line, value)
			os.Exit(1)
		}
		seen[key] = true
	}
	if !seen["database_url"] {
		log.Printf("error: invalid config file %s: required field database_url is missing", *path)
		os.Exit(1)
	}
	log.Printf("config ok")
	select {}
}

func oom(args []string) {
	fs := flag.NewFlagSet("oom", flag.ExitOnError)
	step := fs.Int("step-mib", 8, "MiB allocated per step")
	_ = fs.Parse(args)
	log.SetFlags(log.LstdFlags)
	log.Printf("report-builder starting: loading the whole dataset into memory")
	var hold [][]byte
	for i := 1; ; i++ {
		chunk := make([]byte, *step<<20)
		for j := 0; j < len(chunk); j += 4096 {
			chunk[j] = byte(j) // touch every page so it is really resident
		}
		hold = append(hold, chunk)
		log.Printf("loaded %d MiB", i**step)
		time.Sleep(50 * time.Millisecond)
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", ":8080", "address to listen on")
	delay := fs.Duration("start-delay", 0, "how long to load before listening")
	_ = fs.Parse(args)
	if *delay > 0 {
		log.Printf("loading caches, ready in %s", *delay)
		time.Sleep(*delay)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	log.Printf("serving on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
