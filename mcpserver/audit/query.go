package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Who selects callers in a Query.
type Who struct {
	Kind WhoKind
	// UserID is the persistent user id, for WhoUser.
	UserID string
}

// WhoKind is a kind of caller.
type WhoKind int

// Kinds of callers.
const (
	WhoAnyone WhoKind = iota
	WhoLocal          // the tenant's local owner
	WhoGuests         // guests, with or without a session
	WhoUser           // one registered user (Who.UserID)
)

func (w Who) match(c Call) bool {
	switch w.Kind {
	case WhoLocal:
		return c.Local
	case WhoGuests:
		return c.User == ""
	case WhoUser:
		return c.User == w.UserID && !c.Local
	}
	return true
}

// Query selects a page of records, newest first.
type Query struct {
	Tenant  string // "" = every tenant's (and no tenant's)
	Kind    Kind   // "" = any kind
	Tool    string // "" = any tool
	Who     Who
	Outcome Outcome // "" = any outcome
	// Since and Until bound the records' times (zero: no bound); Since
	// is inclusive, Until exclusive.
	Since, Until time.Time
	// Cursor continues from a previous page's Next; "" starts at the
	// newest call.
	Cursor string
	// Limit is the page size: 1 to MaxLimit, 0 = DefaultLimit.
	Limit int
}

// match reports whether c passes q's filters.
func (q Query) match(c Call) bool {
	return (q.Tenant == "" || c.Tenant == q.Tenant) && (q.Kind == "" || c.Kind == q.Kind) &&
		(q.Tool == "" || c.Tool == q.Tool) && (q.Outcome == "" || c.Outcome == q.Outcome) && q.Who.match(c) &&
		(q.Since.IsZero() || !c.Time.Before(q.Since)) && (q.Until.IsZero() || c.Time.Before(q.Until))
}

// skipFile reports whether no record of f can be in q's time range: a
// file holds records of its UTC day (a call that started before midnight
// and ended after it is in the next day's file, so one day of slack).
func (q Query) skipFile(f callFile) bool {
	return (!q.Until.IsZero() && f.day > day(q.Until.Add(24*time.Hour))) ||
		(!q.Since.IsZero() && f.day < day(q.Since))
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page is one page of calls, newest first.
type Page struct {
	Calls []Call
	// Next is the cursor of the next (older) page; "" when there is none.
	Next string
}

// ErrBadCursor is returned (wrapped) by Query and ParseCursor for a cursor
// that is not one Query made.
var ErrBadCursor = errors.New("bad activity cursor")

// cursorRE is a cursor: the file key (day, sequence) and the byte offset
// of the last call shown in it.
var cursorRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}-\d{4})\.(\d{1,12})$`)

// Cursor is a parsed page cursor.
type Cursor struct {
	File   string // YYYY-MM-DD-NNNN
	Offset int64
}

func (c Cursor) String() string { return c.File + "." + strconv.FormatInt(c.Offset, 10) }

// ParseCursor reads a cursor from outside (a URL): "" is the zero Cursor
// (the newest page); anything Query did not make is ErrBadCursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	m := cursorRE.FindStringSubmatch(s)
	if m == nil {
		return Cursor{}, fmt.Errorf("%w: want YYYY-MM-DD-NNNN.OFFSET", ErrBadCursor)
	}
	off, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: offset out of range", ErrBadCursor)
	}
	return Cursor{File: m[1], Offset: off}, nil
}

// maxReadBytes bounds what is read of one file: the files' own limit with
// room to spare (a file grown past it by hand is read from its end).
func (l *Log) maxReadBytes() int64 { return 2*l.opts.MaxFileBytes + 64<<10 }

// Query returns a page of the records matching q, newest first. It reads
// the files, plain and gzipped (what is still queued is not there yet;
// Flush first to see it). Lines that do not decode are skipped.
func (l *Log) Query(ctx context.Context, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	cur, err := ParseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	files, err := l.files()
	if err != nil {
		return Page{}, err
	}
	var page Page
	var last Cursor
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if q.skipFile(f) {
			continue
		}
		end := int64(-1) // read to the end
		if cur.File != "" {
			switch k := f.key(); {
			case k > cur.File:
				continue
			case k == cur.File:
				end = cur.Offset
			}
		}
		if err := ctx.Err(); err != nil {
			return Page{}, err
		}
		more := false
		err := l.scanBack(f, end, func(off int64, c Call) bool {
			if !q.match(c) {
				return true
			}
			if len(page.Calls) == q.Limit {
				more = true
				return false
			}
			page.Calls = append(page.Calls, c)
			last = Cursor{File: f.key(), Offset: off}
			return true
		})
		if err != nil {
			return Page{}, err
		}
		if more {
			page.Next = last.String()
			break
		}
	}
	return page, nil
}

// Bucket counts one hour's calls.
type Bucket struct {
	Start   time.Time // the hour's start
	Calls   int
	Errors  int // tool and protocol errors
	Waiting int // calls that needed a connection or a key
}

// Hourly counts q's calls (q.Tenant's, matching its filters; the cursor
// and limit do not apply) in the n hours up to and including the one that
// holds end: Bucket i starts at end's hour minus n-1-i hours.
func (l *Log) Hourly(ctx context.Context, q Query, end time.Time, n int) ([]Bucket, error) {
	if n <= 0 || n > 24*31 {
		return nil, fmt.Errorf("audit hourly: %d hours: want 1-%d", n, 24*31)
	}
	last := end.Truncate(time.Hour)
	first := last.Add(-time.Duration(n-1) * time.Hour)
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = first.Add(time.Duration(i) * time.Hour)
	}
	files, err := l.files()
	if err != nil {
		return nil, err
	}
	from := day(first)
	for i := len(files) - 1; i >= 0 && files[i].day >= from; i-- {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := l.scanBack(files[i], -1, func(_ int64, c Call) bool {
			if !q.match(c) || c.Time.Before(first) {
				return true
			}
			h := int(c.Time.Sub(first) / time.Hour)
			if h >= n {
				return true
			}
			out[h].Calls++
			switch {
			case c.Outcome.Failed():
				out[h].Errors++
			case c.Outcome == OutcomeNeedsConsent || c.Outcome == OutcomeNeedsKey:
				out[h].Waiting++
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanBack calls fn with each whole line of f that starts before end (-1:
// the whole file), last line first, with its offset, until fn returns
// false. A file deleted meanwhile has no lines.
func (l *Log) scanBack(f callFile, end int64, fn func(off int64, c Call) bool) error {
	b, base, err := l.readFile(f, end)
	if err != nil {
		return err
	}
	// Only lines ending in a newline are whole (the writer may be midway).
	stop := bytes.LastIndexByte(b, '\n')
	for stop >= 0 {
		start := bytes.LastIndexByte(b[:stop], '\n') + 1
		if start == 0 && base > 0 {
			break // cut by the read limit
		}
		var ln line
		if err := json.Unmarshal(b[start:stop], &ln); err == nil {
			if !fn(base+int64(start), ln.call()) {
				return nil
			}
		}
		stop = start - 1
	}
	return nil
}

// readFile reads f up to end (-1: to its end), at most maxReadBytes, and
// returns the bytes and the offset they start at (in the decompressed
// text, for a gzipped file).
func (l *Log) readFile(f callFile, end int64) ([]byte, int64, error) {
	fh, err := os.Open(filepath.Join(l.opts.Dir, f.name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit: %w", err)
	}
	defer fh.Close()
	if f.gz {
		return l.readGzip(fh, end)
	}
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("audit: %w", err)
	}
	size := st.Size()
	if end < 0 || end > size {
		end = size
	}
	start := max(0, end-l.maxReadBytes())
	b := make([]byte, end-start)
	if _, err := fh.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("audit: read %s: %w", f.name, err)
	}
	return b, start, nil
}

// readGzip is readFile of a gzipped file: it decompresses at most
// 2*maxReadBytes (a file made by hand to inflate more is read that far)
// and keeps what readFile would of a plain one.
func (l *Log) readGzip(fh *os.File, end int64) ([]byte, int64, error) {
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, 0, nil // not gzip: no lines
	}
	defer zr.Close()
	limit := 2 * l.maxReadBytes()
	if end >= 0 {
		limit = min(limit, end)
	}
	// A damaged stream ends the file where it breaks: the whole lines
	// before are still read.
	b, _ := io.ReadAll(io.LimitReader(zr, limit))
	var base int64
	if n := int64(len(b)); n > l.maxReadBytes() {
		base = n - l.maxReadBytes()
		b = b[base:]
	}
	return b, base, nil
}
