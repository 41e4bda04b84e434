//go:build windows

package vault

// keyFileOpenFlags: Windows has no O_NOFOLLOW; readKeyFile's fstat still
// refuses anything but a regular file, and file modes are not checked there.
const keyFileOpenFlags = 0
