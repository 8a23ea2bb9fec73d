package zoo

import (
	"os"
	"syscall"
)

// peerSysProcAttr makes the kernel SIGKILL a peer when the thread that started
// it (the spawner's locked thread, i.e. the process) dies, even by kill -9. The
// peer stays in our process group so that signalling the group reaches it.
func peerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: false}
}

// selfExe returns the path to execute and the argv[0] to show. /proc/self/exe
// is the very binary this process runs, even if its file has been replaced or
// removed since (a rebuilt zoo must not serve a stale process's peers).
func selfExe() (path, argv0 string, err error) {
	argv0, err = os.Executable()
	if err != nil {
		argv0 = os.Args[0]
	}
	return "/proc/self/exe", argv0, nil
}
