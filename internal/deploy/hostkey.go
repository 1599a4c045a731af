package deploy

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ParseHostKey parses a pinned SSH host key: an authorized_keys line
// ("ssh-ed25519 AAAA… comment", as in /etc/ssh/ssh_host_ed25519_key.pub)
// or a known_hosts line ("host ssh-ed25519 AAAA…", as ssh-keyscan prints).
func ParseHostKey(s string) (ssh.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("no host key pinned: give the host's public key, e.g. the content of /etc/ssh/ssh_host_ed25519_key.pub (read it on the host's console, or compare `ssh-keyscan -t ed25519 HOST` with it)")
	}
	if key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s)); err == nil {
		return key, nil
	}
	if _, _, key, _, _, err := ssh.ParseKnownHosts([]byte(s)); err == nil {
		return key, nil
	}
	return nil, fmt.Errorf("host key %q is neither an authorized_keys line (\"ssh-ed25519 AAAA…\") nor a known_hosts line (\"host ssh-ed25519 AAAA…\")", abbreviate(s, 60))
}

// HostKeyError is returned when the host presents another key than the
// pinned one. The connection is refused: hubctl never trusts a key on
// first use.
type HostKeyError struct {
	Host                     string
	ExpectedType, Expected   string // the pinned key: type and SHA256 fingerprint
	PresentedType, Presented string // what the host showed
}

func (e *HostKeyError) Error() string {
	return fmt.Sprintf("ssh %s: host key mismatch, refusing to connect: host_key pins %s %s, but the host presented %s %s. "+
		"If the host was reinstalled or its keys rotated, check the new key out of band (e.g. `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console) and update host_key; otherwise someone may be intercepting the connection",
		e.Host, e.ExpectedType, e.Expected, e.PresentedType, e.Presented)
}

// pinnedHostKey accepts exactly the pinned key.
func pinnedHostKey(want ssh.PublicKey) ssh.HostKeyCallback {
	return func(hostname string, _ net.Addr, key ssh.PublicKey) error {
		if bytes.Equal(key.Marshal(), want.Marshal()) {
			return nil
		}
		return &HostKeyError{
			Host:         hostname,
			ExpectedType: want.Type(), Expected: ssh.FingerprintSHA256(want),
			PresentedType: key.Type(), Presented: ssh.FingerprintSHA256(key),
		}
	}
}

// hostKeyAlgorithms asks the server for the pinned kind of key, so a host
// with several keys presents the one we can check.
func hostKeyAlgorithms(want ssh.PublicKey) []string {
	if want.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{want.Type()}
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
