package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

type diagnostic = diag.Diagnostic

func attributeError(p path.Path, summary, detail string) diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, summary, detail)
}

func errorDiag(summary, detail string) diagnostic { return diag.NewErrorDiagnostic(summary, detail) }

func tflogInfo(ctx context.Context, msg string, fields map[string]any) { tflog.Info(ctx, msg, fields) }

// durationValidator accepts a positive Go duration such as "90s" or "2m".
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "must be a positive duration such as 90s or 2m"
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a positive duration: write it as e.g. 90s or 2m", req.ConfigValue.ValueString()))
	}
}

// absPathValidator accepts clean absolute paths: deploy removes things
// below the target directory, so it must be exactly what was meant.
type absPathValidator struct{}

func (absPathValidator) Description(context.Context) string { return "must be a clean absolute path" }
func (v absPathValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (absPathValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	p := req.ConfigValue.ValueString()
	switch {
	case !filepath.IsAbs(p):
		resp.Diagnostics.AddAttributeError(req.Path, "Not an absolute path",
			fmt.Sprintf("%q is relative: write an absolute path, e.g. with abspath(\"%s\")", p, p))
	case filepath.Clean(p) != p:
		resp.Diagnostics.AddAttributeError(req.Path, "Path not clean", fmt.Sprintf("write %q as %q", p, filepath.Clean(p)))
	}
}

// targetMoved replaces a site whose target moves to another machine or
// directory (or from local to ssh). Other changes of the target block,
// such as a rotated host key or another login user, are updates in place.
type targetMoved struct{}

func (targetMoved) Description(context.Context) string {
	return "replaces the site when its target's kind, host or directory changes"
}
func (v targetMoved) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (targetMoved) PlanModifyObject(_ context.Context, req planmodifier.ObjectRequest, resp *planmodifier.ObjectResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.StateValue.IsNull() {
		return // create or destroy
	}
	from, okFrom := targetLocation(req.StateValue)
	to, okTo := targetLocation(req.PlanValue)
	if !okFrom || !okTo || from != to {
		resp.RequiresReplace = true
	}
}

// targetLocation is "local:<dir>" or "ssh:<host>:<dir>"; false when a
// part is unknown.
func targetLocation(v types.Object) (string, bool) {
	if v.IsUnknown() {
		return "", false
	}
	str := func(o attr.Value, name string) (string, bool) {
		obj, ok := o.(types.Object)
		if !ok || obj.IsNull() {
			return "", true
		}
		s, ok := obj.Attributes()[name].(types.String)
		if !ok || s.IsUnknown() {
			return "", false
		}
		return s.ValueString(), true
	}
	attrs := v.Attributes()
	if local, ok := attrs["local"].(types.Object); ok && !local.IsNull() {
		dir, ok := str(local, "dir")
		return "local:" + dir, ok
	}
	ssh := attrs["ssh"]
	host, ok1 := str(ssh, "host")
	dir, ok2 := str(ssh, "dir")
	return "ssh:" + host + ":" + dir, ok1 && ok2
}
