package tf

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// planFile is the saved plan of a region's last `hubctl plan`/`apply`.
const planFile = "hubctl.tfplan"

// Plan plans every region (destroy plans when destroy is set), saves each
// plan in the region's working directory and summarises it. Exit codes as
// terraform plan -detailed-exitcode: 0 no changes, 2 changes, 1 error.
func (r *Runner) Plan(ctx context.Context, regions []string, destroy bool) []Result {
	sums := make(map[string]Summary, len(regions))
	texts := make(map[string]string, len(regions))
	res := r.forEach(ctx, regions, func(ctx context.Context, w *workspace) (int, error) {
		r.progress(w.region, "planning", "")
		changes, err := w.tf.Plan(ctx, tfexec.Out(planFile), tfexec.Destroy(destroy), tfexec.Refresh(true),
			tfexec.Lock(true), tfexec.LockTimeout(lockTimeout(r.Config)))
		if err != nil {
			return ExitError, err
		}
		loud := w.quiet()
		p, err := w.tf.ShowPlanFile(ctx, filepath.Join(w.dir, planFile))
		var text string
		if err == nil {
			text, err = w.tf.ShowPlanFileRaw(ctx, filepath.Join(w.dir, planFile))
		}
		loud()
		if err != nil {
			return ExitError, err
		}
		s := Summarise(w.region, p)
		r.outMu.Lock()
		sums[w.region] = s
		texts[w.region] = ElideFiles(text)
		r.outMu.Unlock()
		r.progress(w.region, "planned", fmt.Sprintf("%d to add, %d to change, %d to destroy", s.Add, s.Change, s.Destroy))
		if changes {
			return ExitChanges, nil
		}
		return ExitOK, nil
	})
	for i := range res {
		res[i].Summary = sums[res[i].Region]
		res[i].PlanText = texts[res[i].Region]
		if res[i].Summary.Region == "" {
			res[i].Summary.Region = res[i].Region
		}
		if res[i].Err != nil {
			res[i].Error = res[i].Err.Error()
		}
	}
	return res
}
