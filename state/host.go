package state

import (
	"errors"
	"path/filepath"
)

// HostDir returns the host-wide state directory, where `runbook stop`
// typed without a state also writes its stop and where every `runbook
// exec` on the host looks for one: $XDG_STATE_HOME/runbook, else
// $HOME/.local/state/runbook. It belongs to the account: another user (or
// root through a sudo that resets HOME) has another. getenv reads the
// environment (os.Getenv).
func HostDir(getenv func(string) string) (string, error) {
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "runbook"), nil
	}
	if home := getenv("HOME"); home != "" && filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", "runbook"), nil
	}
	return "", errors.New("no host-wide state directory: neither XDG_STATE_HOME nor HOME is set to an absolute path")
}
