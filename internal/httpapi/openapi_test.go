package httpapi_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/platform/store/storetest"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes fails when a route is added without being
// documented, or documentation describes a route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadSpec(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	routes := (&httpapi.Server{}).Patterns()
	sort.Strings(documented)
	sort.Strings(routes)
	if strings.Join(documented, "\n") != strings.Join(routes, "\n") {
		t.Errorf("routes and docs/openapi.yaml differ:\nroutes:\n  %s\ndocumented:\n  %s",
			strings.Join(routes, "\n  "), strings.Join(documented, "\n  "))
	}
}

// TestResponsesMatchSchemas sends real requests and validates the answers
// (success and error alike) against the document.
func TestResponsesMatchSchemas(t *testing.T) {
	doc := loadSpec(t)
	doc.Servers = nil // match any host
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, storetest.OpenSQLite(t), true)
	prov, hot, nl, centre := e.keys["provider"], e.keys["hotline-de"], e.keys["hotline-nl"], e.keys["centre"]
	pdqHex := "f8f870eee0f4a84f0637022a078f67f0b36e2ed596221e1d33e6339c4e9c9b22"
	// A suppress list with one active MD5, for an answer that says what
	// suppressed an item.
	stockMD5 := "ffeeddccbbaa99887766554433221100"
	if _, err := indicator.NewService(e.db).CreateList(t.Context(), indicator.List{Name: "stock", Kind: indicator.SuppressList,
		Policy: indicator.Policy{MinAttestations: 1}, MaxDistance: 31, Threshold: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client(t, "hotline-de").Submit(t.Context(), client.SubmitRequest{List: "stock",
		Items: []client.Submission{{Type: "md5", Value: stockMD5, Category: "baseline"}}}); err != nil {
		t.Fatal(err)
	}
	e.poll(t)
	for _, tc := range []struct{ method, path, key, body string }{
		{"GET", "/livez", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/v1/lists", prov, ""},
		{"GET", "/v1/lists/known/changes?after=0&limit=10", hot, ""},
		{"POST", "/v1/indicators", hot, `{"list":"known","items":[{"type":"pdq","value":"` + pdqHex + `","category":"A1","reference":"r"}]}`},
		{"GET", "/v1/indicators/1", hot, ""},
		{"POST", "/v1/indicators", nl, `{"list":"known","items":[{"type":"pdq","value":"` + pdqHex + `","category":"A1"}]}`},
		{"POST", "/v1/match-feedback", prov, `{"indicator":1,"verdict":"false_positive","note":"a logo"}`},
		{"POST", "/v1/match-feedback", prov, `{"indicator":1,"verdict":"maybe"}`},
		{"POST", "/v1/match-feedback", prov, `{"indicator":99,"verdict":"confirmed"}`},
		{"POST", "/v1/indicators/1/quarantine", centre, `{"reason":"looks wrong"}`},
		{"GET", "/v1/quarantine?limit=1", centre, ""},
		{"GET", "/v1/quarantine/1", centre, ""},
		{"POST", "/v1/quarantine/1/confirm", centre, `{"note":"checked"}`},
		{"POST", "/v1/quarantine/1/withdraw", centre, `{"reason":"not quarantined"}`},
		{"GET", "/v1/quarantine", prov, ""},
		{"POST", "/v1/match", prov, `{"items":[{"pdq":"` + pdqHex + `"},{"md5":"00112233445566778899aabbccddeeff"}]}`},
		{"POST", "/v1/match", prov, `{"items":[{"pdq":"xyz"}]}`},
		{"POST", "/v1/match", prov, `{"items":[{"pdq":"` + pdqHex + `","md5":"` + stockMD5 + `"}],"threshold":20}`},
		{"POST", "/v1/indicators/1/withdraw", hot, `{"reason":"test"}`},
		{"POST", "/v1/indicators/1/withdraw", prov, `{"reason":"test"}`},
		{"GET", "/v1/lists/nope/changes", prov, ""},
		{"POST", "/v1/public/complaints", "", `{"provider":"provider","reference":"R-1","description":"removed wrongly"}`},
		{"POST", "/v1/public/complaints", "", `{"provider":"nobody","reference":"","description":""}`},
		{"GET", "/v1/public/complaints/AAAA-AAAA-AAAA-AAAA", "not-the-secret", ""},
		{"POST", "/v1/complaints", prov, `{"reference":"R-2","description":"on the user's behalf","contact":"user@example.org"}`},
		{"GET", "/v1/complaints?limit=10", prov, ""},
		{"GET", "/v1/complaints/AAAA-AAAA-AAAA-AAAA", prov, ""},
		{"GET", "/v1/public/statistics", "", ""},
		{"POST", "/v1/public/victim-cases", "", `{"hashes":[{"signal":"md5","value":"0123456789abcdef0123456789abcdef"}],"contact":"me@example.org"}`},
		{"POST", "/v1/public/victim-cases", "", `{"hashes":[{"signal":"sha1","value":"00"}]}`},
		{"GET", "/v1/public/victim-cases/VAAA-AAAA-AAAA-AAAA", "not-the-secret", ""},
		{"POST", "/v1/public/victim-cases/VAAA-AAAA-AAAA-AAAA/hashes", "not-the-secret", `{"hashes":[{"signal":"md5","value":"0123456789abcdef0123456789abcdef"}]}`},
		{"DELETE", "/v1/public/victim-cases/VAAA-AAAA-AAAA-AAAA/hashes/1", "not-the-secret", ""},
		{"DELETE", "/v1/public/victim-cases/VAAA-AAAA-AAAA-AAAA/hashes", "", ""},
		{"GET", "/v1/public/help-services?country=BE&language=fr", "", ""},
		{"GET", "/v1/public/help-services?country=Belgium", "", ""},
		{"GET", "/v1/public/statistics?from=2026-01-01&to=2025-12-31", "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.url+tc.path, strings.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("not in the document: %v", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: resp.Body,
				Options: &openapi3filter.Options{IncludeResponseStatus: true},
			})
			if err != nil {
				t.Errorf("status %d: response does not match the document: %v", resp.StatusCode, err)
			}
		})
	}
}
