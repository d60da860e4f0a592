package storetest

import (
	"bytes"
	"context"
	"image/png"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/hashing/synth"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/reporting/report"
)

// Personal data of the Draft report, which no table may hold in clear.
const (
	DraftEmail      = "offender.4711@example.org"
	DraftIP         = "2001:db8:4711::42"
	DraftScreenName = "screen-name-4711"
)

// Draft returns a valid, urgent draft with an item of kind file (index 0)
// and one of kind hash (index 1), whose user states Belgium as country.
func Draft() report.Draft {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600))
	return report.Draft{
		IncidentTime: at,
		Type:         report.TypeNew,
		Items: []report.Item{
			{Kind: report.ItemFile, FileName: "IMG_0042.JPG", UploadTime: at.Add(-time.Minute), Viewed: true,
				Annotations: []report.Annotation{report.SelfGenerated}},
			{Kind: report.ItemHash, Hashes: report.Hashes{MD5: "d41d8cd98f00b204e9800998ecf8427e"}},
		},
		User: report.User{
			ID: "u-4711", ScreenName: DraftScreenName, Emails: []string{DraftEmail}, Phones: []string{"+3212344711"},
			Country:    "BE",
			IPCaptures: []report.IPCapture{{IP: DraftIP, Port: 47110, Time: at, Event: report.CaptureUpload}},
		},
		Service:   report.OnlineService{Type: report.Hosting, URL: "https://photos.example.com/"},
		Awareness: report.Awareness{Method: report.AutomatedMatch},
		Removal:   report.Removal{Removed: true, Time: at.Add(time.Minute)},
		Urgency:   report.Urgency{Urgent: true, Reason: "A meeting with the child is planned."},
		Victims:   []report.Victim{{Age: &report.AgeRange{Min: 12, Max: 14}}},
	}
}

// Image returns a benign PNG image that PDQ hashes with good quality, one
// per seed.
func Image(t testing.TB, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, synth.Image(256, 256, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Keyring returns a new master keyring in a file of the test's own.
func Keyring(t testing.TB) *seal.Keyring {
	t.Helper()
	k, err := seal.CreateKeyringFile(filepath.Join(t.TempDir(), "master.keys"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Org is an organisation for CreateOrgs to create, and where to keep it.
type Org struct {
	to            *org.Organisation
	name, country string
	kind          org.Kind
}

// NewOrg is the organisation name of kind and country, kept in *to once
// created.
func NewOrg(to *org.Organisation, name string, kind org.Kind, country string) Org {
	return Org{to: to, name: name, kind: kind, country: country}
}

// CreateOrgs creates the organisations of a test's world, in order.
func CreateOrgs(t testing.TB, db *store.DB, orgs ...Org) {
	t.Helper()
	s := org.NewService(db)
	for _, o := range orgs {
		var err error
		if *o.to, err = s.Create(context.Background(), o.name, o.kind, o.country); err != nil {
			t.Fatal(err)
		}
	}
}
