package clamav_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/clamav"
	"github.com/hubkit/hubkit/internal/clamav/clamdtest"
)

// TestScanRealClamd runs every verdict path against a real clamd.
func TestScanRealClamd(t *testing.T) {
	srv := clamdtest.Start(t, clamdtest.Options{StreamMaxLength: 1 << 20})
	c := srv.Client
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	tests := []struct {
		name      string
		data      []byte
		clean     bool
		signature string
	}{
		{"eicar", []byte(clamdtest.EICAR), false, clamdtest.Signature},
		{"eicar inside other data", append(append(bytes.Repeat([]byte("a"), 100_000), clamdtest.EICAR...), "tail"...), false, clamdtest.Signature},
		{"clean text", []byte("Referat af møde om sag 2026-0042.\n"), true, ""},
		{"clean binary over several chunks", bytes.Repeat([]byte{0, 1, 2, 3, 250}, 60_000), true, ""},
		{"empty", nil, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Scan(ctx, bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if res.Clean != tc.clean || res.Signature != tc.signature {
				t.Fatalf("Scan = %+v, want clean=%v signature=%q", res, tc.clean, tc.signature)
			}
		})
	}

	t.Run("stream over StreamMaxLength is an error, not clean", func(t *testing.T) {
		res, err := c.Scan(ctx, bytes.NewReader(make([]byte, 3<<20)))
		if !errors.Is(err, clamav.ErrScan) {
			t.Fatalf("Scan of 3 MiB with a 1 MiB limit = %+v, %v; want an ErrScan error", res, err)
		}
		if !strings.Contains(err.Error(), "StreamMaxLength") {
			t.Errorf("error does not tell how to fix it: %v", err)
		}
	})

	t.Run("tee through Stream", func(t *testing.T) {
		s, err := c.NewStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, part := range []string{"X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"} {
			if _, err := io.WriteString(s, part); err != nil {
				t.Fatal(err)
			}
		}
		res, err := s.Result()
		if err != nil || res.Clean || res.Signature != clamdtest.Signature {
			t.Fatalf("Result = %+v, %v; want the EICAR signature across two writes", res, err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := c.Scan(cctx, pr)
			done <- err
		}()
		pw.Write([]byte("some data"))
		cancel()
		pw.CloseWithError(context.Canceled)
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("Scan with a cancelled context returned no error")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Scan did not return after cancel")
		}
	})

	srv.Stop()
	t.Run("stopped clamd", func(t *testing.T) {
		if err := c.Ping(ctx); !errors.Is(err, clamav.ErrScan) {
			t.Fatalf("Ping of a stopped clamd = %v, want ErrScan", err)
		}
		res, err := c.Scan(ctx, strings.NewReader("hello"))
		if !errors.Is(err, clamav.ErrScan) || res.Clean {
			t.Fatalf("Scan with clamd stopped = %+v, %v; want an ErrScan error", res, err)
		}
	})
}

func TestUnconfiguredClient(t *testing.T) {
	var c clamav.Client
	if _, err := c.Scan(context.Background(), strings.NewReader("x")); !errors.Is(err, clamav.ErrScan) {
		t.Fatalf("Scan on a zero Client = %v, want ErrScan", err)
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		reply   string
		want    clamav.Result
		wantErr string
	}{
		{"stream: OK", clamav.Result{Clean: true}, ""},
		{"stream: OK\n", clamav.Result{Clean: true}, ""},
		{"stream: Win.Test.EICAR_HDB-1 FOUND", clamav.Result{Signature: "Win.Test.EICAR_HDB-1"}, ""},
		{"INSTREAM size limit exceeded. ERROR", clamav.Result{}, "StreamMaxLength"},
		{"stream: Can't allocate memory ERROR", clamav.Result{}, "Can't allocate memory"},
		{"stream:  FOUND", clamav.Result{}, "signature"},
		{"OK", clamav.Result{}, "unexpected"},
		{"", clamav.Result{}, "unexpected"},
		{"PONG", clamav.Result{}, "unexpected"},
		{"stream: OKAY", clamav.Result{}, "unexpected"},
	}
	for _, tc := range tests {
		got, err := clamav.ParseReply(tc.reply)
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseReply(%q) = %+v, %v; want %+v", tc.reply, got, err, tc.want)
			}
			continue
		}
		if err == nil || !errors.Is(err, clamav.ErrScan) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseReply(%q) = %+v, %v; want an ErrScan error mentioning %q", tc.reply, got, err, tc.wantErr)
		}
	}
}

// FuzzParseReply: clamd's answer is outside input. Whatever it says, the
// parser must not panic, and must call nothing clean except exactly OK.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: X FOUND", "INSTREAM size limit exceeded. ERROR", "stream: OK FOUND", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		res, err := clamav.ParseReply(reply)
		if err != nil {
			if res != (clamav.Result{}) {
				t.Fatalf("ParseReply(%q) returned %+v with error %v", reply, res, err)
			}
			return
		}
		if res.Clean && strings.TrimSpace(reply) != "stream: OK" {
			t.Fatalf("ParseReply(%q) = clean", reply)
		}
		if !res.Clean && res.Signature == "" {
			t.Fatalf("ParseReply(%q) = not clean without signature", reply)
		}
	})
}
