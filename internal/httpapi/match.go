package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/wardhq/ward/client"
	"github.com/wardhq/ward/internal/access/org"
	"github.com/wardhq/ward/internal/core"
	"github.com/wardhq/ward/internal/hashing/filehash"
	"github.com/wardhq/ward/internal/hashing/pdq"
	"github.com/wardhq/ward/internal/indicator"
	"github.com/wardhq/ward/internal/matching/matcher"
)

func (s *Server) match(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	if !s.Ready() {
		return errNotReady
	}
	var req client.MatchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	var errs fieldErrors
	q := s.query(req.Threshold, req.Dihedral, req.Lists, &errs)
	switch {
	case len(req.Items) == 0:
		errs.add("/items", fmt.Errorf("at least one item is needed"))
	case len(req.Items) > MaxItems:
		errs.add("/items", fmt.Errorf("at most %d items per request, got %d", MaxItems, len(req.Items)))
	}
	type parsed struct {
		hashes   [3]matcher.Item // of one piece of content: hashes[:n]
		n        int
		dihedral *pdq.Dihedral
	}
	items := make([]parsed, len(req.Items))
	for i, it := range req.Items {
		ptr := fmt.Sprintf("/items/%d", i)
		values := itemValues(it)
		if len(values) == 0 {
			errs.add(ptr, fmt.Errorf("an item has one or more of pdq, md5 and sha256, got none"))
			continue
		}
		for _, v := range values {
			mi, err := matcher.ParseItem(v.sig, v.value)
			if err != nil {
				errs.add(ptr+"/"+string(v.sig), err)
				continue
			}
			items[i].hashes[items[i].n] = mi
			items[i].n++
			if v.sig == indicator.PDQ && req.Dihedral {
				if items[i].dihedral, err = dihedralOf(mi.PDQ, it.Dihedral); err != nil {
					errs.add(ptr+"/dihedral", err)
				}
			}
		}
		if it.Dihedral != nil && !req.Dihedral {
			errs.add(ptr+"/dihedral", fmt.Errorf("variants given but \"dihedral\" is not true"))
		}
	}
	if err := errs.err(); err != nil {
		return err
	}
	resp := client.MatchResponse{Threshold: s.Matcher.Threshold(q), Results: make([]client.ItemResult, len(items))}
	var unverified []matcher.Match
	for i, it := range items {
		res, err := s.Matcher.MatchContent(q, it.dihedral, it.hashes[:it.n]...)
		if err != nil {
			return err
		}
		s.saw(p, it.hashes[:it.n], res.Matches)
		for _, m := range res.Matches {
			if m.Category == indicator.Unverified {
				unverified = append(unverified, m)
			}
		}
		resp.Results[i] = client.ItemResult{ID: req.Items[i].ID, Matches: WireMatches(res.Matches), SuppressedBy: WireSuppressions(res.SuppressedBy)}
	}
	// Recorded before the answer, so that a match the provider was told
	// of is counted in the person's case.
	if err := s.victimMatched(r.Context(), p, unverified); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

// query checks the options shared by both match endpoints. Without a
// threshold, each list is matched within its own.
func (s *Server) query(threshold *int, dihedral bool, lists []string, errs *fieldErrors) matcher.Query {
	q := matcher.Query{Threshold: matcher.ListThresholds, Dihedral: dihedral, Lists: lists}
	if threshold != nil {
		q.Threshold = *threshold
		if q.Threshold < 0 || q.Threshold > s.MaxThreshold {
			errs.add("/threshold", fmt.Errorf("threshold must be 0 to %d, got %d", s.MaxThreshold, q.Threshold))
		}
	}
	known := map[string]bool{}
	for _, l := range s.Matcher.Lists() {
		known[l] = true
	}
	for i, l := range lists {
		if !known[l] {
			errs.add(fmt.Sprintf("/lists/%d", i), fmt.Errorf("no list named %q", l))
		}
	}
	return q
}

type itemValue struct {
	sig   indicator.Signal
	value string
}

// itemValues returns the hashes an item carries, at most one of each
// signal type.
func itemValues(it client.Item) []itemValue {
	vs := make([]itemValue, 0, 3)
	for _, v := range []itemValue{{indicator.PDQ, it.PDQ}, {indicator.MD5, it.MD5}, {indicator.SHA256, it.SHA256}} {
		if v.value != "" {
			vs = append(vs, v)
		}
	}
	return vs
}

// dihedralOf assembles the 8 variants of a PDQ item. They cannot be derived
// from a hash, only from the image's DCT, so the caller sends them (as
// "ward hash --dihedral" prints them).
func dihedralOf(orig pdq.Hash, v *client.Dihedral) (*pdq.Dihedral, error) {
	if v == nil {
		return nil, fmt.Errorf("dihedral matching of a PDQ hash needs its 7 variants (rot90 … flipm, as \"ward hash --dihedral\" prints them); or upload the image to /v1/hash-match")
	}
	d := &pdq.Dihedral{Orig: orig}
	for _, f := range []struct {
		dst  *pdq.Hash
		name string
		v    string
	}{
		{&d.Rot90, "rot90", v.Rot90}, {&d.Rot180, "rot180", v.Rot180}, {&d.Rot270, "rot270", v.Rot270},
		{&d.FlipX, "flipx", v.FlipX}, {&d.FlipY, "flipy", v.FlipY}, {&d.FlipP, "flipp", v.FlipP}, {&d.FlipM, "flipm", v.FlipM},
	} {
		h, err := pdq.ParseHex(f.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = h
	}
	return d, nil
}

// hashMatch hashes an uploaded image in memory and matches its PDQ hash
// and digests. The image is neither stored nor logged.
func (s *Server) hashMatch(w http.ResponseWriter, r *http.Request, p org.Principal) error {
	if !s.Ready() {
		return errNotReady
	}
	var errs fieldErrors
	var threshold *int
	qv := r.URL.Query()
	if t := qv.Get("threshold"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			errs.add("/threshold", fmt.Errorf("threshold must be a whole number, got %q", t))
		}
		threshold = &n
	}
	dihedral := false
	if d := qv.Get("dihedral"); d != "" {
		var err error
		if dihedral, err = strconv.ParseBool(d); err != nil {
			errs.add("/dihedral", fmt.Errorf("dihedral must be true or false, got %q", d))
		}
	}
	q := s.query(threshold, dihedral, qv["list"], &errs)
	if err := errs.err(); err != nil {
		return err
	}
	release, err := s.holdBody(r, s.Images.MaxBytes, 1)
	if err != nil {
		return err
	}
	defer release()
	data, err := readImage(w, r, s.Images.MaxBytes)
	if err != nil {
		return err
	}
	res := filehash.Hash(r.Context(), data, filehash.Options{Dihedral: dihedral, Limits: s.Images, Budget: s.Decode})
	if res.Err != nil {
		return res.Err
	}
	items, err := matcher.FileItems(res.PDQ, res.MD5, res.SHA256)
	if err != nil {
		return err
	}
	all, err := s.Matcher.MatchContent(q, res.Dihedral, items...)
	if err != nil {
		return err
	}
	s.saw(p, items, all.Matches)
	if err := s.victimMatched(r.Context(), p, all.Matches); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, client.HashMatchResponse{
		PDQ: res.PDQ.String(), Quality: res.Quality, MD5: res.MD5, SHA256: res.SHA256,
		Width: res.Width, Height: res.Height, Threshold: s.Matcher.Threshold(q),
		Matches: WireMatches(all.Matches), SuppressedBy: WireSuppressions(all.SuppressedBy),
	})
}

func readImage(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, core.Errorf(core.ErrInvalid, "the request body is empty; send the image's bytes")
	}
	return data, nil
}

// WireSuppressions converts the matches of suppress lists to the API's
// form; nil for none.
func WireSuppressions(ms []matcher.Match) []client.Suppression {
	if len(ms) == 0 {
		return nil
	}
	out := make([]client.Suppression, len(ms))
	for i, m := range ms {
		out[i] = client.Suppression{Indicator: m.Indicator, List: m.List, Signal: string(m.Signal), Distance: m.Distance}
	}
	return out
}

// WireMatches converts matches to the API's form; never nil.
func WireMatches(ms []matcher.Match) []client.Match {
	out := make([]client.Match, len(ms))
	for i, m := range ms {
		out[i] = client.Match{
			Indicator: m.Indicator, List: m.List, Category: string(m.Category),
			Signal: string(m.Signal), Distance: m.Distance, Variant: m.Variant,
		}
	}
	return out
}
