package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

// publicRoutes are the only routes that need no API key.
var publicRoutes = []string{"GET /livez", "GET /readyz", "POST /v1/public/complaints", "GET /v1/public/complaints/{case}",
	"GET /v1/public/statistics",
	"GET /v1/lists/{list}/log/checkpoint", "GET /v1/lists/{list}/log/key", "GET /v1/lists/{list}/log/tile/{path...}",
	"GET /v1/audit/log/checkpoint", "GET /v1/audit/log/key", "GET /v1/audit/log/tile/{path...}",
	"POST /v1/public/victim-cases", "GET /v1/public/victim-cases/{case}", "POST /v1/public/victim-cases/{case}/hashes",
	"DELETE /v1/public/victim-cases/{case}/hashes/{id}", "DELETE /v1/public/victim-cases/{case}/hashes", "GET /v1/public/help-services",
	"POST /v1/public/url-reports"}

// TestEveryRouteHasPolicy fails for a route added without a policy action,
// or with an action the policy has no rule for, and for a public route
// not listed in publicRoutes.
func TestEveryRouteHasPolicy(t *testing.T) {
	s := &httpapi.Server{}
	routes := s.Routes()
	if len(routes) != len(s.Patterns()) || len(routes) < 10 {
		t.Fatalf("%d routes, %d patterns", len(routes), len(s.Patterns()))
	}
	ruled := map[policy.Action]bool{}
	for _, r := range policy.Rules() {
		if r.Role == policy.APIKey {
			ruled[r.Action] = true
		}
	}
	var public []string
	for _, rt := range routes {
		switch {
		case rt.Public:
			public = append(public, rt.Pattern)
			if rt.Action != "" {
				t.Errorf("public route %s has the action %q", rt.Pattern, rt.Action)
			}
		case rt.Action == "":
			t.Errorf("route %s has no policy action", rt.Pattern)
		case !ruled[rt.Action]:
			t.Errorf("route %s needs %q, which no API key is granted", rt.Pattern, rt.Action)
		}
	}
	if !slices.Equal(public, publicRoutes) {
		t.Errorf("public routes %q, want %q", public, publicRoutes)
	}
}

// TestRoutesNeedKey calls every route without a key: each but the public
// ones answers 401 before its handler runs (the server has no services:
// a handler that ran would fail with a 500).
func TestRoutesNeedKey(t *testing.T) {
	api := &httpapi.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	for _, rt := range api.Routes() {
		if rt.Public {
			continue
		}
		if status := call(t, srv.URL, rt.Pattern, ""); status != http.StatusUnauthorized {
			t.Errorf("%s without a key answered %d, want 401", rt.Pattern, status)
		}
	}
}

// TestRoutesEnforcePolicy calls every route over HTTP with a real key of
// each kind of organisation, unrestricted and restricted to one scope, and
// checks that the answer is 403 exactly when the policy denies the route's
// action.
func TestRoutesEnforcePolicy(t *testing.T) {
	engines(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		e := start(t, open(t), true)
		orgs := org.NewService(e.db)
		for _, o := range []struct {
			name    string
			kind    org.Kind
			country string
		}{{"bka", org.LEA, "DE"}, {"europol", org.Europol, "NL"}, {"host", org.Host, "NL"}} {
			created, err := orgs.Create(ctx, o.name, o.kind, o.country)
			if err != nil {
				t.Fatal(err)
			}
			e.orgs[o.name] = created
			if e.keys[o.name], _, err = orgs.CreateKey(ctx, o.name, org.KeyOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		byKind := map[org.Kind]string{
			org.Provider: "provider", org.Hotline: "hotline-nl", org.LEA: "bka", org.Europol: "europol", org.Centre: "centre", org.Host: "host",
		}
		routes := (&httpapi.Server{}).Routes()
		for _, kind := range org.Kinds {
			name := byKind[kind]
			scoped, _, err := orgs.CreateKey(ctx, name, org.KeyOptions{Scopes: []string{string(policy.Match)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []struct {
				label  string
				key    string
				scopes []string
			}{{"unrestricted", e.keys[name], nil}, {"scoped to match", scoped, []string{string(policy.Match)}}} {
				subject := policy.ForPrincipal(org.Principal{Kind: kind, OrgID: e.orgs[name].ID, Scopes: key.scopes})
				for _, rt := range routes {
					if rt.Public {
						continue
					}
					status := call(t, e.url, rt.Pattern, key.key)
					allowed := policy.Allowed(subject, rt.Action)
					if (status == http.StatusForbidden) == allowed || status == http.StatusUnauthorized || status >= 500 {
						t.Errorf("%s key of %s (%s): %s answered %d; policy allows %s: %v",
							key.label, name, kind, rt.Pattern, status, rt.Action, allowed)
					}
				}
			}
		}

		// A revoked or expired key opens no route, not even one its
		// kind allows.
		revoked, k, err := orgs.CreateKey(ctx, "centre", org.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := orgs.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		expiring, _, err := orgs.CreateKey(ctx, "centre", org.KeyOptions{ExpiresAt: time.Now().Add(200 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		if status := call(t, e.url, "GET /v1/lists", expiring); status != http.StatusOK {
			t.Errorf("key before its expiry: %d, want 200", status)
		}
		time.Sleep(250 * time.Millisecond)
		for _, key := range []string{revoked, expiring} {
			if status := call(t, e.url, "GET /v1/lists", key); status != http.StatusUnauthorized {
				t.Errorf("revoked or expired key: %d, want 401", status)
			}
		}
	})
}

// call sends a request to the route with pattern, its path parameters
// filled in, and returns the status.
func call(t *testing.T, base, pattern, key string) int {
	t.Helper()
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.NewReplacer("{list}", "known", "{id}", "999999", "{index}", "0").Replace(path)
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusForbidden && !strings.Contains(string(b), "may not") && !strings.Contains(string(b), "restricted") {
		t.Errorf("%s: 403 without a policy reason: %s", pattern, b)
	}
	return resp.StatusCode
}

// TestAuthorityRoutesOnly: the authorities' inbox answers only law
// enforcement and Europol; other kinds are refused rather than shown an
// empty inbox.
func TestAuthorityRoutesOnly(t *testing.T) {
	e := start(t, storetest.OpenSQLite(t), true)
	for _, name := range []string{"provider", "hotline-de", "centre"} {
		for _, pattern := range []string{"GET /v1/lea/reports", "GET /v1/lea/reports/{id}", "POST /v1/lea/reports/{id}/ack", "POST /v1/lea/reports/{id}/feedback"} {
			if status := call(t, e.url, pattern, e.keys[name]); status != http.StatusForbidden {
				t.Errorf("%s key: %s answered %d, want 403", name, pattern, status)
			}
		}
		if status := call(t, e.url, "GET /v1/lea/signing-key", e.keys[name]); status != http.StatusOK {
			t.Errorf("%s key: the public signing key answered %d, want 200", name, status)
		}
	}
}
