// Command testsummary reads "go test -json" on standard input and prints
// what plain "go test" prints (the output of failing tests, then each
// package's ok or FAIL line), with the skipped tests and their reasons
// listed before the package lines, so that CI shows what did not run.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type event struct {
	Action, Package, Test, Output string
}

func main() {
	type key struct{ pkg, test string }
	output := map[key][]string{}
	var skips, summary []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Println(sc.Text()) // not an event: go's own message
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "build-output":
			fmt.Print(ev.Output)
		case "output":
			if ev.Test == "" {
				// Package lines: "ok ...", "FAIL ...", "PASS", panics
				// outside tests.
				if o := ev.Output; !strings.HasPrefix(o, "PASS") && !strings.HasPrefix(o, "=== ") {
					summary = append(summary, o)
				}
				continue
			}
			output[k] = append(output[k], ev.Output)
		case "fail":
			if ev.Test != "" {
				fmt.Print(strings.Join(output[k], ""))
			}
			delete(output, k)
		case "skip":
			if ev.Test != "" {
				reason := ""
				for _, o := range output[k] {
					if t := strings.TrimSpace(o); t != "" && !strings.HasPrefix(t, "=== ") && !strings.HasPrefix(t, "--- SKIP") {
						reason = t
					}
				}
				skips = append(skips, fmt.Sprintf("--- SKIP: %s (%s): %s\n", ev.Test, ev.Package, reason))
			}
			delete(output, k)
		case "pass":
			delete(output, k)
		}
	}
	if len(skips) > 0 {
		fmt.Printf("== %d skipped tests\n%s", len(skips), strings.Join(skips, ""))
	}
	fmt.Print(strings.Join(summary, ""))
}
