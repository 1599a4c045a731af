package store

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testLoginState(t *testing.T, now time.Time) *LoginState {
	t.Helper()
	state, _ := NewSessionID()
	nonce, _ := NewSessionID()
	return &LoginState{
		State:     state,
		Nonce:     nonce,
		Verifier:  "verifier-0123456789-0123456789-0123456789",
		Kommune:   851,
		Issuer:    "https://idp.aalborg.example",
		ReturnTo:  "/drops?case=K-1",
		Binding:   "b1nd1ng",
		CreatedAt: now,
		ExpiresAt: now.Add(10 * time.Minute),
	}
}

func TestLoginState(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	want := testLoginState(t, t0)
	if err := st.PutLoginState(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := st.TakeLoginState(ctx, want.State, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TakeLoginState =\n%+v\nwant\n%+v", got, want)
	}
	// Single use.
	if _, err := st.TakeLoginState(ctx, want.State, t0.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Take: %v, want ErrNotFound", err)
	}
	if _, err := st.TakeLoginState(ctx, "", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Take(\"\"): %v, want ErrNotFound", err)
	}

	// Expired: refused, and gone.
	old := testLoginState(t, t0)
	if err := st.PutLoginState(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TakeLoginState(ctx, old.State, old.ExpiresAt.Add(time.Nanosecond)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired Take: %v, want ErrExpired", err)
	}
	if _, err := st.TakeLoginState(ctx, old.State, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Take after expiry: %v, want ErrNotFound", err)
	}

	// The state is stored hashed.
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM login_states WHERE state_hash = ?`, want.State).Scan(&n); err != nil || n != 0 {
		t.Errorf("state found in clear: %d, %v", n, err)
	}
}

func TestPutLoginStateValidates(t *testing.T) {
	st := openTest(t)
	for name, edit := range map[string]func(*LoginState){
		"no state":   func(l *LoginState) { l.State = "" },
		"no issuer":  func(l *LoginState) { l.Issuer = "" },
		"no binding": func(l *LoginState) { l.Binding = "" },
		"no expiry":  func(l *LoginState) { l.ExpiresAt = time.Time{} },
	} {
		l := testLoginState(t, t0)
		edit(l)
		if err := st.PutLoginState(context.Background(), l); err == nil {
			t.Errorf("%s: PutLoginState succeeded", name)
		}
	}
}

func TestPurgeLoginStates(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	keep := testLoginState(t, t0.Add(time.Hour))
	for _, l := range []*LoginState{testLoginState(t, t0), testLoginState(t, t0), keep} {
		if err := st.PutLoginState(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.PurgeLoginStates(ctx, t0.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("PurgeLoginStates = %d, %v; want 2", n, err)
	}
	if _, err := st.TakeLoginState(ctx, keep.State, t0.Add(time.Hour)); err != nil {
		t.Errorf("live state purged: %v", err)
	}
}

// takeRace has 20 goroutines take the same state through the given stores
// and reports how many won.
func takeRace(t *testing.T, stores ...*Store) {
	t.Helper()
	ctx := context.Background()
	ls := testLoginState(t, t0)
	if err := stores[0].PutLoginState(ctx, ls); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		st := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			got, err := st.TakeLoginState(ctx, ls.State, t0)
			switch {
			case err == nil && got.Nonce == ls.Nonce:
				wins.Add(1)
			case errors.Is(err, ErrNotFound):
			default:
				t.Errorf("TakeLoginState: %+v, %v", got, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d goroutines took the state, want exactly 1", n)
	}
}

func TestTakeLoginStateConcurrent(t *testing.T) {
	takeRace(t, openTest(t))
}

// Two hub processes on one database file share sessions and login state.
func TestTwoInstances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	a, b := openAt(t, path), openAt(t, path)
	ctx := context.Background()

	s := testSession(t, t0)
	if err := a.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetSession(ctx, s.ID, t0, idle); err != nil || got.UserKey != s.UserKey {
		t.Fatalf("B does not see A's session: %+v, %v", got, err)
	}
	if err := b.TouchSession(ctx, s.ID, t0.Add(2*TouchInterval)); err != nil {
		t.Fatal(err)
	}
	if got, err := a.GetSession(ctx, s.ID, t0, idle); err != nil || !got.LastSeen.Equal(t0.Add(2*TouchInterval)) {
		t.Errorf("A does not see B's touch: %+v, %v", got, err)
	}
	if n, err := b.DeleteSessionsBySID(ctx, s.Issuer, s.SID); err != nil || n != 1 {
		t.Fatalf("B logout = %d, %v", n, err)
	}
	if _, err := a.GetSession(ctx, s.ID, t0, idle); !errors.Is(err, ErrNotFound) {
		t.Errorf("A still has the session B logged out: %v", err)
	}

	ls := testLoginState(t, t0)
	if err := a.PutLoginState(ctx, ls); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TakeLoginState(ctx, ls.State, t0); err != nil {
		t.Fatalf("B cannot take A's login state: %v", err)
	}
	if _, err := a.TakeLoginState(ctx, ls.State, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("A took a state B already used: %v", err)
	}

	takeRace(t, a, b)
}
