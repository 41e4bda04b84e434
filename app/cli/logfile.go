package cli

import (
	"io"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Rotation of the log a daemon writes with --log-file (the one EnsureDaemon
// starts in the background): at most logMaxMB per file and logBackups old
// files, so a daemon that runs for months keeps a bounded log.
const (
	logMaxMB   = 10
	logBackups = 5
)

// openLogFile returns a writer that appends to the file at path (created
// 0600) and rotates it: at logMaxMB it is renamed with a timestamp and a new
// one started; only the logBackups newest old files are kept.
// (lumberjack rather than hand-written rotation: it is small, widely used,
// and gets the rename/reopen and clean-up details right.)
func openLogFile(path string) io.WriteCloser {
	return &lumberjack.Logger{
		Filename:   path,
		MaxSize:    logMaxMB,
		MaxBackups: logBackups,
		LocalTime:  false,
		Compress:   false,
	}
}
