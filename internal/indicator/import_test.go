package indicator

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wardhq/ward/internal/core"
)

var (
	hexA = strings.Repeat("a", 64)
	hexB = strings.Repeat("b", 64)
	md5C = strings.Repeat("c", 32)
)

// parse describes what ParseImport yields, a line each: "LINE signal value
// category reference" or "error LINE: message" or "fatal: message".
func parse(text string) string {
	var out []string
	for row, err := range ParseImport(strings.NewReader(text)) {
		var re *RowError
		switch {
		case errors.As(err, &re):
			out = append(out, fmt.Sprintf("error %v", re))
		case err != nil:
			out = append(out, fmt.Sprintf("fatal: %v", err))
		default:
			out = append(out, fmt.Sprintf("%d %s %s %s %q", row.Line, row.Signal, row.Value[:4], row.Category, row.Reference))
		}
	}
	return strings.Join(out, "\n")
}

func TestParseImport(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{{
		"csv without header",
		"pdq," + hexA + ",A1,ref 1\nmd5," + md5C + ",B2\n",
		"1 pdq aaaa A1 \"ref 1\"\n2 md5 cccc B2 \"\"",
	}, {
		"tsv with header, comments, blank lines, CRLF and BOM",
		"\xef\xbb\xbf# exported 2025-01-01\r\ntype\tvalue\tcategory\treference\r\n\r\n" +
			"PDQ\t" + strings.ToUpper(hexA) + "\tbaseline\tcase, with comma\r\n   \r\n# done\r\n",
		"4 pdq aaaa baseline \"case, with comma\"",
	}, {
		"header in another order without reference",
		"Category,Value,Type\nA2," + hexB + ",sha256\n",
		"2 sha256 bbbb A2 \"\"",
	}, {
		"quoted csv",
		"type,value,category,reference\npdq," + hexA + ",A1,\"a \"\"quoted\"\", ref\"\npdq," + hexB + ",A1,\"two\nlines\"\nmd5," + md5C + ",A1,x\n",
		"2 pdq aaaa A1 \"a \\\"quoted\\\", ref\"\nerror line 3: reference contains a control character\n5 md5 cccc A1 \"x\"",
	}, {
		"invalid rows keep their line numbers",
		"pdq," + hexA + ",A1\npdq,xyz,A1\n\nmd5," + hexA + ",A1\npdq," + hexB + ",Z9\nsha1," + hexA + ",A1\npdq," + hexB + "\npdq," + hexB + ",A1,r,extra\npdq," + hexB + ",A1\n",
		"1 pdq aaaa A1 \"\"\n" +
			"error line 2: a pdq value is 64 hex digits, got 3 characters\n" +
			"error line 4: a md5 value is 32 hex digits, got 64 characters\n" +
			"error line 5: unknown category \"Z9\" (want A1, A2, B1, B2, baseline or national)\n" +
			"error line 6: unknown signal type \"sha1\" (want pdq, md5 or sha256)\n" +
			"error line 7: 2 columns, want type, value, category and optionally reference\n" +
			"error line 8: 5 columns, want type, value, category and optionally reference\n" +
			"9 pdq bbbb A1 \"\"",
	}, {
		"header fixes the column count",
		"type\tvalue\tcategory\npdq\t" + hexA + "\tA1\tref\n",
		"error line 2: 4 columns, the header has 3",
	}, {
		"bad header",
		"type,value,hash\npdq," + hexA + ",A1\n",
		"error line 1: unknown column \"hash\" in header (want type, value, category, reference)\n" +
			"error line 2: the header line is invalid",
	}, {
		"header without category",
		"type,value\n",
		"error line 1: header has no \"category\" column",
	}, {
		"bare quote",
		"pdq," + hexA + ",A1,a\"b\npdq," + hexB + ",A1\n",
		"error line 1: bare \" in non-quoted-field\n2 pdq bbbb A1 \"\"",
	}, {
		"empty",
		"",
		"",
	}, {
		"only comments",
		"# nothing\n\n",
		"",
	}}
	for _, tt := range tests {
		if got := parse(tt.in); got != tt.want {
			t.Errorf("%s:\n got: %s\nwant: %s", tt.name, got, tt.want)
		}
	}
}

func TestParseImportLongLine(t *testing.T) {
	in := "pdq\t" + hexA + "\tA1\tok\npdq\t" + hexB + "\tA1\t" + strings.Repeat("x", 2<<20) + "\n"
	got := parse(in)
	if !strings.HasPrefix(got, "1 pdq aaaa A1 \"ok\"\nfatal: reading import:") {
		t.Errorf("got %.200s", got)
	}
}

func TestParseImportReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("pdq,"+hexA+",A1\n"), iotest.ErrReader(errors.New("disk on fire")))
	var errs []error
	rows := 0
	for _, err := range ParseImport(r) {
		if err != nil {
			errs = append(errs, err)
		} else {
			rows++
		}
	}
	if rows != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "disk on fire") {
		t.Errorf("rows %d errors %v", rows, errs)
	}
}

func TestCheckImport(t *testing.T) {
	var b strings.Builder
	for i := range 250 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "pdq,%064x,A1\n", i+1)
		} else {
			b.WriteString("pdq,nothex,A1\n")
		}
	}
	n, err := CheckImport(strings.NewReader(b.String()))
	var re *RowErrors
	if !errors.As(err, &re) || !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("CheckImport: %v", err)
	}
	if n != 250 || re.Total != 125 || len(re.Errs) != MaxRowErrors || re.Errs[0].Line != 2 || re.Errs[99].Line != 200 {
		t.Errorf("rows %d, %d invalid, %d described, first line %d", n, re.Total, len(re.Errs), re.Errs[0].Line)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "125 invalid rows:\nline 2: a pdq value") || !strings.HasSuffix(msg, "\n... and 25 more") {
		t.Errorf("message %q...%q", msg[:50], msg[len(msg)-30:])
	}
	if n, err := CheckImport(strings.NewReader("pdq," + hexA + ",A1\n")); n != 1 || err != nil {
		t.Errorf("valid file: %d, %v", n, err)
	}
}

func ExampleParseImport() {
	file := `# type, value, category, reference
pdq,f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,A1,HL-2025-17
md5,D41D8CD98F00B204E9800998ECF8427E,baseline,HL-2025-18
sha256,not-a-hash,A1,HL-2025-19
`
	for row, err := range ParseImport(strings.NewReader(file)) {
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(row.Line, row.Signal, row.Value, row.Category, row.Reference)
	}
	// Output:
	// 2 pdq f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22 A1 HL-2025-17
	// 3 md5 d41d8cd98f00b204e9800998ecf8427e baseline HL-2025-18
	// line 4: a sha256 value is 64 hex digits, got 10 characters
}

func BenchmarkParseImport(b *testing.B) {
	var sb strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&sb, "pdq\t%064x\tA1\tcase %d\n", i+1, i)
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		n := 0
		for _, err := range ParseImport(strings.NewReader(text)) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100000 {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(100000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
