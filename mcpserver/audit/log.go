package audit

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxFileBytes  = 8 << 20
	DefaultMaxTotalBytes = 64 << 20
	DefaultMaxAge        = 90 * 24 * time.Hour
	DefaultQueueSize     = 4096
)

// maxBatch bounds how many calls one write carries.
const maxBatch = 256

// Options configures a Log. Dir is required; zero fields take the
// defaults.
type Options struct {
	// Dir is the directory of the call files (created 0700).
	Dir string
	// MaxFileBytes starts a new file once the current one is this large.
	MaxFileBytes int64
	// MaxTotalBytes bounds the files kept (the one being written aside):
	// the oldest go first.
	MaxTotalBytes int64
	// MaxAge deletes files of days older than this.
	MaxAge time.Duration
	// QueueSize is how many calls may wait to be written; past it, calls
	// are dropped and counted.
	QueueSize int
	Logger    *slog.Logger     // nil = discard
	Now       func() time.Time // nil = time.Now
	// Secrets, when set, is asked by the writer (once per batch, never on
	// a caller's goroutine) for the stored secrets a tool's arguments are
	// masked against; a nil answer (they cannot be had) writes no
	// arguments at all (ArgsCut). Without Secrets, arguments are masked
	// by key names only.
	Secrets func(ctx context.Context) Secrets

	// gate, in tests, is received from before each batch is written (a
	// writer held up by a slow disk).
	gate chan struct{}
}

// Stats counts what happened to recorded calls since Open.
type Stats struct {
	Written uint64 // calls written to a file
	Dropped uint64 // calls dropped because the queue was full
	Failed  uint64 // calls lost to a failed write
}

// Log is the tool-call record: Record queues, one goroutine writes, Query
// and Hourly read the files. Safe for concurrent use.
type Log struct {
	opts  Options
	log   *slog.Logger
	queue chan item
	kick  chan struct{} // a Flush waits: write now
	stop  chan struct{}
	done  chan struct{}

	closed                   atomic.Bool
	written, dropped, failed atomic.Uint64

	// Writer state, owned by the writer goroutine.
	cur     *os.File
	curName string
	curSize int64
	lastErr time.Time
	buf     []byte
	refused refusedBudget

	closeOnce sync.Once
}

// item is a queued call, or a flush marker (done set).
type item struct {
	call Call
	done chan struct{}
}

// Open creates the directory if needed, applies the retention rules to
// the files already there and starts the writer. Close stops it.
func Open(o Options) (*Log, error) {
	if o.Dir == "" {
		return nil, errors.New("audit: no directory")
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create %s: %w", o.Dir, err)
	}
	l := &Log{
		opts:  o,
		log:   o.Logger,
		queue: make(chan item, o.QueueSize),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	l.tidy()
	if err := l.retain(); err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

// Record queues c to be written and reports whether it was queued. It
// never blocks and does no I/O: with the queue full (or the Log closed)
// the call is dropped and counted.
func (l *Log) Record(c Call) bool {
	if l.closed.Load() {
		l.dropped.Add(1)
		return false
	}
	select {
	case l.queue <- item{call: c}:
		return true
	default:
		l.dropped.Add(1)
		return false
	}
}

// Flush waits until every call queued before it is written (or lost), or
// ctx ends.
func (l *Log) Flush(ctx context.Context) error {
	if l.closed.Load() {
		return nil
	}
	done := make(chan struct{})
	select {
	case l.queue <- item{done: done}:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return nil
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return nil
	}
}

// Stats returns the counters since Open.
func (l *Log) Stats() Stats {
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Failed: l.failed.Load()}
}

// Close writes what is queued and stops the writer; later calls to Record
// are dropped.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.stop)
	})
	<-l.done
	return nil
}

// gatherDelay is how long the writer lets calls gather after the first
// one before it writes them: a write (and a wake-up of the writer) per
// batch, not per call.
const gatherDelay = 100 * time.Millisecond

// run is the writer: it takes a call (or a flush marker) from the queue,
// lets more gather for gatherDelay unless a Flush waits, drains the
// queue, writes, and answers the flushes; until Close.
func (l *Log) run() {
	defer close(l.done)
	defer l.closeFile()
	var (
		batch    = make([]Call, 0, maxBatch)
		flushes  []chan struct{}
		stopping bool
	)
	// writeBatch writes what is gathered (after the test gate, if any).
	writeBatch := func() {
		if len(batch) == 0 && l.refused.skipped == 0 {
			return // (refusals skipped: a flush may tell their count)
		}
		if l.opts.gate != nil && !stopping {
			select {
			case <-l.opts.gate:
			case <-l.stop:
				stopping = true
			}
		}
		l.write(batch)
		batch = batch[:0]
	}
	take := func(it item) {
		if it.done != nil {
			flushes = append(flushes, it.done)
			return
		}
		batch = append(batch, it.call)
		if len(batch) == maxBatch {
			writeBatch()
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case it := <-l.queue:
			take(it)
			if len(flushes) == 0 {
				timer.Reset(gatherDelay)
				select {
				case <-timer.C:
				case <-l.kick:
				case <-l.stop:
					stopping = true
				}
				timer.Stop()
			}
		case <-l.stop:
			stopping = true
		}
	drain:
		for {
			select {
			case it := <-l.queue:
				take(it)
			default:
				break drain
			}
		}
		writeBatch()
		for _, d := range flushes {
			close(d)
		}
		flushes = flushes[:0]
		if stopping {
			if l.refused.skipped > 0 { // say how many were skipped, token or not
				l.refused.tokens = max(l.refused.tokens, 1)
				l.write(nil)
			}
			return
		}
	}
}

// write appends batch to the current file in one write, starting a new
// file first when the day changed or the file is full.
func (l *Log) write(batch []Call) {
	if len(batch) == 0 && l.refused.skipped == 0 {
		return
	}
	l.buf = l.buf[:0]
	var (
		secrets Secrets
		asked   bool
	)
	now := l.opts.Now()
	if n := l.refused.summary(now); n > 0 {
		l.buf = appendLine(l.buf, refusedSummary(now, n).clean())
	}
	kept := uint64(0)
	for i, c := range batch {
		if refusable(c) && !l.refused.take(c.Time) {
			batch[i].Args = nil
			continue
		}
		kept++
		if len(c.Args) > 0 && !asked && l.opts.Secrets != nil {
			secrets, asked = l.opts.Secrets(context.Background()), true
		}
		c = c.clean()
		switch {
		case len(c.Args) == 0:
		case asked && secrets == nil:
			// The stored secrets are unknown: the arguments are not
			// written rather than masked by key names only.
			c.Args, c.ArgsCut = nil, true
		default:
			var cut bool
			c.Args, cut = MaskArgs(c.Args, secrets)
			c.ArgsCut = c.ArgsCut || cut
		}
		batch[i].Args = nil // the unmasked arguments go no further
		l.buf = appendLine(l.buf, c)
	}
	if len(l.buf) == 0 {
		return
	}
	n := kept
	if err := l.ensureFile(); err != nil {
		l.writeFailed(n, err)
		return
	}
	w, err := l.cur.Write(l.buf)
	l.curSize += int64(w)
	if err != nil {
		l.writeFailed(n, err)
		l.closeFile() // start afresh next time
		return
	}
	l.written.Add(n)
}

// Refused and failed requests that are not tool calls (a wrong admin
// token, a form posted without signing in, a bad sign-in link) come from
// whoever can reach the port, another user of the computer included. So
// that a flood of them cannot push real history out of the log (it keeps
// at most MaxTotalBytes, oldest out first), they are written one by one
// only up to refusedBurst at once and refusedPerMinute on average; the
// rest are counted, and a "not_recorded" record says how many.
const (
	refusedBurst     = 20
	refusedPerMinute = 10
)

// refusable reports whether c is held to the refused-records budget.
func refusable(c Call) bool { return c.Kind != KindToolCall && c.Kind != "" && c.Outcome != OutcomeOK }

// refusedBudget is a token bucket for refused records, owned by the
// writer goroutine.
type refusedBudget struct {
	tokens  float64
	last    time.Time
	skipped uint64 // refused records not written since the last summary
}

func (b *refusedBudget) refill(now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = refusedBurst, now
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(refusedBurst, b.tokens+d.Minutes()*refusedPerMinute)
		b.last = now
	}
}

// take spends a token for a record made at t, or counts it skipped.
func (b *refusedBudget) take(t time.Time) bool {
	b.refill(t)
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	b.skipped++
	return false
}

// summary returns how many records were skipped, once a token is free to
// say so (0: nothing to say yet).
func (b *refusedBudget) summary(now time.Time) uint64 {
	if b.skipped == 0 {
		return 0
	}
	b.refill(now)
	if b.tokens < 1 {
		return 0
	}
	b.tokens--
	n := b.skipped
	b.skipped = 0
	return n
}

// refusedSummary is the record of n refused records not written.
func refusedSummary(now time.Time, n uint64) Call {
	return Call{Kind: KindLogin, Time: now, Action: "not_recorded", Actor: "audit", Outcome: OutcomeDenied,
		Reason: "too_many_refused", Target: fmt.Sprintf("%d refused or failed requests", n)}
}

// writeFailed counts lost calls and logs, at most once a minute.
func (l *Log) writeFailed(n uint64, err error) {
	l.failed.Add(n)
	if now := time.Now(); now.Sub(l.lastErr) >= time.Minute {
		l.lastErr = now
		l.log.Warn("Could not record tool calls", "calls", n, "dir", l.opts.Dir, "err", err)
	}
}

func (l *Log) closeFile() {
	if l.cur != nil {
		_ = l.cur.Sync()
		_ = l.cur.Close()
		l.cur, l.curName, l.curSize = nil, "", 0
	}
}

// fileRE matches the audit files' names: day, sequence, and .gz once
// compressed.
var fileRE = regexp.MustCompile(`^audit-(\d{4}-\d{2}-\d{2})-(\d{4})\.jsonl(\.gz)?$`)

// legacyRE matches the files of the first tool-call record (renamed at
// Open).
var legacyRE = regexp.MustCompile(`^calls-(\d{4})(\d{2})(\d{2})-(\d{4})\.jsonl$`)

func fileName(day string, seq int) string { return fmt.Sprintf("audit-%s-%04d.jsonl", day, seq) }

// day is the UTC day of t as YYYY-MM-DD: files rotate at UTC midnight.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// ensureFile makes the current file today's and not full: it continues
// the newest file of today when it has room, else starts the next one
// (and then applies retention).
func (l *Log) ensureFile() error {
	today := day(l.opts.Now())
	if l.cur != nil && strings.HasPrefix(l.curName, "audit-"+today+"-") && l.curSize < l.opts.MaxFileBytes {
		return nil
	}
	l.closeFile()
	files, err := l.files()
	if err != nil {
		return err
	}
	seq := 1
	if len(files) > 0 {
		last := files[len(files)-1]
		if last.day == today {
			if !last.gz && last.size < l.opts.MaxFileBytes {
				return l.open(last.name, true)
			}
			seq = last.seq + 1
		}
	}
	if seq > 9999 {
		return fmt.Errorf("audit: too many files for %s", today)
	}
	if err := l.open(fileName(today, seq), false); err != nil {
		return err
	}
	l.compress()
	return l.retain()
}

// compress gzips every plain file but the one being written (and, before
// one is, today's newest): name.jsonl becomes name.jsonl.gz, written to a
// temporary file first, so a crash leaves either whole.
func (l *Log) compress() {
	files, err := l.files()
	if err != nil {
		return
	}
	today := day(l.opts.Now())
	for i, f := range files {
		if f.gz || f.name == l.curName || (l.cur == nil && i == len(files)-1 && f.day == today) {
			continue
		}
		if err := l.gzipFile(f.name); err != nil {
			l.log.Warn("Could not compress an audit file", "file", f.name, "err", err)
		}
	}
}

func (l *Log) gzipFile(name string) (err error) {
	p := filepath.Join(l.opts.Dir, name)
	if _, err := os.Stat(p + ".gz"); err == nil {
		return os.Remove(p) // compressed before a crash
	}
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := p + ".gz.tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err = io.Copy(zw, in); err != nil {
		return err
	}
	if err = zw.Close(); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, p+".gz"); err != nil {
		return err
	}
	return os.Remove(p)
}

// tidy, at Open, renames the first record's calls-YYYYMMDD-NNNN.jsonl
// files to today's names, removes temporaries a crash left and
// compresses what is not today's newest file.
func (l *Log) tidy() {
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".gz.tmp") {
			_ = os.Remove(filepath.Join(l.opts.Dir, n))
			continue
		}
		if m := legacyRE.FindStringSubmatch(n); m != nil {
			seq, _ := strconv.Atoi(m[4])
			to := fileName(m[1]+"-"+m[2]+"-"+m[3], seq)
			if _, err := os.Stat(filepath.Join(l.opts.Dir, to)); errors.Is(err, os.ErrNotExist) {
				_ = os.Rename(filepath.Join(l.opts.Dir, n), filepath.Join(l.opts.Dir, to))
			}
		}
	}
	l.compress()
}

// open opens name for appending. A file continued after a crash may end
// in a cut line: a newline first keeps the next record whole.
func (l *Log) open(name string, existing bool) error {
	p := filepath.Join(l.opts.Dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", p, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: stat %s: %w", p, err)
	}
	size := st.Size()
	if existing && size > 0 && !endsWithNewline(p, size) {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			f.Close()
			return fmt.Errorf("audit: repair %s: %w", p, err)
		}
		size++
	}
	l.cur, l.curName, l.curSize = f, name, size
	return nil
}

func endsWithNewline(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return b[0] == '\n'
}

// callFile is one audit file in the directory.
type callFile struct {
	name, day string
	seq       int
	size      int64
	gz        bool
}

// key is the file's place in order, as a cursor names it:
// YYYY-MM-DD-NNNN (the same before and after it is compressed).
func (f callFile) key() string { return f.day + "-" + fmt.Sprintf("%04d", f.seq) }

// files lists the call files, oldest first.
func (l *Log) files() ([]callFile, error) {
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", l.opts.Dir, err)
	}
	var out []callFile
	for _, e := range ents {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		seq, _ := strconv.Atoi(m[2])
		out = append(out, callFile{name: e.Name(), day: m[1], seq: seq, size: info.Size(), gz: m[3] != ""})
	}
	slices.SortFunc(out, func(a, b callFile) int {
		if a.day != b.day {
			if a.day < b.day {
				return -1
			}
			return 1
		}
		if a.seq != b.seq {
			return a.seq - b.seq
		}
		if a.gz != b.gz {
			if a.gz {
				return -1
			}
			return 1
		}
		return 0
	})
	// A file both plain and gzipped (a crash between the rename and the
	// removal; both are whole) is listed once, gzipped.
	out = slices.CompactFunc(out, func(a, b callFile) bool { return a.day == b.day && a.seq == b.seq })
	return out, nil
}

// retain deletes the files of days older than MaxAge, then the oldest
// files until the others (the current one aside) fit in MaxTotalBytes.
func (l *Log) retain() error {
	files, err := l.files()
	if err != nil {
		return err
	}
	cutoff := day(l.opts.Now().Add(-l.opts.MaxAge))
	var total int64
	for _, f := range files {
		if f.name != l.curName {
			total += f.size
		}
	}
	for _, f := range files {
		if f.name == l.curName {
			continue
		}
		if f.day >= cutoff && total <= l.opts.MaxTotalBytes {
			break
		}
		if err := os.Remove(filepath.Join(l.opts.Dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("Could not delete an old tool-call file", "file", f.name, "err", err)
			continue
		}
		total -= f.size
	}
	return nil
}
