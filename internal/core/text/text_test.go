package text

import "testing"

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"plain", true}, {"tab\tand\nnewline\r\n", true}, {"é 日本 🙂", true},
		{"nul\x00", false}, {"bad \xff utf-8", false}, {"\x01", false}, {"bell\a", false},
		{"lone\rcr", false}, {"cr at end\r", false}, {"del\x7f", false}, {"c1\u0085", false},
		{"rlo\u202e", false}, {"lre\u202a", false}, {"isolate\u2066", false}, {"pdi\u2069", false},
		{"zwj\u200d is fine", true},
	} {
		if err := Check(tc.in); (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}
