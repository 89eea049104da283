package model

import "strings"

// lexer splits a line into tokens separated by spaces and tabs. A token that
// starts with "[start=" or "[stop=" runs to the next ']', because ctime's
// format contains spaces.
type lexer struct {
	line string
	pos  int
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.line) && (l.line[l.pos] == ' ' || l.line[l.pos] == '\t') {
		l.pos++
	}
}

// next returns the next token and its byte offset; at the end of the line it
// returns ok false and the line's length.
func (l *lexer) next() (tok string, off int, ok bool) {
	tok, off, end := l.scan()
	l.pos = end
	return tok, off, tok != ""
}

func (l *lexer) peek() (tok string, off int, ok bool) {
	tok, off, _ = l.scan()
	return tok, off, tok != ""
}

func (l *lexer) scan() (tok string, off, end int) {
	l.skipSpace()
	start := l.pos
	rest := l.line[start:]
	if strings.HasPrefix(rest, "[start=") || strings.HasPrefix(rest, "[stop=") {
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			return rest[:i+1], start, start + i + 1
		}
	}
	i := strings.IndexAny(rest, " \t")
	if i < 0 {
		i = len(rest)
	}
	return rest[:i], start, start + i
}

// rest returns the remainder of the line without surrounding blanks.
func (l *lexer) rest() (string, int) {
	l.skipSpace()
	off := l.pos
	r := strings.TrimRight(l.line[l.pos:], " \t")
	l.pos = len(l.line)
	return r, off
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
