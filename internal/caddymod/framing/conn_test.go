package framing

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// serve runs Go's server behind the wrapper on loopback.
func serve(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d", r.URL.Path, len(b))
	})}
	go srv.Serve((&Wrapper{}).WrapListener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestConnBehindGoServer: Go's own server, without the wrapper, would
// read the request as chunked and keep the connection; behind it the
// request gets 400 and the connection closes, while the requests before
// it are answered and sized and chunked requests keep the connection.
func TestConnBehindGoServer(t *testing.T) {
	addr := serve(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	read := func() (*http.Response, string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	fmt.Fprint(conn, clPost, chunked, both, get)
	if resp, body := read(); resp.StatusCode != 200 || body != "/a 5" {
		t.Fatalf("sized: %s %q", resp.Status, body)
	}
	if resp, body := read(); resp.StatusCode != 200 || body != "/b 5" {
		t.Fatalf("chunked: %s %q", resp.Status, body)
	}
	resp, _ := read()
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("both: %s close %v, want 400 and close", resp.Status, resp.Close)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("the request after the refused one was answered: %q", rest)
	}
}
