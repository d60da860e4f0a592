package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/victim"
)

// The directory of help services for victims, which the page /help/remove
// and GET /v1/public/help-services show.

func adminHelpServiceAdd(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin help-service add", Args: "--country CC --language xx --name NAME [--url URL] [--phone PHONE]"}
	var h victim.HelpService
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, `Adds a support service for victims to the centre's directory: the page
/help/remove shows it to people of its country, those in its language first,
and GET /v1/public/help-services serves it to providers to show. Give an
https:// URL or a phone number, or both. The change is audited.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&h.Country, "country", "", "ISO 3166-1 alpha-2 `code` of the country it serves, such as BE")
			fs.StringVar(&h.Language, "language", "", "ISO 639-1 `code` of the language it answers in, such as fr")
			fs.StringVar(&h.Name, "name", "", "the service's `name`")
			fs.StringVar(&h.URL, "url", "", "its https:// `URL`")
			fs.StringVar(&h.Phone, "phone", "", "its phone `number`, such as +32 2 475 44 11")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if err := requireFlags(e, c, "country", h.Country, "language", h.Language, "name", h.Name); err != nil {
		return err
	}
	if h.URL == "" && h.Phone == "" {
		return badUsage(e, c, "give --url or --phone, or both")
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		l, err := kf.AuditLog(ctx, db)
		if err != nil {
			return err
		}
		h, err := victim.New(db.Victims(), nil, victim.Options{Audit: l}).AddHelpService(ctx, audit.AdminCLI, h)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "added help service %d: %s (%s/%s)\n", h.ID, h.Name, h.Country, h.Language)
		return nil
	})
}

func adminHelpServiceList(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin help-service list"}
	sf, rest, err := adminFlags(e, c, "Lists the directory of help services, by country, language and name.", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		hs, err := victim.New(db.Victims(), nil, victim.Options{}).AllHelpServices(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCOUNTRY\tLANGUAGE\tNAME\tURL\tPHONE")
		for _, h := range hs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Country, h.Language, h.Name, orNone(h.URL), orNone(h.Phone))
		}
		return tw.Flush()
	})
}

func adminHelpServiceRemove(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin help-service remove", Args: "ID"}
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, "Removes a help service from the directory, by the ID 'ward admin help-service list' shows. The change is audited.",
		args, func(fs *flag.FlagSet) { kf = AddKeyFlags(fs) })
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give the help service's ID")
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil || id < 1 {
		return badUsage(e, c, "the ID must be a number, as 'ward admin help-service list' shows, not %q", rest[0])
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		l, err := kf.AuditLog(ctx, db)
		if err != nil {
			return err
		}
		h, err := victim.New(db.Victims(), nil, victim.Options{Audit: l}).RemoveHelpService(ctx, audit.AdminCLI, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "removed help service %d: %s (%s/%s)\n", h.ID, h.Name, h.Country, h.Language)
		return nil
	})
}
