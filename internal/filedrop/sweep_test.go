package filedrop

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// tombstone reads what is left of a drop.
type tombstone struct {
	state, senderKey, caseRef, message, purposeText string
	purgedAt                                        int64
	files, recipients                               int
	fileCount                                       int
}

func (e *env) tombstone(id string) tombstone {
	e.t.Helper()
	var ts tombstone
	err := e.st.DB().QueryRow(`SELECT state, sender_key, case_ref, message, purpose_text, purged_at, file_count,
		(SELECT count(*) FROM drop_files WHERE drop_id = drops.id), (SELECT count(*) FROM drop_recipients WHERE drop_id = drops.id)
		FROM drops WHERE id = ?`, id).Scan(&ts.state, &ts.senderKey, &ts.caseRef, &ts.message, &ts.purposeText, &ts.purgedAt,
		&ts.fileCount, &ts.files, &ts.recipients)
	if err != nil {
		e.t.Fatal(err)
	}
	return ts
}

func (e *env) wantPurged(id string, state State, files int) {
	e.t.Helper()
	ts := e.tombstone(id)
	if ts.state != string(state) || ts.purgedAt == 0 || ts.senderKey != "" || ts.caseRef != "" || ts.message != "" ||
		ts.purposeText != "" || ts.files != 0 || ts.recipients != 0 || ts.fileCount != files {
		e.t.Errorf("drop %s after purge: %+v; want state %s, only counts and dates left", id, ts, state)
	}
}

// TestSweepRetention: at its retention date a drop's blobs are deleted,
// its metadata reduced and the expiry audited with the case.
func TestSweepRetention(t *testing.T) {
	e := newEnv(t)
	s := spec()
	s.RetentionDays = 2
	short := e.mustCreate(s)
	e.mustAdd(alice, short.ID, "a.bin", data(1, 100_000))
	e.mustAdd(alice, short.ID, "b.bin", data(2, 5_000))
	e.mustSeal(alice, short.ID)
	long, longFile := e.sealedDrop([]byte("bliver"))

	res, err := e.d.Sweep(ctx, e.clock.Now().Add(47*time.Hour))
	if err != nil || res != (SweepResult{}) {
		t.Fatalf("sweep before expiry = %+v, %v", res, err)
	}
	e.clock.Advance(48 * time.Hour)
	res, err = e.d.Sweep(ctx, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Expired != 1 || res.Purged != 1 || res.Files != 2 || res.Bytes != 105_000 {
		t.Fatalf("Sweep = %+v; want 1 expired with 2 files of 105000 bytes", res)
	}
	e.wantPurged(short.ID, StateExpired, 2)
	if len(e.blobFiles()) != 1 {
		t.Errorf("blobs left: %v, want only the long-lived drop's", e.blobFiles())
	}
	if _, _, err := e.download(bob, long.ID, longFile.ID); err != nil {
		t.Errorf("the drop that is still kept: %v", err)
	}
	recs := e.records(EventExpire)
	if len(recs) != 1 || recs[0].Case != "2026-0042" || recs[0].Subject != short.ID || recs[0].Actor != SystemActor ||
		recs[0].Reason != reasonRetention || recs[0].Detail["files"] != "2" {
		t.Errorf("expiry records = %+v", recs)
	}
	if res, err := e.d.Sweep(ctx, e.clock.Now()); err != nil || res != (SweepResult{}) {
		t.Errorf("second sweep = %+v, %v; want nothing to do", res, err)
	}
	if _, err := e.log.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestWithdraw: the sender withdraws; the files are gone when Withdraw
// returns, the recipient sees nothing, the audit says who.
func TestWithdraw(t *testing.T) {
	e := newEnv(t)
	dr, f := e.sealedDrop(data(3, 70_000))
	if err := e.d.Withdraw(ctx, alice, dr.ID); err != nil {
		t.Fatal(err)
	}
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("blobs after withdrawal: %v", b)
	}
	e.wantPurged(dr.ID, StateWithdrawn, 1)
	if _, _, err := e.download(bob, dr.ID, f.ID); err != ErrNotFound {
		t.Errorf("download after withdrawal: %v", err)
	}
	if err := e.d.Withdraw(ctx, alice, dr.ID); err != ErrNotFound {
		t.Errorf("second withdrawal: %v", err)
	}
	recs := e.records(EventWithdraw)
	if len(recs) < 1 || recs[0].Actor != alice.UserKey || recs[0].Case != "2026-0042" || recs[0].Outcome != "success" {
		t.Errorf("withdraw records = %+v", recs)
	}
	// A draft can be withdrawn (discarded) too, open uploads included.
	draft := e.mustCreate(spec())
	e.mustAdd(alice, draft.ID, "a.txt", []byte("a"))
	up, _ := e.d.BeginUpload(ctx, alice, draft.ID, "b.bin", 100)
	e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(data(4, 50)))
	if err := e.d.Withdraw(ctx, alice, draft.ID); err != nil {
		t.Fatal(err)
	}
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("blobs after discarding a draft: %v", b)
	}
}

// TestSweepFinishesInterruptedWithdrawal: a crash between ending a drop
// and deleting its files leaves it invisible; the next sweep deletes.
func TestSweepFinishesInterruptedWithdrawal(t *testing.T) {
	e := newEnv(t)
	dr, _ := e.sealedDrop([]byte("x"))
	if _, err := e.st.DB().Exec(`UPDATE drops SET state = 'withdrawn', ended_at = 1 WHERE id = ?`, dr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Get(ctx, bob, dr.ID); err != ErrNotFound {
		t.Fatalf("an ended drop is visible: %v", err)
	}
	res, err := e.d.Sweep(ctx, e.clock.Now())
	if err != nil || res.Purged != 1 || res.Files != 1 {
		t.Fatalf("Sweep = %+v, %v", res, err)
	}
	e.wantPurged(dr.ID, StateWithdrawn, 1)
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("blobs left: %v", b)
	}
}

// TestSweepAbandoned: drafts and uploads untouched for a day are deleted;
// ones in use are not.
func TestSweepAbandoned(t *testing.T) {
	e := newEnv(t)
	idle := e.mustCreate(spec())
	e.mustAdd(alice, idle.ID, "a.txt", []byte("a"))
	busy := e.mustCreate(spec())
	up, err := e.d.BeginUpload(ctx, alice, busy.ID, "b.bin", 1000)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(20 * time.Hour)
	e.d.WriteChunk(ctx, alice, up, 0, bytes.NewReader(data(1, 100))) // keeps busy alive
	e.clock.Advance(5 * time.Hour)

	res, err := e.d.Sweep(ctx, e.clock.Now())
	if err != nil || res.Abandoned != 1 || res.Uploads != 0 {
		t.Fatalf("Sweep = %+v, %v; want the idle draft abandoned, the busy one kept", res, err)
	}
	e.wantPurged(idle.ID, StateAbandoned, 1)
	if got, err := e.d.UploadOffset(ctx, alice, up); err != nil || got != 100 {
		t.Fatalf("busy upload: %d, %v", got, err)
	}
	e.clock.Advance(20 * time.Hour)
	res, err = e.d.Sweep(ctx, e.clock.Now())
	if err != nil || res.Uploads != 1 || res.Abandoned != 1 {
		t.Fatalf("second Sweep = %+v, %v; want the upload and then its draft removed", res, err)
	}
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("blobs left: %v", b)
	}
	if len(e.records(EventUploadAbort)) != 1 {
		t.Errorf("abandoned upload not audited")
	}
}

func TestRunSweeper(t *testing.T) {
	e := newEnv(t)
	s := spec()
	s.RetentionDays = 1
	dr := e.mustCreate(s)
	e.mustAdd(alice, dr.ID, "a.txt", []byte("a"))
	e.mustSeal(alice, dr.ID)
	e.clock.Advance(25 * time.Hour)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.d.RunSweeper(cctx, time.Hour) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.tombstone(dr.ID).purgedAt == 0 {
		if time.Now().After(deadline) {
			t.Fatal("RunSweeper did not sweep at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("RunSweeper returned %v", err)
	}
}

// TestPurgeDataDir is `hubctl drops purge`: refused while the hub runs,
// a sweep of the stopped hub's data directory otherwise.
func TestPurgeDataDir(t *testing.T) {
	e := newEnv(t)
	s := spec()
	s.RetentionDays = 1
	dr := e.mustCreate(s)
	e.mustAdd(alice, dr.ID, "a.txt", []byte("a"))
	e.mustSeal(alice, dr.ID)
	later := e.clock.Now().Add(25 * time.Hour)
	if _, err := PurgeDataDir(ctx, e.dir, e.opts, later); err == nil {
		t.Fatal("PurgeDataDir ran while the hub holds the data directory")
	}
	e.close()
	res, err := PurgeDataDir(ctx, e.dir, e.opts, later)
	if err != nil || res.Expired != 1 || res.Files != 1 {
		t.Fatalf("PurgeDataDir = %+v, %v", res, err)
	}
	e.open()
	e.wantPurged(dr.ID, StateExpired, 1)
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("blobs left: %v", b)
	}
}
