//go:build !windows

package vault

import "syscall"

// keyFileOpenFlags are added to every open of a key file: never follow a
// symbolic link as the last path component (the open fails instead), and
// never block on a FIFO planted in its place (fstat then refuses it).
const keyFileOpenFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
