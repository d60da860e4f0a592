package org

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/core"
)

func TestParseCountry(t *testing.T) {
	if n := strings.Count(countryCodes, " ") - 1; n != 249 {
		t.Errorf("%d country codes, want 249", n)
	}
	for in, want := range map[string]string{"de": "DE", " NL ": "NL", "gb": "GB", "Fr": "FR"} {
		if got, err := ParseCountry(in); err != nil || got != want {
			t.Errorf("ParseCountry(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "D", "DEU", "EU", "UK", "XX", "D ", "A ", "  ", "ZW ZA"} {
		if got, err := ParseCountry(in); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseCountry(%q) = %q, %v; want core.ErrInvalid", in, got, err)
		}
	}
}

func TestParseName(t *testing.T) {
	if got, err := ParseName("  Hotline NL "); err != nil || got != "Hotline NL" {
		t.Errorf("ParseName = %q, %v", got, err)
	}
	for _, in := range []string{"", "  ", "a\x00b", "tab\there", strings.Repeat("x", 101), "\xff"} {
		if _, err := ParseName(in); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseName(%q) = %v, want core.ErrInvalid", in, err)
		}
	}
}

// memStore is an in-memory Store, enough to test the service's own logic;
// the real stores are tested by storetest.
type memStore struct {
	mu   sync.Mutex
	orgs []Organisation
	keys map[string]Key
}

func (m *memStore) CreateOrg(_ context.Context, o Organisation) (Organisation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.orgs {
		if x.Name == o.Name {
			return Organisation{}, core.ErrConflict
		}
	}
	o.ID = int64(len(m.orgs) + 1)
	m.orgs = append(m.orgs, o)
	return o, nil
}

func (m *memStore) OrgByName(_ context.Context, name string) (Organisation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.orgs {
		if x.Name == name {
			return x, nil
		}
	}
	return Organisation{}, core.ErrNotFound
}

func (m *memStore) OrgByID(_ context.Context, id int64) (Organisation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.orgs {
		if x.ID == id {
			return x, nil
		}
	}
	return Organisation{}, core.ErrNotFound
}

func (m *memStore) Orgs(context.Context) ([]Organisation, error) { return m.orgs, nil }

func (m *memStore) CreateKey(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]Key{}
	}
	m.keys[k.ID] = k
	return nil
}

func (m *memStore) Keys(_ context.Context, orgID int64) ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Key
	for _, k := range m.keys {
		if k.OrgID == orgID {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (m *memStore) RevokeKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return core.ErrNotFound
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = at
		m.keys[id] = k
	}
	return nil
}

func (m *memStore) KeyByID(_ context.Context, id string) (Key, Organisation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return Key{}, Organisation{}, core.ErrNotFound
	}
	return k, m.orgs[k.OrgID-1], nil
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s := NewService(&memStore{})
	if _, err := s.Create(ctx, "Hotline", Hotline, "nl"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateKey(ctx, "Nobody", KeyOptions{}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("key for unknown org: %v, want core.ErrNotFound", err)
	}
	key, k, err := s.CreateKey(ctx, "Hotline", KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "ward_"+k.ID+"_") || len(key) != len("ward_")+16+1+43 {
		t.Fatalf("key %q does not have the documented form", key)
	}
	p, err := s.Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if p.OrgName != "Hotline" || p.Kind != Hotline || p.Country != "NL" || p.KeyID != k.ID || p.OrgID != 1 {
		t.Errorf("principal %+v", p)
	}
	other, _, err := s.CreateKey(ctx, "Hotline", KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"",
		"ward_",
		key[:len(key)-1],
		key + "A",
		strings.Replace(key, "ward_", "waRd_", 1),
		key[:len(key)-43] + other[len(other)-43:],            // right ID, another key's secret
		other[:len(other)-43] + key[len(key)-43:],            // the other key's ID with this secret
		"ward_0000000000000000_" + key[len(key)-43:],         // unknown ID
		key[:len(key)-43] + strings.Repeat("!", 43),          // not base64url
		"ward_" + k.ID + "_" + strings.Repeat("A", 42) + "B", // non-canonical base64 tail
	}
	if up := key[:5] + strings.ToUpper(key[5:21]) + key[21:]; up != key {
		bad = append(bad, up) // the ID is lower-case hex only
	}
	for _, b := range bad {
		if _, err := s.Authenticate(ctx, b); !errors.Is(err, ErrBadKey) || !errors.Is(err, core.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v, want ErrBadKey", b, err)
		}
	}
}

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewService(&memStore{})
	s.Clock = func() time.Time { return clock }
	if _, err := s.Create(ctx, "Provider", Provider, "IE"); err != nil {
		t.Fatal(err)
	}

	for _, opts := range []KeyOptions{
		{ExpiresAt: clock},                 // not in the future
		{ExpiresAt: clock.Add(-time.Hour)}, // past
		{Scopes: []string{""}},             // empty scope
		{Scopes: []string{"match lists"}},  // would not survive storage
		{Scopes: []string{"match\n"}},      // control character
		{Scopes: []string{"é"}},            // not ASCII
		{Scopes: []string{strings.Repeat("x", 65)}},
	} {
		if _, _, err := s.CreateKey(ctx, "Provider", opts); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("CreateKey(%+v) = %v, want core.ErrInvalid", opts, err)
		}
	}

	expires := clock.Add(time.Hour)
	scoped, k, err := s.CreateKey(ctx, "Provider", KeyOptions{Scopes: []string{"match", "lists.read", "match"}, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.Scopes, []string{"lists.read", "match"}) || !k.ExpiresAt.Equal(expires) {
		t.Errorf("key %+v: want sorted unique scopes and the expiry", k)
	}
	p, err := s.Authenticate(ctx, scoped)
	if err != nil || !slices.Equal(p.Scopes, k.Scopes) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	clock = expires.Add(-time.Microsecond)
	if _, err := s.Authenticate(ctx, scoped); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	clock = expires
	if _, err := s.Authenticate(ctx, scoped); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("at expiry: %v, want ErrBadKey saying it expired", err)
	}

	clock = clock.Add(time.Minute)
	plain, k2, err := s.CreateKey(ctx, "Provider", KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	revokedAt := clock
	clock = clock.Add(time.Minute)
	if err := s.RevokeKey(ctx, k2.ID); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked key: %v, want ErrBadKey saying it was revoked", err)
	}
	if err := s.RevokeKey(ctx, "0000000000000000"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v, want core.ErrNotFound", err)
	}
	keys, err := s.Keys(ctx, 1)
	if err != nil || len(keys) != 2 || keys[0].ID != k.ID || !keys[1].RevokedAt.Equal(revokedAt) {
		t.Errorf("Keys = %+v, %v; want both, oldest first, the second revoked when first revoked", keys, err)
	}
}
