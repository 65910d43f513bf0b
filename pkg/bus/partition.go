package bus

import "encoding/binary"

// PartitionFor returns the partition, in [0, partitions), that a message with this key
// goes to. It is Kafka's default partitioner for keyed records (murmur2 of the key, sign
// bit cleared, modulo the partition count), so clearway's Go producers, the memory bus and
// any Java or librdkafka "murmur2" producer agree on where a key lives. A nil or empty key
// hashes like any other, so keyless messages all go to one partition: deterministic, which
// matters more to us than spreading them.
func PartitionFor(key []byte, partitions int) int {
	if partitions <= 1 {
		return 0
	}
	return int(murmur2(key)&0x7fffffff) % partitions
}

// murmur2 is the 32-bit MurmurHash2 variant used by Kafka (seed 0x9747b28c).
func murmur2(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
