//go:build !unix

package localclient

import "net"

// peerClosed cannot tell outside unix; see peerclosed_unix.go.
func peerClosed(net.Conn) bool { return false }
