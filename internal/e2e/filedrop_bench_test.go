package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/dustin/go-humanize"

	"github.com/hubkit/hubkit/internal/testenv"
)

// BenchmarkFiledropHub measures the file drop of a real `hubctl serve`
// process (development bundle, one region) over loopback HTTPS against
// the machine's two bottlenecks, all in one run:
//
//	raw-disk-write       write + fsync N bytes in the hub's temp filesystem
//	age-encrypt          age-encrypt N bytes in memory to io.Discard
//	hub-upload           an N-byte file through POST /drops (streamed multipart)
//	hub-download         the same file back
//	ratio                upload and download throughput / the slower baseline's
//	peak-rss             the hub's VmRSS during one 4 GiB upload (resumable API)
//	concurrent-50x20MiB  50 concurrent 20 MiB uploads: total MB/s, p99 s/upload
//
// N is 256 MiB unless HUBKIT_BENCH_BYTES says otherwise (e.g. 1GiB); the
// peak-rss upload is 4 GiB unless HUBKIT_BENCH_RSS_BYTES says otherwise.
// The client speaks HTTP/1.1; HUBKIT_BENCH_H2=1 makes it speak HTTP/2, as
// a browser would. Client and hub share the machine's cores, so on a
// small machine the client's TLS and TCP work counts against the hub.
//
//	go test ./internal/e2e -run '^$' -bench FiledropHub -benchtime 1x
func BenchmarkFiledropHub(b *testing.B) {
	size := benchSize(b, "HUBKIT_BENCH_BYTES", 256<<20)
	rssSize := benchSize(b, "HUBKIT_BENCH_RSS_BYTES", 4<<30)

	// The region's policy caps files at 2 GiB; the 4 GiB upload needs more.
	regions := filepath.Join(b.TempDir(), "regions")
	copyRegions(b, regions, "nordjylland", "64 GiB")
	p := newHubProc(b, "nordjylland", regions)
	p.start()
	s := p.login(851, "aalborg-konsulent")
	if os.Getenv("HUBKIT_BENCH_H2") != "" {
		// What a browser negotiates with the hub: HTTP/2 (the default
		// transport here speaks HTTP/1.1, having its own dialer and TLS
		// config).
		tr := s.c.Transport.(*http.Transport).Clone()
		tr.ForceAttemptHTTP2 = true
		s.c.Transport = tr
	}
	ctx := context.Background()
	const recipient = "773:773.morsoe-fagperson"

	var raw, ageMB, upMB, downMB float64
	mbps := func(b *testing.B, bytes int64) float64 {
		return float64(bytes) * float64(b.N) / b.Elapsed().Seconds() / 1e6
	}

	b.Run("raw-disk-write", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Create(filepath.Join(p.dir, "raw.bin"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(f, newBenchSource(size), make([]byte, 256<<10)); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			os.Remove(f.Name())
		}
		raw = mbps(b, size)
	})

	b.Run("age-encrypt", func(b *testing.B) {
		id, _ := age.GenerateX25519Identity()
		b.SetBytes(size)
		for b.Loop() {
			w, err := age.Encrypt(io.Discard, id.Recipient())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(w, newBenchSource(size), make([]byte, 256<<10)); err != nil {
				b.Fatal(err)
			}
			w.Close()
		}
		ageMB = mbps(b, size)
	})

	var lastFile string // download path of the last hub-upload
	upload := func() string {
		id, err := s.sendDrop(ctx, "SAG-BENCH", recipient, "bench.bin", size, newBenchSource(size))
		if err != nil {
			b.Fatalf("upload: %v\n%s", err, tail(p.log(), 20))
		}
		return id
	}
	b.Run("hub-upload", func(b *testing.B) {
		b.SetBytes(size)
		var id string
		for b.Loop() {
			id = upload()
		}
		upMB = mbps(b, size)
		lastFile = s.fileLink(id)
	})

	b.Run("hub-download", func(b *testing.B) {
		if lastFile == "" {
			lastFile = s.fileLink(upload())
		}
		b.SetBytes(size)
		for b.Loop() {
			n, err := s.download(ctx, lastFile, io.Discard)
			if err != nil || n != size {
				b.Fatalf("download: %d bytes, want %d: %v", n, size, err)
			}
		}
		downMB = mbps(b, size)
	})

	b.Run("ratio", func(b *testing.B) {
		for b.Loop() {
		}
		slower := min(raw, ageMB)
		if slower == 0 || upMB == 0 || downMB == 0 {
			b.Skip("needs raw-disk-write, age-encrypt, hub-upload and hub-download in the same run")
		}
		b.ReportMetric(upMB/slower, "upload/baseline")
		b.ReportMetric(downMB/slower, "download/baseline")
		b.ReportMetric(slower, "baseline-MB/s")
	})

	b.Run("peak-rss", func(b *testing.B) {
		var idle, peak float64
		for b.Loop() {
			time.Sleep(time.Second) // let the previous work's garbage settle
			var err error
			if idle, err = procRSSMiB(p.pid()); err != nil {
				b.Fatal(err)
			}
			peak = idle
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if v, err := procRSSMiB(p.pid()); err == nil && v > peak {
							peak = v
						}
					}
				}
			}()
			start := time.Now()
			id, err := s.sendDropResumable(ctx, "SAG-BENCH-RSS", recipient, "stor.bin", rssSize, 1<<30, newBenchSource(rssSize))
			close(stop)
			wg.Wait()
			if err != nil {
				b.Fatalf("%s upload: %v\n%s", humanize.IBytes(uint64(rssSize)), err, tail(p.log(), 20))
			}
			b.ReportMetric(float64(rssSize)/time.Since(start).Seconds()/1e6, "upload-MB/s")
			s.withdraw(id) // frees the disk
		}
		b.ReportMetric(idle, "idle-MiB")
		b.ReportMetric(peak, "peak-MiB")
		b.ReportMetric(peak-idle, "peak-minus-idle-MiB")
	})

	b.Run("concurrent-50x20MiB", func(b *testing.B) {
		const n, each = 50, 20 << 20
		var total, p99 float64
		for b.Loop() {
			lat := make([]time.Duration, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := time.Now()
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t0 := time.Now()
					_, errs[i] = s.sendDrop(ctx, fmt.Sprintf("SAG-BENCH-C%d", i), recipient, "c.bin", each, newBenchSource(each))
					lat[i] = time.Since(t0)
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			for i, err := range errs {
				if err != nil {
					b.Fatalf("upload %d: %v", i, err)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			total = float64(n*each) / elapsed.Seconds() / 1e6
			p99 = lat[(len(lat)*99+99)/100-1].Seconds()
		}
		b.ReportMetric(total, "total-MB/s")
		b.ReportMetric(p99, "p99-s/upload")
	})
}

// benchSize reads a byte size from env (e.g. 1GiB), or def.
func benchSize(b *testing.B, env string, def int64) int64 {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 {
		b.Fatalf("%s=%q: %v", env, s, err)
	}
	return int64(n)
}

// copyRegions copies the repository's region files to dir, with the file
// drop's max_file_size of region set to maxFile.
func copyRegions(b *testing.B, dir, region, maxFile string) {
	root := filepath.Join(testenv.RepoRoot(b), "regions")
	entries, err := os.ReadDir(root)
	if err != nil {
		b.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if e.Name() == region+".yaml" {
			i := bytes.Index(src, []byte("\nfile_drop:"))
			j := bytes.Index(src[max(i, 0):], []byte("max_file_size:"))
			if i < 0 || j < 0 {
				b.Fatalf("%s has no file_drop.max_file_size", e.Name())
			}
			j += i
			end := j + bytes.IndexByte(src[j:], '\n')
			src = append(append(append([]byte(nil), src[:j]...), "max_file_size: "+maxFile...), src[end:]...)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), src, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSource yields size bytes cheaply: one random 1 MiB block over and
// over, generated on the fly, so the client never holds the file.
type benchSource struct {
	left int64
	pos  int
}

var benchBlockOnce = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return b
})

func newBenchSource(size int64) *benchSource { return &benchSource{left: size} }

func (s *benchSource) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	block := benchBlockOnce()
	n := copy(p[:min(int64(len(p)), s.left)], block[s.pos:])
	s.pos = (s.pos + n) % len(block)
	s.left -= int64(n)
	return n, nil
}

// api sends a request of the resumable API (JSON, CSRF token in the
// header) and returns the response with its body read.
func (s *hubSession) api(ctx context.Context, method, path, ct string, body io.Reader, length int64, extra map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.p.base+path, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.ContentLength = length
	}
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.Header.Set("Accept", "application/json")
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, rb, err
}

// sendDropResumable sends a one-file drop through the resumable API: a
// draft, the file in chunks of chunk bytes (each a PATCH with its own
// Content-Length, read from src as it goes), finish, seal.
func (s *hubSession) sendDropResumable(ctx context.Context, caseRef, recipient, name string, size, chunk int64, src io.Reader) (string, error) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, f := range [][2]string{{"recipients", recipient}, {"case_ref", caseRef}, {"purpose", "section_12c_advice"},
		{"retention_days", "30"}, {"mode", "draft"}} {
		mw.WriteField(f[0], f[1])
	}
	mw.Close()
	resp, body, err := s.api(ctx, "POST", "/drops", mw.FormDataContentType(), &form, int64(form.Len()), nil)
	var draft struct{ ID, Uploads string }
	if err != nil || resp.StatusCode != 201 || json.Unmarshal(body, &draft) != nil {
		return "", fmt.Errorf("draft: %v %v %s", err, status(resp), body)
	}
	begin, _ := json.Marshal(map[string]any{"name": name, "size": size})
	resp, body, err = s.api(ctx, "POST", draft.Uploads, "application/json", bytes.NewReader(begin), int64(len(begin)), nil)
	var up struct{ URL string }
	if err != nil || resp.StatusCode != 201 || json.Unmarshal(body, &up) != nil {
		return "", fmt.Errorf("begin upload: %v %v %s", err, status(resp), body)
	}
	for off := int64(0); off < size; {
		n := min(chunk, size-off)
		resp, body, err = s.api(ctx, "PATCH", up.URL, "application/offset+octet-stream", io.LimitReader(src, n), n,
			map[string]string{"Upload-Offset": strconv.FormatInt(off, 10)})
		if err != nil || resp.StatusCode != 204 {
			return "", fmt.Errorf("chunk at %d: %v %v %s", off, err, status(resp), body)
		}
		off += n
	}
	if resp, body, err = s.api(ctx, "POST", up.URL+"/finish", "", nil, 0, nil); err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("finish: %v %v %s", err, status(resp), body)
	}
	if resp, body, err = s.api(ctx, "POST", "/drops/"+draft.ID+"/seal", "", nil, 0, nil); err != nil || resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("seal: %v %v %s", err, status(resp), body)
	}
	return draft.ID, nil
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// withdraw withdraws a drop, deleting its files.
func (s *hubSession) withdraw(id string) {
	s.p.tb.Helper()
	if resp, _ := postForm(s.p.tb, s.c, s.p.base+"/drops/"+id+"/withdraw", url.Values{"csrf": {s.csrf}}); resp.StatusCode != http.StatusSeeOther {
		s.p.tb.Errorf("withdraw %s: %s", id, resp.Status)
	}
}
