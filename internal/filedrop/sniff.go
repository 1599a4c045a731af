package filedrop

import (
	"bytes"
	"net/http"
)

// sniffLen is how much of a file DetectContentType looks at.
const sniffLen = 512

// sniffer keeps the first bytes of a stream to tell its type.
type sniffer struct {
	head []byte
}

func (s *sniffer) Write(p []byte) (int, error) {
	if room := sniffLen - len(s.head); room > 0 {
		s.head = append(s.head, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// mediaType is the content's type by its first bytes, never by its name:
// a name is whatever the uploader chose.
func (s *sniffer) mediaType() string { return http.DetectContentType(s.head) }

// executable reports whether the content starts like a program: Windows
// PE ("MZ"), ELF, Mach-O (and fat Mach-O, whose magic Java class files
// share).
func (s *sniffer) executable() bool {
	h := s.head
	for _, magic := range [][]byte{
		[]byte("MZ"),
		[]byte("\x7fELF"),
		{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf},
		{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
		{0xca, 0xfe, 0xba, 0xbe},
	} {
		if bytes.HasPrefix(h, magic) {
			return true
		}
	}
	return false
}
