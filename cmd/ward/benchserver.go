package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/wardhq/ward/internal/bench"
	"github.com/wardhq/ward/internal/cli"
)

// startBenchServer is bench.StartServer for "ward serve" run in this
// process on a port the system picks (127.0.0.1:0), so that no other
// process can take it between choosing and listening; the address is the
// one serve prints once it listens.
func startBenchServer(ctx context.Context, c bench.ServerConfig) (string, func() error, error) {
	args := []string{"--addr", "127.0.0.1:0", "--rate-key", "1e9", "--rate-ip", "1e9",
		"--workers", strconv.Itoa(c.Workers), "--data", c.DataDir}
	if c.PostgresURL != "" {
		args = append(args, "--database", c.PostgresURL)
	}
	log := &syncBuffer{}
	cfg, err := parseServeConfig(&cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: log}, args)
	if err != nil {
		return "", nil, err
	}
	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		return "", nil, fmt.Errorf("ward serve did not start: %w\n%s", err, log)
	}
	stop := sync.OnceValue(func() error {
		if err := m.Close(); err != nil {
			return fmt.Errorf("ward serve: %w\n%s", err, log)
		}
		return nil
	})
	return "http://" + m.Addr(), stop, nil
}

// syncBuffer is a bytes.Buffer safe for a server's goroutines: it
// collects the log of a server run in process.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
