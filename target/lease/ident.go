package lease

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// ident is where a process runs: the machine, its boot, the PID namespace,
// and the process itself.
type ident struct {
	host, machineID, bootID, pidNS string
	pid                            int
	start                          uint64
}

// self is this process's ident. A part that cannot be read is empty.
var self = sync.OnceValue(func() ident {
	me := ident{host: hostname(), pid: os.Getpid()}
	me.machineID = firstLine("/etc/machine-id", "/var/lib/dbus/machine-id")
	me.bootID = firstLine("/proc/sys/kernel/random/boot_id")
	me.pidNS, _ = os.Readlink("/proc/self/ns/pid")
	if st, ok := procStat(me.pid); ok {
		me.start = st.start
	}
	return me
})

func firstLine(paths ...string) string {
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				return s
			}
		}
	}
	return ""
}

// holderState is what this process can tell of a lease holder's process.
type holderState int

const (
	unknown holderState = iota // elsewhere, or cannot tell
	alive                      // on this machine, running
	gone                       // on this machine, provably not running
)

// local says whether r was written on this machine (same boot, PID
// namespace and machine id) and, if so, whether its process still runs.
func (me ident) local(r Record) holderState {
	if me.bootID == "" || me.pidNS == "" || r.PID <= 0 ||
		r.BootID != me.bootID || r.PIDNS != me.pidNS || r.MachineID != me.machineID {
		return unknown
	}
	if running(r.PID, r.Start) {
		return alive
	}
	return gone
}

// stat is what /proc/PID/stat says of a process.
type stat struct {
	state byte   // R, S, D, Z (zombie), X (dead), ...
	start uint64 // clock ticks after boot
}

// procStat reads /proc/PID/stat (Linux).
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22: starttime
	if err != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], start: start}, true
}

// running reports whether process pid of this PID namespace runs and, when
// start is known, is the one that started then (not a reuse of its PID).
func running(pid int, start uint64) bool {
	if !exists(pid) {
		return false
	}
	st, ok := procStat(pid)
	if !ok {
		return true // exists; cannot tell more
	}
	if st.state == 'Z' || st.state == 'X' {
		return false // exited, not yet reaped
	}
	return start == 0 || st.start == start
}

// hostname is os.Hostname, for messages only.
func hostname() string {
	h, _ := os.Hostname()
	return h
}
