package deploy

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseHostKey(t *testing.T) {
	k := newKey(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	for _, in := range []string{
		line,
		line + " root@hub",
		"  " + line + "\n",
		"10.203.0.2 " + line,
		"[hub.example]:2222 " + line,
	} {
		got, err := ParseHostKey(in)
		if err != nil {
			t.Errorf("ParseHostKey(%q): %v", in, err)
			continue
		}
		if ssh.FingerprintSHA256(got) != ssh.FingerprintSHA256(k) {
			t.Errorf("ParseHostKey(%q) gave another key", in)
		}
	}
	for _, in := range []string{"", "ssh-ed25519", "not a key at all", "ssh-ed25519 AAAAnotbase64!"} {
		if _, err := ParseHostKey(in); err == nil {
			t.Errorf("ParseHostKey(%q) was accepted", in)
		}
	}
}

func TestPinnedHostKey(t *testing.T) {
	pinned, other := newKey(t), newKey(t)
	cb := pinnedHostKey(pinned)
	if err := cb("hub:22", nil, pinned); err != nil {
		t.Fatalf("the pinned key was refused: %v", err)
	}
	err := cb("hub:22", nil, other)
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("another key: got %v, want a HostKeyError", err)
	}
	for _, want := range []string{"hub:22", "mismatch", ssh.FingerprintSHA256(pinned), ssh.FingerprintSHA256(other), "refusing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got := hostKeyAlgorithms(pinned); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Errorf("host key algorithms for an ed25519 pin: %v", got)
	}
}
