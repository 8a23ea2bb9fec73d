//go:build !linux

package zoo

import (
	"os"
	"syscall"
)

// peerSysProcAttr: no PDEATHSIG off Linux; the peer still exits when its stdin
// pipe reaches EOF, which happens when this process dies.
func peerSysProcAttr() *syscall.SysProcAttr { return nil }

func selfExe() (path, argv0 string, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", "", errNoExe
	}
	return exe, exe, nil
}
