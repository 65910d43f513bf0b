package sink

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/clearway/clearway/pkg/bus"
)

// TestSpoolTornTail writes frames, appends a torn one, and checks that reading stops at
// the last intact frame and reports its end.
func TestSpoolTornTail(t *testing.T) {
	msgs := []bus.Message{
		{Partition: 2, Offset: 7, Value: []byte("first"), Headers: []bus.Header{{Key: "k", Value: []byte("v")}}},
		{Partition: 2, Offset: 9, Value: []byte{}, Headers: []bus.Header{{Key: "a", Value: []byte{}}, {Key: "b", Value: []byte("x")}}},
	}
	var buf []byte
	for _, m := range msgs {
		buf = appendFrame(buf, m)
	}
	intact := int64(len(buf))
	third := appendFrame(nil, bus.Message{Offset: 10, Value: []byte("torn")})
	for _, tail := range [][]byte{nil, third[:3], third[:len(third)-1], append(third[:len(third)-1:len(third)-1], third[len(third)-1]^0xff)} {
		path := filepath.Join(t.TempDir(), "p2.log")
		if err := os.WriteFile(path, append(append([]byte(nil), buf...), tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		var got []bus.Message
		good, err := readSpool(path, 2, func(m bus.Message) error { got = append(got, m); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if good != intact {
			t.Errorf("tail of %d bytes: intact prefix %d, want %d", len(tail), good, intact)
		}
		if len(got) != 2 {
			t.Fatalf("tail of %d bytes: read %d frames, want 2", len(tail), len(got))
		}
		for i := range got {
			if got[i].Offset != msgs[i].Offset || string(got[i].Value) != string(msgs[i].Value) || !reflect.DeepEqual(got[i].Headers, msgs[i].Headers) {
				t.Errorf("frame %d: got %+v, want %+v", i, got[i], msgs[i])
			}
		}
	}
}
