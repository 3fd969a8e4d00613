package main

// A TCP relay on loopback between grpc-go and the server that reads the HTTP/2 frame headers going
// each way and counts PINGs (and their ACKs), SETTINGS, WINDOW_UPDATEs, RST_STREAMs and GOAWAYs
// (with their error codes), so the checks can see what grpc-go's keepalive and BDP estimator send
// and what the server answers, not only what the client API reports.

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
)

const (
	frameData         = 0
	frameHeaders      = 1
	frameRstStream    = 3
	frameSettings     = 4
	framePing         = 6
	frameGoaway       = 7
	frameWindowUpdate = 8
	flagAck           = 1
)

var http2ErrorNames = map[uint32]string{0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
	4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
	9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}

// frameCounts are the frames seen in one direction.
type frameCounts struct {
	Pings, PingAcks, Settings, WindowUpdates, RstStreams, Data, Headers int
	Goaways                                                             []string // error code and debug data of each GOAWAY
	RstCodes                                                            map[string]int
}

type tap struct {
	listener net.Listener
	target   string

	mu          sync.Mutex
	toServer    frameCounts // sent by grpc-go
	toClient    frameCounts // sent by the server
	connections int
	closes      []string // how each relayed connection ended, as seen by the relay
}

func newTap(target string) (*tap, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &tap{listener: l, target: target}
	t.toServer.RstCodes, t.toClient.RstCodes = map[string]int{}, map[string]int{}
	go t.accept()
	return t, nil
}

// dialThroughTap opens a relay to target and a ClientConn through it, recording a failed check
// and returning ok false when either cannot be had. The caller closes both.
func dialThroughTap(target string) (tp *tap, conn *grpc.ClientConn, ok bool) {
	tp, err := newTap(target)
	if !check("the relay listens", err == nil, err) {
		return nil, nil, false
	}
	conn, err = grpc.Dial(tp.addr(), grpc.WithInsecure(), grpc.WithBlock(), grpc.WithTimeout(5*time.Second))
	if !check("a ClientConn through the relay", err == nil, err) {
		tp.close()
		return nil, nil, false
	}
	return tp, conn, true
}

func (t *tap) addr() string { return t.listener.Addr().String() }
func (t *tap) close()       { t.listener.Close() }

func (t *tap) accept() {
	for {
		c, err := t.listener.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", t.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		t.mu.Lock()
		t.connections++
		t.mu.Unlock()
		go t.relay(c, s, true)
		go t.relay(s, c, false)
	}
}

// relay copies src to dst, parsing the frames as they pass.
func (t *tap) relay(src, dst net.Conn, clientToServer bool) {
	defer dst.Close()
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 32<<10)
	prefaceLeft := 0
	if clientToServer {
		prefaceLeft = 24 // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	}
	for {
		n, err := src.Read(chunk)
		if n > 0 {
			if _, werr := dst.Write(chunk[:n]); werr != nil {
				return
			}
			buf = append(buf, chunk[:n]...)
			if prefaceLeft > 0 {
				k := prefaceLeft
				if k > len(buf) {
					k = len(buf)
				}
				buf = buf[k:]
				prefaceLeft -= k
			}
			buf = t.parse(buf, clientToServer)
		}
		if err != nil {
			if err != io.EOF {
				t.mu.Lock()
				t.closes = append(t.closes, fmt.Sprintf("clientToServer=%v: %v", clientToServer, err))
				t.mu.Unlock()
			}
			return
		}
	}
}

// parse consumes the complete frames at the front of buf and returns the rest.
func (t *tap) parse(buf []byte, clientToServer bool) []byte {
	for len(buf) >= 9 {
		length := int(buf[0])<<16 | int(buf[1])<<8 | int(buf[2])
		if len(buf) < 9+length {
			break
		}
		kind, flags, payload := buf[3], buf[4], buf[9:9+length]
		t.mu.Lock()
		c := &t.toClient
		if clientToServer {
			c = &t.toServer
		}
		switch kind {
		case frameData:
			c.Data++
		case frameHeaders:
			c.Headers++
		case framePing:
			if flags&flagAck != 0 {
				c.PingAcks++
			} else {
				c.Pings++
			}
		case frameSettings:
			if flags&flagAck == 0 {
				c.Settings++
			}
		case frameWindowUpdate:
			c.WindowUpdates++
		case frameRstStream:
			c.RstStreams++
			if len(payload) >= 4 {
				c.RstCodes[errorName(binary.BigEndian.Uint32(payload))]++
			}
		case frameGoaway:
			if len(payload) >= 8 {
				last := binary.BigEndian.Uint32(payload) & 0x7fffffff
				c.Goaways = append(c.Goaways, fmt.Sprintf("%s(last stream %d) %q", errorName(binary.BigEndian.Uint32(payload[4:])), last, string(payload[8:])))
			}
		}
		t.mu.Unlock()
		buf = buf[9+length:]
	}
	// Keep the unparsed tail in a fresh slice so the buffer does not grow without bound.
	return append([]byte(nil), buf...)
}

func errorName(code uint32) string {
	if name, ok := http2ErrorNames[code]; ok {
		return name
	}
	return fmt.Sprintf("0x%x", code)
}

func (t *tap) counts() (toServer, toClient frameCounts, connections int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	copyCounts := func(c frameCounts) frameCounts {
		d := c
		d.Goaways = append([]string(nil), c.Goaways...)
		d.RstCodes = map[string]int{}
		for k, v := range c.RstCodes {
			d.RstCodes[k] = v
		}
		return d
	}
	return copyCounts(t.toServer), copyCounts(t.toClient), t.connections
}

// settledCounts waits (up to a second) until every PING grpc-go sent has its ACK, so that a PING
// still in flight when the counts are read is not taken for one left unanswered.
func (t *tap) settledCounts() (toServer, toClient frameCounts, connections int) {
	deadline := time.Now().Add(time.Second)
	for {
		toServer, toClient, connections = t.counts()
		if toClient.PingAcks >= toServer.Pings || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
