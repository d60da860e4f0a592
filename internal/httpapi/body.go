package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wardhq/ward/internal/hashing/media"
)

// holdBody reserves in s.Bodies the memory that a request body of at most
// limit bytes takes while it is read and used, copies times its size (an
// uploaded file is also sealed into segments as large), before a byte of
// it is read: by its Content-Length if it has one, else by the limit. The
// caller must call the returned function once it no longer holds the body.
// When the budget stays full the answer is ErrBusy (503, Retry-After).
func (s *Server) holdBody(r *http.Request, limit, copies int64) (release func(), err error) {
	if s.Bodies == nil {
		return func() {}, nil
	}
	n := limit
	if r.ContentLength >= 0 {
		n = min(n, r.ContentLength)
	}
	release, err = s.Bodies.Acquire(r.Context(), copies*n)
	switch {
	case errors.Is(err, media.ErrBusy):
		return nil, fmt.Errorf("the server is receiving other uploads; try again shortly: %w", media.ErrBusy)
	case errors.Is(err, media.ErrTooLarge):
		return nil, fmt.Errorf("a request body of %d bytes would take more than the server's memory for request bodies: %w", n, media.ErrTooLarge)
	}
	return release, err
}
