package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Outside names the checkpoints kept outside the database that Verify
// checks a trail against, so that rewriting the database alone is caught.
type Outside struct {
	// Printed is a file of checkpoints as MarshalText writes them, or "".
	Printed string
	// Files are checkpoint files that servers append to
	// (AppendCheckpointFile); if there are none, Default is read, and
	// its absence only noted: a trail without checkpoints yet, or files
	// kept elsewhere.
	Files   []string
	Default string
}

// Load returns the checkpoints of o, and notes for the auditor about what
// was skipped. A checkpoint in a file not signed by pub is an error.
func (o Outside) Load(pub ed25519.PublicKey) ([]Checkpoint, []string, error) {
	var known []Checkpoint
	if o.Printed != "" {
		b, err := os.ReadFile(o.Printed)
		if err != nil {
			return nil, nil, err
		}
		if known, err = ParseCheckpoints(b); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.Printed, err)
		}
	}
	files, isDefault := o.Files, len(o.Files) == 0
	if isDefault {
		files = []string{o.Default}
	}
	var notes []string
	for _, p := range files {
		cf, err := ReadCheckpointFile(p, pub)
		if errors.Is(err, os.ErrNotExist) && isDefault {
			notes = append(notes, fmt.Sprintf("no checkpoint file %s: only the database's checkpoints were checked (give the servers' files with --audit-checkpoint-file)", p))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for _, n := range cf.Damaged {
			notes = append(notes, fmt.Sprintf("%s line %d: not a checkpoint (a write torn by a crash?): skipped", p, n))
		}
		known = append(known, cf.Checkpoints...)
	}
	return known, notes, nil
}

// Text is r for an auditor: the problems, one a line, or a line saying
// that the trail is intact and how far checkpoints cover it.
func (r Report) Text() string {
	var b strings.Builder
	if !r.OK() {
		for _, p := range r.Problems {
			fmt.Fprintln(&b, p)
		}
		if r.More > 0 {
			fmt.Fprintf(&b, "... and %d more problems\n", r.More)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "audit trail intact: %s", nounCount(int(r.Entries), "entry"))
	cp := r.LastCheckpoint
	if cp == nil {
		b.WriteString("; no signed checkpoint yet: make one with 'ward admin audit checkpoint'\n")
		return b.String()
	}
	fmt.Fprintf(&b, ", last checkpoint at seq %d signed %s", cp.Seq, cp.At.Format(time.DateTime+" MST"))
	switch uncovered := r.Last.Seq - cp.Seq; {
	case uncovered == 1:
		fmt.Fprintf(&b, "; entry %d is not covered by a checkpoint yet", r.Last.Seq)
	case uncovered > 1:
		fmt.Fprintf(&b, "; entries %d-%d are not covered by a checkpoint yet", cp.Seq+1, r.Last.Seq)
	}
	b.WriteString("\n")
	return b.String()
}

// Err is nil if r found no problem, else an error that counts them.
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("the audit trail has been tampered with: %s in %s (listed above)",
		nounCount(len(r.Problems)+r.More, "problem"), nounCount(int(r.Entries), "entry"))
}

// nounCount returns "1 entry", "2 entries", "0 problems".
func nounCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if base, ok := strings.CutSuffix(noun, "y"); ok {
		return fmt.Sprintf("%d %sies", n, base)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
