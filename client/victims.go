package client

import "time"

// VictimHash is a hash a person sends of an image of themselves: signal
// "pdq", "md5" or "sha256" and its hex value.
type VictimHash struct {
	Signal string `json:"signal"`
	Value  string `json:"value"`
}

// VictimCaseRequest opens a victim's case: the body of POST
// /v1/public/victim-cases. Contact is an optional e-mail address or phone
// number, sealed; nothing else about the person is asked.
type VictimCaseRequest struct {
	Hashes  []VictimHash `json:"hashes"`
	Contact string       `json:"contact,omitempty"`
}

// VictimHashesRequest adds hashes to a case: the body of POST
// /v1/public/victim-cases/{case}/hashes.
type VictimHashesRequest struct {
	Hashes []VictimHash `json:"hashes"`
}

// VictimCaseHash is a hash of a case. State is "active", "quarantined"
// (out of matching while the centre reviews providers' verdicts),
// "withdrawn", or, only while the list could not be reached, "pending".
type VictimCaseHash struct {
	ID          int64     `json:"id"`
	Signal      string    `json:"signal"`
	Value       string    `json:"value"`
	State       string    `json:"state"`
	AddedAt     time.Time `json:"added_at"`
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"`
	// Note says, of a hash withdrawn from the list by the centre (not by
	// the case), that it is not matched and cannot come back.
	Note string `json:"note,omitempty"`
}

// VictimCounts are what was found of a case's hashes not withdrawn:
// numbers, never where.
type VictimCounts struct {
	Hashes           int `json:"hashes"`
	Withdrawn        int `json:"withdrawn"`
	ProviderMatches  int `json:"provider_matches"`
	WebMatches       int `json:"web_matches"`
	NoticesSent      int `json:"notices_sent"`
	RemovalsVerified int `json:"removals_verified"`
}

// VictimCase is a case's status: GET /v1/public/victim-cases/{case}.
type VictimCase struct {
	Case     string           `json:"case"`
	OpenedAt time.Time        `json:"opened_at"`
	Hashes   []VictimCaseHash `json:"hashes"`
	Counts   VictimCounts     `json:"counts"`
}

// VictimReceipt answers the opening of a case: its status, the secret
// (shown this once) and where the person follows it.
type VictimReceipt struct {
	VictimCase
	Secret    string `json:"secret"`
	StatusURL string `json:"status_url"`
}

// HelpService is a support service for victims in the centre's directory.
type HelpService struct {
	ID       int64  `json:"id"`
	Country  string `json:"country"`
	Language string `json:"language"`
	Name     string `json:"name"`
	URL      string `json:"url,omitempty"`
	Phone    string `json:"phone,omitempty"`
}

// HelpServices answers GET /v1/public/help-services.
type HelpServices struct {
	Services []HelpService `json:"services"`
}
