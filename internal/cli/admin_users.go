package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardhq/ward/internal/access/auth"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/store"
)

func adminKeyList(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin key list", Args: "--org NAME"}
	var orgName string
	sf, rest, err := adminFlags(e, c, `Lists an organisation's API keys (never their secrets): ID, state
(active, expired or revoked), scopes and dates.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&orgName, "org", "", "`name` of the organisation")
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if err := requireFlags(e, c, "org", orgName); err != nil {
		return err
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		orgs := org.NewService(db)
		o, err := findOrg(ctx, orgs, orgName)
		if err != nil {
			return err
		}
		keys, err := orgs.Keys(ctx, o.ID)
		if err != nil {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tSCOPES\tCREATED\tEXPIRES\tREVOKED")
		for _, k := range keys {
			scopes := "all"
			if len(k.Scopes) > 0 {
				scopes = strings.Join(k.Scopes, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.State(now), scopes,
				k.CreatedAt.Format(time.DateTime), orDash(k.ExpiresAt), orDash(k.RevokedAt))
		}
		return tw.Flush()
	})
}

func orDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateTime)
}

func adminKeyRevoke(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin key revoke", Args: "KEYID"}
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, `Revokes an API key at once and for good: requests with it are refused from
now on. KEYID is the 16 hex digits after "ward_" in the key, as 'ward admin
key list' shows them.`,
		args, func(fs *flag.FlagSet) { kf = AddKeyFlags(fs) })
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give one KEYID")
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		if err := org.NewService(db).RevokeKey(ctx, rest[0]); err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, 0, "", "key.revoke", "key:"+rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "revoked API key %s\n", rest[0])
		return nil
	})
}

// withUsers opens the database and the keyring the flags name and runs fn
// with the user service.
func withUsers(ctx context.Context, sf *StoreFlags, kf *KeyFlags, fn func(db *store.DB, users *auth.Service) error) error {
	return withStore(ctx, sf, func(db *store.DB) error {
		sealer, err := kf.Sealer(ctx, db)
		if err != nil {
			return err
		}
		return fn(db, auth.NewService(db, sealer))
	})
}

// enrolLink is the console page where a user enrols with token.
func enrolLink(base, token string) string {
	return strings.TrimRight(base, "/") + "/enrol/" + token
}

// baseURLFlag registers --base-url. Without it, or WARD_BASE_URL, links
// point where "ward serve" listens: WARD_ADDR, or its default address.
func baseURLFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("WARD_BASE_URL")
	if def == "" {
		def = "http://" + EnvOr("WARD_ADDR", DefaultAddr)
	}
	return fs.String("base-url", def, "the console's external `URL`, for the enrolment link ($WARD_BASE_URL, else http://$WARD_ADDR)")
}

// printEnrolment tells how to hand the new user its link.
func printEnrolment(e *Env, u auth.User, link string) {
	fmt.Fprintln(e.Stdout, link)
	fmt.Fprintf(e.Stderr, `Added %s (%s of %q). Give them the link above, privately: it works
once, until %s, to set a password and an authenticator app (TOTP).
`, u.Email, u.Role, u.OrgName, u.CreatedAt.Add(auth.EnrolmentValidity).Format(time.RFC1123))
}

func adminUserAdd(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin user add", Args: "--org NAME --role ROLE [--base-url URL] EMAIL"}
	var orgName, role string
	var kf *KeyFlags
	var base *string
	sf, rest, err := adminFlags(e, c, `Adds a staff user to an organisation and prints a one-time enrolment link
for them. The role must fit the organisation's kind:

  admin           centre: manages users and API keys of every organisation
  analyst         centre or hotline: assesses material, attests indicators
  reviewer        centre: reviews reports and complaints
  lea_officer     lea or europol: reads the reports routed to the authority
  provider_admin  provider: manages its users and keys, reads its reports
  auditor         centre: reads the audit trail, changes nothing

Every user logs in with a password and a TOTP code.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&orgName, "org", "", "`name` of the organisation")
			fs.StringVar(&role, "role", "", "the user's `role`")
			base = baseURLFlag(fs)
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give one EMAIL")
	}
	if err := requireFlags(e, c, "org", orgName, "role", role); err != nil {
		return err
	}
	r, err := policy.ParseRole(role)
	if err != nil {
		return badUsage(e, c, "%v", err)
	}
	return withUsers(ctx, sf, kf, func(db *store.DB, users *auth.Service) error {
		if _, err := findOrg(ctx, org.NewService(db), orgName); err != nil {
			return err
		}
		u, token, err := users.AddUser(ctx, orgName, r, rest[0])
		if err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, u.OrgID, u.OrgName, "user.add", fmt.Sprintf("user:%d", u.ID)); err != nil {
			return err
		}
		printEnrolment(e, u, enrolLink(*base, token))
		return nil
	})
}

func adminUserList(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin user list", Args: "[--org NAME]"}
	var orgName string
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, `Lists the staff users, of one organisation or all. STATE is active,
enrolling or disabled. Lockouts after failed logins are not shown: each
'ward serve' keeps them in memory, per account and client address.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&orgName, "org", "", "list only this organisation's users (`name`)")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	return withUsers(ctx, sf, kf, func(db *store.DB, users *auth.Service) error {
		var orgID int64
		if orgName != "" {
			o, err := findOrg(ctx, org.NewService(db), orgName)
			if err != nil {
				return err
			}
			orgID = o.ID
		}
		list, err := users.Users(ctx, orgID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tORGANISATION\tROLE\tSTATE\tCREATED")
		for _, u := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.OrgName, u.Role, u.State(), u.CreatedAt.Format(time.DateTime))
		}
		return tw.Flush()
	})
}

func adminUserDisable(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin user disable", Args: "EMAIL"}
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, `Disables a staff user for good: their sessions end at once, and they can
no longer log in or enrol.`,
		args, func(fs *flag.FlagSet) { kf = AddKeyFlags(fs) })
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give one EMAIL")
	}
	return withUsers(ctx, sf, kf, func(db *store.DB, users *auth.Service) error {
		u, err := users.UserByEmail(ctx, rest[0])
		if err != nil {
			return err
		}
		if err := users.DisableUser(ctx, u.ID); err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, u.OrgID, u.OrgName, "user.disable", fmt.Sprintf("user:%d", u.ID)); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "disabled %s (%s of %q)\n", u.Email, u.Role, u.OrgName)
		return nil
	})
}

func adminInit(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin init", Args: "--email EMAIL [--org NAME] [--country CC] [--base-url URL]"}
	var email, orgName, country string
	var kf *KeyFlags
	var base *string
	sf, rest, err := adminFlags(e, c, `Sets up a new installation: creates the centre's organisation unless it
exists, and its first administrator, and prints the administrator's
one-time enrolment link. Open it in a browser to choose a password and set
up an authenticator app, then log in.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "e-mail `address` of the first administrator")
			fs.StringVar(&orgName, "org", "centre", "`name` of the centre's organisation")
			fs.StringVar(&country, "country", "BE", "ISO 3166-1 alpha-2 `code` of the centre's country")
			base = baseURLFlag(fs)
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if err := requireFlags(e, c, "email", email, "org", orgName); err != nil {
		return err
	}
	return withUsers(ctx, sf, kf, func(db *store.DB, users *auth.Service) error {
		u, token, created, err := users.AddFirstAdmin(ctx, org.NewService(db), orgName, country, email)
		if created != nil {
			fmt.Fprintf(e.Stderr, "Created the centre's organisation %q (%s).\n", created.Name, created.Country)
		}
		if err != nil {
			return err
		}
		if err := adminRecord(ctx, kf, db, u.OrgID, u.OrgName, "user.add", fmt.Sprintf("user:%d", u.ID)); err != nil {
			return err
		}
		printEnrolment(e, u, enrolLink(*base, token))
		return nil
	})
}

// adminRecord appends an audit entry for a change made with "ward admin",
// which acts on the database directly and so must record itself.
func adminRecord(ctx context.Context, kf *KeyFlags, db *store.DB, orgID int64, orgName, action, object string) error {
	l, err := kf.AuditLog(ctx, db)
	if err != nil {
		return err
	}
	_, err = l.Append(ctx, audit.Event{At: time.Now(), OrgID: orgID, OrgName: orgName, Actor: "admin-cli", Action: action, Object: object, Outcome: "ok"})
	return err
}
