package forward

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/reporting/report"
)

// The context strings that signatures cover before the body (see the
// package documentation). Package client repeats them for receivers.
const (
	// v2: the package is a manifest, its files downloaded one by one
	// (v1 held them), so that no v1 receiver takes it for a whole report.
	PackageContext      = "ward report package v2\n"
	NotificationContext = "ward report notification v1\n"
)

// SignatureHeader is the HTTP header that carries a signature.
const SignatureHeader = "Ward-Signature"

// Package is a report as an authority receives it: everything the centre
// knows of it, with the size and hashes of each file, whose content is
// downloaded on its own (GET /v1/lea/reports/{id}/files/{index}, Service.File)
// and checked against them: a manifest. Its JSON is what is signed. It
// stays small whatever the files' size, so that neither the server nor
// the receiver holds a report's files in memory.
type Package struct {
	// ReportID identifies the report for good: a second delivery of the
	// same report (a retried push, a pull after a push) has the same ID,
	// and receivers de-duplicate by it.
	ReportID string `json:"report_id"`
	// CaseID is the report leading the report's case (reports of one
	// provider about the same content), the report itself for a lead.
	CaseID     string      `json:"case_id,omitempty"`
	RoutedAt   time.Time   `json:"routed_at"`   // when it was routed to the receiver
	ReceivedAt time.Time   `json:"received_at"` // when the provider submitted it
	Urgent     bool        `json:"urgent"`
	Type       report.Type `json:"type"`
	// To is the authority the package is for: inside the signature, so
	// that a package cannot pass for one routed to another authority.
	To       PackageOrg `json:"to"`
	Provider PackageOrg `json:"provider"`
	// NonDisclosureUntil is until when an authority asked that the
	// reported user not be told of the report.
	NonDisclosureUntil time.Time     `json:"non_disclosure_until,omitzero"`
	Report             report.Draft  `json:"report"`
	Files              []PackageFile `json:"files"`
	// Matches are the centre's indicators that the report's items
	// matched at triage.
	Matches []PackageMatch `json:"matches"`
	// Corrections are the centre's corrections of the report, oldest
	// first (Correct): each an upheld complaint that found it wrong.
	Corrections []Correction `json:"corrections,omitempty"`
}

// PackageOrg is an organisation in a package: the provider that made the
// report (Annex III 1), or the authority it is for.
type PackageOrg struct {
	Name    string `json:"name"`
	Country string `json:"country"`
}

// PackageFile is a file of the report: its size and the hashes the centre
// computed on receipt, which its download must match.
type PackageFile struct {
	Index   int    `json:"index"` // of its item in Report.Items
	Size    int64  `json:"size"`
	MD5     string `json:"md5"`
	SHA256  string `json:"sha256"`
	PDQ     string `json:"pdq,omitempty"`
	Quality int    `json:"pdq_quality,omitempty"`
}

// PackageMatch is an indicator that an item matched.
type PackageMatch struct {
	Item      int                `json:"item"` // its index in Report.Items
	Indicator int64              `json:"indicator"`
	List      string             `json:"list"`
	Signal    indicator.Signal   `json:"signal"`
	Category  indicator.Category `json:"category"`
	Distance  int                `json:"distance"` // PDQ distance; 0 for MD5 and SHA-256
}

// Package returns the package of report id for organisation orgID, as
// JSON, and its signature header value; an core.ErrNotFound error unless
// the report was routed to orgID. The caller audits the download.
func (s *Service) Package(ctx context.Context, orgID int64, id string) (body []byte, signature string, err error) {
	d, err := s.store.Delivery(ctx, id, orgID)
	if err != nil {
		return nil, "", err
	}
	return s.pack(ctx, d)
}

func (s *Service) pack(ctx context.Context, d Delivery) ([]byte, string, error) {
	entry, err := s.store.TriageEntry(ctx, d.ReportID)
	if err != nil {
		return nil, "", err
	}
	if !entry.PurgedAt.IsZero() {
		return nil, "", core.Errorf(core.ErrNotFound, "report %s was deleted at the end of its retention period", d.ReportID)
	}
	r, err := s.reports.Open(ctx, d.ReportID)
	if err != nil {
		return nil, "", err
	}
	matches, err := s.store.ReportMatches(ctx, d.ReportID)
	if err != nil {
		return nil, "", err
	}
	provider, err := s.store.OrgByID(ctx, r.Provider)
	if err != nil {
		return nil, "", err
	}
	to, err := s.store.OrgByID(ctx, d.Org)
	if err != nil {
		return nil, "", err
	}
	p := Package{
		ReportID: r.ID, CaseID: entry.CaseID, RoutedAt: d.CreatedAt, ReceivedAt: r.FinishedAt, Urgent: r.Draft.Urgency.Urgent, Type: r.Draft.Type,
		To:                 PackageOrg{Name: to.Name, Country: to.Country},
		Provider:           PackageOrg{Name: provider.Name, Country: provider.Country},
		NonDisclosureUntil: r.NonDisclosureUntil, Report: r.Draft, Files: []PackageFile{}, Matches: []PackageMatch{},
	}
	for _, m := range matches {
		p.Matches = append(p.Matches, PackageMatch{Item: m.Item, Indicator: m.Indicator, List: m.List,
			Signal: m.Signal, Category: m.Category, Distance: m.Distance})
	}
	for _, f := range r.Files {
		p.Files = append(p.Files, PackageFile{Index: f.Index, Size: f.Size, MD5: f.MD5, SHA256: f.SHA256,
			PDQ: f.PDQ, Quality: f.Quality})
	}
	if !d.CorrectedAt.IsZero() {
		if p.Corrections, err = s.corrections(ctx, r.ID, d.Org); err != nil {
			return nil, "", err
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, "", fmt.Errorf("encoding package of report %s: %w", r.ID, err)
	}
	return body, s.sign(PackageContext, body), nil
}

// File returns file index of report id for organisation orgID, and a
// function that writes its content, a segment at a time, to w; an
// core.ErrNotFound error unless the report was routed to orgID, is not
// purged, and has that file. The caller audits the download before it
// writes. What w receives is checked by the receiver against the size and
// SHA-256 of the file in the package.
func (s *Service) File(ctx context.Context, orgID int64, id string, index int) (report.File, func(w io.Writer) error, error) {
	if _, err := s.store.Delivery(ctx, id, orgID); err != nil {
		return report.File{}, nil, err
	}
	entry, err := s.store.TriageEntry(ctx, id)
	if err != nil {
		return report.File{}, nil, err
	}
	if !entry.PurgedAt.IsZero() {
		return report.File{}, nil, core.Errorf(core.ErrNotFound, "report %s was deleted at the end of its retention period", id)
	}
	rec, err := s.store.ReportByID(ctx, id)
	if err != nil {
		return report.File{}, nil, err
	}
	files, err := s.reports.Files(ctx, rec.Provider, id)
	if err != nil {
		return report.File{}, nil, err
	}
	for _, f := range files {
		if f.Index == index {
			return f, func(w io.Writer) error { return s.reports.WriteFile(ctx, rec.Provider, f, w) }, nil
		}
	}
	return report.File{}, nil, core.Errorf(core.ErrNotFound, "report %s has no file %d", id, index)
}

// sign returns the SignatureHeader value of body signed in domain, one
// of the context strings.
func (s *Service) sign(domain string, body []byte) string { return Sign(s.key, domain, body) }

// Sign returns the SignatureHeader value of body signed with key in
// domain, a context string ending in a newline that no other kind of
// signed message of the key shares: "ed25519=" and the standard base64 of
// the Ed25519 signature of domain followed by body.
func Sign(key ed25519.PrivateKey, domain string, body []byte) string {
	msg := make([]byte, 0, len(domain)+len(body))
	msg = append(append(msg, domain...), body...)
	return "ed25519=" + base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
}
