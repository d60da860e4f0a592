package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wardhq/ward/client"
)

// TestComplaintsServe: the server takes complaints: a person files one
// about a provider by name with no key and reads its status with the
// secret; the provider files one for a person with its key and lists the
// complaints about its removals, not the person's words.
func TestComplaintsServe(t *testing.T) {
	db := []string{"--data", t.TempDir()}
	admin := adminOn(t, db)
	admin("init", "--email", "admin@centre.test", "--country", "BE")
	admin("org", "add", "--name", "acme", "--kind", "provider", "--country", "IE")
	key := strings.TrimSpace(admin("key", "create", "--org", "acme"))
	base := startServe(t, db, "--complaint-deadline", "3d")
	ctx := context.Background()
	public, err := client.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := public.FileComplaint(ctx, client.ComplaintRequest{Provider: "acme", Reference: "ticket 17",
		Description: "My drawing was removed.", Contact: "me@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.DueAt.Sub(rc.ReceivedAt).Hours(); got != 72 || rc.Resolved != nil {
		t.Errorf("receipt %+v: want due in 72h (--complaint-deadline 3d), and no word to the public of whether the reference resolved", rc)
	}
	st, err := public.ComplaintStatus(ctx, rc.Case, rc.Secret)
	if err != nil || st.State != "open" {
		t.Errorf("status %+v, %v", st, err)
	}
	var p *client.Problem
	if _, err := public.ComplaintStatus(ctx, rc.Case, "guess"); !errors.As(err, &p) || p.Status != 404 {
		t.Errorf("a wrong secret: %v, want 404", err)
	}
	if _, err := public.FileComplaint(ctx, client.ComplaintRequest{Provider: "nobody", Reference: "r", Description: "d"}); !errors.As(err, &p) ||
		p.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Pointer != "/provider" || !strings.Contains(p.Errors[0].Detail, "registered") {
		t.Errorf("an unknown provider: %v, want 400 saying it is not registered", err)
	}
	acme, err := client.New(base, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acme.SubmitComplaint(ctx, client.ComplaintRequest{Reference: "ticket 18", Description: "The user objects."}); err != nil {
		t.Fatal(err)
	}
	page, err := acme.Complaints(ctx, client.ComplaintsOptions{State: "open"})
	if err != nil || len(page.Complaints) != 2 {
		t.Fatalf("the provider's complaints: %+v, %v", page, err)
	}
	for _, c := range page.Complaints {
		if c.FiledByYou != (c.Reference == "ticket 18") || c.Reinstate {
			t.Errorf("complaint %+v", c)
		}
	}
}
