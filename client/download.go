package client

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ParseSigningKey reads the centre's signing key from PEM, as SigningKey
// gives it; an authority keeps it once checked, to trust no key a server
// sends later.
func ParseSigningKey(b []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(`not a PEM "PUBLIC KEY" block`)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	pub, ok := k.(ed25519.PublicKey)
	if err != nil || !ok {
		return nil, errors.New("not an Ed25519 public key")
	}
	return pub, nil
}

// DownloadReport downloads report id, routed to the caller's authority,
// checks the centre's signature with pub and that the package is report
// id's, and writes into dir ("" for a directory named after the report;
// created readable by its owner only): report.json, the package exactly
// as signed; report.sig, its signature; and each file of the report as
// file-INDEX-SHA256. It returns the package and the directory. Nothing is
// written unless the package verifies; a file is written under its name
// only once whole and the one the package describes.
func (c *Client) DownloadReport(ctx context.Context, id, dir string, pub ed25519.PublicKey) (*ReportPackage, string, error) {
	sp, err := c.LEAReport(ctx, id)
	if err != nil {
		return nil, "", err
	}
	p, err := VerifyPackage(pub, sp.Body, sp.Signature)
	if err != nil {
		return nil, "", fmt.Errorf("report %s: %w; nothing was written", id, err)
	}
	// The signature says the centre made the package, not that it is the
	// one asked for.
	if p.ReportID != id {
		return nil, "", fmt.Errorf("report %s: the server sent the package of report %q; nothing was written", id, p.ReportID)
	}
	if dir == "" {
		dir = filepath.Base(p.ReportID)
	}
	// The report is evidence and personal data: for its owner only.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	write := func(name string, b []byte) error {
		return os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	if err := write("report.json", sp.Body); err != nil {
		return nil, "", err
	}
	if err := write("report.sig", []byte(sp.Signature+"\n")); err != nil {
		return nil, "", err
	}
	for _, f := range p.Files {
		if err := c.downloadFile(ctx, id, dir, f); err != nil {
			return nil, "", err
		}
	}
	return p, dir, nil
}

// downloadFile downloads file f of report id into dir as
// file-INDEX-SHA256, through a temporary file renamed only once its size
// and SHA-256 are the package's.
func (c *Client) downloadFile(ctx context.Context, id, dir string, f PackageFile) error {
	name := fmt.Sprintf("file-%d-%s", f.Index, f.SHA256)
	if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 {
		return fmt.Errorf("report %s: file %d has SHA-256 %q, not a hex digest", id, f.Index, f.SHA256)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	err = c.LEAReportFile(ctx, id, f, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w; file %d was not written", err, f.Index)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}
