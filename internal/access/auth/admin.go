package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/core"
)

// State is "active", "enrolling" (not enrolled yet) or "disabled".
func (u User) State() string {
	switch {
	case !u.DisabledAt.IsZero():
		return "disabled"
	case !u.Enrolled:
		return "enrolling"
	}
	return "active"
}

// AddFirstAdmin sets up an installation: it creates the centre's
// organisation orgName in country unless it exists (created says so), and
// adds its first administrator, returning the user and their enrolment
// token. It refuses a centre that has an administrator already.
func (s *Service) AddFirstAdmin(ctx context.Context, orgs *org.Service, orgName, country, email string) (u User, token string, created *org.Organisation, err error) {
	o, err := orgs.ByName(ctx, orgName)
	if errors.Is(err, core.ErrNotFound) {
		if o, err = orgs.Create(ctx, orgName, org.Centre, country); err == nil {
			created = &o
		}
	}
	if err != nil {
		return User{}, "", created, err
	}
	if o.Kind != org.Centre {
		return User{}, "", created, fmt.Errorf("%q is a %s organisation, not the centre; name the centre's with --org", o.Name, o.Kind)
	}
	existing, err := s.Users(ctx, o.ID)
	if err != nil {
		return User{}, "", created, err
	}
	for _, u := range existing {
		if u.Role == policy.Admin && u.DisabledAt.IsZero() {
			return User{}, "", created, fmt.Errorf("%q has an administrator already (%s); add more users with 'ward admin user add'", o.Name, u.Email)
		}
	}
	u, token, err = s.AddUser(ctx, o.Name, policy.Admin, email)
	return u, token, created, err
}
