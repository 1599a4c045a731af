package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hubkit/hubkit/internal/testenv"
)

// BenchmarkDirectory measures the authenticated directory page (a search
// with a valid session) against bare Caddy serving a static page over TLS
// in the same process and run: throughput, p99 latency and their ratio.
// Requests come from 8 concurrent clients over loopback.
func BenchmarkDirectory(b *testing.B) {
	h := startHub(b, hubOptions{})
	user := h.client()
	get(b, user, h.loginToCallback(b, user, 851, "anna", "/"))
	bare := freePort(b)
	addBareServer(b, bare)

	type result struct{ rps, p99 float64 }
	var hub, static result
	run := func(b *testing.B, c *http.Client, url string) result {
		const workers = 8
		lat := make([]time.Duration, b.N)
		var next int64 = -1
		var mu sync.Mutex
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					next++
					i := next
					mu.Unlock()
					if i >= int64(b.N) {
						return
					}
					t0 := time.Now()
					resp, err := c.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("%s: %s", url, resp.Status)
						return
					}
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		r := result{rps: float64(b.N) / elapsed.Seconds(), p99: float64(lat[len(lat)*99/100].Microseconds()) / 1000}
		b.ReportMetric(r.rps, "req/s")
		b.ReportMetric(r.p99, "p99-ms")
		return r
	}
	b.Run("hub-directory", func(b *testing.B) { hub = run(b, user, h.base+"/directory?q=politi") })
	b.Run("bare-caddy-static", func(b *testing.B) {
		static = run(b, h.client(), fmt.Sprintf("https://bare.localhost:%d/", bare))
	})
	b.Run("ratio", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
		}
		b.ReportMetric(hub.rps/static.rps, "throughput-ratio")
		b.ReportMetric(hub.p99/static.p99, "p99-ratio")
	})
}

// addBareServer reloads Caddy with the hub plus a bare static server on
// port, both in one configuration, so both are measured in one process.
func addBareServer(b *testing.B, port int) {
	current, err := currentConfig()
	if err != nil {
		b.Fatal(err)
	}
	servers := current["apps"].(map[string]any)["http"].(map[string]any)["servers"].(map[string]any)
	servers["bare"] = map[string]any{
		"listen": []string{fmt.Sprintf("127.0.0.1:%d", port)},
		"routes": []any{map[string]any{
			"match":  []any{map[string]any{"host": []string{"bare.localhost"}}},
			"handle": []any{map[string]any{"handler": "static_response", "status_code": 200, "body": strings.Repeat("x", 4096)}},
		}},
		"automatic_https": map[string]any{"disable_redirects": true},
	}
	policies := current["apps"].(map[string]any)["tls"].(map[string]any)["automation"].(map[string]any)
	policies["policies"] = append(policies["policies"].([]any), map[string]any{
		"subjects": []string{"bare.localhost"}, "issuers": []any{map[string]any{"module": "internal"}},
	})
	out, _ := json.Marshal(current)
	if err := caddy.Load(out, true); err != nil {
		b.Fatal(err)
	}
}

// lastConfig is the configuration startHub loaded.
var lastConfig []byte

// currentConfig returns a copy of the configuration startHub loaded.
func currentConfig() (map[string]any, error) {
	var m map[string]any
	return m, json.Unmarshal(lastConfig, &m)
}

// BenchmarkIdleMemory measures the resident memory of a real hubctl
// process serving development hubs: one region, then all five; the
// difference divided by four is the idle cost of a region.
func BenchmarkIdleMemory(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "hubctl")
	root := testenv.RepoRoot(b)
	build := exec.Command("go", "build", "-o", bin, "./cmd/hubctl")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	rss := func(regions ...string) float64 {
		port := freePort(b)
		dir := b.TempDir()
		cfgFile := filepath.Join(dir, "hubkit.yaml")
		os.WriteFile(cfgFile, []byte(fmt.Sprintf("regions_dir: %s\nstate_dir: %s\n", filepath.Join(root, "regions"), filepath.Join(dir, "state"))), 0o644)
		args := []string{"serve", "--config", cfgFile, "--dev", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}
		for _, r := range regions {
			args = append(args, "--region", r)
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: regions[0] + ".hub.localhost"}}}
		deadline := time.Now().Add(30 * time.Second)
		for {
			// The hub's own host name: an unknown Host gets 421.
			req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/healthz", port), nil)
			req.Host = regions[0] + ".hub.localhost"
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("hubctl serve did not come up: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // let start-up garbage settle
		return vmRSS(b, cmd.Process.Pid)
	}
	// One measurement whatever b.N: starting processes is the work, not
	// what is measured.
	one := rss("nordjylland")
	five := rss("nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland")
	b.ReportMetric(one, "MiB-1-region")
	b.ReportMetric(five, "MiB-5-regions")
	b.ReportMetric((five-one)/4, "MiB/extra-region")
}

func vmRSS(b *testing.B, pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
