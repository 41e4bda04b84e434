//go:build unix

package localclient

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the far end of c has closed it (a FIN or a
// reset is waiting to be read), without reading anything: a peek that does
// not wait. It is false when it cannot tell.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	_ = raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || errors.Is(err, syscall.ECONNRESET)
	})
	return closed
}
