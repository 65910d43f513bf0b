package doj

// OpenAll opens every path as input file number i, numbering only the readable ones, so
// File.Index is the file's position among the files returned. Unreadable files are
// reported, not fatal: a run goes on with the others.
func OpenAll(paths []string) (files []*File, unreadable []error) {
	for _, p := range paths {
		f, err := Open(p, int32(len(files)))
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		files = append(files, f)
	}
	return files, unreadable
}

// Reopen opens the same files again with the same indexes: a File is read once, and a
// run that starts over (streaming found the input unsorted) needs fresh ones.
func Reopen(files []*File) ([]*File, error) {
	out := make([]*File, 0, len(files))
	for _, f := range files {
		g, err := Open(f.Path, f.Index)
		if err != nil {
			CloseAll(out)
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// CloseAll closes every file.
func CloseAll(files []*File) {
	for _, f := range files {
		f.Close()
	}
}
