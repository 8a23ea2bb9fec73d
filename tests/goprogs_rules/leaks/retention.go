package main

import "sync"

// --- subslice-retention: a 16-byte id kept as a sub-slice of a 256 KiB read buffer.

var (
	seenMu  sync.Mutex
	seenIDs [][]byte
)

func readUpload(i int) {
	buf := make([]byte, 256<<10) // the whole upload
	buf[0], buf[1] = byte(i), byte(i>>8)
	seenMu.Lock()
	seenIDs = append(seenIDs, buf[:16]) // BUG: pins the whole 256 KiB buffer
	seenMu.Unlock()
}

func init() {
	register("subslice-retention", nil, readUpload)
}
