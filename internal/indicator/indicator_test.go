package indicator

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/core"
)

func TestNormalizeValue(t *testing.T) {
	pdq := strings.Repeat("ab", 32)
	good := []struct {
		sig      Signal
		in, want string
	}{
		{PDQ, pdq, pdq},
		{PDQ, strings.ToUpper(pdq), pdq},
		{PDQ, " " + pdq + "\t", pdq},
		{MD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"},
		{SHA256, strings.Repeat("0", 63) + "1", strings.Repeat("0", 63) + "1"},
		{SHA256, strings.Repeat("0", 64), strings.Repeat("0", 64)}, // only PDQ refuses zero
		{MD5, strings.Repeat("0", 32), strings.Repeat("0", 32)},
	}
	for _, g := range good {
		if got, err := NormalizeValue(g.sig, g.in); err != nil || got != g.want {
			t.Errorf("NormalizeValue(%s, %q) = %q, %v; want %q", g.sig, g.in, got, err, g.want)
		}
	}
	bad := []struct {
		sig Signal
		in  string
	}{
		{PDQ, pdq[:63]},
		{PDQ, pdq + "a"},
		{PDQ, strings.Repeat("0", 64)},
		{PDQ, strings.Repeat("g", 64)},
		{PDQ, strings.Repeat("é", 32)},
		{MD5, pdq},
		{SHA256, pdq[:32]},
		{"phash", pdq},
		{PDQ, ""},
	}
	for _, b := range bad {
		if got, err := NormalizeValue(b.sig, b.in); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("NormalizeValue(%s, %q) = %q, %v; want ErrInvalid", b.sig, b.in, got, err)
		}
	}
}

func TestParseCategoryAndSignal(t *testing.T) {
	for in, want := range map[string]Category{"A1": A1, "a2": A2, " b1 ": B1, "B2": B2, "Baseline": Baseline, "NATIONAL": National} {
		if got, err := ParseCategory(in); err != nil || got != want {
			t.Errorf("ParseCategory(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "A3", "C", "base line"} {
		if _, err := ParseCategory(in); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseCategory(%q) = %v, want ErrInvalid", in, err)
		}
	}
	for in, want := range map[string]Signal{"pdq": PDQ, "PDQ": PDQ, "md5": MD5, "Sha256": SHA256} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "sha1", "tmk"} {
		if _, err := ParseSignal(in); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParseSignal(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestSubmissionNormalize(t *testing.T) {
	s := Submission{Signal: "MD5", Value: strings.Repeat("F", 32), Category: "b2", Reference: "  case 12 "}
	got, err := s.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if got != (Submission{Signal: MD5, Value: strings.Repeat("f", 32), Category: B2, Reference: "case 12"}) {
		t.Errorf("normalized %+v", got)
	}
	s.Reference = strings.Repeat("é", 200) // characters, not bytes
	if _, err := s.Normalize(); err != nil {
		t.Errorf("200-character reference: %v", err)
	}
	for _, ref := range []string{strings.Repeat("x", 201), "a\nb", "\xff"} {
		s.Reference = ref
		if _, err := s.Normalize(); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("reference %q: %v, want ErrInvalid", ref, err)
		}
	}
}

func TestPolicySatisfied(t *testing.T) {
	tests := []struct {
		p               Policy
		orgs, countries int
		want            bool
	}{
		{DefaultPolicy, 1, 1, false},
		{DefaultPolicy, 2, 1, false},
		{DefaultPolicy, 2, 2, true},
		{DefaultPolicy, 5, 1, false},
		{Policy{MinAttestations: 2}, 2, 1, true},
		{Policy{MinAttestations: 3, DistinctCountries: true}, 3, 2, false},
		{Policy{MinAttestations: 3, DistinctCountries: true}, 4, 3, true},
		{Policy{MinAttestations: 1, DistinctCountries: true}, 1, 1, true},
	}
	for _, tt := range tests {
		if got := tt.p.Satisfied(tt.orgs, tt.countries); got != tt.want {
			t.Errorf("%+v.Satisfied(%d, %d) = %v", tt.p, tt.orgs, tt.countries, got)
		}
	}
}

func TestListValidate(t *testing.T) {
	ok := List{Name: "known", Policy: DefaultPolicy, Kind: MatchList, MaxDistance: DefaultMaxDistance, Threshold: DefaultThreshold}
	for _, l := range []List{ok, {Name: "stock", Policy: DefaultPolicy, Kind: SuppressList, MaxDistance: 10, Threshold: 10}} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	for _, l := range []List{
		{Name: "", Policy: DefaultPolicy, Kind: MatchList},
		{Name: "Known", Policy: DefaultPolicy},
		{Name: "-x", Policy: DefaultPolicy},
		{Name: "a b", Policy: DefaultPolicy},
		{Name: strings.Repeat("a", 64), Policy: DefaultPolicy},
		{Name: "x", Policy: Policy{MinAttestations: 0}},
		{Name: "x", Policy: Policy{MinAttestations: 21}},
		{Name: "x", Policy: DefaultPolicy, Kind: MatchList, MaxDistance: -1},
		{Name: "x", Policy: DefaultPolicy, Kind: MatchList, MaxDistance: 129, Threshold: 31},
		{Name: "x", Policy: DefaultPolicy, Kind: "allow"},
		{Name: "x", Policy: DefaultPolicy},
		{Name: "x", Policy: DefaultPolicy, Kind: MatchList, MaxDistance: 31, Threshold: 32},
		{Name: "x", Policy: DefaultPolicy, Kind: SuppressList, MaxDistance: 31, Threshold: -1},
	} {
		if err := l.Validate(); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", l, err)
		}
	}
	for _, s := range []string{"match", " Suppress "} {
		if _, err := ParseListKind(s); err != nil {
			t.Errorf("ParseListKind(%q): %v", s, err)
		}
	}
	if _, err := ParseListKind("allow"); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("ParseListKind(allow): %v", err)
	}
}
