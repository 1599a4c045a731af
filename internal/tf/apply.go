package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Apply applies exactly the plans saved by Plan for the regions that have
// changes; a region without a saved plan is an error, never a fresh plan.
// After an apply that deploys a hub it asks the hub's /readyz (Ready).
// destroy says the plans remove hubs (for progress only).
// Exit codes: 2 applied changes, 0 nothing to do, 1 error.
func (r *Runner) Apply(ctx context.Context, planned []Result, destroy bool) []Result {
	var regions []string
	for _, p := range planned {
		if p.Code == ExitChanges {
			regions = append(regions, p.Region)
		}
	}
	readyOf := map[string]bool{}
	res := r.forEach(ctx, regions, func(ctx context.Context, w *workspace) (int, error) {
		plan := filepath.Join(w.dir, planFile)
		if _, err := os.Stat(plan); err != nil {
			return ExitError, errors.New("no saved plan: run hubctl plan first")
		}
		defer os.Remove(plan) // a plan is applied once
		phase := "applying"
		if destroy {
			phase = "destroying"
		}
		r.progress(w.region, phase, "")
		w.stream(r)
		if err := w.tf.Apply(ctx, tfexec.DirOrPlan(planFile), tfexec.Lock(true), tfexec.LockTimeout(lockTimeout(r.Config))); err != nil {
			return ExitError, err
		}
		if destroy {
			r.progress(w.region, "done", "removed (data kept)")
			return ExitChanges, nil
		}
		r.progress(w.region, "health check", "")
		s, err := r.siteStatus(ctx, w)
		switch {
		case err != nil:
			r.progress(w.region, "done", "applied; state unreadable: "+firstLine(err.Error()))
		case !s.Deployed:
			r.progress(w.region, "done", "applied")
		default:
			ready := r.probeSite(ctx, w.region, s)
			r.outMu.Lock()
			readyOf[w.region] = ready
			r.outMu.Unlock()
			if ready {
				r.progress(w.region, "done", "release "+s.ReleaseID+" ready")
			} else {
				r.progress(w.region, "done", "release "+s.ReleaseID+" applied, but /readyz does not answer yet")
			}
		}
		return ExitChanges, nil
	})
	for i := range res {
		res[i].Ready = readyOf[res[i].Region]
		if res[i].Err != nil {
			res[i].Error = res[i].Err.Error()
		}
	}
	return res
}
