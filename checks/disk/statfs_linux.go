package disk

import "golang.org/x/sys/unix"

// statfs reads the usage of the file system holding path. Linux counts
// blocks in fragment size units (f_frsize), as df does.
func statfs(path string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Usage{}, err
	}
	size := uint64(st.Frsize)
	if size == 0 {
		size = uint64(st.Bsize)
	}
	return Usage{
		TotalBytes:  uint64(st.Blocks) * size,
		FreeBytes:   uint64(st.Bfree) * size,
		AvailBytes:  uint64(st.Bavail) * size,
		InodesTotal: uint64(st.Files),
		InodesFree:  uint64(st.Ffree),
	}, nil
}
