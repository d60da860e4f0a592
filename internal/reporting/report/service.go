package report

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/platform/seal"
)

// Sealer seals and opens reports; *seal.Sealer is one.
type Sealer interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	SealShared(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
	SealSegments(ctx context.Context, plaintext, aad []byte) ([][]byte, error)
	OpenSegment(ctx context.Context, sealed, aad []byte, index int, last bool, key int64) ([]byte, error)
	BlindIndex(domain string, value []byte) []byte
}

var _ Sealer = (*seal.Sealer)(nil)

// MaxFileSize is the largest file a report may carry, in bytes.
const MaxFileSize = 64 << 20

// MaxReportSize bounds the files of one report together, in bytes.
const MaxReportSize = 256 << 20

// maxKeyLen bounds an idempotency key.
const maxKeyLen = 255

// bodyIndexDomain is the blind index domain of Record.BodyIndex.
const bodyIndexDomain = "reports.body"

// Service runs the provider's side of a report's life: create a draft,
// upload its files, finish or retract it. It seals what it stores. The
// caller has authorised the provider (package policy).
type Service struct {
	// Decode, if set, is the decode budget that file uploads share with
	// the rest of the server; nil decodes at once.
	Decode *media.Budget

	// Observe, if set before the service is used, is told of each step
	// of intake as it happens (metrics), never of a retry that returned
	// what an earlier call did. It must be quick and safe for concurrent
	// use.
	Observe func(IntakeEvent)

	// Clock is the service's clock, the system's if nil; set it, if at
	// all, before the service is used.
	Clock core.Clock

	store         Store
	sealer        Sealer
	maxReportSize int64 // MaxReportSize, but for tests
}

// IntakeEvent is a step of a report's intake, told to Service.Observe.
type IntakeEvent string

// The steps of intake.
const (
	IntakeCreated   IntakeEvent = "created"   // a draft, or a report submitted in one step
	IntakeFinished  IntakeEvent = "finished"  // a draft finished, or a report submitted in one step
	IntakeRetracted IntakeEvent = "retracted" // a draft withdrawn
	IntakeFile      IntakeEvent = "file"      // a file uploaded
)

func (s *Service) observe(e IntakeEvent) {
	if s.Observe != nil {
		s.Observe(e)
	}
}

// NewService returns a Service keeping reports in st, sealed by s.
func NewService(st Store, s Sealer) *Service {
	return &Service{store: st, sealer: s, maxReportSize: MaxReportSize}
}

// Sealer returns the sealer of the service's reports, for other records
// of the centre that are sealed the same way.
func (s *Service) Sealer() Sealer { return s.sealer }

// CreateDraft normalises and validates d and stores it as a new draft of
// the provider. key is the provider's idempotency key: a retry with the
// same key and the same draft returns the report created first, and true;
// the same key with another draft is an core.ErrConflict. With an empty
// key, every call creates a report.
func (s *Service) CreateDraft(ctx context.Context, provider int64, key string, d Draft) (Report, bool, error) {
	return s.create(ctx, provider, key, d, false)
}

// Submit is CreateDraft and Finish in one step, and one transaction, for a
// report without items of kind file: what high-volume reporters of hashes
// use. A retry with the same key and draft returns the report submitted
// first, and true.
func (s *Service) Submit(ctx context.Context, provider int64, key string, d Draft) (Report, bool, error) {
	for i, it := range d.Items {
		if it.Kind == ItemFile {
			c := checker{}
			c.add(fmt.Sprintf("/items/%d/kind", i), "a report submitted in one step cannot have items of kind file: create a draft, upload the files, then finish it")
			return Report{}, false, c.err()
		}
	}
	return s.create(ctx, provider, key, d, true)
}

func (s *Service) create(ctx context.Context, provider int64, key string, d Draft, finish bool) (Report, bool, error) {
	if err := checkKey(key); err != nil {
		return Report{}, false, err
	}
	if key == "" {
		key = "ward-" + rand.Text()
	}
	n, err := d.Normalize()
	if err != nil {
		return Report{}, false, err
	}
	body, err := json.Marshal(n)
	if err != nil {
		return Report{}, false, fmt.Errorf("encoding report: %w", err)
	}
	// The index covers provider and key too, so that two reports with the
	// same content have unrelated indexes.
	iv := binary.BigEndian.AppendUint64(nil, uint64(provider))
	iv = append(append(iv, key...), 0)
	index := s.sealer.BlindIndex(bodyIndexDomain, append(iv, body...))

	id := rand.Text()
	// Reports arrive by the thousand per second: a shared data key spares
	// each its own transaction (see seal.Sealer.SealShared).
	sealed, err := s.sealer.SealShared(ctx, body, BodyAAD(id))
	if err != nil {
		return Report{}, false, fmt.Errorf("sealing report: %w", err)
	}
	now := s.Clock.Now()
	rec := Record{
		ID:             id,
		Provider:       provider,
		State:          StateDraft,
		Type:           n.Type,
		Urgent:         n.Urgency.Urgent,
		IdempotencyKey: key,
		BodyIndex:      index,
		Body:           sealed,
		CreatedAt:      now,
	}
	var rc *Receipt
	if finish {
		rec.State, rec.FinishedAt = finishMove.to, now
		r := receipt(rec)
		rc = &r
	}
	rec, existed, err := s.store.CreateDraft(ctx, rec, rc)
	if err != nil {
		return Report{}, false, err
	}
	if !existed {
		s.observe(IntakeCreated)
		if finish {
			s.observe(IntakeFinished)
		}
	}
	// A report found by the key has the same body index, so its draft is
	// n: no need to open it (which retention may have made impossible).
	return Report{ID: rec.ID, Provider: rec.Provider, State: rec.State, IdempotencyKey: rec.IdempotencyKey,
		CreatedAt: rec.CreatedAt, FinishedAt: rec.FinishedAt, RetractedAt: rec.RetractedAt,
		NonDisclosureUntil: rec.NonDisclosureUntil, Draft: n}, existed, nil
}

func checkKey(key string) error {
	if len(key) > maxKeyLen {
		return core.Errorf(core.ErrInvalid, "the idempotency key is longer than %d bytes", maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return core.Errorf(core.ErrInvalid, "the idempotency key has a character other than printable ASCII")
		}
	}
	return nil
}

// Get returns the provider's report id, opened, with its files' hashes.
func (s *Service) Get(ctx context.Context, provider int64, id string) (Report, error) {
	rec, err := s.store.GetReport(ctx, provider, id)
	if err != nil {
		return Report{}, err
	}
	return s.withFiles(ctx, rec)
}

// Open returns report id of whichever provider, opened, with its files'
// hashes, for the centre's handling. The caller has authorised and
// audited the access.
func (s *Service) Open(ctx context.Context, id string) (Report, error) {
	rec, err := s.store.ReportByID(ctx, id)
	if err != nil {
		return Report{}, err
	}
	return s.withFiles(ctx, rec)
}

// Events returns the history of report id with each event's detail
// opened. The caller has authorised the access.
func (s *Service) Events(ctx context.Context, id string) ([]Event, error) {
	evs, err := s.store.ReportEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	for i, ev := range evs {
		if ev.Detail == nil {
			continue
		}
		if evs[i].Detail, err = s.sealer.Open(ctx, ev.Detail, EventAAD(id)); err != nil {
			return nil, fmt.Errorf("opening event %d of report %s: %w", ev.ID, id, err)
		}
	}
	return evs, nil
}

// SealDetail seals the detail of an event of report id, for a store
// method that records the event.
func (s *Service) SealDetail(ctx context.Context, id string, detail []byte) ([]byte, error) {
	return s.sealer.Seal(ctx, detail, EventAAD(id))
}

// withFiles opens rec and adds its files.
func (s *Service) withFiles(ctx context.Context, rec Record) (Report, error) {
	r, err := s.open(ctx, rec)
	if err != nil {
		return Report{}, err
	}
	r.Files, err = s.store.ReportFiles(ctx, rec.Provider, rec.ID)
	return r, err
}

// open opens a record's body.
func (s *Service) open(ctx context.Context, rec Record) (Report, error) {
	r := Report{ID: rec.ID, Provider: rec.Provider, State: rec.State, IdempotencyKey: rec.IdempotencyKey,
		CreatedAt: rec.CreatedAt, FinishedAt: rec.FinishedAt, RetractedAt: rec.RetractedAt,
		NonDisclosureUntil: rec.NonDisclosureUntil}
	body, err := s.sealer.Open(ctx, rec.Body, BodyAAD(rec.ID))
	if err != nil {
		return Report{}, fmt.Errorf("opening report %s: %w", rec.ID, err)
	}
	if err := json.Unmarshal(body, &r.Draft); err != nil {
		return Report{}, fmt.Errorf("decoding report %s: %w", rec.ID, err)
	}
	return r, nil
}

// Finish submits the provider's draft id to the centre. Every item of kind
// file must have its file. Finishing a finished report again returns it.
func (s *Service) Finish(ctx context.Context, provider int64, id string) (Report, error) {
	r, err := s.Get(ctx, provider, id)
	if err != nil {
		return Report{}, err
	}
	if r.State == StateDraft {
		have := make(map[int]bool, len(r.Files))
		for _, f := range r.Files {
			have[f.Index] = true
		}
		var missing []int
		for i, it := range r.Draft.Items {
			if it.Kind == ItemFile && !have[i] {
				missing = append(missing, i)
			}
		}
		if len(missing) > 0 {
			c := checker{}
			for _, i := range missing {
				c.add(fmt.Sprintf("/items/%d", i), "the file of this item has not been uploaded")
			}
			return Report{}, c.err()
		}
	}
	at := s.Clock.Now()
	rec, err := s.move(ctx, finishMove, provider, id, at, nil)
	if err != nil {
		return Report{}, err
	}
	if r.State == StateDraft && rec.FinishedAt.Equal(at) {
		s.observe(IntakeFinished)
	}
	r.State, r.FinishedAt = rec.State, rec.FinishedAt
	return r, nil
}

// Retract withdraws the provider's draft id. Retracting a retracted
// report again returns it; a finished report cannot be retracted.
func (s *Service) Retract(ctx context.Context, provider int64, id string) (Report, error) {
	at := s.Clock.Now()
	rec, err := s.move(ctx, retractMove, provider, id, at, nil)
	if err != nil {
		return Report{}, err
	}
	// A retraction repeated returns the first one's time.
	if rec.RetractedAt.Equal(at) {
		s.observe(IntakeRetracted)
	}
	return s.withFiles(ctx, rec)
}

// AddFile hashes content (MD5, SHA-256, and PDQ if it is an image), seals
// it and stores it as the file of item index of the provider's draft id,
// which must be of kind file. A retry with the same content returns the
// file stored first, and true.
func (s *Service) AddFile(ctx context.Context, provider int64, id string, index int, content []byte) (File, bool, error) {
	if len(content) > MaxFileSize {
		return File{}, false, core.Errorf(core.ErrInvalid, "the file is larger than %d bytes", MaxFileSize)
	}
	r, err := s.Get(ctx, provider, id)
	if err != nil {
		return File{}, false, err
	}
	if r.State != StateDraft {
		return File{}, false, core.Errorf(core.ErrConflict, "report %s is %s: files can be added only to a draft", id, r.State)
	}
	if index < 0 || index >= len(r.Draft.Items) || r.Draft.Items[index].Kind != ItemFile {
		return File{}, false, core.Errorf(core.ErrInvalid, "report %s has no item %d of kind file", id, index)
	}
	total := int64(len(content))
	for _, f := range r.Files {
		if f.Index != index {
			total += f.Size
		}
	}
	if total > s.maxReportSize {
		return File{}, false, core.Errorf(core.ErrInvalid, "the files of a report may be %d bytes together at most; split it into several reports", s.maxReportSize)
	}
	// A file that cannot be decoded, or is too large to be, is kept with
	// its digests only; one that must wait too long for the decode budget
	// is refused, for the provider to send again.
	h := filehash.Hash(ctx, content, filehash.Options{Budget: s.Decode})
	if errors.Is(h.Err, media.ErrBusy) {
		return File{}, false, h.Err
	}
	f := File{ReportID: id, Index: index, Size: int64(len(content)), MD5: h.MD5, SHA256: h.SHA256,
		CreatedAt: s.Clock.Now()}
	if h.Err == nil && !h.PDQ.IsZero() {
		f.PDQ, f.Quality = h.PDQ.String(), h.Quality
	}
	// In segments, so that a download opens and sends one at a time.
	f.Segments, err = s.sealer.SealSegments(ctx, content, FileAAD(id, index))
	if err != nil {
		return File{}, false, fmt.Errorf("sealing file: %w", err)
	}
	got, existed, err := s.addFile(ctx, provider, f)
	if err == nil && !existed {
		s.observe(IntakeFile)
	}
	return got, existed, err
}

// Files lists the files of the provider's report id, without content.
func (s *Service) Files(ctx context.Context, provider int64, id string) ([]File, error) {
	return s.store.ReportFiles(ctx, provider, id)
}

// OpenFile returns the content of file index of the provider's report id.
// WriteFile sends a file on without holding it whole.
func (s *Service) OpenFile(ctx context.Context, provider int64, id string, index int) ([]byte, error) {
	f, err := s.store.ReportFile(ctx, provider, id, index)
	if err != nil {
		return nil, err
	}
	if f.SegmentCount == 0 {
		return s.openBlob(ctx, f)
	}
	var b bytes.Buffer
	b.Grow(int(min(f.Size, MaxFileSize)))
	if err := s.writeSegments(ctx, provider, f, &b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes the content of f, a file of the provider's report as
// ReportFiles lists it, to w, a segment at a time: it holds a few
// segments in memory, not the file (except for a file stored before files
// were sealed in segments, which is opened whole). Content that does not
// open is an error after what opened was written: the receiver checks
// the file's SHA-256.
func (s *Service) WriteFile(ctx context.Context, provider int64, f File, w io.Writer) error {
	if f.SegmentCount == 0 {
		f, err := s.store.ReportFile(ctx, provider, f.ReportID, f.Index)
		if err != nil {
			return err
		}
		b, err := s.openBlob(ctx, f)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return s.writeSegments(ctx, provider, f, w)
}

// segmentBatch is how many segments one read of the store returns: few
// enough to keep memory low, enough that reads are few (16 per 64 MiB).
const segmentBatch = 64

func (s *Service) writeSegments(ctx context.Context, provider int64, f File, w io.Writer) error {
	aad := FileAAD(f.ReportID, f.Index)
	var key int64 // segment 0's data key: every segment must be of its sealing
	for from, n := 0, f.SegmentCount; from < n; {
		// The last read asks for a row more than the file has, to refuse
		// rows that are not its segments.
		segs, err := s.store.FileSegments(ctx, provider, f.ReportID, f.Index, from, min(segmentBatch, n-from+1))
		if err != nil {
			return err
		}
		if len(segs) == 0 {
			return fmt.Errorf("opening file %d of report %s: %w (segment %d of %d missing)", f.Index, f.ReportID, seal.ErrOpen, from, n)
		}
		if len(segs) > n-from {
			return fmt.Errorf("opening file %d of report %s: %w (more than its %d segments)", f.Index, f.ReportID, seal.ErrOpen, n)
		}
		if from == 0 {
			if key, err = seal.SegmentKey(segs[0]); err != nil {
				return fmt.Errorf("opening file %d of report %s: %w", f.Index, f.ReportID, err)
			}
		}
		for _, seg := range segs {
			pt, err := s.sealer.OpenSegment(ctx, seg, aad, from, from == n-1, key)
			if err != nil {
				return fmt.Errorf("opening file %d of report %s: %w", f.Index, f.ReportID, err)
			}
			if _, err := w.Write(pt); err != nil {
				return err
			}
			from++
		}
	}
	return nil
}

func (s *Service) openBlob(ctx context.Context, f File) ([]byte, error) {
	b, err := s.sealer.Open(ctx, f.Content, FileAAD(f.ReportID, f.Index))
	if err != nil {
		return nil, fmt.Errorf("opening file %d of report %s: %w", f.Index, f.ReportID, err)
	}
	return b, nil
}
