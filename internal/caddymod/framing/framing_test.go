package framing

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

const (
	get     = "GET / HTTP/1.1\r\nHost: hub\r\n\r\n"
	clPost  = "POST /a HTTP/1.1\r\nHost: hub\r\nContent-Length: 5\r\n\r\nhello"
	chunked = "POST /b HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
	both    = "POST /c HTTP/1.1\r\nHost: hub\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
)

// feed runs a stream through a tracker in pieces of size step.
func feed(stream string, step int) (string, bool) {
	var t Tracker
	var out []byte
	for i := 0; i < len(stream); i += step {
		o, refused := t.Feed([]byte(stream[i:min(i+step, len(stream))]))
		out = append(out, o...)
		if refused {
			return string(out), true
		}
	}
	return string(out), false
}

func TestTracker(t *testing.T) {
	cases := []struct {
		name, stream, out string
		refused           bool
	}{
		{"keep-alive requests pass whole", get + clPost + chunked + get, get + clPost + chunked + get, false},
		{"an incomplete head is held back", clPost + "GET / HTTP/1.1\r\nHo", clPost, false},
		{"both fields: refused at its head", get + both + get, get, true},
		{"both fields, after a chunked body", chunked + both, chunked, true},
		{"both fields, names in other case", "POST / HTTP/1.1\r\ncontent-length: 3\r\nTRANSFER-ENCODING: chunked\r\n\r\n", "", true},
		{"both fields, Transfer-Encoding folded", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", "", true},
		{"both fields in HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "", true},
		{"a smuggled head inside a body is body", inBody + get, inBody + get, false},
		{"a smuggled head inside a chunk is body", inChunk + get, inChunk + get, false},
		{"HTTP/2 preface: not tracked", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + both, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + both, false},
		{"bad chunk size: left to Go", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + both,
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + both, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{1, 2, 7, 1 << 20} {
				out, refused := feed(tc.stream, step)
				if out != tc.out || refused != tc.refused {
					t.Fatalf("pieces of %d: out %q refused %v; want %q %v", step, out, refused, tc.out, tc.refused)
				}
			}
		})
	}
}

var (
	inBody  = fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", len(both), both)
	inChunk = fmt.Sprintf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(both), both)
)

// FuzzTracker: whatever the stream and however it is split, the tracker
// releases a prefix of it, the same prefix for every split, and never
// panics.
func FuzzTracker(f *testing.F) {
	for _, s := range []string{get, clPost, chunked, both, get + both, chunked + clPost, "PRI * HTTP/2.0\r\n\r\n"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		whole, r1 := feed(string(stream), len(stream)+1)
		split, r2 := feed(string(stream), int(step)+1)
		if !strings.HasPrefix(string(stream), whole) {
			t.Fatalf("released bytes are not a prefix of the stream")
		}
		if whole != split || r1 != r2 {
			t.Fatalf("splitting changed the result: %q/%v vs %q/%v", whole, r1, split, r2)
		}
		if r1 && !bytes.Contains(stream, []byte("\r\n\r\n")) {
			t.Fatal("refused without a complete head")
		}
	})
}
