package kafka

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
)

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"wrapped connection refused", fmt.Errorf("produce: %w", refused), true},
		{"leader moving", kafkago.NotLeaderForPartition, true},
		{"message too large", kafkago.MessageSizeTooLarge, false},
		{"not authorised", kafkago.TopicAuthorizationFailed, false},
		{"per-message errors, all transient", kafkago.WriteErrors{nil, refused, kafkago.LeaderNotAvailable}, true},
		{"per-message errors, one permanent", kafkago.WriteErrors{refused, kafkago.MessageSizeTooLarge}, false},
		{"other", errors.New("unexpected EOF"), true},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
