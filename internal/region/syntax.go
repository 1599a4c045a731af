package region

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// badChar finds the first byte sequence YAML does not allow in a file
// (invalid UTF-8, NUL and other control characters) and says where it is.
// yaml.v3 reports these without a position.
func badChar(file string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		var msg, hint string
		switch {
		case r == utf8.RuneError && w <= 1:
			msg = fmt.Sprintf("the byte 0x%02x is not valid UTF-8 text", data[i])
			hint = "save the file as UTF-8 (Danish letters æ, ø, å are fine in UTF-8)"
		case r == 0:
			msg = "the file holds a NUL byte"
			hint = "the file is damaged or not a text file; remove the character"
		case r == '\n':
			line, col = line+1, 1
			i += w
			continue
		case r == '\uFEFF' && i == 0: // byte order mark
		case !printable(r):
			msg = fmt.Sprintf("the file holds the control character %U", r)
			hint = "remove it; a region file holds plain text (tabs only inside values)"
		}
		if msg != "" {
			return &Error{File: file, Line: line, Col: col, Message: msg, Hint: hint}
		}
		i += w
		col++
	}
	return nil
}

// printable is YAML 1.2's set of characters allowed in a stream.
func printable(r rune) bool {
	switch {
	case r == '\t' || r == '\r' || r == 0x85:
		return true
	case r < 0x20 || r == 0x7f:
		return false
	case r >= 0x80 && r < 0xa0:
		return false
	case r >= 0xd800 && r <= 0xdfff, r == 0xfffe, r == 0xffff:
		return false
	}
	return true
}

// syntaxError turns a yaml.v3 syntax error into one at the line where the
// problem is, in plain words. yaml.v3 names the line where the enclosing
// block began (a misaligned entry on line 89 is reported on line 7), so the
// problem line is found again: it is the first line whose prefix of the
// file fails to parse.
func syntaxError(file string, data []byte, err error) Error {
	raw := strings.TrimPrefix(err.Error(), "yaml: ")
	yline := 0
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		yline, _ = strconv.Atoi(m[1])
		raw = m[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	line := firstFailingLine(data, lines)
	if strings.Contains(raw, "end of stream") {
		line = len(lines) + 1
	}
	// A quote left open swallows the lines after it until the next quote
	// mark; the parser then fails far below. Report where it began.
	if ql, qc, q := openQuote(lines[:min(max(line-1, 0), len(lines))]); ql > 0 {
		return Error{File: file, Line: ql, Col: qc,
			Message: fmt.Sprintf("the text in quotes that starts here (%c) is never closed", q),
			Hint:    fmt.Sprintf("end it with %c on the same line, or remove the quote", q)}
	}
	if line == 0 || line > len(lines) {
		line = max(yline, 1)
	}
	text := ""
	if line <= len(lines) {
		text = strings.TrimRight(string(lines[line-1]), "\r\n")
	}
	e := Error{File: file, Line: line, Col: indentCol(text)}
	trimmed := strings.TrimLeft(text, " ")
	switch {
	case strings.Contains(raw, "tab character"):
		e.Col = strings.IndexByte(text, '\t') + 1
		e.Message = "this line is indented with a tab"
		e.Hint = "indent with spaces only"
	case (strings.Contains(raw, "expected '-' indicator") || strings.Contains(raw, "expected key")) && strings.HasPrefix(trimmed, "- "):
		e.Message = "this line's indentation does not match the list above it"
		e.Hint = "start each entry's '- ' in the same column as the entries before it"
	case strings.Contains(raw, "expected key"), strings.Contains(raw, "expected '-' indicator"):
		e.Message = "this line's indentation does not match the lines above it"
		e.Hint = "keys of one block start in the same column; indent with spaces"
	case strings.Contains(raw, "mapping values are not allowed"):
		if c := secondColon(text); c > 0 {
			e.Col = c
			e.Message = "this value holds ': ', which YAML reads as the start of another key"
			e.Hint = `put the value in quotes, e.g. title: "Konsulent: SSP"`
		} else {
			e.Message = "this line is indented further than the key above it"
			e.Hint = "line it up with the key above, or give the key above no value on its own line"
		}
	case strings.Contains(raw, "block sequence entries are not allowed"):
		e.Message = "a list entry ('- ') cannot follow a key on the same line"
		e.Hint = "start the list on the next line, indented, or write it as [a, b]"
	case strings.Contains(raw, "expected ',' or ']'"):
		e.Col = lastCol(text, "[", e.Col)
		e.Message = "the list opened with '[' is not closed"
		e.Hint = "close it with ']' on the same line, and put text holding ',' or ']' in quotes"
	case strings.Contains(raw, "expected ',' or '}'"):
		e.Col = lastCol(text, "{", e.Col)
		e.Message = "the braces opened with '{' are not closed"
		e.Hint = "close them with '}', and put text holding ',' or '}' in quotes"
	case strings.Contains(raw, "cannot start any token"):
		e.Message = "a value here starts with a character YAML reserves (such as @ or `)"
		e.Hint = "put the value in quotes"
	case strings.Contains(raw, "could not find expected ':'"):
		e.Message = "this line has no ':' after its key"
		e.Hint = "write key: value"
	case strings.Contains(raw, "unknown escape"):
		e.Message = "a backslash in double quotes starts an unknown escape"
		e.Hint = `write \\ for a backslash, or use single quotes`
	default:
		e.Message = "the YAML cannot be read here (" + raw + ")"
		e.Hint = "check indentation (spaces, not tabs) and that text with ':' or '#' is in quotes"
	}
	return e
}

// firstFailingLine is the smallest n for which the file's first n lines do
// not parse (an unfinished construct at the cut aside), or 0.
func firstFailingLine(data []byte, lines [][]byte) int {
	fails := func(n int) bool {
		size := 0
		for _, l := range lines[:n] {
			size += len(l)
		}
		var node yaml.Node
		err := yaml.Unmarshal(data[:size], &node)
		return err != nil && !strings.Contains(err.Error(), "end of stream")
	}
	if len(lines) == 0 || !fails(len(lines)) {
		return 0
	}
	lo, hi := 1, len(lines)
	for lo < hi {
		m := (lo + hi) / 2
		if fails(m) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// lastCol is the column of the last sub in text, or def.
func lastCol(text, sub string, def int) int {
	if i := strings.LastIndex(text, sub); i >= 0 {
		return utf8.RuneCountInString(text[:i]) + 1
	}
	return def
}

// indentCol is the column of a line's first non-blank character.
func indentCol(text string) int {
	return utf8.RuneCountInString(text[:len(text)-len(strings.TrimLeft(text, " "))]) + 1
}

// secondColon is the column of a ': ' after the line's key, or 0.
func secondColon(text string) int {
	first := strings.Index(text, ": ")
	if first < 0 {
		return 0
	}
	rest := text[first+2:]
	if i := strings.Index(rest, ": "); i >= 0 {
		return utf8.RuneCountInString(text[:first+2+i]) + 1
	} else if strings.HasSuffix(rest, ":") {
		return utf8.RuneCountInString(text) // trailing colon
	}
	return 0
}

// openQuote finds a quoted text still open at the end of lines: the line
// and column where it began and its quote mark (line 0 when none). Quotes
// count only where a value starts, so the apostrophe in Children's is text.
func openQuote(lines [][]byte) (line, col int, mark rune) {
	for n, l := range lines {
		c, prev := 0, ' '
		escaped := false
		for _, r := range strings.TrimRight(string(l), "\r\n") {
			c++
			switch {
			case mark == 0 && r == '#' && (prev == ' ' || prev == '\t'):
				goto next
			case mark == 0 && (r == '"' || r == '\'') && valueStart(l, c):
				mark, line, col = r, n+1, c
			case mark == '"' && escaped:
				escaped = false
			case mark == '"' && r == '\\':
				escaped = true
			case mark != 0 && r == mark:
				mark = 0 // a doubled '' reopens at once: same state
			}
			prev = r
		}
	next:
	}
	if mark == 0 {
		return 0, 0, 0
	}
	return line, col, mark
}

// valueStart reports whether column col of line begins a value: only
// blanks since the line's start, a key's ':', a '- ' or a flow bracket.
func valueStart(l []byte, col int) bool {
	rs := []rune(string(l))
	for i := col - 2; i >= 0; i-- {
		switch rs[i] {
		case ' ', '\t':
			continue
		case ':', '-', '[', '{', ',':
			return true
		}
		return false
	}
	return true
}
