package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"

	"github.com/runbookhq/runbook/internal/sshsig"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

func newSignCmd(a *app) *cobra.Command {
	var stateFlag, role, keyFile, statement, out, operator string
	cmd := &cobra.Command{
		Use:   "sign [RUN] --role ROLE --key FILE",
		Short: "Sign a run's record with an SSH key, as ssh-keygen -Y sign does",
		Long: `Sign a finished run (default: the last) for ROLE with an SSH key: the
signature covers the bytes "runbook show RUN --canonical" prints (the record
as its journal says, and the journal's last event), in the SSHSIG format of
"ssh-keygen -Y sign" with namespace "runbook", so anyone can check it with
"ssh-keygen -Y verify". The signature is kept with the run (its journal and
record), shown in its reports once they are rendered again, and checked by
"runbook verify".

FILE is a private key; an encrypted one asks for its passphrase on a
terminal, or is used through ssh-agent (SSH_AUTH_SOCK) when it holds the key
(FILE may then be the public key, FILE.pub).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return exitWith(2, errors.New("--role is required: the role you sign as"))
			}
			if keyFile == "" {
				return exitWith(2, errors.New("--key is required: your SSH private key"))
			}
			store, run, err := a.recordedRun(cmd.Context(), stateFlag, args)
			if err != nil {
				return err
			}
			defer store.Close()
			if !state.Final(run) {
				return exitWith(1, fmt.Errorf("run %s has not ended: sign it once it has", run.ID))
			}
			if roles := signoffRoles(run); len(roles) > 0 && !slices.Contains(roles, role) {
				return exitWith(2, fmt.Errorf("the reports of run %s have no role %q to sign (roles: %s)", run.ID, role, strings.Join(roles, ", ")))
			}
			c, ok := state.ConsoleOf(store)
			if !ok {
				return exitWith(2, fmt.Errorf("the state %s cannot keep sign-offs", store.Location()))
			}
			signer, closeSigner, err := a.loadSigner(keyFile)
			if err != nil {
				return exitWith(2, err)
			}
			defer closeSigner()
			msg, events, err := canonicalBytes(cmd.Context(), store, run, 0)
			if err != nil {
				return exitWith(1, fmt.Errorf("run %s: %w", run.ID, err))
			}
			sig, err := sshsig.Sign(signer, sshNamespace, msg)
			if err != nil {
				return exitWith(1, err)
			}
			head := events[len(events)-1]
			s := record.Signoff{
				Role: role, Name: a.operator(operator), Statement: statement, At: time.Now(),
				Surface: record.SurfaceTerminal, Key: sshsig.Fingerprint(signer.PublicKey()),
				Signature: string(sig), SignedHead: head.Hash,
			}
			if _, err := c.SignOff(cmd.Context(), run.ID, s); err != nil {
				return exitWith(1, fmt.Errorf("sign run %s: %w", run.ID, err))
			}
			if out != "" {
				if err := record.WriteFileAtomic(out, sig, 0o644); err != nil {
					return exitWith(1, fmt.Errorf("write --out: %w", err))
				}
			}
			fmt.Fprintf(a.stdout, "signed run %s as %s (%s, key %s, journal event %d)\n", run.ID, role, s.Name, s.Key, head.Seq)
			sigFile := shellWord(out)
			if out == "" {
				sigFile = "SIGNATURE"
				fmt.Fprintln(a.stdout, "the signature is in the run's record (signoffs); sign with --out FILE to have it in a file too")
			}
			fmt.Fprintf(a.stdout, "check it with: runbook show %s --canonical --upto %d%s | ssh-keygen -Y verify -f allowed_signers -I %s -n %s -s %s\n",
				run.ID, head.Seq, stateArg(store), shellWord(s.Name), sshNamespace, sigFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL holding the run")
	cmd.Flags().StringVar(&role, "role", "", "the `ROLE` you sign as (a sign-off role of the run's reports)")
	cmd.Flags().StringVar(&keyFile, "key", "", "your SSH private key `FILE` (or its .pub with ssh-agent)")
	cmd.Flags().StringVar(&statement, "statement", "", "what you attest, in your words")
	cmd.Flags().StringVar(&out, "out", "", "also write the armored signature to `FILE`")
	cmd.Flags().StringVar(&operator, "operator", "", "who signs (default: $RUNBOOK_OPERATOR, $USER)")
	return cmd
}

// loadSigner reads an SSH key to sign with: a private key (asking for
// the passphrase of an encrypted one on a terminal), or a key held by
// ssh-agent.
func (a *app) loadSigner(path string) (ssh.Signer, func(), error) {
	none := func() {}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, none, fmt.Errorf("read key: %w", err)
	}
	if pub, err := sshsig.ParseAuthorizedKey(string(data)); err == nil {
		return a.agentSigner(path, pub)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, none, fmt.Errorf("key %s: %w", path, err)
		}
		return signer, none, nil
	}
	// Encrypted: ssh-agent if it holds it, else a passphrase typed on a
	// terminal.
	if missing.PublicKey != nil && a.getenv("SSH_AUTH_SOCK") != "" {
		if s, closeFn, err := a.agentSigner(path, missing.PublicKey); err == nil {
			return s, closeFn, nil
		}
	}
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil, none, fmt.Errorf("key %s is encrypted: run runbook sign on a terminal to type its passphrase, or add the key to ssh-agent (ssh-add %s)", path, path)
	}
	fmt.Fprintf(a.stderr, "Enter passphrase for %s: ", path)
	pass, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, none, fmt.Errorf("read passphrase: %w", err)
	}
	signer, err = ssh.ParsePrivateKeyWithPassphrase(data, pass)
	if err != nil {
		return nil, none, fmt.Errorf("key %s: %w", path, err)
	}
	return signer, none, nil
}

// agentSigner finds key in ssh-agent (SSH_AUTH_SOCK).
func (a *app) agentSigner(path string, key ssh.PublicKey) (ssh.Signer, func(), error) {
	sock := a.getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, func() {}, fmt.Errorf("key %s is a public key: its private key must be in ssh-agent, and SSH_AUTH_SOCK is not set", path)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, func() {}, fmt.Errorf("ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, func() {}, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if sshsig.SameKey(s.PublicKey(), key) {
			return s, func() { conn.Close() }, nil
		}
	}
	conn.Close()
	return nil, func() {}, fmt.Errorf("ssh-agent does not hold key %s (%s): ssh-add it", path, sshsig.Fingerprint(key))
}

// signoffRoles are the roles the run's reports ask to sign, in order,
// once each.
func signoffRoles(run *record.Run) []string {
	var out []string
	for _, rep := range run.Reports {
		for _, role := range rep.Roles {
			if !slices.Contains(out, role) {
				out = append(out, role)
			}
		}
	}
	return out
}
