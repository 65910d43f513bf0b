package sink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/clearway/clearway/pkg/bus"
)

// A spool file (DIR/<run>/.spool/p<partition>.log) holds every decisions message the
// sink accepted for one partition of one run, each as one frame:
//
//	u32 body length | body | u32 CRC-32C of body
//	body: i64 offset | u16 header count | (u16 key length, key, u32 value length, value)… |
//	      u32 value length | value
//
// A frame is appended and the file fsynced before the message's offset is committed, so
// a crash can leave only a torn frame at the end, which was never committed: it is cut
// off when the spool is read back.

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxFrame bounds a frame's body when reading (a corrupt length must not allocate
// gigabytes).
const maxFrame = 256 << 20

// appendFrame encodes m as a frame onto dst.
func appendFrame(dst []byte, m bus.Message) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0) // length, patched below
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Offset))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Headers)))
	for _, h := range m.Headers {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Value)))
	dst = append(dst, m.Value...)
	body := dst[start+4:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(body)))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(body, crcTable))
}

var errTorn = errors.New("torn frame")

// decodeBody decodes a frame body into a message of partition p.
func decodeBody(body []byte, p int) (bus.Message, error) {
	m := bus.Message{Partition: p}
	take := func(n int) ([]byte, error) {
		if len(body) < n {
			return nil, errTorn
		}
		b := body[:n]
		body = body[n:]
		return b, nil
	}
	b, err := take(10)
	if err != nil {
		return m, err
	}
	m.Offset = int64(binary.BigEndian.Uint64(b))
	nh := int(binary.BigEndian.Uint16(b[8:]))
	for range nh {
		b, err := take(2)
		if err != nil {
			return m, err
		}
		k, err := take(int(binary.BigEndian.Uint16(b)))
		if err != nil {
			return m, err
		}
		if b, err = take(4); err != nil {
			return m, err
		}
		v, err := take(int(binary.BigEndian.Uint32(b)))
		if err != nil {
			return m, err
		}
		m.Headers = append(m.Headers, bus.Header{Key: string(k), Value: v})
	}
	if b, err = take(4); err != nil {
		return m, err
	}
	if m.Value, err = take(int(binary.BigEndian.Uint32(b))); err != nil {
		return m, err
	}
	if len(body) != 0 {
		return m, errTorn
	}
	return m, nil
}

// readSpool calls fn for every intact frame of the spool file at path and returns the
// length of the intact prefix: anything after it is a torn write.
func readSpool(path string, partition int, fn func(bus.Message) error) (int64, error) {
	return scanSpool(path, partition, func(_ int64, m bus.Message) error { return fn(m) })
}

// scanSpool is readSpool that also gives fn each frame's position in the file, for
// readFrameAt.
func scanSpool(path string, partition int, fn func(pos int64, m bus.Message) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open spool: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var good int64
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return good, nil
			}
			return good, fmt.Errorf("read spool %s: %w", path, err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			return good, nil
		}
		frame := make([]byte, n+4)
		if _, err := io.ReadFull(r, frame); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return good, nil
			}
			return good, fmt.Errorf("read spool %s: %w", path, err)
		}
		body := frame[:n]
		if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(frame[n:]) {
			return good, nil
		}
		m, err := decodeBody(body, partition)
		if err != nil {
			return good, nil
		}
		if err := fn(good, m); err != nil {
			return good, err
		}
		good += int64(4 + n + 4)
	}
}

// readFrameAt reads the frame at pos of a spool file of partition p, a position
// scanSpool reported for an intact frame.
func readFrameAt(f *os.File, pos int64, p int) (bus.Message, error) {
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], pos); err != nil {
		return bus.Message{}, fmt.Errorf("read spool %s at %d: %w", f.Name(), pos, err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return bus.Message{}, fmt.Errorf("read spool %s at %d: %w", f.Name(), pos, errTorn)
	}
	frame := make([]byte, n+4)
	if _, err := f.ReadAt(frame, pos+4); err != nil {
		return bus.Message{}, fmt.Errorf("read spool %s at %d: %w", f.Name(), pos, err)
	}
	body := frame[:n]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(frame[n:]) {
		return bus.Message{}, fmt.Errorf("read spool %s at %d: checksum mismatch", f.Name(), pos)
	}
	return decodeBody(body, p)
}
