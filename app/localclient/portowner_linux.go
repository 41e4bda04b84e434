package localclient

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portOwner names the process listening on the TCP address addr, as far
// as /proc shows it to this user: its pid and command name, or 0 and "".
// It is only used to word an error, so it gives up quietly.
func portOwner(addr string) (pid int, command string) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, ""
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, ""
	}
	ip := net.ParseIP(host)
	inode := ""
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if inode = listeningInode(table, ip, port); inode != "" {
			break
		}
	}
	if inode == "" {
		return 0, ""
	}
	want := "socket:[" + inode + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, ""
	}
	for _, p := range procs {
		n, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // another user's process, or gone
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && link == want {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return n, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}

// listeningInode returns the socket inode of a listener on ip:port (or on
// the unspecified address and port) in a /proc/net/tcp* table.
func listeningInode(table string, ip net.IP, port int) string {
	f, err := os.Open(table)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
			continue
		}
		lip, lport, ok := parseProcAddr(fields[1])
		if !ok || lport != port {
			continue
		}
		if lip.Equal(ip) || lip.IsUnspecified() {
			return fields[9]
		}
	}
	return ""
}

// parseProcAddr decodes a /proc/net/tcp address: the IP as 32-bit words in
// the kernel's byte order, then the port in hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	return ip, int(port), true
}
