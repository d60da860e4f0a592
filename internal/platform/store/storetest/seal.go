package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
)

// runSeal runs the conformance suite of the store's seal.DataKeyStore,
// through seal.Sealer. open must return a new, empty (freshly migrated)
// database each time it is called; subtests run in parallel.
func runSeal(t *testing.T, open func(testing.TB) *store.DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"RoundTrip", testSealRoundTrip},
		{"Rotation", testSealRotation},
		{"Concurrent", testSealConcurrent},
		{"Dump", testSealDump},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testSealRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	k := Keyring(t)
	s := seal.NewSealer(k, db)
	msg := []byte("alice@example.org")
	blob, err := s.Seal(ctx, msg, []byte("users.email:1"))
	if err != nil {
		t.Fatal(err)
	}
	// A new Sealer has no cached keys: it reads the data key stored.
	s = seal.NewSealer(k, db)
	if got, err := s.Open(ctx, blob, []byte("users.email:1")); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("Open: %q, %v", got, err)
	}
	if _, err := seal.NewSealer(k, db).Open(ctx, blob, []byte("users.email:2")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open with other aad: %v", err)
	}
	unknown := bytes.Clone(blob)
	unknown[8] ^= 0x40 // another data key ID
	if _, err := s.Open(ctx, unknown, []byte("users.email:1")); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Open with an unknown data key: %v", err)
	}
	if _, _, err := db.DataKey(ctx, 1000); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("DataKey(1000): %v", err)
	}
	if err := s.Check(ctx); err != nil {
		t.Error(err)
	}
	// A new keyring has a key v1 too, but not the same.
	if err := seal.NewSealer(seal.NewKeyring(), db).Check(ctx); err == nil || !strings.Contains(err.Error(), "v1 (a different key from the one that wraps 1 data key(s))") {
		t.Errorf("Check with another keyring: %v", err)
	}
}

// sealedRecords creates a table of n records sealed by s, with a row ID
// and the blob, and returns the plaintexts.
func sealedRecords(t *testing.T, db *store.DB, s *seal.Sealer, n int) [][]byte {
	t.Helper()
	ctx := t.Context()
	blob := "BLOB"
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		if tx.Postgres() {
			blob = "bytea"
		}
		_, err := tx.Exec(ctx, `CREATE TABLE sealed_test (id integer PRIMARY KEY, blob `+blob+` NOT NULL)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var msgs, blobs [][]byte
	for i := range n {
		// Each record as personal data would look: an e-mail address and
		// a file's contents.
		msg := fmt.Appendf(nil, "person%d@example.org %s", i, strings.Repeat("file contents ", i%7))
		b, err := s.Seal(ctx, msg, fmt.Appendf(nil, "sealed_test.blob:%d", i))
		if err != nil {
			t.Fatal(err)
		}
		msgs, blobs = append(msgs, msg), append(blobs, b)
	}
	err = db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		for i, b := range blobs {
			if _, err := tx.Exec(ctx, `INSERT INTO sealed_test (id, blob) VALUES ($1, $2)`, i, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// openRecords opens every record of sealedRecords with s.
func openRecords(t *testing.T, db *store.DB, s *seal.Sealer, msgs [][]byte) {
	t.Helper()
	blobs := readBlobs(t, db)
	if len(blobs) != len(msgs) {
		t.Fatalf("%d records, want %d", len(blobs), len(msgs))
	}
	for i, b := range blobs {
		got, err := s.Open(t.Context(), b, fmt.Appendf(nil, "sealed_test.blob:%d", i))
		if err != nil || !bytes.Equal(got, msgs[i]) {
			t.Fatalf("record %d: %q, %v", i, got, err)
		}
	}
}

func readBlobs(t *testing.T, db *store.DB) [][]byte {
	t.Helper()
	var blobs [][]byte
	err := db.ReadOnly(t.Context(), func(ctx context.Context, tx *store.Tx) error {
		blobs = nil
		rows, err := tx.Query(ctx, `SELECT blob FROM sealed_test ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			blobs = append(blobs, b)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return blobs
}

// dataKeys returns the stored data keys as "version:wrapped" strings.
func dataKeys(t *testing.T, db *store.DB) []string {
	t.Helper()
	var keys []string
	err := db.ReadOnly(t.Context(), func(ctx context.Context, tx *store.Tx) error {
		keys = nil
		rows, err := tx.Query(ctx, `SELECT master_version, wrapped FROM data_keys ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				v string
				w []byte
			)
			if err := rows.Scan(&v, &w); err != nil {
				return err
			}
			keys = append(keys, fmt.Sprintf("%s:%x", v, w))
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func testSealRotation(t *testing.T, db *store.DB) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "master.keys")
	k, err := seal.CreateKeyringFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(k, db)
	const n = 600 // more than one batch of the store's re-wrapping
	msgs := sealedRecords(t, db, s, n)
	blobsBefore, keysBefore := readBlobs(t, db), dataKeys(t, db)

	if v := k.Rotate(); v != "v2" {
		t.Fatalf("rotated to %s", v)
	}
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RotateDataKeys(ctx); got != n || err != nil {
		t.Fatalf("RotateDataKeys: %d, %v; want %d", got, err, n)
	}
	if got, err := s.RotateDataKeys(ctx); got != 0 || err != nil {
		t.Errorf("second RotateDataKeys: %d, %v; want 0", got, err)
	}
	if c, err := s.DataKeyVersions(ctx); fmt.Sprint(c) != fmt.Sprintf("map[v2:%d]", n) || err != nil {
		t.Errorf("versions %v, %v", c, err)
	}
	// The payloads are untouched; every data key was re-wrapped.
	blobsAfter, keysAfter := readBlobs(t, db), dataKeys(t, db)
	for i := range blobsBefore {
		if !bytes.Equal(blobsBefore[i], blobsAfter[i]) {
			t.Fatalf("record %d changed by rotation", i)
		}
		if keysBefore[i] == keysAfter[i] || !strings.HasPrefix(keysAfter[i], "v2:") {
			t.Fatalf("data key %d: %s, then %s", i+1, keysBefore[i][:10], keysAfter[i][:10])
		}
	}

	// Remove v1 from the file: everything still opens, with a new Sealer
	// that has nothing cached.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "master:v1:") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	k2, err := seal.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k2.Versions()) != "[v2]" {
		t.Fatalf("versions after removing v1: %v", k2.Versions())
	}
	s2 := seal.NewSealer(k2, db)
	if err := s2.Check(ctx); err != nil {
		t.Error(err)
	}
	openRecords(t, db, s2, msgs)

	// A keyring lacking v2 is told apart at once.
	if err := seal.NewSealer(Keyring(t), db).Check(ctx); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("v2 (missing; it wraps %d data key(s))", n)) {
		t.Errorf("Check with another keyring: %v", err)
	}
}

func testSealConcurrent(t *testing.T, db *store.DB) {
	ctx := t.Context()
	s := seal.NewSealer(Keyring(t), db)
	const workers, each = 8, 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		blobs = map[string][]byte{}
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				aad := fmt.Sprintf("r:%d:%d", w, i)
				b, err := s.Seal(ctx, []byte(aad), []byte(aad))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blobs[aad] = b
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for aad, b := range blobs {
		ids[string(b[1:9])] = true
		if got, err := s.Open(ctx, b, []byte(aad)); err != nil || string(got) != aad {
			t.Errorf("%s: %q, %v", aad, got, err)
		}
	}
	if len(ids) != workers*each {
		t.Errorf("%d distinct data keys for %d records", len(ids), workers*each)
	}
}

// testSealDump shows that a dump of the database holds no sealed
// plaintext, and that DumpAll would find it if it were stored in clear.
func testSealDump(t *testing.T, db *store.DB) {
	ctx := t.Context()
	s := seal.NewSealer(Keyring(t), db)
	msgs := sealedRecords(t, db, s, 20)
	dump := DumpAll(t, db)
	for _, table := range []string{"== data_keys\n", "== sealed_test\n", "== schema_migrations\n"} {
		if !bytes.Contains(dump, []byte(table)) {
			t.Errorf("dump lacks %q", table)
		}
	}
	for _, m := range msgs {
		for _, part := range bytes.Fields(m)[:1] {
			if bytes.Contains(dump, part) {
				t.Errorf("dump holds %q", part)
			}
		}
	}
	if bytes.Contains(dump, []byte("file contents")) {
		t.Error("dump holds the file contents")
	}
	// The control: the same data stored in clear, in a binary column.
	err := db.ReadWrite(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO sealed_test (id, blob) VALUES (1000, $1)`, msgs[3])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(DumpAll(t, db), msgs[3]) {
		t.Error("DumpAll misses a plaintext stored in a binary column")
	}
}
