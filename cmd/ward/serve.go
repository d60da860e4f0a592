package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/wardhq/ward/docs"
	"github.com/wardhq/ward/internal/httpapi"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matcher"
	"github.com/wardhq/ward/internal/media"
	"github.com/wardhq/ward/internal/org"
)

const serveArgs = "[--addr HOST:PORT] [--data DIR | --database URL] [--demo]"

var serveCommand = &command{
	name:    "serve",
	args:    serveArgs,
	summary: "run the server: match API, indicator lists, change feeds",
	run:     runServe,
}

const serveHelp = `Runs Ward's server. Data is kept in an embedded SQLite database under --data
(created on first start) or in PostgreSQL with --database (or WARD_DATABASE_URL).
Migrations run at start. The match index is loaded from the database, then kept
current from the lists' change feeds; /readyz answers 200 once it is loaded.

--demo also creates two demo hotlines (in different countries), a demo provider
with a new API key (printed), and a few indicators of benign generated images,
written as PNG files to DATA/demo so that they can be matched at once.

Environment: WARD_ADDR, WARD_DATABASE_URL.`

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, &command{name: "serve", args: serveArgs}, serveHelp)
	addr := fs.String("addr", envOr("WARD_ADDR", "127.0.0.1:8080"), "address to listen on")
	demo := fs.Bool("demo", false, "seed demo organisations, a provider key and demo indicators")
	maxThreshold := fs.Int("max-threshold", 64, "largest PDQ threshold a request may ask for")
	poll := fs.Duration("poll", 250*time.Millisecond, "how often the change feeds are read into the match index")
	sf := addStoreFlags(fs)
	if rest, err := parseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	if *maxThreshold < 0 || *maxThreshold > 128 {
		return fmt.Errorf("%w: --max-threshold must be 0 to 128", errUsage)
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))

	db, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	orgs := org.NewService(db)
	inds := indicator.NewService(db)
	var demoKey, demoImage string
	if *demo {
		if demoKey, demoImage, err = seedDemo(ctx, e, orgs, inds, sf.demoDir()); err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
	}

	m := matcher.New()
	follower := matcher.NewFollower(m, inds)
	api := &httpapi.Server{
		Orgs: orgs, Indicators: inds, Matcher: m, Ready: follower.Ready, Logger: log,
		MaxThreshold: *maxThreshold, Images: media.DefaultLimits, OpenAPI: docs.OpenAPI,
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads of large images on slow links
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "database", sf.describe())
	fmt.Fprintf(e.stderr, "ward: serving on http://%s\n", ln.Addr())
	if *demo {
		fmt.Fprintf(e.stderr, "ward: demo provider key (shown once): %s\nward: try: go run ./cmd/ward match --server http://%s --key %s %s\n",
			demoKey, ln.Addr(), demoKey, demoImage)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loaded := make(chan error, 1)
	go func() {
		start := time.Now()
		err := follower.Load(ctx)
		if err == nil {
			log.Info("match index loaded", "seconds", time.Since(start).Seconds())
			go follower.Run(ctx, *poll, func(err error) { log.Error("following the change feeds", "err", err) })
		}
		loaded <- err
	}()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-loaded:
		if err != nil {
			srv.Close()
			return fmt.Errorf("loading the match index: %w", err)
		}
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, done := context.WithTimeout(context.Background(), 20*time.Second)
	defer done()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
