package report

import (
	"context"
	"strconv"
	"time"
)

// Record is a report as the store keeps it: its draft sealed, and in clear
// only what the store needs to find, order and move reports.
type Record struct {
	ID       string
	Provider int64 // the organisation that submitted it
	State    State
	Type     Type // Draft.Type, for the triage queue
	Urgent   bool // Draft.Urgency.Urgent, for the triage queue
	// IdempotencyKey is unique per provider: a retry of the request that
	// created the report, with the same key, returns the report.
	IdempotencyKey string
	// BodyIndex is a keyed hash of the provider, the idempotency key and
	// the normalised draft's JSON (see Service): equal for a retry,
	// different for another draft sent with the same key, and revealing
	// nothing about the draft without the keyring's index key.
	BodyIndex []byte
	// Body is the normalised draft's JSON, sealed with associated data
	// BodyAAD(ID).
	Body        []byte
	CreatedAt   time.Time
	FinishedAt  time.Time // zero unless finished
	RetractedAt time.Time // zero unless retracted
	// NonDisclosureUntil is until when an authority asked that the
	// reported user not be told of the report; zero if it did not.
	NonDisclosureUntil time.Time
}

// File is a file uploaded for an item of kind file of a draft.
type File struct {
	ReportID string `json:"-"`
	// Index is the index in Draft.Items of the item (of kind file) whose
	// content this is; a report has at most one file per item.
	Index int   `json:"index"`
	Size  int64 `json:"size"` // bytes
	// MD5, SHA256 and PDQ are the hashes the centre computed on receipt,
	// lower-case hex; PDQ is empty if the file is not an image that could
	// be decoded, and Quality is PDQ's quality (0..100; under 50 is weak).
	// They are stored in clear, to match and bundle reports without
	// opening them.
	MD5     string `json:"md5"`
	SHA256  string `json:"sha256"`
	PDQ     string `json:"pdq,omitempty"`
	Quality int    `json:"pdq_quality,omitempty"`
	// Content is the file sealed as one blob, with associated data
	// FileAAD(ReportID, Index), as files were stored before they were
	// sealed in segments; empty for newer files, nil where a listing
	// leaves it out.
	Content []byte `json:"-"`
	// Segments is the file sealed in segments (seal.SealSegments) with
	// associated data FileAAD(ReportID, Index), for AddFile to store;
	// nil when read back, the segments being read with FileSegments.
	Segments [][]byte `json:"-"`
	// SegmentCount is how many segments the store holds of the file: 0
	// for a file sealed as one blob in Content.
	SegmentCount int       `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// BodyAAD is the associated data that a report's body is sealed with: a
// body copied to another report does not open there.
func BodyAAD(id string) []byte { return []byte("reports.body:" + id) }

// FileAAD is the associated data that the content of a report's file is
// sealed with.
func FileAAD(id string, index int) []byte {
	return []byte("report_files.content:" + id + ":" + strconv.Itoa(index))
}

// EventAAD is the associated data that the details of a report's events
// are sealed with.
func EventAAD(id string) []byte { return []byte("report_events.detail:" + id) }

// Store keeps reports. (*store.DB).Reports implements it; storetest.Run
// checks an implementation against these rules. Every method that takes a
// provider acts only on that provider's reports: another's are not found
// (core.ErrNotFound), so that a provider cannot learn that they exist.
type Store interface {
	// CreateDraft stores r, a new report in state StateDraft, or in state
	// StateFinished (with its FinishedAt) and then with rc, its Receipt,
	// as finishing it would leave it, and returns it as stored and false;
	// unless the provider already has a report with r's idempotency key:
	// then it returns that report and true if its BodyIndex equals r's,
	// and an error wrapping core.ErrConflict if not. Concurrent calls
	// with the same key create one report. It is one call, not Update,
	// so that the store may make it one statement: intake is most of the
	// store's work.
	CreateDraft(ctx context.Context, r Record, rc *Receipt) (Record, bool, error)
	// Update runs fn in a transaction, with its row operations: the
	// moves of a report (finish, retract, answer) and its files.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// GetReport returns the provider's report id, or an error wrapping
	// core.ErrNotFound.
	GetReport(ctx context.Context, provider int64, id string) (Record, error)
	// ReportByID returns report id of whichever provider, for the
	// centre's handling, or an error wrapping core.ErrNotFound.
	ReportByID(ctx context.Context, id string) (Record, error)
	// ReportEvents returns the history of report id, oldest first, with
	// details sealed.
	ReportEvents(ctx context.Context, id string) ([]Event, error)
	// ReportFiles returns the files of the provider's report id in order
	// of index, without their content.
	ReportFiles(ctx context.Context, provider int64, id string) ([]File, error)
	// ReportFile returns file index of the provider's report id, with its
	// content, or an error wrapping core.ErrNotFound.
	ReportFile(ctx context.Context, provider int64, id string, index int) (File, error)
	// FileSegments returns up to limit sealed segments of file index of
	// the provider's report id, in order, from segment from on; fewer, or
	// none, past the end.
	FileSegments(ctx context.Context, provider int64, id string, index, from, limit int) ([][]byte, error)
}
