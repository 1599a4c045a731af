package federation

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"
)

// BenchmarkDeliver sends one drop of a 64 MiB file from one hub to the
// other over HTTPS on loopback (sign, re-encrypt, stream, decrypt, store,
// check), against age encryption of the same bytes in memory, measured in
// the same run.
func BenchmarkDeliver(b *testing.B) {
	const size = 64 << 20
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	b.Run("age-encrypt", func(b *testing.B) {
		id, _ := age.GenerateX25519Identity()
		b.SetBytes(size)
		for b.Loop() {
			w, _ := age.Encrypt(io.Discard, id.Recipient())
			w.Write(body)
			w.Close()
		}
	})
	b.Run("deliver", func(b *testing.B) {
		north, _ := newHubs(b)
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dr := north.send(b, body, "461:odile")
			b.StartTimer()
			if n, err := north.drops.DeliverDue(ctx); err != nil || n != 1 {
				b.Fatalf("DeliverDue = %d, %v", n, err)
			}
			b.StopTimer()
			north.drops.Withdraw(ctx, anna, dr.ID)
			north.drops.DeliverDue(ctx)
			b.StartTimer()
		}
	})
}
