package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/reporting/report"
)

// benignFile returns size bytes of seeded pseudo-random data: no image, so
// nothing to decode, and incompressible, so that no layer shrinks it.
func benignFile(seed uint64, size int) []byte {
	var k [32]byte
	k[0] = byte(seed)
	b := make([]byte, size)
	rand.NewChaCha8(k).Read(b)
	return b
}

// vmRSS returns the resident set size of process pid, in bytes.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// TestLEADownloadMemory downloads a report of the largest size a report
// may have (report.MaxReportSize: four files of 64 MiB) with 'ward lea
// get' from a server in a process of its own, freshly started so that
// the upload's memory is not counted, and checks that the server's
// resident memory never rises 100 MB above what it was before the
// download, and that the files written are the files uploaded.
func TestLEADownloadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads and downloads 256 MiB through a server process")
	}
	ctx := context.Background()
	db := []string{"--data", t.TempDir()}
	admin := adminOn(t, db)
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	admin("org", "add", "--name", "bka", "--kind", "lea", "--country", "DE")
	admin("org", "add", "--name", "europol", "--kind", "europol", "--country", "NL")
	provKey := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	bkaKey := strings.TrimSpace(admin("key", "create", "--org", "bka"))

	const files, size = 4, report.MaxFileSize
	sums := map[int]string{}
	var id string
	{
		srv := startProc(t, db, "--auto-forward-urgent")
		prov, err := client.New(srv.url, provKey)
		if err != nil {
			t.Fatal(err)
		}
		d := report.Draft{
			IncidentTime: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
			Type:         report.TypeNew,
			User:         report.User{ID: "u1", Country: "DE"},
			Service:      report.OnlineService{Type: report.Hosting},
			Awareness:    report.Awareness{Method: report.AutomatedMatch},
			Urgency:      report.Urgency{Urgent: true, Reason: "ongoing abuse"},
		}
		for range files {
			d.Items = append(d.Items, report.Item{Kind: report.ItemFile})
		}
		st, err := prov.CreateReport(ctx, d, "", false)
		if err != nil {
			t.Fatal(err)
		}
		id = st.ID
		for i := range files {
			b := benignFile(uint64(i), size)
			s := sha256.Sum256(b)
			sums[i] = hex.EncodeToString(s[:])
			if _, err := prov.UploadReportFile(ctx, id, i, bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := prov.FinishReport(ctx, id); err != nil {
			t.Fatal(err)
		}
		bka, err := client.New(srv.url, bkaKey)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			in, err := bka.LEAInbox(ctx, client.InboxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Reports) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("report %s not routed to bka:\n%s", id, srv.stderr)
			}
		}
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}

	srv := startProc(t, db)
	pid := srv.cmd.Process.Pid
	time.Sleep(time.Second) // let start-up settle
	base, err := vmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	var (
		peak    = base
		stop    = make(chan struct{})
		sampled sync.WaitGroup
	)
	sampled.Go(func() {
		for {
			if rss, err := vmRSS(pid); err == nil && rss > peak {
				peak = rss
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	out := filepath.Join(t.TempDir(), "got")
	start := time.Now()
	code, stdout, stderr := ward(t, "", "lea", "get", "--server", srv.url, "--key", bkaKey, "--out", out, id)
	took := time.Since(start)
	close(stop)
	sampled.Wait()
	if code != 0 {
		t.Fatalf("ward lea get: exit %d\n%s%s", code, stdout, stderr)
	}
	rise := peak - base
	t.Logf("server RSS %d MB before the download, peak %d MB during it (+%d MB); %d MiB in %v",
		base>>20, peak>>20, rise>>20, files*size>>20, took.Round(time.Millisecond))
	if rise > 100<<20 {
		t.Errorf("the server's RSS rose by %d MB during the download, want at most 100 MB", rise>>20)
	}
	for i := range files {
		f, err := os.Open(filepath.Join(out, fmt.Sprintf("file-%d-%s", i, sums[i])))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != sums[i] {
			t.Errorf("file %d: %d bytes, %v, sha256 %x", i, n, err, h.Sum(nil))
		}
	}
}
