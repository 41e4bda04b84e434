package upstream

import (
	"bytes"
	"fmt"
	"io"
)

// lineLimit passes r through but fails once a line (one JSON-RPC message
// of a stdio upstream) grows past max bytes: mcp-go reads whole lines into
// memory, and an upstream must not make the daemon hold an endless one.
type lineLimit struct {
	r    io.Reader
	max  int
	line int // bytes since the last newline
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	chunk := p[:n]
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			l.line += len(chunk)
			break
		}
		l.line = 0
		chunk = chunk[i+1:]
	}
	if l.line > l.max {
		return n, fmt.Errorf("upstream sent a message longer than %d bytes", l.max)
	}
	return n, err
}
