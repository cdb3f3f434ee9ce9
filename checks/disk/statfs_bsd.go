//go:build darwin || freebsd

package disk

import "golang.org/x/sys/unix"

// statfs reads the usage of the file system holding path.
func statfs(path string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Usage{}, err
	}
	size := uint64(st.Bsize)
	return Usage{
		TotalBytes:  uint64(st.Blocks) * size,
		FreeBytes:   uint64(st.Bfree) * size,
		AvailBytes:  uint64(max(int64(st.Bavail), 0)) * size,
		InodesTotal: uint64(st.Files),
		InodesFree:  uint64(max(int64(st.Ffree), 0)),
	}, nil
}
