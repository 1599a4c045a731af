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
// Exit codes: 2 applied changes, 0 nothing to do, 1 error.
func (r *Runner) Apply(ctx context.Context, planned []Result) []Result {
	var regions []string
	for _, p := range planned {
		if p.Code == ExitChanges {
			regions = append(regions, p.Region)
		}
	}
	res := r.forEach(ctx, regions, func(ctx context.Context, w *workspace) (int, error) {
		plan := filepath.Join(w.dir, planFile)
		if _, err := os.Stat(plan); err != nil {
			return ExitError, errors.New("no saved plan: run hubctl plan first")
		}
		defer os.Remove(plan) // a plan is applied once
		if err := w.tf.Apply(ctx, tfexec.DirOrPlan(planFile), tfexec.Lock(true), tfexec.LockTimeout(lockTimeout(r.Config))); err != nil {
			return ExitError, err
		}
		return ExitChanges, nil
	})
	for i := range res {
		if res[i].Err != nil {
			res[i].Error = res[i].Err.Error()
		}
	}
	return res
}
