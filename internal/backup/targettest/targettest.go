// Package targettest is the contract every backup.Target must keep, as one
// test suite that the directory and the S3 target both run.
package targettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/backup"
)

// Run runs the contract against targets made by open; each subtest gets a
// new, empty target.
func Run(t *testing.T, open func(t *testing.T) backup.Target) {
	ctx := context.Background()
	t.Run("PutGetStat", func(t *testing.T) {
		tg := open(t)
		data := random(t, 100_000)
		if err := tg.Put(ctx, "blobs/ab/abc.age", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if got := get(t, tg, "blobs/ab/abc.age"); !bytes.Equal(got, data) {
			t.Fatalf("Get returned %d bytes, not the %d put", len(got), len(data))
		}
		fi, err := tg.Stat(ctx, "blobs/ab/abc.age")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Key != "blobs/ab/abc.age" || fi.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, want key blobs/ab/abc.age size %d", fi, len(data))
		}
		if d := time.Since(fi.ModTime); d < -time.Minute || d > time.Hour {
			t.Fatalf("Stat mod time %v is not about now", fi.ModTime)
		}
	})
	t.Run("UnknownSize", func(t *testing.T) {
		tg := open(t)
		data := random(t, 3<<20)
		if err := tg.Put(ctx, "snapshots/s1/hub.db.age", io.MultiReader(bytes.NewReader(data)), -1); err != nil {
			t.Fatal(err)
		}
		if got := get(t, tg, "snapshots/s1/hub.db.age"); !bytes.Equal(got, data) {
			t.Fatalf("Get returned %d bytes, not the %d put", len(got), len(data))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		tg := open(t)
		if err := tg.Put(ctx, "e", bytes.NewReader(nil), 0); err != nil {
			t.Fatal(err)
		}
		if got := get(t, tg, "e"); len(got) != 0 {
			t.Fatalf("empty object reads %d bytes", len(got))
		}
	})
	t.Run("Replace", func(t *testing.T) {
		tg := open(t)
		put(t, tg, "k", "first version, longer")
		put(t, tg, "k", "second")
		if got := string(get(t, tg, "k")); got != "second" {
			t.Fatalf("after a second Put the object reads %q", got)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		tg := open(t)
		if _, err := tg.Get(ctx, "no/such"); !errors.Is(err, backup.ErrNotExist) {
			t.Fatalf("Get of a missing object: %v, want ErrNotExist", err)
		}
		if _, err := tg.Stat(ctx, "no/such"); !errors.Is(err, backup.ErrNotExist) {
			t.Fatalf("Stat of a missing object: %v, want ErrNotExist", err)
		}
		if err := tg.Delete(ctx, "no/such"); err != nil {
			t.Fatalf("Delete of a missing object: %v", err)
		}
		put(t, tg, "dir/obj", "x")
		if _, err := tg.Stat(ctx, "dir"); !errors.Is(err, backup.ErrNotExist) {
			t.Fatalf("Stat of a prefix: %v, want ErrNotExist", err)
		}
	})
	t.Run("ListAndDelete", func(t *testing.T) {
		tg := open(t)
		keys := []string{"blobs/ab/1.age", "blobs/ab/2.age", "blobs/cd/3.age", "blobs.txt", "snapshots/a/manifest.json", "snapshots/b/manifest.json"}
		for _, k := range keys {
			put(t, tg, k, "content of "+k)
		}
		if got := list(t, tg, ""); !slices.Equal(got, sorted(keys)) {
			t.Fatalf("List(\"\") = %v, want %v", got, sorted(keys))
		}
		if got, want := list(t, tg, "blobs/"), []string{"blobs/ab/1.age", "blobs/ab/2.age", "blobs/cd/3.age"}; !slices.Equal(got, want) {
			t.Fatalf("List(blobs/) = %v, want %v", got, want)
		}
		if got, want := list(t, tg, "blobs/ab/"), []string{"blobs/ab/1.age", "blobs/ab/2.age"}; !slices.Equal(got, want) {
			t.Fatalf("List(blobs/ab/) = %v, want %v", got, want)
		}
		if got, want := list(t, tg, "snapshots/a"), []string{"snapshots/a/manifest.json"}; !slices.Equal(got, want) {
			t.Fatalf("List(snapshots/a) = %v, want %v", got, want)
		}
		var sizes []int64
		tg.List(ctx, "blobs/cd/", func(o backup.ObjectInfo) error { sizes = append(sizes, o.Size); return nil })
		if len(sizes) != 1 || sizes[0] != int64(len("content of blobs/cd/3.age")) {
			t.Fatalf("List sizes = %v", sizes)
		}
		if err := tg.Delete(ctx, "blobs/ab/1.age"); err != nil {
			t.Fatal(err)
		}
		if got, want := list(t, tg, "blobs/"), []string{"blobs/ab/2.age", "blobs/cd/3.age"}; !slices.Equal(got, want) {
			t.Fatalf("after Delete, List(blobs/) = %v, want %v", got, want)
		}
		stop := errors.New("stop")
		n := 0
		if err := tg.List(ctx, "", func(backup.ObjectInfo) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Fatalf("List did not stop at fn's error: %v after %d calls", err, n)
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		tg := open(t)
		for _, k := range []string{"", "/abs", "a/../b", "..", "a//b", "a/", "sp ace", "a\\b", "ä"} {
			if err := tg.Put(ctx, k, bytes.NewReader([]byte("x")), 1); err == nil {
				t.Errorf("Put(%q) succeeded; want a refusal", k)
			}
			if _, err := tg.Get(ctx, k); err == nil || errors.Is(err, backup.ErrNotExist) {
				t.Errorf("Get(%q) = %v; want a refusal of the key", k, err)
			}
		}
	})
	t.Run("ShortReader", func(t *testing.T) {
		tg := open(t)
		// A reader that fails half-way must not leave an object behind.
		r := io.MultiReader(bytes.NewReader(random(t, 1000)), failing{})
		if err := tg.Put(ctx, "half", r, 5000); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if _, err := tg.Stat(ctx, "half"); !errors.Is(err, backup.ErrNotExist) {
			t.Fatalf("after a failed Put, Stat = %v, want ErrNotExist", err)
		}
		if got := list(t, tg, ""); len(got) != 0 {
			t.Fatalf("after a failed Put, List shows %v", got)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		tg := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() {
				k := fmt.Sprintf("blobs/%02x/%d.age", i%4, i)
				errs <- tg.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k)))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := list(t, tg, "blobs/"); len(got) != 16 {
			t.Fatalf("after 16 concurrent Puts, List shows %d objects", len(got))
		}
	})
	t.Run("StringHasNoSecret", func(t *testing.T) {
		tg := open(t)
		if s := tg.String(); s == "" || bytes.Contains([]byte(s), []byte("secret")) {
			t.Fatalf("String() = %q: empty or naming a secret", s)
		}
	})
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("disk went away") }

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t *testing.T, tg backup.Target, key, s string) {
	t.Helper()
	if err := tg.Put(context.Background(), key, bytes.NewReader([]byte(s)), int64(len(s))); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, tg backup.Target, key string) []byte {
	t.Helper()
	r, err := tg.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func list(t *testing.T, tg backup.Target, prefix string) []string {
	t.Helper()
	var keys []string
	if err := tg.List(context.Background(), prefix, func(o backup.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
