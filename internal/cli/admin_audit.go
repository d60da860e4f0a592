package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
)

// The audit trail and key commands of "ward admin"; see adminSubcommands.

func adminAuditVerify(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin audit verify", Args: "[--key-file FILE] [--audit-checkpoint-file FILE]... [--checkpoints FILE]"}
	var (
		keyFile, cpFile string
		cpFiles         fileList
		fs              *flag.FlagSet
	)
	sf, rest, err := adminFlags(e, c, `Verifies the audit trail: recomputes its hash chain from the first entry and
checks it against the chain head and every signed checkpoint. Lists each
entry found edited, deleted, inserted or reordered, entries missing from the
end, and a chain recomputed since a checkpoint, and then exits with status 1.

--key-file is the public key (from 'ward admin audit pubkey') or the signing
key itself; an auditor needs only the public key.

The checkpoints are read from the database and from the checkpoint file that
'ward serve' and 'ward admin audit checkpoint' append to, outside the
database (--audit-checkpoint-file, by default audit.checkpoints beside the
audit key): a trail shorter than a checkpoint in it, or whose hash at its seq
differs, fails even if the database's checkpoints, entries and head were all
deleted or rewritten. Nodes sharing a database each keep their own file:
give each with --audit-checkpoint-file (repeatable). A line torn by a crash
is reported and skipped; a checkpoint not signed by the key fails.
--checkpoints is a file of checkpoints as 'ward admin audit checkpoint'
prints them, kept elsewhere.`,
		args, func(f *flag.FlagSet) {
			fs = f
			f.StringVar(&keyFile, "key-file", "",
				"`FILE` of the key that checks checkpoints; default $WARD_AUDIT_KEY_FILE, else DIR/audit.key of --data")
			f.Var(&cpFiles, "audit-checkpoint-file",
				"checkpoint `FILE` written by a server (repeatable); default $WARD_AUDIT_CHECKPOINT_FILE, else audit.checkpoints beside the audit key")
			f.StringVar(&cpFile, "checkpoints", "", "`FILE` of checkpoints as 'ward admin audit checkpoint' prints them")
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	path, _ := auditKeyPath(fs, keyFile)
	pub, err := audit.LoadPublicKey(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no audit key in %s: give the public key from 'ward admin audit pubkey' with --key-file", path)
	}
	if err != nil {
		return err
	}
	outside := audit.Outside{Printed: cpFile, Files: cpFiles}
	outside.Default, _ = checkpointFilePath("", path)
	known, notes, err := outside.Load(pub)
	if err != nil {
		return err
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		r, err := audit.Verify(ctx, db, pub, known...)
		if err != nil {
			return err
		}
		for _, n := range notes {
			fmt.Fprintln(e.Stderr, "ward: "+n)
		}
		fmt.Fprint(e.Stdout, r.Text())
		return r.Err()
	})
}

// fileList is a repeatable flag of file names.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ", ") }

func (l *fileList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

func adminAuditExport(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin audit export", Args: "[--format csv|jsonl] [--since T] [--until T] [--action A] [--purpose TEXT]"}
	var format, since, until, action, purpose string
	sf, rest, err := adminFlags(e, c, `Writes the audit trail on standard output, oldest entry first: as CSV with
a header line (for spreadsheets) or as JSON lines. Both include each entry's
hashes, so that a copy can be checked later. Times T are RFC 3339
(2026-05-01T12:00:00Z) or dates (2026-05-01, midnight UTC). The export is
itself recorded in the trail, with --purpose.`,
		args, func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "csv", "`format`: csv or jsonl")
			fs.StringVar(&since, "since", "", "only entries at or after `T`")
			fs.StringVar(&until, "until", "", "only entries before `T`")
			fs.StringVar(&action, "action", "", "only entries of this `action`, such as report.view")
			fs.StringVar(&purpose, "purpose", "", "why the trail is exported, recorded with the export")
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	if format != "csv" && format != "jsonl" {
		return badUsage(e, c, "--format must be csv or jsonl")
	}
	f := audit.Filter{Action: action}
	for _, t := range []struct {
		name, value string
		to          *time.Time
	}{{"since", since, &f.Since}, {"until", until, &f.Until}} {
		if t.value == "" {
			continue
		}
		if *t.to, err = parseTime(t.value); err != nil {
			return badUsage(e, c, "--%s: %v", t.name, err)
		}
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		l := audit.NewLog(db, nil)
		err := l.Export(ctx, e.Stdout, f, format)
		outcome := audit.OK
		if err != nil {
			outcome = audit.Failed
		}
		// Reading the trail is an access like any other.
		_, aerr := l.Append(ctx, audit.Event{Actor: audit.AdminCLI, Action: "audit.export", Purpose: purpose, Outcome: outcome})
		return errors.Join(err, aerr)
	})
}

// parseTime reads an RFC 3339 time or a date.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

func adminAuditCheckpoint(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin audit checkpoint", Args: "[--audit-key-file FILE] [--audit-checkpoint-file FILE]"}
	var kf *KeyFlags
	sf, rest, err := adminFlags(e, c, `Signs the audit trail's current head (its number of entries and last hash)
with the audit signing key, stores the checkpoint in the database, appends it
to the checkpoint file outside it (--audit-checkpoint-file, by default
audit.checkpoints beside the audit key, as 'ward serve' does every minute),
and prints it. From then on, 'ward admin audit verify' detects any change to
the entries it covers, even by someone who recomputes the whole chain or
deletes it, checkpoints included, unless they hold the key or can write to
the checkpoint file.

The printed checkpoint can also be kept elsewhere (for example
'ward admin audit checkpoint >> /secure/place/audit.copy') and given to
'ward admin audit verify --checkpoints'.`,
		args, func(fs *flag.FlagSet) { kf = AddKeyFlags(fs); kf.AddCheckpointFileFlag() })
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		l, err := kf.AuditLog(ctx, db)
		if err != nil {
			return err
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			return err
		}
		text, _ := cp.MarshalText()
		if _, err := e.Stdout.Write(text); err != nil {
			return err
		}
		fmt.Fprintf(e.Stderr, "signed checkpoint at seq %d at %s, appended to %s\n", cp.Seq, cp.At.Format(time.DateTime+" MST"), l.CheckpointFile)
		return nil
	})
}

func adminAuditPubkey(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin audit pubkey", Args: "[--audit-key-file FILE]"}
	var kf *KeyFlags
	_, rest, err := adminFlags(e, c, `Prints the public key of the audit signing key (PEM, as OpenSSL writes it),
creating the key if there is none. Give it to auditors: with it,
'ward admin audit verify --key-file FILE' checks the signed checkpoints.`,
		args, func(fs *flag.FlagSet) { kf = AddKeyFlags(fs) })
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	key, err := kf.SigningKey()
	if err != nil {
		return err
	}
	_, err = e.Stdout.Write(audit.MarshalPublicKey(key.Public().(ed25519.PublicKey)))
	return err
}

func adminKeysRotate(ctx context.Context, e *Env, args []string) error {
	c := &Command{Name: "admin keys rotate", Args: "[--master-key-file FILE] [--rewrap-only]"}
	var (
		kf         *KeyFlags
		rewrapOnly bool
	)
	sf, rest, err := adminFlags(e, c, `Adds a new master key to the keyring file and re-wraps every data key with
it. Sealed records are not re-encrypted, so this takes time in proportion to
their number, not their size. The keyring is saved before anything is
re-wrapped; if re-wrapping is interrupted, run again with --rewrap-only.

Servers read the keyring when they start: restart them with the new file.
Data keys they sealed meanwhile with the old master key are re-wrapped by
running with --rewrap-only afterwards. An old master key can be removed from
the file once no data key needs it (this command says so) and no backup of
the database from before the rotation will be restored.`,
		args, func(fs *flag.FlagSet) {
			kf = AddKeyFlags(fs)
			fs.BoolVar(&rewrapOnly, "rewrap-only", false, "add no master key: only re-wrap the data keys not yet under the current one")
		})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(e, c, "unexpected argument %q", rest[0])
	}
	k, path, err := kf.keyring(false)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no keyring in %s: nothing has been sealed with it yet", path)
	}
	if err != nil {
		return err
	}
	if path == "" {
		return fmt.Errorf("the keyring comes from WARD_MASTER_KEY, which this command cannot change: write it to a file, rotate with --master-key-file FILE, and set the variable to the file's new contents")
	}
	return withStore(ctx, sf, func(db *store.DB) error {
		// The Sealer must use k itself, which is about to gain the new key.
		s := seal.NewSealer(k, db)
		if err := s.Check(ctx); err != nil {
			return fmt.Errorf("keyring %s: %w", path, err)
		}
		if !rewrapOnly {
			v := k.Rotate()
			if err := k.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "added master key %s to %s\n", v, path)
		}
		current := k.Current()
		n, err := s.RotateDataKeys(ctx)
		if err != nil {
			return fmt.Errorf("%w\n%d data keys were re-wrapped; run 'ward admin keys rotate --rewrap-only' to finish", err, n)
		}
		fmt.Fprintf(e.Stdout, "re-wrapped %d data keys with master key %s\n", n, current)
		if _, err := audit.NewLog(db, nil).Append(ctx, audit.Event{
			Actor: audit.AdminCLI, Action: "keys.rotate", Object: "master_key:" + current, Outcome: audit.OK,
		}); err != nil {
			return err
		}

		use, err := s.KeyUse(ctx)
		if err != nil {
			return err
		}
		if len(use.ByVersion) == 0 {
			use.ByVersion = []string{"none"}
		}
		fmt.Fprintf(e.Stdout, "data keys by master key: %s\n", strings.Join(use.ByVersion, ", "))
		if use.Older > 0 {
			fmt.Fprintf(e.Stdout, "%d data keys were sealed under an older master key meanwhile (by a server with the old keyring?): restart the servers with the new keyring and run 'ward admin keys rotate --rewrap-only'\n", use.Older)
		} else if len(use.Unused) > 0 {
			fmt.Fprintf(e.Stdout, "no data key needs master keys %s any more: they can be removed from %s once no backup of the database made before now will be restored\n",
				strings.Join(use.Unused, ", "), path)
		}
		return nil
	})
}
