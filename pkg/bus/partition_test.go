package bus

import "testing"

func TestMurmur2MatchesKafka(t *testing.T) {
	// Expected values are those of Kafka's Java Utils.murmur2 (as signed int32).
	tests := []struct {
		key  string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, tt := range tests {
		if got := int32(murmur2([]byte(tt.key))); got != tt.want {
			t.Errorf("murmur2(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// positive is Kafka's Utils.toPositive: the sign bit cleared.
func positive(h int32) int { return int(h & 0x7fffffff) }

func TestPartitionFor(t *testing.T) {
	tests := []struct {
		key        string
		partitions int
		want       int
	}{
		{"abc", 1, 0},
		{"abc", 0, 0},
		{"abc", 7, 479470107 % 7},
		{"foobar", 10, positive(-790332482) % 10},
		{"21", 3, positive(-973932308) % 3},
	}
	for _, tt := range tests {
		if got := PartitionFor([]byte(tt.key), tt.partitions); got != tt.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tt.key, tt.partitions, got, tt.want)
		}
	}
}

func TestCommitOffsets(t *testing.T) {
	msgs := []Message{
		{Topic: "a", Partition: 0, Offset: 4},
		{Topic: "a", Partition: 0, Offset: 9},
		{Topic: "a", Partition: 0, Offset: 2},
		{Topic: "a", Partition: 1, Offset: 0},
		{Topic: "b", Partition: 0, Offset: 7},
	}
	got := CommitOffsets(msgs)
	want := map[TopicPartition]int64{{"a", 0}: 10, {"a", 1}: 1, {"b", 0}: 8}
	if len(got) != len(want) {
		t.Fatalf("CommitOffsets = %v, want %v", got, want)
	}
	for tp, off := range want {
		if got[tp] != off {
			t.Errorf("CommitOffsets[%v] = %d, want %d", tp, got[tp], off)
		}
	}
}
