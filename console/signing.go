package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/internal/sshsig"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// sshNamespace is the SSHSIG namespace of runbook's signatures.
const sshNamespace = "runbook"

// allowedKeys reads the keys registered for name in an allowed-signers
// file, the format of ssh-keygen -Y verify: one key a line, "principals
// [options] keytype base64 [comment]", principals separated by commas
// (a * matches any text), # comments.
func allowedKeys(path, name string) ([]ssh.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the allowed signers: %w", err)
	}
	defer f.Close()
	var keys []ssh.PublicKey
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		principals, rest, ok := strings.Cut(line, " ")
		if !ok || !principalMatches(principals, name) {
			continue
		}
		rest = strings.TrimSpace(rest)
		key, err := sshsig.ParseAuthorizedKey(rest)
		if err != nil {
			// "options keytype base64": skip the options.
			if _, after, ok := strings.Cut(rest, " "); ok {
				key, err = sshsig.ParseAuthorizedKey(after)
			}
		}
		if err == nil {
			keys = append(keys, key)
		}
	}
	return keys, sc.Err()
}

func principalMatches(list, name string) bool {
	for _, p := range strings.Split(list, ",") {
		if ok, _ := matchGlob(p, name); ok {
			return true
		}
	}
	return false
}

// matchGlob matches name against an allowed-signers principal pattern
// (* and ? wildcards).
func matchGlob(pattern, name string) (bool, error) {
	if pattern == "" {
		return name == "", nil
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(name); i++ {
			if ok, _ := matchGlob(pattern[1:], name[i:]); ok {
				return true, nil
			}
		}
		return false, nil
	case '?':
		return name != "" && must(matchGlob(pattern[1:], name[1:])), nil
	default:
		return name != "" && pattern[0] == name[0] && must(matchGlob(pattern[1:], name[1:])), nil
	}
}

func must(ok bool, _ error) bool { return ok }

// canonicalCommand is what a signer runs to sign the run's record as of
// journal event upto.
func canonicalCommand(runID string, upto int64) string {
	return fmt.Sprintf("runbook show %s --canonical --upto %d | ssh-keygen -Y sign -n %s -f ~/.ssh/id_ed25519", runID, upto, sshNamespace)
}

// journalLength is the number of events in a run's journal (0: none).
func (s *Server) journalLength(ctx context.Context, runID string) int64 {
	el, ok := s.console.(state.EventLog)
	if !ok {
		return 0
	}
	evs, err := el.Events(ctx, runID)
	if err != nil {
		return 0
	}
	return int64(len(evs))
}

// keySignature checks a signature pasted for a sign-off: it must sign
// the run's record as of journal event upto (all of it when 0) with a
// key registered for the signer in the allowed-signers file. It fills in
// the sign-off's key, signature and signed head.
func (s *Server) keySignature(ctx context.Context, name, runID string, upto int64, armored string, so *record.Signoff) error {
	if s.opts.AllowedSigners == "" {
		return errorf(http.StatusBadRequest, "this console checks no signatures: it was started without --allowed-signers")
	}
	el, ok := s.console.(state.EventLog)
	if !ok {
		return errorf(http.StatusBadRequest, "this state keeps no journals to sign")
	}
	evs, err := el.Events(ctx, runID)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return errorf(http.StatusConflict, "run %s has no journal (recorded by an earlier version): it cannot be signed by key", runID)
	}
	if err := record.CheckChain(evs); err != nil {
		return errorf(http.StatusConflict, "the journal of run %s is damaged (%v): it cannot be signed", runID, err)
	}
	if upto <= 0 {
		upto = int64(len(evs))
	}
	if upto > int64(len(evs)) {
		return errorf(http.StatusBadRequest, "the journal of run %s has %d events, not %d", runID, len(evs), upto)
	}
	// A signature vouches for the finished run: the bytes it covers must
	// include the run's end, not only an earlier part of its journal.
	if end := slices.IndexFunc(evs, func(e record.Event) bool { return e.Type == record.EventRunFinished }); end < 0 || upto <= int64(end) {
		return errorf(http.StatusBadRequest, "a signature must cover the finished run: sign %s", canonicalCommand(runID, int64(len(evs))))
	}
	msg, err := record.SignedBytes(evs[:upto])
	if err != nil {
		return err
	}
	key, err := sshsig.Verify([]byte(armored), sshNamespace, msg)
	if err != nil {
		return errorf(http.StatusBadRequest, "the signature does not verify over %s: %v", canonicalCommand(runID, upto), err)
	}
	keys, err := allowedKeys(s.opts.AllowedSigners, name)
	if errors.Is(err, fs.ErrNotExist) {
		return errorf(http.StatusInternalServerError, "the allowed signers file %s is missing", s.opts.AllowedSigners)
	}
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(keys, func(k ssh.PublicKey) bool { return sshsig.SameKey(k, key) }) {
		return errorf(http.StatusForbidden, "key %s is not registered for %s in the console's allowed signers", sshsig.Fingerprint(key), name)
	}
	so.Key, so.Signature, so.SignedHead = sshsig.Fingerprint(key), armored, evs[upto-1].Hash
	return nil
}
