package hashindex

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

func TestDebugRunBench(t *testing.T) {
	if os.Getenv("BN") == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(os.Getenv("BN"))
	th := 31
	if s := os.Getenv("BT"); s != "" {
		th, _ = strconv.Atoi(s)
	}
	q := 10000
	if s := os.Getenv("BQ"); s != "" {
		q, _ = strconv.Atoi(s)
	}
	kind := os.Getenv("BD")
	if kind == "" {
		kind = Uniform
	}
	r, err := RunBench(context.Background(), BenchConfig{N: n, Queries: q, Threshold: th, Data: kind, Seed: 1}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}
