package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wardhq/ward/internal/accountability/audit"
	"github.com/wardhq/ward/internal/platform/seal"
	"github.com/wardhq/ward/internal/platform/store"
)

// KeyFlags are the flags that locate Ward's two secrets kept outside the
// database: the keyring whose master keys seal personal data, and the key
// that signs audit checkpoints. Each defaults to a file in the --data
// directory, created on first use, which suits a trial; in production they
// belong elsewhere (another disk, a secrets manager), so that a copy of the
// data directory or database is not also a copy of the keys.
type KeyFlags struct {
	// fs holds the --data flag, and writes the notes about new keys.
	fs         *flag.FlagSet
	masterFile string
	auditFile  string
	logFile    string
	// checkpointFile is --audit-checkpoint-file, on the commands that
	// sign checkpoints (addCheckpointFileFlag).
	checkpointFile string
}

// AddCheckpointFileFlag registers --audit-checkpoint-file on the flag set
// of f, for the commands that sign checkpoints.
func (f *KeyFlags) AddCheckpointFileFlag() {
	f.fs.StringVar(&f.checkpointFile, "audit-checkpoint-file", "",
		"append-only `FILE` to which every signed audit checkpoint is also written, outside the database; default $WARD_AUDIT_CHECKPOINT_FILE, else audit.checkpoints beside the audit key")
}

// checkpointFilePath returns the checkpoint file named by flagValue, else
// by WARD_AUDIT_CHECKPOINT_FILE, else audit.checkpoints in the directory
// of the audit key at keyPath, and whether it is the last.
func checkpointFilePath(flagValue, keyPath string) (string, bool) {
	if flagValue != "" {
		return flagValue, false
	}
	if p := os.Getenv("WARD_AUDIT_CHECKPOINT_FILE"); p != "" {
		return p, false
	}
	return filepath.Join(filepath.Dir(keyPath), "audit.checkpoints"), true
}

// AddLogKeyFlag registers --log-key-file on the flag set of f, for the
// commands that sign the transparency logs' checkpoints.
func (f *KeyFlags) AddLogKeyFlag() {
	f.fs.StringVar(&f.logFile, "log-key-file", "",
		"`FILE` of the key that signs the transparency logs' checkpoints; default $WARD_LOG_KEY_FILE, else DIR/log.key of --data; created if missing")
}

// LogKey returns the transparency logs' signing key, created if missing.
func (f *KeyFlags) LogKey() (ed25519.PrivateKey, error) {
	path, inData := f.logFile, false
	if path == "" {
		path = os.Getenv("WARD_LOG_KEY_FILE")
	}
	if path == "" {
		path, inData = filepath.Join(dataDir(f.fs), "log.key"), true
	}
	if err := f.mkdirData(inData); err != nil {
		return nil, err
	}
	key, created, err := audit.LoadOrCreateSigningKey(path)
	if err != nil {
		return nil, err
	}
	if created {
		f.note(path, inData, "transparency log signing key", "--log-key-file or WARD_LOG_KEY_FILE",
			"providers, mirrors and witnesses know the lists' logs by its public key (GET /v1/lists/NAME/log/key)")
	}
	return key, nil
}

// AddKeyFlags registers --master-key-file and --audit-key-file on fs,
// which must have the store flags (--data) already.
func AddKeyFlags(fs *flag.FlagSet) *KeyFlags {
	f := &KeyFlags{fs: fs}
	fs.StringVar(&f.masterFile, "master-key-file", "",
		"keyring `FILE` of the master keys that seal personal data; default $WARD_MASTER_KEY (the keyring's text), else DIR/master.keys of --data; created if missing")
	fs.StringVar(&f.auditFile, "audit-key-file", "",
		"`FILE` of the key that signs audit checkpoints; default $WARD_AUDIT_KEY_FILE, else DIR/audit.key of --data; created if missing")
	return f
}

// dataDir is the --data directory.
func dataDir(flags *flag.FlagSet) string {
	d := flags.Lookup("data")
	if d == nil {
		panic("key flags without the store flags")
	}
	return d.Value.String()
}

// auditKeyPath returns the file of the audit signing key, and whether it
// is the default one in the data directory.
func (f *KeyFlags) auditKeyPath() (string, bool) {
	return auditKeyPath(f.fs, f.auditFile)
}

// auditKeyPath returns the file named by flagValue, else by
// WARD_AUDIT_KEY_FILE, else audit.key in the data directory, and whether
// it is the last.
func auditKeyPath(flags *flag.FlagSet, flagValue string) (string, bool) {
	if flagValue != "" {
		return flagValue, false
	}
	if p := os.Getenv("WARD_AUDIT_KEY_FILE"); p != "" {
		return p, false
	}
	return filepath.Join(dataDir(flags), "audit.key"), true
}

// keyring returns the keyring and the file it is kept in, or "" if it
// comes from WARD_MASTER_KEY. A missing file is created if create is set.
func (f *KeyFlags) keyring(create bool) (*seal.Keyring, string, error) {
	if f.masterFile == "" {
		if text := os.Getenv("WARD_MASTER_KEY"); text != "" {
			k, err := seal.KeyringFromString(text)
			if err != nil {
				return nil, "", fmt.Errorf("WARD_MASTER_KEY: %w", err)
			}
			return k, "", nil
		}
	}
	path, inData := f.masterFile, false
	if path == "" {
		path, inData = filepath.Join(dataDir(f.fs), "master.keys"), true
	}
	k, err := seal.LoadKeyring(path)
	if !errors.Is(err, os.ErrNotExist) || !create {
		return k, path, err
	}
	if err := f.mkdirData(inData); err != nil {
		return nil, "", err
	}
	if k, err = seal.CreateKeyringFile(path); err != nil {
		return nil, "", err
	}
	f.note(path, inData, "keyring", "--master-key-file or WARD_MASTER_KEY",
		"without it nothing sealed in the database can be read")
	return k, path, nil
}

// SigningKey returns the audit signing key, created if missing.
func (f *KeyFlags) SigningKey() (ed25519.PrivateKey, error) {
	path, inData := f.auditKeyPath()
	if err := f.mkdirData(inData); err != nil {
		return nil, err
	}
	key, created, err := audit.LoadOrCreateSigningKey(path)
	if err != nil {
		return nil, err
	}
	if created {
		f.note(path, inData, "audit signing key", "--audit-key-file or WARD_AUDIT_KEY_FILE",
			"auditors check the trail's checkpoints with its public key (ward admin audit pubkey)")
	}
	return key, nil
}

// mkdirData creates the data directory for a key kept there.
func (f *KeyFlags) mkdirData(inData bool) error {
	if !inData {
		return nil
	}
	if err := os.MkdirAll(dataDir(f.fs), 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	return nil
}

// note tells the operator that a key file was created.
func (f *KeyFlags) note(path string, inData bool, what, flags, why string) {
	w := f.fs.Output()
	fmt.Fprintf(w, "ward: created a new %s in %s; back it up: %s.\n", what, path, why)
	if inData {
		fmt.Fprintf(w, "ward: in production, keep it outside the data directory (%s), so that a copy of the data is not a copy of the key.\n", flags)
	}
}

// Sealer returns a Sealer on db with the keyring the flags name, created
// if missing, after checking that it holds every master key the database's
// data keys need.
func (f *KeyFlags) Sealer(ctx context.Context, db *store.DB) (*seal.Sealer, error) {
	k, path, err := f.keyring(true)
	if err != nil {
		return nil, err
	}
	s := seal.NewSealer(k, db)
	if err := s.Check(ctx); err != nil {
		if path == "" {
			path = "WARD_MASTER_KEY"
		}
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	return s, nil
}

// AuditLog returns the audit Log on db, signing checkpoints with the key
// the flags name, created if missing, after checking that the key signed
// the checkpoints already in the database: a new key in a mistyped path
// would otherwise sign checkpoints that auditors cannot check. Its
// checkpoints are also appended to the checkpoint file.
func (f *KeyFlags) AuditLog(ctx context.Context, db *store.DB) (*audit.Log, error) {
	key, err := f.SigningKey()
	if err != nil {
		return nil, err
	}
	cps, err := db.AuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(cps); n > 0 && !cps[n-1].Valid(key.Public().(ed25519.PublicKey)) {
		path, _ := f.auditKeyPath()
		return nil, fmt.Errorf("the audit key in %s did not sign the audit checkpoints in the database (the last at seq %d, %s): is it the right key file?",
			path, cps[n-1].Seq, cps[n-1].At.Format(time.RFC3339))
	}
	l := audit.NewLog(db, key)
	keyPath, _ := f.auditKeyPath()
	l.CheckpointFile, _ = checkpointFilePath(f.checkpointFile, keyPath)
	return l, nil
}
