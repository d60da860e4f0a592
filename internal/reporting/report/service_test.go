package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/reporting/report"
)

// answerStore holds one report of provider 1, in state; only the methods
// AnswerInfo may call are implemented, and of its Tx, only those a move
// calls.
type answerStore struct {
	report.Store
	report.Tx
	state    report.State
	answered int
}

func (s *answerStore) Update(ctx context.Context, fn func(ctx context.Context, tx report.Tx) error) error {
	return fn(ctx, s)
}

func (s *answerStore) Report(ctx context.Context, provider int64, id string, _ bool) (report.Record, error) {
	return s.GetReport(ctx, provider, id)
}

func (s *answerStore) MoveReport(ctx context.Context, provider int64, id string, from, to report.State, _ time.Time) (bool, error) {
	rec, err := s.GetReport(ctx, provider, id)
	if err != nil || rec.State != from {
		return false, err
	}
	s.answered++
	s.state = to
	return true, nil
}

func (s *answerStore) AddEvent(context.Context, report.Event) error { return nil }

func (s *answerStore) GetReport(_ context.Context, provider int64, id string) (report.Record, error) {
	if provider != 1 || id != "r1" {
		return report.Record{}, core.Errorf(core.ErrNotFound, "no report %s", id)
	}
	return report.Record{ID: id, Provider: provider, State: s.state}, nil
}

// countingSealer counts the blobs it seals: each Seal stores a data key.
type countingSealer struct{ sealed int }

func (s *countingSealer) Seal(_ context.Context, p, _ []byte) ([]byte, error) {
	s.sealed++
	return p, nil
}
func (s *countingSealer) SealShared(ctx context.Context, p, aad []byte) ([]byte, error) {
	return s.Seal(ctx, p, aad)
}
func (s *countingSealer) Open(_ context.Context, b, _ []byte) ([]byte, error) { return b, nil }
func (s *countingSealer) SealSegments(_ context.Context, p, _ []byte) ([][]byte, error) {
	s.sealed++
	return [][]byte{p}, nil
}
func (s *countingSealer) OpenSegment(_ context.Context, b, _ []byte, _ int, _ bool, _ int64) ([]byte, error) {
	return b, nil
}
func (s *countingSealer) BlindIndex(string, []byte) []byte { return make([]byte, 32) }

// TestAnswerInfoRefusedSealsNothing checks that an answer refused (a
// report that is not the provider's, or not waiting for information)
// changes nothing, not even a data key stored to seal it: else any
// provider could fill the database with them.
func TestAnswerInfoRefusedSealsNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		provider int64
		id       string
		state    report.State
		want     error
	}{
		{2, "r1", report.StateInfoRequested, core.ErrNotFound},
		{1, "nope", report.StateInfoRequested, core.ErrNotFound},
		{1, "r1", report.StateQueued, core.ErrConflict},
	} {
		st, se := &answerStore{state: tc.state}, &countingSealer{}
		err := report.NewService(st, se).AnswerInfo(ctx, tc.provider, tc.id, "the answer")
		if !errors.Is(err, tc.want) {
			t.Errorf("provider %d, report %s %s: %v, want %v", tc.provider, tc.id, tc.state, err, tc.want)
		}
		if se.sealed != 0 || st.answered != 0 {
			t.Errorf("provider %d, report %s %s: %d sealed, %d answered, want none", tc.provider, tc.id, tc.state, se.sealed, st.answered)
		}
	}
	st, se := &answerStore{state: report.StateInfoRequested}, &countingSealer{}
	if err := report.NewService(st, se).AnswerInfo(ctx, 1, "r1", "the answer"); err != nil || se.sealed != 1 || st.answered != 1 {
		t.Errorf("answer: %v, %d sealed, %d answered, want nil, 1, 1", err, se.sealed, st.answered)
	}
}

// filesStore holds one draft of provider 1 with two items of kind file,
// the first uploaded already.
type filesStore struct {
	report.Store
	report.Tx
	body  []byte
	added []report.File
}

func (s *filesStore) Update(ctx context.Context, fn func(ctx context.Context, tx report.Tx) error) error {
	return fn(ctx, s)
}

func (s *filesStore) Report(ctx context.Context, provider int64, id string, _ bool) (report.Record, error) {
	return s.GetReport(ctx, provider, id)
}

func (s *filesStore) GetReport(_ context.Context, provider int64, id string) (report.Record, error) {
	return report.Record{ID: id, Provider: provider, State: report.StateDraft, Body: s.body}, nil
}

func (s *filesStore) ReportFiles(context.Context, int64, string) ([]report.File, error) {
	return []report.File{{Index: 0, Size: 600}}, nil
}

func (s *filesStore) InsertFile(_ context.Context, f report.File) (report.File, bool, error) {
	s.added = append(s.added, f)
	return f, true, nil
}

// TestReportSizeLimit checks that the files of a report together stay
// under the limit, a retry of the first file included.
func TestReportSizeLimit(t *testing.T) {
	ctx := context.Background()
	d := report.Draft{Items: []report.Item{{Kind: report.ItemFile}, {Kind: report.ItemFile}}}
	body, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	st := &filesStore{body: body}
	svc := report.NewService(st, &countingSealer{})
	report.SetMaxReportSize(svc, 1000)
	if _, _, err := svc.AddFile(ctx, 1, "r1", 1, make([]byte, 401)); !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), "1000 bytes") {
		t.Errorf("a file over the report's limit: %v", err)
	}
	if _, _, err := svc.AddFile(ctx, 1, "r1", 1, make([]byte, 400)); err != nil {
		t.Errorf("a file at the limit: %v", err)
	}
	// The first file again (a retry) counts once.
	if _, _, err := svc.AddFile(ctx, 1, "r1", 0, make([]byte, 600)); err != nil {
		t.Errorf("a retry of the first file: %v", err)
	}
	if len(st.added) != 2 {
		t.Errorf("%d files stored, want 2", len(st.added))
	}
}
