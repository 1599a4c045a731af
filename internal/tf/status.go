package tf

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Status is a region's deployment as Terraform's state and the host see it.
type Status struct {
	Region     string `json:"region"`
	Deployed   bool   `json:"deployed"`
	ReleaseID  string `json:"release_id,omitempty"`
	BundleHash string `json:"bundle_hash,omitempty"`
	Domain     string `json:"domain,omitempty"`
	Listen     string `json:"listen,omitempty"`
	Healthy    bool   `json:"healthy"`
	Drift      bool   `json:"drift"` // the host differs from the state (refresh-only plan)
	Error      string `json:"error,omitempty"`
}

// Status reads each region's state, checks for drift with a refresh-only
// plan and probes /readyz.
func (r *Runner) Status(ctx context.Context, regions []string) []Status {
	out := make([]Status, len(regions))
	res := r.forEach(ctx, regions, func(ctx context.Context, w *workspace) (int, error) {
		r.progress(w.region, "checking", "")
		st, err := r.siteStatus(ctx, w)
		out[indexOf(regions, w.region)] = st
		if err != nil {
			return ExitError, err
		}
		s := &out[indexOf(regions, w.region)]
		if !s.Deployed {
			r.progress(w.region, "done", "not deployed")
			return ExitOK, nil
		}
		drift, err := w.tf.Plan(ctx, tfexec.RefreshOnly(true), tfexec.Lock(false))
		if err != nil {
			return ExitError, err
		}
		s.Drift = drift
		s.Healthy = r.probeSite(ctx, w.region, *s)
		r.progress(w.region, "done", "")
		return ExitOK, nil
	})
	for i, r := range res {
		if r.Err != nil {
			out[i].Region, out[i].Error = r.Region, r.Err.Error()
		}
	}
	return out
}

// siteStatus reads a region's hubkit_site from its state.
func (r *Runner) siteStatus(ctx context.Context, w *workspace) (Status, error) {
	s := Status{Region: w.region}
	loud := w.quiet() // show -json prints the state it returns
	st, err := w.tf.Show(ctx)
	loud()
	if err != nil {
		return s, err
	}
	if st.Values == nil {
		return s, nil
	}
	for _, m := range st.Values.RootModule.ChildModules {
		for _, res := range m.Resources {
			if res.Type != "hubkit_site" {
				continue
			}
			s.Deployed = true
			s.ReleaseID = fmt.Sprint(res.AttributeValues["release_id"])
			s.BundleHash = fmt.Sprint(res.AttributeValues["deployed_bundle_hash"])
			s.Listen = fmt.Sprint(res.AttributeValues["listen"])
		}
	}
	if o, ok := st.Values.Outputs["domain"]; ok {
		s.Domain = fmt.Sprint(o.Value)
	}
	return s, nil
}

// probeSite asks a deployed hub's /readyz on its target.
func (r *Runner) probeSite(ctx context.Context, region string, s Status) bool {
	host := "127.0.0.1"
	if r.Target == TargetSSH {
		host = r.Config.Targets.SSH[region].Host
	}
	return probe(ctx, host, s.Listen, s.Domain)
}

// probe asks a hub's /readyz at its listen address (on the target host
// when it listens on all addresses) with its host name.
// Certificates are not checked: this is a liveness probe of hubs that may
// use Caddy's internal CA, not a trust decision.
func probe(ctx context.Context, target, listen, domain string) bool {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = target
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(host, port))
		},
		TLSClientConfig: &tls.Config{ServerName: domain, InsecureSkipVerify: true}, //nolint:gosec // liveness only
	}}
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+net.JoinHostPort(domain, port)+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
