package witness

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// memSource is a Source of one memLog named "lists/known".
type memSource struct {
	t     *testing.T
	log   *memLog
	cosig map[int64][]string
	tiles int // tiles read
}

func (s *memSource) Checkpoint(_ context.Context, name string) ([]byte, error) {
	if name == "audit" {
		other := newMemLog(s.t, "ward.example/audit")
		return other.checkpoint(s.t, other.tree(s.t), other.signer), nil
	}
	msg := s.log.checkpoint(s.t, s.log.tree(s.t), s.log.signer)
	for _, l := range s.cosig[s.log.n] {
		msg = append(msg, l+"\n"...)
	}
	return msg, nil
}

func (s *memSource) Tile(_ context.Context, name string, t tlog.Tile) ([]byte, error) {
	s.tiles++
	return tlog.ReadTileData(t, s.log)
}

func (s *memSource) AddCosignatures(_ context.Context, name string, size int64, lines []string) error {
	s.cosig[size] = append(s.cosig[size], lines...)
	return nil
}

// TestSubmitter: checkpoints go to each witness with a proof from the
// size it holds, learnt from its answers after a restart; the
// cosignatures are stored once; a fork is refused and nothing stored.
func TestSubmitter(t *testing.T) {
	ctx := context.Background()
	log := newMemLog(t, "ward.example/lists/known")
	src := &memSource{t: t, log: log, cosig: map[int64][]string{}}
	var ws []Witnessed
	var vs []note.Verifier
	for range 2 {
		w, v := newWitness(t, log)
		srv := httptest.NewServer(w.Handler())
		t.Cleanup(srv.Close)
		ws, vs = append(ws, Witnessed{URL: srv.URL, Key: v}), append(vs, v)
	}
	cosigned := func() int {
		msg, _ := src.Checkpoint(ctx, "lists/known")
		n, err := note.Open(msg, note.VerifierList(append(vs, mustVerifier(t, log.vkey))...))
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		return len(n.Sigs) - 1
	}
	sub := NewSubmitter(src, ws, nil)
	log.add(t, 1000)
	// "audit" is a log the witnesses do not witness: they are skipped.
	if err := sub.Submit(ctx, []string{"lists/known", "audit"}); err != nil || cosigned() != 2 {
		t.Fatalf("first: %v, %d cosignatures", err, cosigned())
	}
	if err := sub.Submit(ctx, []string{"lists/known"}); err != nil || len(src.cosig[1000]) != 2 {
		t.Errorf("again: %v, %d stored", err, len(src.cosig[1000]))
	}
	log.add(t, 300)
	sub = NewSubmitter(src, ws, nil) // restarted: it learns the witnesses' sizes from their conflicts
	if err := sub.Submit(ctx, []string{"lists/known"}); err != nil || cosigned() != 2 || src.tiles == 0 {
		t.Fatalf("grown: %v, %d cosignatures, %d tiles", err, cosigned(), src.tiles)
	}

	// The stored hashes rewritten (as a database edited would have them)
	// and grown: no witness cosigns.
	fork := &memLog{origin: log.origin, signer: log.signer, vkey: log.vkey, prefix: "forged"}
	fork.add(t, 1400)
	src.log = fork
	err := sub.Submit(ctx, []string{"lists/known"})
	if err == nil || strings.Count(err.Error(), "422") != 2 || len(src.cosig[1400]) != 0 {
		t.Errorf("a rewritten log: %v, %d stored", err, len(src.cosig[1400]))
	}
	if _, err := ParseWitnesses("http://a.example=" + ws[0].Key.Name()); err == nil {
		t.Error("a malformed --witness")
	}
}
