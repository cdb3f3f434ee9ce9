package engine

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/record"
)

// A cleanup block is a step that runs after its procedure (the top-level
// steps, or a playbook's) however the procedure ended: passed, failed,
// stopped by on_failure = "stop", ended by a declined confirmation, or
// interrupted. Cleanups run in declaration order, each once, each under its
// own timeout, and on a context that the run's interruption does not
// cancel (see Options.CleanupCtx). They take every setting of a step
// except confirm, and they cannot be manual: nobody may be waiting for a
// person when a run is being torn down.
//
//	cleanup "stop_off" {
//	  when = step.stop_enable.status == "passed" && step.stop_disable.status != "passed"
//	  shell { command = ["runbook", "stop", "disable", "--reason", "drill cleanup"] }
//	}
//
// A cleanup may use the results of every step of its procedure, and of
// checks; a check that no step ran runs just before the cleanup that
// needs it. Its outcome is recorded as an item of kind "cleanup"; a failed
// cleanup fails the run.

// DefaultCleanupTimeout bounds a cleanup that sets no timeout.
const DefaultCleanupTimeout = DefaultTimeout

// addCleanup decodes a cleanup block and appends it to the cleanups of its
// procedure, where its name is unique.
func (d *decoder) addCleanup(cleanups []*Item, b *hcl.Block, playbook string) ([]*Item, hcl.Diagnostics) {
	it, diags := d.decodeItem(b, record.KindCleanup, playbook)
	if it.Confirm != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Confirm in a cleanup",
			Detail:   "A cleanup runs however the procedure ended, also after Ctrl-C, so it cannot wait for a person to confirm it. Remove confirm, or make this a step.",
			Subject:  it.Confirm.Range().Ptr(),
		})
	}
	if it.Manual != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Manual cleanup",
			Detail:   "A cleanup runs however the procedure ended, also after Ctrl-C, so it cannot wait for a person's answer. Make it automated (shell { … }, http { … } …), or make this a manual step.",
			Subject:  it.Manual.DeclRange.Ptr(),
		})
	}
	if it.Required != nil && it.Manual == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Required in a cleanup",
			Detail:   "required = true applies to manual steps; a cleanup always runs (unless its when is false).",
			Subject:  it.Required.Range().Ptr(),
		})
	}
	for _, prev := range cleanups {
		if prev.Name == it.Name {
			return cleanups, append(diags, duplicate("cleanup", it.Name, b.DefRange, prev.DeclRange))
		}
	}
	return append(cleanups, it), diags
}

// cleanupsOf returns the cleanups of the procedure a run performs: the
// playbook's, the top level's for exec, none for check.
func (c *Config) cleanupsOf(opts Options) []*Item {
	switch {
	case opts.Playbook != "":
		if pb := c.Playbooks[opts.Playbook]; pb != nil {
			return pb.Cleanups
		}
		return nil
	case opts.Mode == ModeExec:
		return c.Cleanups
	}
	return nil
}

// cleanupStopReason is the skip reason of cleanups after one that failed
// with on_failure = "stop".
func cleanupStopReason(name string) string {
	return fmt.Sprintf("an earlier cleanup stopped the cleanup (cleanup %s failed)", name)
}
