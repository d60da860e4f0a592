package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/accountability/complaint"
	"github.com/wardhq/ward/internal/accountability/quarantine"
	"github.com/wardhq/ward/internal/accountability/stats"
	"github.com/wardhq/ward/internal/hashing/media"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/platform/store/storetest"
	"github.com/wardhq/ward/internal/reporting/report"
	"github.com/wardhq/ward/internal/reporting/triage"
	"github.com/wardhq/ward/internal/takedown"
	"github.com/wardhq/ward/internal/victim"
	"github.com/wardhq/ward/internal/web"
)

// console is a running console on a real store, with one logged-in HTTP
// client per role.
type console struct {
	url     string
	srv     *httptest.Server
	db      *store.DB
	users   *auth.Service
	reports *report.Service
	matcher *matcher.Matcher
	triage  *triage.Service
	decode  *media.Budget // of the console's conversions to PNG
	clients map[policy.Role]*http.Client
	// takedown is the hotline channel, fetching from web, routing
	// addresses of de.example to the hotline (DE).
	takedown *takedown.Service
	web      *fakeWeb
	orgs     map[string]org.Organisation // by name
	// indicators, quarantine and complaints are the services of the
	// console's indicator, quarantine and complaint pages.
	indicators *indicator.Service
	quarantine *quarantine.Service
	complaints *complaint.Service
	// complaintsAgo sets the complaint service's clock back by as many
	// nanoseconds, to file complaints in the past.
	complaintsAgo atomic.Int64
	stats         *stats.Service
	victims       *victim.Service
}

// orgFor is the organisation each role's user belongs to.
var orgFor = map[policy.Role]string{
	policy.Admin: "centre", policy.Analyst: "hotline", policy.Reviewer: "centre",
	policy.LEAOfficer: "bka", policy.ProviderAdmin: "acme", policy.Auditor: "centre",
}

func startConsole(t *testing.T, db *store.DB) *console {
	t.Helper()
	return startConsoleWith(t, db, nil)
}

// startConsoleWith is startConsole with the server changed by set, if not
// nil, before it starts.
func startConsoleWith(t *testing.T, db *store.DB, set func(*web.Server)) *console {
	t.Helper()
	ctx := context.Background()
	orgs := org.NewService(db)
	sealer := seal.NewSealer(seal.NewKeyring(), db)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c := &console{db: db, users: auth.NewService(db, sealer), reports: report.NewService(db.Reports(), sealer), matcher: matcher.New(),
		clients: map[policy.Role]*http.Client{}, decode: media.NewBudget(64<<20, 2, 200*time.Millisecond),
		web: newFakeWeb(), orgs: map[string]org.Organisation{}}
	for _, o := range []struct {
		name    string
		kind    org.Kind
		country string
	}{{"centre", org.Centre, "BE"}, {"hotline", org.Hotline, "DE"}, {"bka", org.LEA, "DE"}, {"acme", org.Provider, "IE"}} {
		created, err := orgs.Create(ctx, o.name, o.kind, o.country)
		if err != nil {
			t.Fatal(err)
		}
		c.orgs[o.name] = created
	}
	c.triage = triage.New(db.Triage(), c.reports, c.matcher, triage.Options{})
	trail := audit.NewLog(db, key)
	c.takedown = takedown.New(db.Takedown(), takedown.Options{
		Fetcher: c.web, Matcher: c.matcher, Sealer: sealer, Key: key, Audit: trail,
		Locate: c.web.locate,
	})
	c.indicators = indicator.NewService(db)
	c.stats = stats.New(db.Stats(), stats.Options{})
	c.quarantine = quarantine.New(db.Quarantines(), quarantine.Options{Sealer: sealer, Audit: trail})
	c.complaints = complaint.New(db.Complaints(), complaint.Options{Sealer: sealer, Key: key, Audit: trail,
		Clock: func() time.Time { return time.Now().Add(-time.Duration(c.complaintsAgo.Load())) }})
	c.victims = victim.New(db.Victims(), c.indicators, victim.Options{Sealer: sealer, Audit: trail})
	s := &web.Server{
		Stats: c.stats, Victims: c.victims,
		Auth: c.users, Orgs: orgs, Indicators: c.indicators, Audit: trail,
		Triage: c.triage, Jobs: db, Decode: c.decode, Takedown: c.takedown,
		Quarantine: c.quarantine, Complaints: c.complaints,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BaseURL: "http://ward.test",
	}
	if set != nil {
		set(s)
	}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	// The session cookie is Secure; the test server speaks TLS so that
	// the client keeps it, as a browser would.
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c.url, c.srv = srv.URL, srv
	for _, role := range policy.Roles {
		c.clients[role] = c.login(t, srv, role)
	}
	return c
}

// login creates a user of role, enrols it through the auth service and logs
// in through the console's form.
func (c *console) login(t *testing.T, srv *httptest.Server, role policy.Role) *http.Client {
	t.Helper()
	return c.loginAt(t, srv, role, orgFor[role])
}

// loginAt is login for a user of organisation orgName.
func (c *console) loginAt(t *testing.T, srv *httptest.Server, role policy.Role, orgName string) *http.Client {
	t.Helper()
	ctx := context.Background()
	email := string(role) + "@" + orgName + ".test"
	_, token, err := c.users.AddUser(ctx, orgName, role, email)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _, err := c.users.BeginEnrolment(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	// The current step's code to enrol, the next step's to log in: both
	// stay valid whichever side of a step boundary the server checks them.
	now := time.Now()
	enrolCode, _ := totp.GenerateCode(secret, now)
	if err := c.users.CompleteEnrolment(ctx, token, "a long enough password", enrolCode); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{
		Transport: srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	code, _ := totp.GenerateCode(secret, now.Add(30*time.Second))
	resp, err := cl.PostForm(c.url+"/login", url.Values{"email": {email}, "password": {"a long enough password"}, "code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login of %s: %d to %q", role, resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-ward_session" && (!ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode) {
			t.Errorf("session cookie lacks protections: %+v", ck)
		}
	}
	return cl
}

// publicPages need no session.
var publicPages = []string{"GET /static/", "GET /static/hash.wasm", "GET /static/hash-worker.js", "GET /help/remove", "GET /login", "POST /login", "GET /enrol/{token}", "POST /enrol/{token}",
	"GET /enrol/{token}/qr.png", "GET /enrolled", "GET /report", "POST /report",
	"GET /complaint", "POST /complaint", "GET /complaint/status", "POST /complaint/status", "GET /help/case", "POST /help/case",
	"GET /transparency", "GET /transparency/definitions"}

// TestEveryPageHasPolicy fails for a console route added without a policy
// action that some role is granted.
func TestEveryPageHasPolicy(t *testing.T) {
	ruled := map[policy.Action]bool{}
	for _, r := range policy.Rules() {
		if r.Role != policy.APIKey {
			ruled[r.Action] = true
		}
	}
	routes := (&web.Server{}).Routes()
	if len(routes) < 10 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		switch {
		case rt.Action == "" && !slices.Contains(publicPages, rt.Pattern):
			t.Errorf("page %s has no policy action", rt.Pattern)
		case rt.Action != "" && !ruled[rt.Action]:
			t.Errorf("page %s needs %q, which no role is granted", rt.Pattern, rt.Action)
		}
	}
}

// TestPagesEnforcePolicy opens every page as every role, and checks that
// the answer is 403 exactly when the policy denies the page's action, and
// that without a session every protected page leads to the login.
func TestPagesEnforcePolicy(t *testing.T) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(engine.name, func(t *testing.T) {
			c := startConsole(t, engine.open(t))
			anon := &http.Client{Transport: c.clients[policy.Admin].Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			routes := (&web.Server{}).Routes()
			// Logging out ends the sessions the other pages need: last.
			slices.SortStableFunc(routes, func(a, b web.RouteInfo) int {
				return strings.Compare(fmt.Sprint(a.Pattern == "POST /logout"), fmt.Sprint(b.Pattern == "POST /logout"))
			})
			for _, rt := range routes {
				if rt.Action == "" {
					continue
				}
				method, path, _ := strings.Cut(rt.Pattern, " ")
				path = strings.NewReplacer("{$}", "", "{id}", "999999", "{list}", "known", "{index}", "0").Replace(path)
				send := func(cl *http.Client) int {
					req, _ := http.NewRequest(method, c.url+path, strings.NewReader(""))
					if method == "POST" {
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					resp, err := cl.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return resp.StatusCode
				}
				if got := send(anon); got != http.StatusSeeOther {
					t.Errorf("%s without a session: %d, want a redirect to the login", rt.Pattern, got)
				}
				for _, role := range policy.Roles {
					u, err := c.users.UserByEmail(context.Background(), string(role)+"@"+orgFor[role]+".test")
					if err != nil {
						t.Fatal(err)
					}
					scope := policy.Scope(policy.Subject{Role: role, Kind: u.OrgKind, OrgID: u.OrgID}, rt.Action)
					allowed := scope != "" && (!rt.AllData || scope == policy.AllData)
					got := send(c.clients[role])
					if (got == http.StatusForbidden) == allowed {
						t.Errorf("%s as %s: %d, but the policy says allowed=%v", rt.Pattern, role, got, allowed)
					}
				}
			}
		})
	}
}

func TestSecurityHeadersAndErrors(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	cl := c.clients[policy.Admin]
	for _, tc := range []struct {
		path   string
		status int
		text   string
	}{
		{"/", 200, "admin@centre.test"},
		{"/nowhere", 404, "no such page"},
		{"/lists/nope", 404, "o list named"},
		{"/enrol/not-a-token", 404, ""},
	} {
		resp, err := cl.Get(c.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.text) || !strings.Contains(string(body), "<html") {
			t.Errorf("%s: %d, want %d with %q: %.300s", tc.path, resp.StatusCode, tc.status, tc.text, body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: security headers missing: %v", tc.path, resp.Header)
		}
	}
	// A cross-site post is refused even with the session.
	req, _ := http.NewRequest("POST", c.url+"/users", strings.NewReader("email=a%40b.test&org=hotline&role=analyst"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", resp.StatusCode)
	}
	// The same post from the site itself works and shows the enrolment
	// link, and is in the audit trail.
	req, _ = http.NewRequest("POST", c.url+"/users", strings.NewReader("email=new%40hotline.test&org=hotline&role=analyst"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "http://ward.test/enrol/") {
		t.Errorf("adding a user: %d %s", resp.StatusCode, body[strings.Index(string(body), "<main"):])
	}
	entries, err := audit.NewLog(c.db, nil).Latest(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if !slices.Contains(actions, "user.add") || !slices.Contains(actions, "session.login") {
		t.Errorf("audit actions %v", actions)
	}
}

// TestDataScope: a provider's administrator manages its own organisation's
// users and keys only.
func TestDataScope(t *testing.T) {
	c := startConsole(t, storetest.OpenSQLite(t))
	cl := c.clients[policy.ProviderAdmin]
	post := func(path, form string) int {
		req, _ := http.NewRequest("POST", c.url+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/users", "email=x%40hotline.test&org=hotline&role=analyst"); got != http.StatusForbidden {
		t.Errorf("provider admin adding a hotline user: %d", got)
	}
	if got := post("/keys", "org=centre"); got != http.StatusForbidden {
		t.Errorf("provider admin creating a centre key: %d", got)
	}
	if got := post("/users", "email=second%40acme.test&org=acme&role=provider_admin"); got != http.StatusOK {
		t.Errorf("provider admin adding a colleague: %d", got)
	}
	resp, err := cl.Get(c.url + "/users")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "second@acme.test") || strings.Contains(string(body), "@centre.test") || strings.Contains(string(body), "@hotline.test") {
		t.Errorf("provider admin's user list shows other organisations: %s", body)
	}
}
