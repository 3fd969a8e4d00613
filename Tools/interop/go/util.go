package main

// Small helpers shared by the checks: pass/fail bookkeeping, ids, tokens and error details.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	resultsMu sync.Mutex
	failures  []string
	passed    int
)

// check records one expectation: "ok" or "FAIL" with the detail that explains it.
func check(name string, ok bool, detail ...interface{}) bool {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if ok {
		passed++
		fmt.Printf("  ok    %s\n", name)
	} else {
		failures = append(failures, name)
		fmt.Printf("  FAIL  %s %s\n", name, strings.TrimSpace(fmt.Sprintln(detail...)))
	}
	return ok
}

// note prints an observation that is not itself a check.
func note(format string, args ...interface{}) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	fmt.Printf("        "+format+"\n", args...)
}

func section(name string) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	fmt.Println(name)
}

// newUUID is a random (version 4) UUID as the 16 bytes the schemas' [uuid] fields carry.
func newUUID() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

func uuidString(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("<%d bytes>", len(b))
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func parseUUID(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		fmt.Fprintf(os.Stderr, "not a UUID: %q\n", s)
		os.Exit(2)
	}
	return b
}

// as adds `authorization: Bearer <token>` to the call's metadata (nothing for an empty token:
// the open server).
func as(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// within is a context with the token and a deadline.
func within(token string, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	return as(ctx, token), cancel
}

// rich reads a failed call's google.rpc.Status from grpc-status-details-bin with grpc-go's stock
// helper (status.FromError, Status.Details) and picks out ErrorInfo and BadRequest.
type richStatus struct {
	st   *status.Status
	info *errdetails.ErrorInfo
	bad  *errdetails.BadRequest
	// Details that did not decode (an Any whose type is not linked in, say).
	undecoded []string
}

func rich(err error) richStatus {
	var r richStatus
	st, ok := status.FromError(err)
	if !ok {
		return r
	}
	r.st = st
	for _, d := range st.Details() {
		switch v := d.(type) {
		case *errdetails.ErrorInfo:
			r.info = v
		case *errdetails.BadRequest:
			r.bad = v
		case error:
			r.undecoded = append(r.undecoded, v.Error())
		default:
			r.undecoded = append(r.undecoded, fmt.Sprintf("%T", v))
		}
	}
	return r
}

func (r richStatus) String() string {
	if r.st == nil {
		return "no status"
	}
	s := fmt.Sprintf("%s %q details=%d", r.st.Code(), r.st.Message(), len(r.st.Proto().GetDetails()))
	if r.info != nil {
		s += fmt.Sprintf(" info={%s %s %v}", r.info.Reason, r.info.Domain, r.info.Metadata)
	}
	if r.bad != nil {
		var fields []string
		for _, v := range r.bad.FieldViolations {
			fields = append(fields, v.Field+": "+v.Description)
		}
		s += fmt.Sprintf(" badRequest=%v", fields)
	}
	if len(r.undecoded) > 0 {
		s += fmt.Sprintf(" undecoded=%v", r.undecoded)
	}
	return s
}

func (r richStatus) fields() []string {
	var fields []string
	if r.bad != nil {
		for _, v := range r.bad.FieldViolations {
			fields = append(fields, v.Field)
		}
	}
	return fields
}

func (r richStatus) reason() string {
	if r.info == nil {
		return ""
	}
	return r.info.Reason
}

// expectCode checks that a call failed with `code`; returns its status details (or a zero value).
func expectCode(name string, code codes.Code, err error) richStatus {
	if err == nil {
		check(name, false, "the call succeeded")
		return richStatus{}
	}
	r := rich(err)
	check(name, status.Code(err) == code, "got", r)
	return r
}

// waitUntil polls `f` every 50 ms until it returns true or `d` passes.
func waitUntil(what string, d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	check("in time: "+what, false, fmt.Sprintf("(waited %v)", d))
	return false
}

func u64(v uint64) *uint64 { return &v }

// codeOf is the gRPC code of a call's end (OK for nil).
func codeOf(err error) codes.Code { return status.Code(err) }

func metadataAppend(ctx context.Context, kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
