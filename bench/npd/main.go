// Command npd-rules-bench feeds log lines through node-problem-detector's own log buffer and
// rule matching, exactly as its system log monitor's parseLog does (Push, then Match for every
// rule of the monitor), and prints the throughput. Used by bench/rules.sh.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/node-problem-detector/pkg/systemlogmonitor"
	logtypes "k8s.io/node-problem-detector/pkg/systemlogmonitor/types"
)

type monitor struct {
	config systemlogmonitor.MonitorConfig
	buffer systemlogmonitor.LogBuffer
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: npd-rules-bench LINES_FILE CONFIG.json...")
		os.Exit(2)
	}
	var monitors []*monitor
	for _, path := range os.Args[2:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		m := &monitor{}
		if err := json.Unmarshal(data, &m.config); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		m.config.ApplyDefaultConfiguration()
		if err := m.config.ValidateRules(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		m.buffer = systemlogmonitor.NewLogBuffer(m.config.BufferSize)
		monitors = append(monitors, m)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	now := time.Now()
	matches := map[string]int{}
	start := time.Now()
	for _, line := range lines {
		// The kmsg and journald watchers trim each message before the monitor sees it.
		log := &logtypes.Log{Timestamp: now, Message: strings.TrimSpace(line)}
		for _, m := range monitors {
			m.buffer.Push(log)
			for _, rule := range m.config.Rules {
				if matched := m.buffer.Match(rule.Pattern); len(matched) != 0 {
					matches[rule.Reason]++
				}
			}
		}
	}
	elapsed := time.Since(start)
	total := 0
	for _, n := range matches {
		total += n
	}
	fmt.Printf("{\"impl\":\"node-problem-detector\",\"lines\":%d,\"matches\":%d,\"seconds\":%.3f,\"lines_per_second\":%.0f}\n",
		len(lines), total, elapsed.Seconds(), float64(len(lines))/elapsed.Seconds())
}
