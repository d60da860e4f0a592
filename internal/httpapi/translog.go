package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/access/policy"
	"github.com/wardhq/ward/internal/access/ratelimit"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/indicator/translog"
)

// logRoutes serve the transparency logs (package translog) in the formats
// of C2SP tlog-checkpoint and tlog-tiles, each log below its prefix
// (/v1/lists/{list}/log, /v1/audit/log). Checkpoints, keys and hash tiles
// hold only hashes and need no key, limited per address by LogLimit; a
// list's entries (its hashes of material) need a key that may read the
// list's changes. The audit log's entries are checkpoints of the audit
// trail, hashes too, and public.
func (s *Server) logRoutes() []route {
	return []route{
		{"GET /v1/lists/{list}/log/checkpoint", noKey, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logCheckpoint(w, r, translog.ListLog(r.PathValue("list")))
		}},
		{"GET /v1/lists/{list}/log/key", noKey, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logKey(w, r, translog.ListLog(r.PathValue("list")))
		}},
		{"GET /v1/lists/{list}/log/tile/{path...}", noKey, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logTile(w, r, translog.ListLog(r.PathValue("list")), "tile/"+r.PathValue("path"), true)
		}},
		{"GET /v1/lists/{list}/log/tile/entries/{path...}", policy.ChangesRead, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logTile(w, r, translog.ListLog(r.PathValue("list")), "tile/entries/"+r.PathValue("path"), false)
		}},
		{"GET /v1/audit/log/checkpoint", noKey, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logCheckpoint(w, r, translog.AuditLog)
		}},
		{"GET /v1/audit/log/key", noKey, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logKey(w, r, translog.AuditLog)
		}},
		{"GET /v1/audit/log/tile/{path...}", noKey, func(w http.ResponseWriter, r *http.Request, _ org.Principal) error {
			return s.logTile(w, r, translog.AuditLog, "tile/"+r.PathValue("path"), true)
		}},
	}
}

// Cache lifetimes of the logs' answers. A full tile never changes; a
// checkpoint changes with every change of the list.
const (
	CheckpointMaxAge  = 5 * time.Second
	PartialTileMaxAge = time.Minute
	LogKeyMaxAge      = 24 * time.Hour
	fullTileMaxAge    = 365 * 24 * time.Hour
)

var errNoLog = core.Errorf(core.ErrUnavailable, "this server does not serve transparency logs")

// openLog checks that the logs are served and that the client is within
// its allowance of public requests.
func (s *Server) openLog(r *http.Request, public bool) error {
	if s.Log == nil {
		return errNoLog
	}
	if public && s.LogLimit != nil {
		if ok, wait := s.LogLimit.Allow(r.RemoteAddr); !ok {
			return &core.RetryAfter{Err: ratelimit.ErrLimited, Wait: wait}
		}
	}
	return nil
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.openLog(r, true); err != nil {
		return err
	}
	b, err := s.Log.Checkpoint(r.Context(), name)
	if err != nil {
		return err
	}
	return writeLog(w, "text/plain; charset=utf-8", cacheFor("public", CheckpointMaxAge, false), b)
}

func (s *Server) logKey(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.openLog(r, true); err != nil {
		return err
	}
	k, err := s.Log.VerifierKey(r.Context(), name)
	if err != nil {
		return err
	}
	return writeLog(w, "text/plain; charset=utf-8", cacheFor("public", LogKeyMaxAge, false), []byte(k))
}

// logTile serves the tile at path (below the log's prefix) of the named
// log; public says that the route needs no key, and that its answers may
// be kept by shared caches.
func (s *Server) logTile(w http.ResponseWriter, r *http.Request, name, path string, public bool) error {
	if err := s.openLog(r, public); err != nil {
		return err
	}
	t, err := translog.ParseTilePath(path)
	if err != nil {
		return err
	}
	b, err := s.Log.Tile(r.Context(), name, t)
	if err != nil {
		return err
	}
	scope := "public"
	if !public {
		scope = "private"
	}
	full := t.W == translog.TileWidth
	age := PartialTileMaxAge
	if full {
		age = fullTileMaxAge
	}
	return writeLog(w, "application/octet-stream", cacheFor(scope, age, full), b)
}

func cacheFor(scope string, age time.Duration, immutable bool) string {
	c := fmt.Sprintf("%s, max-age=%d", scope, int(age.Seconds()))
	if immutable {
		c += ", immutable"
	}
	return c
}

func writeLog(w http.ResponseWriter, contentType, cacheControl string, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(b)
	return err
}
