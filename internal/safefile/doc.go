// Package safefile opens the files ctwatch creates or appends to (the
// --output file and its reopen after SIGHUP, the --cpuprofile file, the
// spool's directory and files) without letting another user redirect them.
//
// ctwatch runs as root, and these paths often lie in directories others can
// write to (/tmp, a shared log directory). Whoever can write there could
// plant a symbolic link or a file of their own at the path, and make root
// append records to, or overwrite, a file they cannot touch themselves. So
// a file is opened with O_NOFOLLOW (a final symbolic link is refused, not
// followed), and an existing file must belong to ctwatch's own user and
// have no other hard link unless [Options.AllowOtherOwner] says otherwise.
// The checks are made on the open descriptor (fstat), not on the path, so
// that the file cannot be swapped between check and use. New files are
// created with mode 0640, directories ([MkdirAll]) with 0750 (less the
// umask). Character devices (/dev/null,
// /dev/full, a terminal) are exempt from the owner check: only root can
// make one, and a terminal belongs to its user.
//
// Every error names the path and the reason, and wraps [ErrSymlink],
// [ErrOtherOwner] or [ErrHardLink] when the file was refused.
package safefile
