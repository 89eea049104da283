package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// RELP frames (librelp's doc/relp.md): TXNR SP COMMAND SP DATALEN [SP DATA]
// LF, with TXNR and DATALEN of 1 to 9 digits and COMMAND of 1 to 32
// letters.
const (
	// relpMaxTxnr is the last transaction number; the next is 1 again.
	relpMaxTxnr = 999999999
	// relpMaxCommand is the longest command.
	relpMaxCommand = 32
	// relpMaxDigits is the most digits of TXNR and DATALEN.
	relpMaxDigits = 9
	// RELPMaxResponse is the largest DATA of a frame the client reads: a
	// response is a status line and, for open, the server's offers, far
	// below this; a frame announcing more is a protocol error, read no
	// further, so that a broken or hostile server cannot make the client
	// allocate what it announces.
	RELPMaxResponse = 64 << 10
)

// nextTxnr is the transaction number after n: from 999999999 back to 1 (0
// is the server's, for hints).
func nextTxnr(n uint32) uint32 {
	if n >= relpMaxTxnr {
		return 1
	}
	return n + 1
}

// appendRELPFrame appends the frame of a command with its data.
func appendRELPFrame(dst []byte, txnr uint32, cmd string, data []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(txnr), 10)
	dst = append(dst, ' ')
	dst = append(dst, cmd...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	if len(data) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, data...)
	}
	return append(dst, '\n')
}

// relpFrame is a frame read; Command and Data point into the reader's
// buffer and are valid until the next read.
type relpFrame struct {
	Txnr    uint32
	Command []byte
	Data    []byte
}

// ErrRELPProtocol is what every error of a RELP server that breaks the
// protocol is (errors.Is): a malformed frame, a response out of order, a
// refused session. The client closes the connection after it, as RELP
// demands, and the records not acknowledged are unavailable.
var ErrRELPProtocol = errors.New("relp protocol error")

// RELPProtocolError is a frame or response the client cannot take.
type RELPProtocolError struct {
	// What says what is wrong.
	What string
}

func (e *RELPProtocolError) Error() string { return "relp protocol error: " + e.What }

// Is makes errors.Is(err, ErrRELPProtocol) true.
func (e *RELPProtocolError) Is(target error) bool { return target == ErrRELPProtocol }

func protocolErrorf(format string, args ...any) error {
	return &RELPProtocolError{What: fmt.Sprintf(format, args...)}
}

// relpReader reads frames from a stream into a buffer of its own, reused
// from frame to frame and never larger than max: 0 allocations per frame
// once the buffer has grown to the responses' size.
type relpReader struct {
	br  *bufio.Reader
	buf []byte
	max int
}

// newRELPReader reads from r frames of at most max bytes of data.
func newRELPReader(r io.Reader, max int) *relpReader {
	return &relpReader{br: bufio.NewReaderSize(r, 4096), buf: make([]byte, 0, 256), max: max}
}

// Buffered is how many bytes were read from the stream and not yet
// parsed.
func (r *relpReader) Buffered() int { return r.br.Buffered() }

// Read reads one frame. An error from the stream is returned as it is (an
// EOF in the middle of a frame as io.ErrUnexpectedEOF); a malformed frame
// is a *RELPProtocolError.
func (r *relpReader) Read() (relpFrame, error) {
	var f relpFrame
	txnr, c, err := r.number("transaction number", true)
	if err != nil {
		return f, err
	}
	if c != ' ' {
		return f, protocolErrorf("byte %q after the transaction number", c)
	}
	f.Txnr = uint32(txnr)
	r.buf = r.buf[:0]
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return f, unexpected(err)
		}
		if c == ' ' {
			break
		}
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') || len(r.buf) == relpMaxCommand {
			return f, protocolErrorf("command: byte %q after %q", c, r.buf)
		}
		r.buf = append(r.buf, c)
	}
	if len(r.buf) == 0 {
		return f, protocolErrorf("empty command")
	}
	ncmd := len(r.buf)
	n, c, err := r.number("data length", false)
	if err != nil {
		return f, err
	}
	if n > r.max {
		return f, protocolErrorf("data length %d over the limit of %d", n, r.max)
	}
	if n > 0 {
		// DATA follows its SP; with DATALEN 0 the trailer follows at once.
		if c != ' ' {
			return f, protocolErrorf("byte %q after the data length", c)
		}
		r.buf = append(r.buf, make([]byte, n)...)[:ncmd+n]
		if _, err := io.ReadFull(r.br, r.buf[ncmd:]); err != nil {
			return f, unexpected(err)
		}
		if c, err = r.br.ReadByte(); err != nil {
			return f, unexpected(err)
		}
	}
	if c != '\n' {
		return f, protocolErrorf("trailer %q, want a newline", c)
	}
	f.Command, f.Data = r.buf[:ncmd:ncmd], r.buf[ncmd:]
	return f, nil
}

// number reads 1 to 9 digits and the byte after them, which it returns;
// with first, an EOF before the first digit is io.EOF (the stream ended
// between frames).
func (r *relpReader) number(what string, first bool) (int, byte, error) {
	n, digits := 0, 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if first && digits == 0 && err == io.EOF {
				return 0, 0, io.EOF
			}
			return 0, 0, unexpected(err)
		}
		if c < '0' || c > '9' {
			if digits == 0 {
				return 0, 0, protocolErrorf("%s: byte %q", what, c)
			}
			return n, c, nil
		}
		if digits == relpMaxDigits {
			return 0, 0, protocolErrorf("%s of more than %d digits", what, relpMaxDigits)
		}
		n = n*10 + int(c-'0')
		digits++
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// relpResponse is the data of a rsp frame: RSP-CODE [SP HUMANMSG] [LF
// CMDDATA].
type relpResponse struct {
	Code int
	Text []byte
	Data []byte
}

// parseRELPResponse parses the data of a rsp frame.
func parseRELPResponse(data []byte) (relpResponse, error) {
	var rsp relpResponse
	if len(data) < 3 || len(data) > 3 && data[3] != ' ' && data[3] != '\n' {
		return rsp, protocolErrorf("response %q: no status code", data[:min(len(data), 40)])
	}
	for _, c := range data[:3] {
		if c < '0' || c > '9' {
			return rsp, protocolErrorf("response %q: no status code", data[:min(len(data), 40)])
		}
		rsp.Code = rsp.Code*10 + int(c-'0')
	}
	rest := data[3:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
		end := len(rest)
		for i, c := range rest {
			if c == '\n' {
				end = i
				break
			}
		}
		rsp.Text, rest = rest[:end], rest[end:]
	}
	if len(rest) > 0 {
		rsp.Data = rest[1:] // after the LF
	}
	return rsp, nil
}
