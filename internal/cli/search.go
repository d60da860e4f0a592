package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/store"
	"github.com/wardhq/ward/internal/takedown/search"
)

// searchService opens the centre's search of db, its changes audited
// through the key flags' audit trail.
func searchService(ctx context.Context, kf *KeyFlags, db *store.DB) (*search.Service, error) {
	l, err := kf.AuditLog(ctx, db)
	if err != nil {
		return nil, err
	}
	return search.New(db.Search(), search.Options{Audit: l}), nil
}

// parseEvery reads --every: a Go duration (12h) or a number of days (7d).
func parseEvery(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is neither days (7d) nor a duration (12h)", s)
}

func describePlace(p search.Place) string {
	pages := "pages"
	if p.MaxPages == 1 {
		pages = "page"
	}
	return fmt.Sprintf("%s, depth %d, at most %d %s, every %s", p.URL, p.Depth, p.MaxPages, pages, every(p.Every))
}

// every says d as --every takes it: 7d, 12h, 90m.
func every(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return d.String()
}

func adminSearchAdd(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin search add", Args: "URL --depth N --max-pages M [--every DURATION]"}
	var (
		kf           *KeyFlags
		depth, pages int
		everyFlag    string
	)
	sf, rest, err := adminFlags(e, c, fmt.Sprintf(`Adds a place to the centre's search: "ward serve" fetches URL, and the pages
it links to on the same host name down to --depth links from it (0: the page
and what it embeds only; at most %d), at most --max-pages pages a run (1 to
%d), every --every (%s to %s; default %s), the first time at once. Every page
is fetched with what it embeds and every resource matched against every list,
victim-reported included; a page where something matched becomes a takedown
case, which an analyst assesses before any notice. Prints the place's ID. The
change is recorded in the audit trail.`, search.MaxDepth, search.MaxPages, every(search.MinEvery), every(search.MaxEvery),
		every(search.DefaultEvery)),
		args, func(fs *flag.FlagSet) {
			fs.IntVar(&depth, "depth", -1, "links followed from URL, 0 to 5 (required)")
			fs.IntVar(&pages, "max-pages", 0, "pages fetched per run, at most, 1 to 10000 (required)")
			fs.StringVar(&everyFlag, "every", every(search.DefaultEvery), "how often the place is searched: a duration (12h) or days (7d)")
			kf = AddKeyFlags(fs)
		})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return badUsage(e, c, "give the place's URL")
	}
	if depth == -1 || pages == 0 {
		return badUsage(e, c, "--depth and --max-pages are required")
	}
	d, err := parseEvery(everyFlag)
	if err != nil {
		return badUsage(e, c, "--every: %v", err)
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		s, err := searchService(ctx, kf, db)
		if err != nil {
			return err
		}
		p, err := s.Add(ctx, audit.AdminCLI, search.NewPlace{URL: rest[0], Depth: depth, MaxPages: pages, Every: d})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "search place %d: %s\n", p.ID, describePlace(p))
		return nil
	})
}

func adminSearchList(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin search list"}
	sf, rest, err := adminFlags(e, c, `Lists the places of the centre's search, with their next run and the figures
of their last: when it started and finished (or "running", or "stopped" if it
ended without finishing), the pages fetched, the resources hashed, those that
matched a list, the takedown cases opened (not counting those already open),
and why it stopped early, if it did.`, args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		ps, err := search.New(db.Search(), search.Options{}).Places(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tURL\tDEPTH\tMAX PAGES\tEVERY\tNEXT RUN\tLAST STARTED\tLAST FINISHED\tPAGES\tRESOURCES\tMATCHES\tCASES\tERROR")
		for _, p := range ps {
			started, finished := "never", "-"
			if r := p.Last; !r.StartedAt.IsZero() {
				started, finished = r.StartedAt.Format(time.RFC3339), "running or stopped"
				if !r.FinishedAt.IsZero() {
					finished = r.FinishedAt.Format(time.RFC3339)
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", p.ID, p.URL, p.Depth, p.MaxPages, every(p.Every),
				p.NextRunAt.Format(time.RFC3339), started, finished, p.Last.Pages, p.Last.Resources, p.Last.Matches, p.Last.Cases,
				orNone(p.Last.Error))
		}
		return tw.Flush()
	})
}

// placeID reads the ID argument of search remove and run.
func placeID(e *Env, c *Command, rest []string) (int64, error) {
	if len(rest) != 1 {
		return 0, badUsage(e, c, "give the place's ID (see 'ward admin search list')")
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, badUsage(e, c, "the place's ID is a number, not %q", rest[0])
	}
	return id, nil
}

func adminSearchRemove(ctx context.Context, e *Env, args []string) error {
	return adminSearchPlace(ctx, e, args, "admin search remove", `Removes place ID from the centre's search: it is not searched again (a run
under way finishes). The takedown cases it found stay. The change is recorded
in the audit trail.`, (*search.Service).Remove, "search place %d removed\n")
}

func adminSearchRun(ctx context.Context, e *Env, args []string) error {
	return adminSearchPlace(ctx, e, args, "admin search run", `Makes place ID of the centre's search due now: "ward serve" runs it at once
(unless a run of it is queued already), and its next run comes its interval
later. The request is recorded in the audit trail.`, (*search.Service).RunNow, "search place %d queued to run\n")
}

// adminSearchPlace runs a command that does one thing to one place: do, as
// the operator, then prints done with the place's ID.
func adminSearchPlace(ctx context.Context, e *Env, args []string, name, help string,
	do func(*search.Service, context.Context, string, int64) error, done string) error {
	c := &Command{Name: name, Args: "ID"}
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, help, args, func(fs *flag.FlagSet) { kf = AddKeyFlags(fs) })
	if err != nil {
		return err
	}
	id, err := placeID(e, c, rest)
	if err != nil {
		return err
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		s, err := searchService(ctx, kf, db)
		if err != nil {
			return err
		}
		if err := do(s, ctx, audit.AdminCLI, id); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, done, id)
		return nil
	})
}
