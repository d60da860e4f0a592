// Package org holds the organisations that use Ward (providers, hotlines,
// law enforcement, Europol and the centre itself), what each kind may do,
// and their API keys.
//
// An organisation acts through a Principal: who is calling, established by
// Authenticate from an API key (or, for "ward admin", directly from the
// organisation). What a principal may do is not decided here but in package
// policy, the one table of permissions, which builds on the kinds defined
// here (and so cannot be imported by this package).
//
// The package also defines Ward's error vocabulary (core.ErrNotFound, core.ErrInvalid,
// core.ErrConflict, core.ErrForbidden) that all domain packages wrap.
package org

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/core/text"
)

// Kind is the kind of an organisation.
type Kind string

// The kinds of organisation.
const (
	Provider Kind = "provider" // an online service that detects and reports
	Hotline  Kind = "hotline"  // a hotline assessing public reports (INHOPE member)
	LEA      Kind = "lea"      // a national law-enforcement authority
	Europol  Kind = "europol"
	Centre   Kind = "centre" // the centre operating Ward
	// Host is a hosting provider in the register of points of contact
	// (CSAR Art 23): it receives notices and answers them.
	Host Kind = "host"
)

// Kinds lists every kind, in the order they are documented.
var Kinds = []Kind{Provider, Hotline, LEA, Europol, Centre, Host}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", core.Errorf(core.ErrInvalid, "unknown organisation kind %q (want provider, hotline, lea, europol, centre or host)", s)
}

// Organisation is a participant in Ward.
type Organisation struct {
	ID   int64  `json:"id"`
	Name string `json:"name"` // unique; how administrators refer to it
	Kind Kind   `json:"kind"`
	// Country is the ISO 3166-1 alpha-2 code (upper case) of the
	// jurisdiction the organisation belongs to. The indicator policy counts
	// attestations from distinct countries, so it is mandatory.
	Country   string    `json:"country"`
	CreatedAt time.Time `json:"created_at"`
}

// Principal returns the principal of o acting directly, as "ward admin"
// does, rather than through an API key.
func (o Organisation) Principal() Principal {
	return Principal{OrgID: o.ID, OrgName: o.Name, Kind: o.Kind, Country: o.Country}
}

// Principal is an authenticated caller: an organisation, and the API key it
// used if any. Package policy decides what it may do.
type Principal struct {
	OrgID   int64
	OrgName string
	Kind    Kind
	Country string
	KeyID   string // empty when not acting through a key
	// Scopes are the key's scopes (policy action names): the key may do
	// only these of what its organisation's kind may do. Empty means no
	// restriction, and always so when not acting through a key.
	Scopes []string
}

// Store is the storage the organisation service needs.
type Store interface {
	// CreateOrg stores o, ignoring its ID, and returns it with the
	// assigned ID. It returns an core.ErrConflict error if the name is taken.
	CreateOrg(ctx context.Context, o Organisation) (Organisation, error)
	// OrgByName returns the organisation with that exact name, or an
	// core.ErrNotFound error.
	OrgByName(ctx context.Context, name string) (Organisation, error)
	// OrgByID returns organisation id, or an core.ErrNotFound error.
	OrgByID(ctx context.Context, id int64) (Organisation, error)
	// Orgs returns every organisation, ordered by name.
	Orgs(ctx context.Context) ([]Organisation, error)
	// CreateKey stores k; its ID is unique.
	CreateKey(ctx context.Context, k Key) error
	// KeyByID returns the key with that ID and its organisation, or an
	// core.ErrNotFound error.
	KeyByID(ctx context.Context, id string) (Key, Organisation, error)
	// Keys returns the keys of organisation orgID, revoked and expired
	// ones included, oldest first.
	Keys(ctx context.Context, orgID int64) ([]Key, error)
	// RevokeKey sets the key's RevokedAt to at unless it is revoked
	// already, and returns an core.ErrNotFound error if there is no such key.
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// Service manages organisations and their keys.
type Service struct {
	store Store
	// Clock is the service's clock, the system's if nil; set it, if at
	// all, before the service is used.
	Clock core.Clock
}

// NewService returns a service keeping its data in s.
func NewService(s Store) *Service {
	return &Service{store: s}
}

// Create adds an organisation. The country is validated and upper-cased.
func (s *Service) Create(ctx context.Context, name string, kind Kind, country string) (Organisation, error) {
	o, err := New(name, kind, country, s.Clock.Now())
	if err != nil {
		return Organisation{}, err
	}
	return s.store.CreateOrg(ctx, o)
}

// New checks an organisation's name, kind and country (upper-casing it),
// and returns the organisation to store, created at.
func New(name string, kind Kind, country string, at time.Time) (Organisation, error) {
	name, err := ParseName(name)
	if err != nil {
		return Organisation{}, err
	}
	if _, err := ParseKind(string(kind)); err != nil {
		return Organisation{}, err
	}
	cc, err := ParseCountry(country)
	if err != nil {
		return Organisation{}, err
	}
	return Organisation{Name: name, Kind: kind, Country: cc, CreatedAt: at}, nil
}

// ByName returns the organisation with that name. Its core.ErrNotFound error
// tells an administrator how to create it.
func (s *Service) ByName(ctx context.Context, name string) (Organisation, error) {
	o, err := s.store.OrgByName(ctx, name)
	if err != nil {
		return Organisation{}, fmt.Errorf("organisation %q: %w", name, err)
	}
	return o, nil
}

// ByID returns organisation id.
func (s *Service) ByID(ctx context.Context, id int64) (Organisation, error) {
	return s.store.OrgByID(ctx, id)
}

// List returns every organisation, ordered by name.
func (s *Service) List(ctx context.Context) ([]Organisation, error) {
	return s.store.Orgs(ctx)
}

// maxNameLen bounds organisation names, which appear in logs and listings.
const maxNameLen = 100

// ParseName checks an organisation name: surrounding space is removed, and
// what remains must be 1 to 100 characters without control characters.
func ParseName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", core.Errorf(core.ErrInvalid, "organisation name is empty")
	case !utf8.ValidString(s):
		return "", core.Errorf(core.ErrInvalid, "organisation name is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxNameLen:
		return "", core.Errorf(core.ErrInvalid, "organisation name is longer than %d characters", maxNameLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", core.Errorf(core.ErrInvalid, "organisation name contains a control character")
	}
	if err := text.Check(s); err != nil {
		return "", core.Errorf(core.ErrInvalid, "organisation name %v", err)
	}
	return s, nil
}
