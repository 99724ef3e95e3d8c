// SPDX-License-Identifier: MIT

// mgmtgo drives a management interface with a third-party client library,
// Debian's golang-github-apparentlymart-go-openvpn-mgmt-dev, as a Go tool
// written for OpenVPN servers would: it reads the pid and the state, turns
// byte counts on, answers the first >CLIENT:CONNECT with client-auth-nt
// and waits for that client's ESTABLISHED and a byte count of it. Each step
// prints one line; any failure exits 1 with the reason.
//
// Usage: mgmtgo SOCKET-PATH|HOST:PORT
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/apparentlymart/go-openvpn-mgmt/openvpn"
)

// filter hands the stream to the library, except the answers to the
// client-auth commands this program writes itself: the library has no call
// for them, and an answer it did not ask for would stall its reader.
type filter struct {
	conn    net.Conn
	r       *bufio.Reader
	pending []byte
	answers chan string
}

func (f *filter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		line, err := f.r.ReadBytes('\n')
		if strings.HasPrefix(string(line), "SUCCESS: client-") ||
			strings.HasPrefix(string(line), "ERROR: client-") {
			f.answers <- strings.TrimRight(string(line), "\r\n")
			line = nil
		}
		f.pending = line
		if err != nil && len(f.pending) == 0 {
			return 0, err
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

func (f *filter) Write(p []byte) (int, error) {
	return f.conn.Write(p)
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: mgmtgo SOCKET-PATH|HOST:PORT")
	}
	proto := "tcp"
	if strings.HasPrefix(os.Args[1], "/") {
		proto = "unix"
	}
	conn, err := net.Dial(proto, os.Args[1])
	if err != nil {
		fail("dial: %v", err)
	}
	f := &filter{conn: conn, r: bufio.NewReader(conn), answers: make(chan string, 16)}
	events := make(chan openvpn.Event, 256)
	c := openvpn.NewClient(f, events)

	pid, err := c.Pid()
	if err != nil {
		fail("pid: %v", err)
	}
	fmt.Printf("pid %d\n", pid)
	st, err := c.LatestState()
	if err != nil {
		fail("state: %v", err)
	}
	fmt.Printf("state %s %s\n", st.NewState(), st.LocalTunnelAddr())
	if err := c.SetByteCountEvents(time.Second); err != nil {
		fail("bytecount: %v", err)
	}
	fmt.Println("bytecount on")

	deadline := time.After(60 * time.Second)
	established := ""
	for {
		select {
		case e, ok := <-events:
			if !ok {
				fail("the connection closed")
			}
			switch ev := e.(type) {
			case *openvpn.ByteCountEvent:
				if established != "" && ev.ClientId() == established {
					fmt.Printf("bytecount %s %d %d\n", ev.ClientId(), ev.BytesIn(), ev.BytesOut())
					return
				}
			case *openvpn.UnknownEvent:
				if ev.Type() != "CLIENT" {
					continue
				}
				body := ev.Body()
				if strings.HasPrefix(body, "CONNECT,") {
					parts := strings.Split(body, ",")
					fmt.Printf("connect cid %s kid %s\n", parts[1], parts[2])
					fmt.Fprintf(conn, "client-auth-nt %s %s\n", parts[1], parts[2])
					fmt.Printf("answer %s\n", <-f.answers)
				} else if strings.HasPrefix(body, "ENV,common_name=") {
					fmt.Printf("env %s\n", body)
				} else if strings.HasPrefix(body, "ESTABLISHED,") {
					established = strings.TrimPrefix(body, "ESTABLISHED,")
					fmt.Printf("established %s\n", established)
				}
			}
		case <-deadline:
			fail("no ESTABLISHED client and byte count within 60 s")
		}
	}
}
