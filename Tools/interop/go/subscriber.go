package main

// A Subscribe stream read in a goroutine through the generated stub: every message kept in order,
// and how the stream ended.

import (
	"context"
	"sync"
	"time"

	"tradecore/gen/api"
	"tradecore/gen/events"
)

type subscriber struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	events      []*events.EventEnvelope
	checkpoints []*events.SubscriptionCheckpoint
	caughtUp    int
	fellBehind  int
	messages    int
	err         error // how the stream ended: io.EOF for a clean end, else the call's error
	endedAt     time.Time
}

func subscribe(name string, client api.EventStreamServiceClient, token string, req *events.SubscribeRequest) *subscriber {
	ctx, cancel := context.WithCancel(as(context.Background(), token))
	s := &subscriber{name: name, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, client, req)
	return s
}

func subscribeRequest(after *uint64, intervalMs uint32) *events.SubscribeRequest {
	r := &events.SubscribeRequest{CheckpointIntervalMs: intervalMs}
	if after != nil {
		r.Start = &events.SubscribeRequest_AfterPosition{AfterPosition: *after}
	}
	return r
}

func (s *subscriber) run(ctx context.Context, client api.EventStreamServiceClient, req *events.SubscribeRequest) {
	defer close(s.done)
	stream, err := client.Subscribe(ctx, req)
	if err != nil {
		s.finish(err)
		return
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			s.finish(err)
			return
		}
		s.mu.Lock()
		s.messages++
		switch v := m.Message.(type) {
		case *events.SubscribeResponse_Event:
			s.events = append(s.events, v.Event)
		case *events.SubscribeResponse_Checkpoint:
			s.checkpoints = append(s.checkpoints, v.Checkpoint)
		case *events.SubscribeResponse_CaughtUp:
			s.caughtUp++
		case *events.SubscribeResponse_FellBehind:
			s.fellBehind++
		}
		s.mu.Unlock()
	}
}

func (s *subscriber) finish(err error) {
	s.mu.Lock()
	s.err = err
	s.endedAt = time.Now()
	s.mu.Unlock()
}

// stop cancels the call and waits for the reading goroutine; returns how the stream ended.
func (s *subscriber) stop() error {
	s.cancel()
	return s.wait(10 * time.Second)
}

// wait waits up to d for the stream to end by itself.
func (s *subscriber) wait(d time.Duration) error {
	select {
	case <-s.done:
	case <-time.After(d):
		return errStillOpen
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *subscriber) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

type stillOpen struct{}

func (stillOpen) Error() string { return "the stream is still open" }

var errStillOpen error = stillOpen{}

func (s *subscriber) snapshot() (evs []*events.EventEnvelope, cps []*events.SubscriptionCheckpoint, caughtUp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*events.EventEnvelope(nil), s.events...), append([]*events.SubscriptionCheckpoint(nil), s.checkpoints...), s.caughtUp
}

func (s *subscriber) lastPosition() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return 0
	}
	return s.events[len(s.events)-1].GlobalPosition
}

// reached: the subscriber has seen `position`, as an event or as a checkpoint.
func (s *subscriber) reached(position uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) > 0 && s.events[len(s.events)-1].GlobalPosition >= position {
		return true
	}
	return len(s.checkpoints) > 0 && s.checkpoints[len(s.checkpoints)-1].Position >= position
}
