// Package victim is the centre's service to the people shown in abuse
// material and those helping them (CSA Regulation proposal Arts 20, 21
// and 49): they hash their images on their own device (the page
// /help/remove, Ward's own hashing compiled to WebAssembly), the hashes
// enter the unverified list victim-reported, and a case they follow with
// its number and secret counts what was found at providers and on the
// web, the notices sent and the removals verified. The centre also keeps
// the directory of help services shown to them.
package victim

// HelpService is a support service for victims, in the directory the
// centre keeps, shown to people of its country and language.
type HelpService struct {
	ID       int64  `json:"id"`
	Country  string `json:"country"`  // ISO 3166-1 alpha-2, upper case
	Language string `json:"language"` // ISO 639-1, lower case
	Name     string `json:"name"`
	URL      string `json:"url,omitzero"`
	Phone    string `json:"phone,omitzero"`
}
