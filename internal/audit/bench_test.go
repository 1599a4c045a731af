package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppend measures one Append (write, fsync, head update) next to a
// plain write+fsync of a line of the same length, and reports the ratio as
// x-raw on the audit sub-benchmark. Run both: go test -bench Append ./internal/audit
func BenchmarkAppend(b *testing.B) {
	ev := event(1)
	line, _, err := encode(Record{Seq: 1, Time: time.Now().UTC(), Event: ev, Prev: Genesis})
	if err != nil {
		b.Fatal(err)
	}
	var rawNs float64
	b.Run("raw-write-fsync", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(int64(len(line)))
		b.ResetTimer()
		for range b.N {
			if _, err := f.Write(line); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		rawNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("audit", func(b *testing.B) {
		l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		ctx := context.Background()
		b.SetBytes(int64(len(line)))
		b.ResetTimer()
		for range b.N {
			if _, err := l.Append(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if rawNs > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rawNs, "x-raw")
		}
	})
}
