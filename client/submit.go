package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Upload is the content of a report's item of kind file.
type Upload struct {
	Name    string // names the file in errors
	Content []byte
}

// FileItems returns the indexes of the items of kind file of report, a
// report in JSON (the API's ReportDraft). Only the items' kinds are read:
// the server checks the rest, and reports every error at once.
func FileItems(report []byte) ([]int, error) {
	var shape struct {
		Items []struct {
			Kind string `json:"kind"`
		} `json:"items"`
	}
	if err := json.Unmarshal(report, &shape); err != nil {
		return nil, err
	}
	var items []int
	for i, it := range shape.Items {
		if it.Kind == "file" {
			items = append(items, i)
		}
	}
	return items, nil
}

// SubmissionKey derives an idempotency key from a report and its files,
// so that the same submission has the same key.
func SubmissionKey(report []byte, files []Upload) string {
	h := sha256.New()
	h.Write([]byte("ward report submit\x00"))
	b := sha256.Sum256(report)
	h.Write(b[:])
	for _, f := range files {
		s := sha256.Sum256(f.Content)
		h.Write(s[:])
	}
	return "ward-cli-" + hex.EncodeToString(h.Sum(nil))
}

// SubmitReport submits report (JSON) with files, the contents of its
// items of kind file in order (FileItems), and returns its status: it is
// created with idempotency key key (SubmissionKey's if ""), its files are
// uploaded, and it is finished. Submitting the same again makes no second
// report: a submission cut short is completed, and a finished one is only
// returned.
func (c *Client) SubmitReport(ctx context.Context, report []byte, files []Upload, key string) (*ReportStatus, error) {
	items, err := FileItems(report)
	if err != nil {
		return nil, err
	}
	if len(items) != len(files) {
		return nil, fmt.Errorf("the report has %d items of kind file and %d files were given", len(items), len(files))
	}
	if key == "" {
		key = SubmissionKey(report, files)
	}
	st, err := c.CreateReport(ctx, json.RawMessage(report), key, len(files) == 0)
	if err != nil {
		return nil, err
	}
	// A report found finished or retracted is one this submission (or
	// another with the same key) has already taken past its draft.
	if st.State != ReportDraft {
		return st, nil
	}
	for i, idx := range items {
		if _, err := c.UploadReportFile(ctx, st.ID, idx, bytes.NewReader(files[i].Content)); err != nil {
			return nil, fmt.Errorf("uploading %s: %w", files[i].Name, err)
		}
	}
	return c.FinishReport(ctx, st.ID)
}
